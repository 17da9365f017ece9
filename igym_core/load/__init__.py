"""``igym load``: scripted participants against a running igym server, and what it costs.

:mod:`~igym_core.load.scripted` is one participant speaking the real protocol;
:mod:`~igym_core.load.run` starts many, spread over time and over source addresses, and
reports round trips, throughput, errors and the server's CPU and memory.
"""
