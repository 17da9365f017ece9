"""What the server accepts to relay between the members of a match (see ``Lobby.relay``): game
packets (base64) and small control messages, in bounded numbers and sizes."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from igym_core.server.protocol import ProtocolError

MAX_RELAY_PACKETS = 16
MAX_RELAY_PACKET_CHARS = 2048
MAX_RELAY_CONTROLS = 4
MAX_RELAY_CONTROL_CHARS = 1024


def check_relay(packets: Sequence[str], controls: Sequence[Mapping[str, Any]]) -> None:
    """Refuse a relay message beyond the limits, naming the problem."""
    if not packets and not controls:
        raise ProtocolError("invalid", "a relay message needs at least one packet or control")
    if len(packets) > MAX_RELAY_PACKETS:
        raise ProtocolError(
            "invalid", f"{len(packets)} packets in one relay message (at most {MAX_RELAY_PACKETS})"
        )
    if len(controls) > MAX_RELAY_CONTROLS:
        raise ProtocolError(
            "invalid",
            f"{len(controls)} controls in one relay message (at most {MAX_RELAY_CONTROLS})",
        )
    for i, packet in enumerate(packets):
        if len(packet) > MAX_RELAY_PACKET_CHARS:
            raise ProtocolError(
                "invalid",
                f"relay packet {i} has {len(packet)} characters "
                f"(at most {MAX_RELAY_PACKET_CHARS} of base64)",
            )
        try:
            base64.b64decode(packet, validate=True)
        except ValueError:  # binascii.Error, or a non-ASCII string
            raise ProtocolError("invalid", f"relay packet {i} is not valid base64") from None
    for i, control in enumerate(controls):
        size = len(json.dumps(control, separators=(",", ":"), ensure_ascii=False))
        if size > MAX_RELAY_CONTROL_CHARS:
            raise ProtocolError(
                "invalid",
                f"relay control {i} is {size} characters as JSON "
                f"(at most {MAX_RELAY_CONTROL_CHARS})",
            )
