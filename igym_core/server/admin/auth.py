"""Who may use the admin console: the password, failed-login limits, sessions and CSRF tokens.

The password is kept only as a scrypt hash (``hashlib.scrypt``, standard library):
``scrypt$<n>$<r>$<p>$<salt>$<hash>`` with base64 salt and hash. ``IGYM_ADMIN_PASSWORD_HASH``
holds one made by ``igym admin-password``; ``IGYM_ADMIN_PASSWORD`` is hashed when the server
starts. There is no default password: without either, the console is disabled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping

import attrs

PASSWORD_ENV = "IGYM_ADMIN_PASSWORD"
PASSWORD_HASH_ENV = "IGYM_ADMIN_PASSWORD_HASH"

#: scrypt cost: 16 MiB of memory and about 50 ms per check on a laptop core
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_MAX_PASSWORD_BYTES = 1024


class PasswordError(ValueError):
    """A stored password hash that cannot be used."""


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A salted scrypt hash of ``password`` in igym's text format."""
    if not password:
        raise PasswordError("the admin password must not be empty")
    salt = secrets.token_bytes(16)
    digest = _scrypt(password.encode("utf-8"), salt, n, r, p)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(digest).decode()}"


def check_hash(stored: str) -> tuple[bytes, bytes, int, int, int]:
    """Parse a stored hash (salt, digest, n, r, p); :class:`PasswordError` names the problem."""
    parts = stored.strip().split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise PasswordError(
            f"{PASSWORD_HASH_ENV} must look like scrypt$N$r$p$salt$hash (made by "
            "`igym admin-password`)"
        )
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except ValueError:
        raise PasswordError(f"{PASSWORD_HASH_ENV} has a malformed number or base64 part") from None
    if n < 2**10 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16 or len(digest) < 16:
        raise PasswordError(f"{PASSWORD_HASH_ENV} has unusable scrypt parameters")
    return salt, digest, n, r, p


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored``; the comparison takes the same time either way."""
    salt, digest, n, r, p = check_hash(stored)
    candidate = password.encode("utf-8", "surrogatepass")[:_MAX_PASSWORD_BYTES]
    return hmac.compare_digest(_scrypt(candidate, salt, n, r, p, len(digest)), digest)


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int, length: int = 32) -> bytes:
    return hashlib.scrypt(
        password, salt=salt, n=n, r=r, p=p, maxmem=256 * r * (n + p + 2), dklen=length
    )


def password_hash_from_env(env: Mapping[str, str]) -> str | None:
    """The admin password hash the environment gives (``None``: the console is disabled)."""
    stored = env.get(PASSWORD_HASH_ENV, "").strip()
    if stored:
        check_hash(stored)
        return stored
    password = env.get(PASSWORD_ENV, "")
    return hash_password(password) if password else None


# -- failed logins ------------------------------------------------------------------------------


class LoginLimiter:
    """Counts failed logins per client address and in total over a sliding window.

    After ``per_address`` failures from one address within ``window_s``, that address must wait
    until the oldest one leaves the window; after ``in_total`` failures from anywhere, everyone
    must (a guess spread over many addresses). Memory is bounded by ``max_addresses``.
    """

    def __init__(
        self,
        per_address: int = 5,
        in_total: int = 50,
        window_s: float = 300.0,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_address = per_address
        self.in_total = in_total
        self.window_s = window_s
        self.max_addresses = max_addresses
        self.clock = clock
        self._by_address: OrderedDict[str, deque[float]] = OrderedDict()
        self._all: deque[float] = deque()

    def retry_after(self, address: str) -> float:
        """Seconds until ``address`` may try again (0: now)."""
        now = self.clock()
        waits = [0.0]
        failures = self._recent(self._by_address.get(address), now)
        if failures is not None and len(failures) >= self.per_address:
            waits.append(failures[0] + self.window_s - now)
        self._recent(self._all, now)
        if len(self._all) >= self.in_total:
            waits.append(self._all[0] + self.window_s - now)
        return max(waits)

    def failed(self, address: str) -> None:
        now = self.clock()
        failures = self._by_address.pop(address, None) or deque()
        failures.append(now)
        self._by_address[address] = failures  # most recent last
        while len(self._by_address) > self.max_addresses:
            self._by_address.popitem(last=False)
        self._all.append(now)
        self._recent(self._all, now)

    def succeeded(self, address: str) -> None:
        self._by_address.pop(address, None)

    def _recent(self, failures: deque[float] | None, now: float) -> deque[float] | None:
        if failures is not None:
            while failures and failures[0] <= now - self.window_s:
                failures.popleft()
        return failures


# -- sessions -----------------------------------------------------------------------------------


@attrs.define
class AdminSession:
    csrf: str
    created: float
    seen: float
    address: str


class AdminSessions:
    """Logged-in browsers, in memory: a restart logs everyone out.

    The cookie holds a random token; only its SHA-256 is kept. A session ends after
    ``idle_s`` without a request or ``max_age_s`` after login, whichever comes first.
    """

    def __init__(
        self,
        idle_s: float = 4 * 3600.0,
        max_age_s: float = 24 * 3600.0,
        max_sessions: int = 100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_s = idle_s
        self.max_age_s = max_age_s
        self.max_sessions = max_sessions
        self.clock = clock
        self._sessions: OrderedDict[str, AdminSession] = OrderedDict()

    def create(self, address: str) -> tuple[str, AdminSession]:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = AdminSession(secrets.token_urlsafe(32), now, now, address)
        self._sessions[_key(token)] = session
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)  # the oldest login goes first
        return token, session

    def get(self, token: str | None) -> AdminSession | None:
        """The live session of a cookie's token (its idle timer restarts), or None."""
        if not token or len(token) > 256:
            return None
        key = _key(token)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self.clock()
        if now - session.seen > self.idle_s or now - session.created > self.max_age_s:
            del self._sessions[key]
            return None
        session.seen = now
        return session

    def end(self, token: str | None) -> None:
        if token:
            self._sessions.pop(_key(token), None)

    def __len__(self) -> int:
        return len(self._sessions)


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def csrf_ok(session: AdminSession, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(
        session.csrf.encode(), str(presented).encode("utf-8", "surrogatepass")
    )
