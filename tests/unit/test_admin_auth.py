"""The admin console's password hashes, failed-login limits and sessions."""

from __future__ import annotations

import io

import pytest

from igym_core.server.admin.auth import (
    AdminSessions,
    LoginLimiter,
    PasswordError,
    csrf_ok,
    hash_password,
    password_hash_from_env,
    verify_password,
)
from igym_core.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_password_hashes_are_salted_and_verified():
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$") and "correct" not in stored
    assert stored != hash_password("correct horse")  # a new salt each time
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "correct hors")
    assert not verify_password(stored, "")
    with pytest.raises(PasswordError, match="must not be empty"):
        hash_password("")


@pytest.mark.parametrize(
    "bad", ["plain", "scrypt$1$8$1$AA==$AA==", "scrypt$16384$8$1$???$AA==", "md5$x$y$z$a$b"]
)
def test_a_malformed_stored_hash_fails_with_the_variable_named(bad):
    with pytest.raises(PasswordError, match="IGYM_ADMIN_PASSWORD_HASH"):
        password_hash_from_env({"IGYM_ADMIN_PASSWORD_HASH": bad})
    with pytest.raises(PasswordError):
        Settings(admin_password_hash=bad)


def test_the_environment_gives_the_password_or_nothing():
    assert password_hash_from_env({}) is None
    assert password_hash_from_env({"IGYM_ADMIN_PASSWORD": ""}) is None
    made = password_hash_from_env({"IGYM_ADMIN_PASSWORD": "s3cret"})
    assert made is not None and verify_password(made, "s3cret")
    stored = hash_password("other")
    assert (
        password_hash_from_env({"IGYM_ADMIN_PASSWORD_HASH": stored, "IGYM_ADMIN_PASSWORD": "x"})
        == stored
    )
    assert "s3cret" not in repr(Settings(admin_password_hash=made))


def test_failed_logins_are_limited_per_address_and_in_total():
    clock = Clock()
    limiter = LoginLimiter(per_address=3, in_total=5, window_s=60, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("a") == 0
        limiter.failed("a")
    assert limiter.retry_after("a") == 60
    assert limiter.retry_after("b") == 0  # another address may still try
    clock.t += 30
    assert limiter.retry_after("a") == 30
    limiter.failed("b")
    limiter.failed("c")  # five failures in the window, from anywhere: everyone waits
    assert limiter.retry_after("d") > 0
    clock.t += 31
    assert limiter.retry_after("a") == 0 and limiter.retry_after("d") == 0
    limiter.failed("e")
    limiter.succeeded("e")
    assert "e" not in limiter._by_address


def test_the_limiter_keeps_a_bounded_number_of_addresses():
    limiter = LoginLimiter(max_addresses=10, in_total=10**6)
    for i in range(100):
        limiter.failed(f"10.0.0.{i}")
    assert len(limiter._by_address) == 10


def test_sessions_end_when_idle_too_old_or_logged_out():
    clock = Clock()
    sessions = AdminSessions(idle_s=10, max_age_s=25, max_sessions=2, clock=clock)
    token, session = sessions.create("127.0.0.1")
    assert sessions.get(token) is session and sessions.get("guess") is None
    assert sessions.get(None) is None and sessions.get("x" * 1000) is None
    clock.t += 9
    assert sessions.get(token) is session  # each request restarts the idle timer
    clock.t += 9
    assert sessions.get(token) is session
    clock.t += 9  # 27 s after login
    assert sessions.get(token) is None
    token, _ = sessions.create("a")
    clock.t += 11
    assert sessions.get(token) is None
    token, _ = sessions.create("a")
    sessions.end(token)
    assert sessions.get(token) is None
    tokens = [sessions.create("a")[0] for _ in range(3)]
    assert sessions.get(tokens[0]) is None and len(sessions) == 2


def test_csrf_tokens_must_match_exactly():
    _, session = AdminSessions().create("a")
    assert csrf_ok(session, session.csrf)
    assert not csrf_ok(session, None) and not csrf_ok(session, "") and not csrf_ok(session, "x")
    assert not csrf_ok(session, session.csrf + "x")


def test_the_admin_password_command_prints_a_usable_hash(monkeypatch, capsys):
    from igym_core.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("a good password\n"))
    assert main(["admin-password"]) == 0
    stored = capsys.readouterr().out.strip()
    assert verify_password(stored, "a good password") and Settings(admin_password_hash=stored)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["admin-password"]) == 2
    assert "at least 8 characters" in capsys.readouterr().err


def test_a_bad_hash_in_the_environment_stops_igym_run_with_one_clear_line(monkeypatch, capsys):
    from igym_core.cli import main
    from tests.conftest import ROOT

    monkeypatch.setenv("IGYM_ADMIN_PASSWORD_HASH", "not-a-hash")
    assert main(["run", str(ROOT / "examples" / "overcooked_human_ai.py"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("igym run: IGYM_ADMIN_PASSWORD_HASH must look like")
        and "Traceback" not in err
    )
