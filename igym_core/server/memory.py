"""Giving freed memory back to the operating system.

After a burst of connections (a study going live, an attack) CPython frees what they held, but
glibc's allocator keeps the freed pages of its arenas for later, so the server's resident memory
stays at its peak. :func:`trim` asks glibc to return them (``malloc_trim``); the app calls it
periodically. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

log = logging.getLogger("igym.server")

#: seconds between two trims
TRIM_EVERY_S = 5.0


@functools.cache
def _malloc_trim():  # type: ignore[no-untyped-def]
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        function = getattr(libc, "malloc_trim", None)
    except OSError:
        function = None
    if function is not None:
        function.argtypes = [ctypes.c_size_t]
        function.restype = ctypes.c_int
    return function


def trim() -> bool:
    """Return free heap memory to the system; False where that is not possible."""
    function = _malloc_trim()
    if function is None:
        return False
    function(0)
    return True
