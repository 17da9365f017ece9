"""Every budget the server enforces, in one place, and the token bucket they are counted with.

A budget is checked before the work it protects: a message's size before it is buffered (the
transport refuses it), its rate before it is parsed, an event's size before it is stored, a
signal's size before it is forwarded. What goes over a budget gets a clear error naming the
limit; a connection that keeps going over (or stops reading its replies) is closed, and the page
reconnects and resumes like after any dropped connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs


def _positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"Limits.{attribute.name} must be a positive number, got {value!r}")


def _field(default: float) -> Any:
    return attrs.field(default=default, validator=_positive)


@attrs.frozen
class Limits:
    """The server's budgets; the defaults suit a study of hundreds of participants.

    Per connection (one websocket):

    - ``max_message_bytes``: the largest message accepted, refused by the transport before it
      is buffered (the connection is closed with code 1009).
    - ``messages_per_s`` / ``message_burst``: message rate (a token bucket), and
      ``bytes_per_s`` / ``byte_burst``: what those messages weigh; more gets ``rate_limited``
      without being parsed.
    - ``hello_timeout_s``: a socket that has not said hello by then is closed;
      ``idle_timeout_s``: a socket that sent nothing for that long is closed (pages ping
      every 5 s; a background tab's timers may slow to one a minute).
    - ``outbox_messages`` / ``outbox_bytes``: replies waiting for a page that does not read
      them; past either, the connection is closed.
    - ``bad_messages_logged``: rejected messages stored as ``bad_message`` events;
      ``bad_messages_close``: rejected messages after which the connection is closed.
    - ``writes_waiting``: messages whose write, and so whose ack, is still to come (chunks
      of frames, episode starts and ends): the connection reads on while they are stored,
      and with this many waiting it waits for one.

    Per participant:

    - ``event_bytes``: the largest ``event`` data (as JSON); ``event_keys``: its most keys.
    - ``events_per_s`` / ``event_burst``: event rate; ``events_total``: events stored in all.
    - ``signal_bytes``: the largest WebRTC signal (as JSON); ``signals_per_s`` /
      ``signal_burst``: signal rate per member of a match.
    - ``attribute_keys`` / ``attribute_chars``: what a page may report for matchmaking.
    - ``telemetry_per_chunk``: latency-telemetry samples in one message; ``telemetry_per_episode``:
      samples stored per episode (an hour of play at 1 Hz has about 40,000);
      ``telemetry_metrics``: distinct metric names per episode.
    - ``pause_reports``: pause reports per member and match (a flapping link cannot make the
      server record without end).

    Screening and monitoring (see :mod:`igym_core.server.screening`):

    - ``report_chars``: the longest text a page may report about its browser (the user
      agent); ``report_pixels``: the largest screen or window side it may report.
    - ``screening_pings``: websocket round trips the server measures before the entry rules
      run (at least 5); ``ping_timeout_s``: a ping not answered by then counts as that long;
      ``screening_timeout_s``: a page that does not report by then is judged on what is known.
    - ``focus_periods``: focus-loss periods stored per participant and scene.

    Per address (an IP address; behind a reverse proxy, set ``Settings.trusted_proxies`` or
    every participant shares the proxy's):

    - ``connections_per_s`` / ``connection_burst``: websockets opened; more are refused
      with HTTP 429 before the handshake (the page retries with backoff).
    - ``new_participants_per_min``: participants created.
    """

    max_message_bytes: int = _field(64 * 1024)
    messages_per_s: float = _field(100.0)
    message_burst: float = _field(400.0)
    bytes_per_s: float = _field(512 * 1024)
    byte_burst: float = _field(2 * 1024 * 1024)
    hello_timeout_s: float = _field(10.0)
    idle_timeout_s: float = _field(90.0)
    outbox_messages: int = _field(2000)
    outbox_bytes: int = _field(2 * 1024 * 1024)
    bad_messages_logged: int = _field(20)
    bad_messages_close: int = _field(200)
    writes_waiting: int = _field(16)
    event_bytes: int = _field(4096)
    event_keys: int = _field(32)
    events_per_s: float = _field(5.0)
    event_burst: float = _field(50.0)
    events_total: int = _field(2000)
    signal_bytes: int = _field(16 * 1024)
    signals_per_s: float = _field(20.0)
    signal_burst: float = _field(200.0)
    attribute_keys: int = _field(32)
    attribute_chars: int = _field(256)
    report_chars: int = _field(512)
    report_pixels: int = _field(100_000)
    screening_pings: int = _field(5)
    ping_timeout_s: float = _field(5.0)
    screening_timeout_s: float = _field(20.0)
    focus_periods: int = _field(500)
    telemetry_per_chunk: int = _field(600)
    telemetry_per_episode: int = _field(60_000)
    telemetry_metrics: int = _field(24)
    pause_reports: int = _field(200)
    connections_per_s: float = _field(20.0)
    connection_burst: float = _field(30.0)
    new_participants_per_min: float = _field(300.0)

    def __attrs_post_init__(self) -> None:
        if self.screening_pings < 5:
            raise ValueError("Limits.screening_pings must be at least 5 (the median of 5 pings)")


@attrs.define
class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; :meth:`take` spends one."""

    rate: float
    burst: float
    clock: Callable[[], float]
    tokens: float = attrs.field(default=-1.0)
    at: float = attrs.field(default=-1.0)

    def __attrs_post_init__(self) -> None:
        self.tokens = self.burst
        self.at = self.clock()

    def take(self, cost: float = 1.0) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True


class KeyedBuckets:
    """One :class:`TokenBucket` per key (an address, a participant), forgetting idle ones so the
    table stays small."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str, cost: float = 1.0) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= 10_000:
                self._forget_full()
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self.clock)
        return bucket.take(cost)

    def _forget_full(self) -> None:
        """Drop buckets that have refilled completely: they remember nothing."""
        now = self.clock()
        for key, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.at) * self.rate >= bucket.burst:
                del self._buckets[key]
