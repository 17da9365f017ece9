"""The attacks of the hardening tests, run in their own process so that the attacker's work
does not slow the well-behaved participant the test measures:
``python -m tests.hardening.attacks NAME URL JSON``; prints one JSON line of results."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.hardening.rawws import (
    RawPage,
    deflate_bomb,
    frame_header,
    handshake,
    read_close,
    text_frame,
)

MiB = 1024 * 1024


def compressed(url: str, sockets: int = 64, messages: int = 3) -> dict:
    """Each socket offers compression and sends ``messages`` compressed 16 MiB messages (a few
    KB each on the wire); as many other sockets send one plain frame that says it is 16 MiB
    long, and go on sending."""
    bomb = deflate_bomb(16 * MiB)
    offer = "permessage-deflate; client_max_window_bits"

    def deflated(_: int) -> int | str | None:
        try:
            s = handshake(url, extensions=offer)
        except ConnectionRefusedError:
            return "refused"
        try:
            for _ in range(messages):
                s.sendall(frame_header(len(bomb), rsv1=True) + bomb)
        except OSError:
            pass
        code = read_close(s)
        s.close()
        return code

    def oversized(_: int) -> int | str | None:
        try:
            s = handshake(url)
        except ConnectionRefusedError:
            return "refused"
        try:
            s.sendall(frame_header(16 * MiB))
            for _ in range(16):
                s.sendall(b"a" * 65536)
        except OSError:
            pass
        code = read_close(s)
        s.close()
        return code

    with ThreadPoolExecutor(sockets) as pool:
        first = list(pool.map(deflated, range(sockets)))
        time.sleep(2)  # the address's connection budget refills
        second = list(pool.map(oversized, range(sockets)))
    return {"compressed": first, "oversized": second, "bomb_bytes": len(bomb)}


def signal_flood(
    url: str, seconds: float = 20, burst: int = 100, rate: float = 20, size: int = 16_000
) -> dict:
    """Two members of a match: one stops reading, the other floods it with the largest
    signals it may send, as fast as it may. (The kernel's socket buffers take about 4 MB
    before the server's outbox sees any of it.)"""
    reader = RawPage(url, rcvbuf=65536)
    flooder = RawPage(url)
    reader.enter("flood-reader")
    flooder.enter("flood-sender")
    for page in (reader, flooder):
        page.request({"type": "lobby_join", "scene_id": "game"})
    match = flooder.until("match")
    reader.until("match")
    for page in (reader, flooder):  # both pass the P2P check: the game is played
        page.request({"type": "probe", "match_id": match["match_id"], "ok": True, "rtt_ms": 1.0})
    reader.until("match_start")  # from now on the reader reads nothing
    flooder.until("match_start")
    other = match["members"][1 - match["you"]]
    to = other.get("peer") or other["participant_id"]  # (servers before issue 10 sent ids)
    signal = {"type": "signal", "match_id": match["match_id"], "to": to}
    replies: list[dict] = []
    stop = threading.Event()

    def read_replies() -> None:
        while not stop.is_set():
            try:
                message = flooder.recv(timeout=0.5)
            except TimeoutError:
                continue
            if message is None:
                return
            replies.append(message)

    listener = threading.Thread(target=read_replies, daemon=True)
    listener.start()
    big = {**signal, "token": flooder.token, "seq": 0, "data": {"sdp": "x" * size}}
    flooder.send({**big, "data": {"sdp": "x" * 60_000}})
    sent = 0
    started = time.monotonic()
    for _ in range(int(burst * 1.5)):  # the burst the budget allows, and some more
        flooder.send(big)
        sent += 1
    while time.monotonic() - started < seconds:
        flooder.send(big)  # then as fast as the budget refills
        sent += 1
        time.sleep(1 / rate)
    stop.set()
    listener.join()
    codes: dict[str, int] = {}
    for reply in replies:
        if reply.get("type") == "error":
            codes[reply["code"]] = codes.get(reply["code"], 0) + 1
    return {"sent": sent, "errors": codes}


def churn(url: str, connections: int = 2000, workers: int = 16) -> dict:
    """Connections opened and dropped as fast as possible, some after a hello, some after
    garbage, none closing cleanly."""

    def one(i: int) -> str:
        try:
            s = handshake(url)
        except ConnectionRefusedError as exc:
            return "429" if " 429 " in str(exc) else "refused"
        except OSError:
            return "failed"
        if i % 3 == 0:
            s.sendall(text_frame('{"type":"hello","params":{}}'))
        elif i % 3 == 1:
            s.sendall(text_frame("not json " * 100))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # a reset, not a close handshake
        return "opened"

    started = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        outcomes = list(pool.map(one, range(connections)))
    counts = {k: outcomes.count(k) for k in set(outcomes)}
    return {"outcomes": counts, "seconds": time.monotonic() - started}


def event_flood(url: str, seconds: float = 3) -> dict:
    """One participant sends events as fast as it can: the largest the message limit allows,
    then small ones."""
    page = RawPage(url)
    page.enter("event-flooder")
    replies: list[dict] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                message = page.recv(timeout=0.5)
            except TimeoutError:
                continue
            if message is None:
                return
            replies.append(message)

    listener = threading.Thread(target=read, daemon=True)
    listener.start()
    sent = 0
    started = time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            big = sent % 2 == 0
            data = {"blob": "a" * 60_000} if big else {"note": "b" * 100}
            page.request({"type": "event", "name": "flood", "data": data})
            sent += 1
    except OSError:
        pass
    time.sleep(0.5)
    stop.set()
    listener.join()
    codes: dict[str, int] = {}
    for reply in replies:
        key = reply["type"] if reply["type"] != "error" else reply["code"]
        codes[key] = codes.get(key, 0) + 1
    return {"sent": sent, "replies": codes}


def junk(url: str, sockets: int = 20, messages: int = 150) -> dict:
    """Sockets that never say hello and send only garbage."""

    def one(_: int) -> int:
        s = handshake(url)
        for i in range(messages):
            s.sendall(text_frame("{garbage " + str(i)))
        code = read_close(s, timeout=3)
        s.close()
        return -1 if code is None else code

    with ThreadPoolExecutor(sockets) as pool:
        codes = list(pool.map(one, range(sockets)))
    return {"close_codes": codes}


def silent(url: str, sockets: int = 50, wait_s: float = 5) -> dict:
    """Sockets that are opened and never say anything: when does the server close them?"""
    opened = [handshake(url) for _ in range(sockets)]
    started = time.monotonic()
    closed_after = []
    for s in opened:
        code = read_close(s, timeout=max(0.1, wait_s - (time.monotonic() - started)))
        closed_after.append(time.monotonic() - started if code is not None else None)
        s.close()
    return {"closed_after_s": closed_after}


def identities(url: str, count: int = 100) -> dict:
    """One address creates participant after participant."""
    outcomes: dict[str, int] = {}
    for i in range(count):
        page = RawPage(url)
        page.send({"type": "hello", "params": {"PROLIFIC_PID": f"sock-puppet-{i}"}})
        reply = page.recv()
        key = "closed" if reply is None else reply.get("code", reply["type"])
        outcomes[key] = outcomes.get(key, 0) + 1
        page.sock.close()
    return {"outcomes": outcomes}


def stranding(url: str) -> dict:
    """A member that never sends its P2P check, and one that sends a failed check after play
    began; what each member of those matches is told."""
    out: dict = {}
    # 1. one member of a match stays silent
    prober, silent = RawPage(url), RawPage(url)
    prober.enter("strand-prober")
    silent.enter("strand-silent")
    for page in (prober, silent):
        page.request({"type": "lobby_join", "scene_id": "game"})
    match = prober.until("match")
    silent.until("match")
    started = time.monotonic()
    prober.request({"type": "probe", "match_id": match["match_id"], "ok": True, "rtt_ms": 2.0})
    requeued = prober.until("requeued", timeout=10)
    out["requeued"] = {"reason": requeued["reason"], "after_s": time.monotonic() - started}
    ended = silent.until("match_ended", timeout=10)
    out["silent_told"] = ended["reason"]
    prober.request({"type": "lobby_leave", "scene_id": "game", "reason": "left"})
    prober.until("ack")
    # 2. a failed check after the game began changes nothing
    a, b = RawPage(url), RawPage(url)
    a.enter("late-a")
    b.enter("late-b")
    for page in (a, b):
        page.request({"type": "lobby_join", "scene_id": "game"})
    match = a.until("match")
    b.until("match")
    for page in (a, b):
        page.request({"type": "probe", "match_id": match["match_id"], "ok": True, "rtt_ms": 1.0})
    a.until("match_start")
    b.until("match_start")
    a.request({"type": "probe", "match_id": match["match_id"], "ok": False, "rtt_ms": None})
    refused = a.until("error")
    out["late_probe"] = {"code": refused["code"], "message": refused["message"]}
    to = match["members"][1 - match["you"]]["peer"]
    a.send({"type": "relay", "token": a.token, "seq": 0, "match_id": match["match_id"],
            "to": to, "packets": ["AA=="]})  # fmt: skip
    out["relayed"] = b.until("relay")["packets"]
    for page in (prober, silent, a, b):
        page.sock.close()
    return out


ATTACKS = {
    "stranding": stranding,
    "event_flood": event_flood,
    "junk": junk,
    "silent": silent,
    "identities": identities,
    "compressed": compressed,
    "signal_flood": signal_flood,
    "churn": churn,
}

if __name__ == "__main__":
    name, url, args = (
        sys.argv[1],
        sys.argv[2],
        json.loads(sys.argv[3] if len(sys.argv) > 3 else "{}"),
    )
    print(json.dumps(ATTACKS[name](url, **args)), flush=True)
