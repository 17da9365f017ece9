"""Run one igym server for the hardening tests: ``python -m tests.hardening.serve SPEC``.

SPEC is JSON: ``{"experiment": path, "data_dir": path, "limits": {...}, "settings": {...}}``
(and ``"baseline": true`` for a benchmark's baseline: the process as it ran before
:mod:`igym_core.server.process`).
It serves exactly as ``igym run`` does (the same Hypercorn configuration), with the budgets a
test needs, and prints ``igym: hosting ... at http://127.0.0.1:PORT/`` when it listens.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys

from hypercorn.asyncio import serve
from quart import Quart

from igym_core.config import Experiment
from igym_core.experiment import load_experiment
from igym_core.server.app import create_app
from igym_core.server.limits import Limits
from igym_core.server.process import serve_forever
from igym_core.server.transport import hypercorn_config
from igym_core.settings import Settings


def main(spec: dict) -> None:
    experiment = load_experiment(spec["experiment"])
    settings = Settings(
        data_dir=spec["data_dir"],
        limits=Limits(**spec.get("limits", {})),
        **spec.get("settings", {}),
    )
    app = create_app(experiment, settings)
    if spec.get("baseline"):  # benchmarks' baseline: asyncio's loop, the collector untouched
        asyncio.run(host(app, experiment, settings))
    else:
        serve_forever(host(app, experiment, settings))


async def host(app: Quart, experiment: Experiment, settings: Settings) -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    sock.set_inheritable(True)
    config = hypercorn_config(settings, f"fd://{sock.fileno()}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"igym: hosting {experiment.id!r} at http://127.0.0.1:{sock.getsockname()[1]}/", flush=True
    )
    await serve(app, config, shutdown_trigger=stop.wait)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
