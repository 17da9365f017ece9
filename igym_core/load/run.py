"""Many scripted participants at once, bounded in count and time, and the report."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs

from igym_core.load.scripted import ScriptedParticipant, ScriptError

#: at most this many participants in one run
MAX_PARTICIPANTS = 5000
#: how often the generator checks how late its own event loop runs (seconds)
LAG_PROBE_S = 0.05


def percentile(samples: Sequence[float], q: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


@attrs.define
class ProcessStats:
    """CPU seconds and resident memory of a local process, from /proc."""

    pid: int

    def read(self) -> tuple[float, float]:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        rss = 0.0
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
        return cpu, rss


@attrs.define
class LoadReport:
    participants: int
    finished: int
    seconds: float
    samples: dict[str, list[float]]
    messages: int
    frames_acked: int
    errors: dict[str, int]
    failures: dict[str, int]
    server_cpu_s: float | None = None
    server_rss_mb: tuple[float, float] | None = None  # before, at the end
    #: how late this process's own event loop woke up (ms): the generator's share of the
    #: round trips, when the machine it shares with the server is busy
    generator_lag: list[float] = attrs.Factory(list)
    frames_sent: int = 0
    generator_cpu_s: float | None = None

    def round_trips(self) -> list[float]:
        return [ms for kind, values in self.samples.items() if kind != "ping" for ms in values]

    def as_dict(self) -> dict[str, Any]:
        rtt = self.round_trips()
        pings = self.samples.get("ping", [])
        return {
            "participants": self.participants,
            "finished": self.finished,
            "seconds": round(self.seconds, 2),
            "round_trip_ms": _summary(rtt),
            "ping_ms": _summary(pings),
            "by_kind_p99_ms": {
                k: round(percentile(v, 0.99) or 0, 1) for k, v in sorted(self.samples.items())
            },
            "messages_per_s": round(self.messages / self.seconds, 1) if self.seconds else None,
            "frames_stored_per_s": (
                round(self.frames_acked / self.seconds, 1) if self.seconds else None
            ),
            "frames_acked": self.frames_acked,
            "frames_sent": self.frames_sent,
            "errors": dict(sorted(self.errors.items())),
            "failures": dict(sorted(self.failures.items())),
            "server_cpu_share": (
                round(self.server_cpu_s / self.seconds, 3)
                if self.server_cpu_s is not None and self.seconds
                else None
            ),
            "server_rss_mb": self.server_rss_mb,
            "generator_lag_ms": _summary(self.generator_lag),
            "generator_cpu_share": (
                round(self.generator_cpu_s / self.seconds, 3)
                if self.generator_cpu_s is not None and self.seconds
                else None
            ),
        }

    def text(self) -> str:
        d = self.as_dict()
        rtt, ping = d["round_trip_ms"], d["ping_ms"]
        lines = [
            f"participants     {d['participants']} ({d['finished']} reached the end) in "
            f"{d['seconds']} s",
            f"round trip (ack) p50 {rtt['p50']} ms  p99 {rtt['p99']} ms  max {rtt['max']} ms "
            f"({rtt['count']} messages)",
            f"ping             p50 {ping['p50']} ms  p99 {ping['p99']} ms  max {ping['max']} ms",
            f"messages/s       {d['messages_per_s']}",
            f"frames stored/s  {d['frames_stored_per_s']} ({d['frames_acked']} acked of "
            f"{d['frames_sent']} sent)",
            f"errors           {d['errors'] or 'none'}",
            f"failed pages     {d['failures'] or 'none'}",
        ]
        lag = d["generator_lag_ms"]
        if lag["count"]:
            lines.append(
                f"generator        loop lag p50 {lag['p50']} ms  p99 {lag['p99']} ms, CPU "
                f"{(d['generator_cpu_share'] or 0) * 100:.0f}% of a core"
            )
        if d["server_cpu_share"] is not None:
            before, after = d["server_rss_mb"]
            lines.append(
                f"server           CPU {d['server_cpu_share'] * 100:.0f}% of a core, RSS "
                f"{before:.0f} MB -> {after:.0f} MB"
            )
        return "\n".join(lines)


def _read(stats: Sequence[ProcessStats]) -> tuple[float, float]:
    readings = [s.read() for s in stats]
    return sum(r[0] for r in readings), sum(r[1] for r in readings)


def _summary(samples: list[float]) -> dict[str, Any]:
    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 1)

    return {
        "count": len(samples),
        "p50": r(percentile(samples, 0.5)),
        "p99": r(percentile(samples, 0.99)),
        "max": r(max(samples) if samples else None),
    }


def sources_for(url: str, count: int) -> list[str | None]:
    """Source addresses to spread participants over: ``127.0.0.2`` … for a loopback server
    (the server's per-address budgets count them apart), the default route otherwise."""
    host = urlsplit(url).hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback or count <= 0:
        return [None]
    return [f"127.0.{(i // 250)}.{i % 250 + 2}" for i in range(count)]


async def run_load(
    url: str | Sequence[str],
    participants: int,
    *,
    duration_s: float,
    ramp_s: float = 0.0,
    sources: int = 0,
    speed: float = 1.0,
    think_s: float = 0.0,
    server_pid: int | Sequence[int] | None = None,
    prefix: str = "load",
) -> LoadReport:
    """Run ``participants`` scripted participants against ``url`` (``ws://…/ws``; several:
    participants take them in turn, e.g. processes sharing a lobby) for at most
    ``duration_s``, opening them over ``ramp_s``. ``server_pid``: the processes whose CPU and
    memory are reported (summed)."""
    urls = [url] if isinstance(url, str) else list(url)
    if not 1 <= participants <= MAX_PARTICIPANTS:
        raise ValueError(f"participants must be 1..{MAX_PARTICIPANTS}, got {participants}")
    samples: dict[str, list[float]] = {}

    def record(kind: str, ms: float) -> None:
        samples.setdefault(kind, []).append(ms)

    addresses = sources_for(urls[0], sources)
    pages = [
        ScriptedParticipant(
            urls[i % len(urls)],
            f"{prefix}-{i}",
            record,
            source=addresses[i % len(addresses)],
            speed=speed,
            think_s=think_s,
        )
        for i in range(participants)
    ]
    pids = [server_pid] if isinstance(server_pid, int) else list(server_pid or ())
    stats = [ProcessStats(pid) for pid in pids]
    cpu0, rss0 = _read(stats)
    started = time.monotonic()
    deadline = started + duration_s
    failures: dict[str, int] = {}

    async def one(i: int, page: ScriptedParticipant) -> None:
        await asyncio.sleep(ramp_s * i / max(1, participants))
        try:
            await page.run(deadline)
        except (ScriptError, OSError, TimeoutError, Exception) as exc:  # a page that failed
            key = type(exc).__name__ if not isinstance(exc, ScriptError) else str(exc)[:80]
            failures[key] = failures.get(key, 0) + 1

    lag: list[float] = []

    async def watch_lag() -> None:
        while True:
            slept = time.perf_counter()
            await asyncio.sleep(LAG_PROBE_S)
            lag.append(max(0.0, (time.perf_counter() - slept - LAG_PROBE_S) * 1000))

    own_cpu = time.process_time()
    watcher = asyncio.ensure_future(watch_lag())
    try:
        await asyncio.gather(*(one(i, p) for i, p in enumerate(pages)))
    finally:
        watcher.cancel()
    seconds = time.monotonic() - started
    errors: dict[str, int] = {}
    for page in pages:
        for code, n in page.errors.items():
            errors[code] = errors.get(code, 0) + n
    report = LoadReport(
        participants=participants,
        finished=sum(p.done for p in pages),
        seconds=seconds,
        samples=samples,
        messages=sum(p.messages for p in pages),
        frames_acked=sum(p.frames_acked for p in pages),
        frames_sent=sum(p.frames_sent for p in pages),
        errors=errors,
        failures=failures,
        generator_lag=lag,
        generator_cpu_s=time.process_time() - own_cpu,
    )
    if stats:
        cpu1, rss1 = _read(stats)
        report.server_cpu_s = cpu1 - cpu0
        report.server_rss_mb = (round(rss0, 1), round(rss1, 1))
    return report
