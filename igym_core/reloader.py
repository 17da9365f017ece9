"""``igym run --reload``: the server runs in a child process, restarted whenever the experiment's
files or an installed plugin change (:mod:`igym_core.watch`).

A restart builds everything afresh (the experiment loaded again, plugins imported again, the
browser packages zipped again with new content addresses), while the store on disk carries the
data across: participants' pages reconnect and resume as after any server restart. When the
new experiment does not load, the child exits with the error printed and the next change is
tried again. For development only: a participant mid-game sees the connection drop briefly.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from igym_core import watch

POLL_S = 1.0
#: After a change, wait until the files have been still this long (editors write in steps).
SETTLE_S = 0.3
STOP_TIMEOUT_S = 10.0


def free_port(host: str) -> int:
    """A port nobody listens on now, so every restart binds the same one."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def supervise(
    command: Sequence[str],
    experiment: Path,
    *,
    poll_s: float = POLL_S,
    say: Callable[[str], None] = lambda text: print(f"igym: {text}", flush=True),
) -> int:
    """Run ``command`` (an ``igym run`` without ``--reload``) and restart it on every change,
    until SIGINT or SIGTERM."""
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    snapshot = watch.take(experiment)
    child = subprocess.Popen(list(command))
    say("reloading on changes to the experiment and the installed plugins")
    reported_exit = False
    try:
        while not stopping:
            time.sleep(poll_s)
            if child.poll() is not None and not reported_exit:
                say(
                    f"the server stopped (exit code {child.returncode}); restarting on the next change"
                )
                reported_exit = True
            changes = watch.differences(snapshot, current := watch.take(experiment))
            if not changes:
                continue
            while True:  # let the writing finish
                time.sleep(SETTLE_S)
                settled = watch.take(experiment)
                if settled == current:
                    break
                current = settled
            say(f"{'; '.join(changes)}: restarting the server")
            _stop(child)
            snapshot = current
            child = subprocess.Popen(list(command))
            reported_exit = False
    finally:
        _stop(child)
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)
    return 0


def child_command(file: Path, host: str, port: int, data_dir: Path) -> list[str]:
    """The ``igym run`` the supervisor runs (the same interpreter, without ``--reload``)."""
    return [
        sys.executable,
        "-m",
        "igym_core.cli",
        "run",
        str(file),
        "--host",
        host,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
