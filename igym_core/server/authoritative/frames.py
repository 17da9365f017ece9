"""What the server sends of a frame: the env's draw objects, or its ``rgb_array`` image encoded
compactly with Pillow (JPEG, WebP or PNG, scaled down to a maximum width when asked), as base64
in the JSON message; the page draws either on its canvas."""

from __future__ import annotations

import base64
import io
from typing import Any

__all__ = ["FrameError", "encode_frame"]

_PIL_FORMATS = {"jpeg": "JPEG", "webp": "WEBP", "png": "PNG"}


class FrameError(ValueError):
    """A render the page cannot be sent (not draw objects, not an RGB image)."""


def encode_frame(
    drawn: Any, fmt: str = "jpeg", quality: int = 80, max_width: int | None = None
) -> dict[str, Any]:
    """``{"render": [...]}`` for draw objects (a list), ``{"image": {...}}`` for an image
    (an ``(h, w, 3)`` or ``(h, w, 4)`` uint8 array), ``{"render": []}`` for nothing."""
    if drawn is None:
        return {"render": []}
    if isinstance(drawn, list):
        return {"render": drawn}
    shape = getattr(drawn, "shape", None)
    if shape is None or len(shape) != 3 or shape[2] not in (3, 4):
        raise FrameError(
            f"render() returned {type(drawn).__name__} {shape or ''}: a server scene sends draw "
            "objects (a list) or an RGB image (an (h, w, 3) uint8 array, render_mode='rgb_array')"
        )
    try:
        from PIL import Image
    except ImportError:
        raise FrameError(
            "this scene's env renders images; encoding them needs Pillow: pip install 'igym[server]'"
        ) from None
    import numpy

    array = numpy.ascontiguousarray(drawn, dtype=numpy.uint8)
    image = Image.fromarray(array, "RGBA" if shape[2] == 4 else "RGB")
    if fmt == "jpeg" and image.mode == "RGBA":
        image = image.convert("RGB")
    if max_width is not None and image.width > max_width:
        height = max(1, round(image.height * max_width / image.width))
        image = image.resize((max_width, height), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    options: dict[str, Any] = {"quality": quality} if fmt in ("jpeg", "webp") else {}
    if fmt == "webp":
        options["method"] = 0  # the fastest encoder: frames go out 30 times a second
    image.save(buffer, _PIL_FORMATS[fmt], **options)
    return {
        "image": {
            "format": fmt,
            "data": base64.b64encode(buffer.getvalue()).decode("ascii"),
            "width": image.width,
            "height": image.height,
        }
    }
