"""Pure Python that decides game outcomes; runs unchanged in the Pyodide worker and in CPython.

Standard library only, no I/O, no clocks, no threads, no unseeded randomness (a test checks).

- :mod:`~igym_core.runtime.rollback` — the GGPO-style session a host drives (inputs in,
  save/load/advance requests out, events polled); its config, requests, events and statistics
  are defined in :mod:`~igym_core.runtime.session_types` and importable from here;
- :mod:`~igym_core.runtime.input_queue` — one peer's confirmed inputs and prediction;
- :mod:`~igym_core.runtime.wire` — the binary packets (inputs with redundancy and acks, hash
  reports, ping/pong, episode end) and :class:`~igym_core.runtime.wire.WireError`;
- :mod:`~igym_core.runtime.record` — the canonical log of settled frames, speculative metadata,
  the cross-peer validation export;
- :mod:`~igym_core.runtime.hashing` — canonical state hashing;
- :mod:`~igym_core.runtime.game` — what rollback needs of a game, and a wrapper for envs;
- :mod:`~igym_core.runtime.host` — runs one peer's game through a session's requests;
- :mod:`~igym_core.runtime.synctest` — the sync test behind ``igym check-env``;
- :mod:`~igym_core.runtime.transport` — the worker's buffer transport;
- :mod:`~igym_core.runtime.netsim` and :mod:`~igym_core.runtime.simmatch` — the deterministic
  network simulator and full simulated matches behind ``igym simulate``;
- :mod:`~igym_core.runtime.play` — a single human's game with AI partners, one call per tick
  (what the worker runs in single-player scenes);
- :mod:`~igym_core.runtime.netplay` — the same for a peer of a multiplayer match, over rollback;
- :mod:`~igym_core.runtime.toygame` — a small deterministic game for tests and benchmarks.
"""
