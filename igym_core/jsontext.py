"""JSON text as the server stores, hashes and compares it: msgspec's encoder and decoder (the
standard module is several times slower, and frames are most of what a study writes).

:func:`sorted_text` writes keys sorted and no spaces, so the same value is always the same
text: the store's JSON columns, the lobby's snapshots in Redis and the parity digests use it.
"""

from __future__ import annotations

from typing import Any

import msgspec

_SORTED = msgspec.json.Encoder(order="sorted")

#: JSON text (str or bytes) to Python values
parse = msgspec.json.Decoder().decode


def sorted_bytes(value: Any) -> bytes:
    """``value`` as canonical JSON: keys sorted, no spaces, UTF-8."""
    return _SORTED.encode(value)


def sorted_text(value: Any) -> str:
    """:func:`sorted_bytes` as text."""
    return _SORTED.encode(value).decode()
