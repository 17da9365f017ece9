"""Server-mode pieces without a server: frame encoding (draw objects, rgb_array images with
Pillow) and the per-member input sampling (the browser worker's rules)."""

from __future__ import annotations

import base64
import io

import pytest

from igym_core.server.authoritative.frames import FrameError, encode_frame
from igym_core.server.authoritative.inputs import MAX_QUEUED, InputState

np = pytest.importorskip("numpy")
Image = pytest.importorskip("PIL.Image")


def _image(payload: dict):
    return Image.open(io.BytesIO(base64.b64decode(payload["image"]["data"])))


def test_draw_objects_pass_through() -> None:
    objects = [{"kind": "rect", "x": 0, "y": 0, "w": 1, "h": 1, "color": "#000", "layer": 0}]
    assert encode_frame(objects) == {"render": objects}
    assert encode_frame(None) == {"render": []}


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "png"])
def test_rgb_arrays_are_encoded_compactly(fmt: str) -> None:
    rgb = np.zeros((400, 600, 3), dtype=np.uint8)
    rgb[100:300, 200:400] = (250, 40, 40)
    payload = encode_frame(rgb, fmt, quality=70, max_width=300)
    meta = payload["image"]
    assert meta["format"] == fmt and (meta["width"], meta["height"]) == (300, 200)
    decoded = _image(payload).convert("RGB")
    assert decoded.size == (300, 200)
    red = decoded.getpixel((150, 100))
    assert red[0] > 200 and red[1] < 90  # the red box survived the encoding
    assert len(base64.b64decode(meta["data"])) < rgb.nbytes / 20
    full = encode_frame(rgb, fmt, quality=70)
    assert (full["image"]["width"], full["image"]["height"]) == (600, 400)


def test_renders_that_are_not_frames_are_refused() -> None:
    with pytest.raises(FrameError, match=r"draw objects.*RGB image"):
        encode_frame("a string")
    with pytest.raises(FrameError, match=r"\(h, w, 3\)"):
        encode_frame(np.zeros((4, 4), dtype=np.uint8))


def test_held_and_press_inputs_sample_like_the_worker() -> None:
    held = InputState("held")
    held.down(2, 10.0)
    held.up(2)  # a tap between two ticks still acts once
    assert held.sample() == (2, 10.0)
    assert held.sample() == (None, None)
    held.down(1, 20.0)
    assert held.sample() == (1, 20.0)  # a new press: its key time
    assert held.sample() == (1, None)  # still held
    held.down(3, 30.0)
    assert held.sample() == (3, 30.0)
    held.up(3)
    assert held.sample() == (1, None)  # back to the key still held
    held.set_focused(False)
    assert held.sample() == (None, None)
    held.down(1, 40.0)  # unfocused: ignored
    held.set_focused(True)
    assert held.sample() == (None, None)
    press = InputState("press")
    press.down(0, 1.0)
    assert press.sample() == (0, 1.0)
    assert press.sample() == (None, None)  # held, but press mode acts once per press
    for i in range(MAX_QUEUED + 3):
        press.down(i % 2, float(i))
    assert len([press.sample() for _ in range(MAX_QUEUED)]) == MAX_QUEUED
    assert press.sample() == (None, None)
    with pytest.raises(ValueError, match="input mode"):
        InputState("sticky")
