"""Draw igym_overcooked's sprite atlas: ``assets/overcooked.png`` + ``assets/overcooked.json``.

Every sprite is drawn here from circles, rectangles and triangles (3 x 3 supersampled), and
written as a PNG with the standard library only (zlib + struct). Run it after changing a
sprite; the test suite checks that the committed files are exactly what this script writes::

    python plugins/igym_overcooked/tools/make_atlas.py
"""

from __future__ import annotations

import json
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

TILE = 32
SS = 3  # supersampling per axis
COLS = 8
ASSETS = Path(__file__).resolve().parent.parent / "igym_overcooked" / "assets"

Shape = Callable[[float, float], bool]
Color = tuple[int, int, int, int]


def rgb(hex_color: str, alpha: int = 255) -> Color:
    h = hex_color.lstrip("#")
    return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), alpha)


def rect(x0: float, y0: float, x1: float, y1: float) -> Shape:
    return lambda x, y: x0 <= x <= x1 and y0 <= y <= y1


def circle(cx: float, cy: float, r: float) -> Shape:
    return lambda x, y: (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def ellipse(cx: float, cy: float, rx: float, ry: float) -> Shape:
    return lambda x, y: ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0


def ring(cx: float, cy: float, r0: float, r1: float) -> Shape:
    return lambda x, y: r0 * r0 <= (x - cx) ** 2 + (y - cy) ** 2 <= r1 * r1


def triangle(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> Shape:
    def contains(x: float, y: float) -> bool:
        s1 = (x - b[0]) * (a[1] - b[1]) - (a[0] - b[0]) * (y - b[1])
        s2 = (x - c[0]) * (b[1] - c[1]) - (b[0] - c[0]) * (y - c[1])
        s3 = (x - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (y - a[1])
        neg = s1 < 0 or s2 < 0 or s3 < 0
        pos = s1 > 0 or s2 > 0 or s3 > 0
        return not (neg and pos)

    return contains


def paint(layers: list[tuple[Shape, Color]]) -> list[Color]:
    """Rasterise shapes (later ones on top) into TILE x TILE RGBA pixels."""
    out: list[Color] = []
    n = SS * SS
    for py in range(TILE):
        for px in range(TILE):
            acc = [0, 0, 0, 0]
            for sy in range(SS):
                for sx in range(SS):
                    x = (px + (sx + 0.5) / SS) / TILE
                    y = (py + (sy + 0.5) / SS) / TILE
                    col = (0, 0, 0, 0)
                    for shape, color in reversed(layers):
                        if shape(x, y):
                            col = color
                            break
                    a = col[3]
                    acc[0] += col[0] * a
                    acc[1] += col[1] * a
                    acc[2] += col[2] * a
                    acc[3] += a
            if acc[3]:
                out.append((acc[0] // acc[3], acc[1] // acc[3], acc[2] // acc[3], acc[3] // n))
            else:
                out.append((0, 0, 0, 0))
    return out


# -- the sprites ------------------------------------------------------------------------------

FULL = rect(0, 0, 1, 1)


def counter_base() -> list[tuple[Shape, Color]]:
    return [(FULL, rgb("#9c6b43")), (rect(0.06, 0.06, 0.94, 0.94), rgb("#c4935f"))]


def onion(cx: float = 0.5, cy: float = 0.55, s: float = 1.0) -> list[tuple[Shape, Color]]:
    return [
        (circle(cx, cy, 0.34 * s), rgb("#a8741a")),
        (circle(cx, cy, 0.30 * s), rgb("#e8b923")),
        (ellipse(cx - 0.08 * s, cy - 0.08 * s, 0.08 * s, 0.12 * s), rgb("#f6d86b")),
        (
            triangle(
                (cx - 0.06 * s, cy - 0.28 * s), (cx + 0.06 * s, cy - 0.28 * s), (cx, cy - 0.46 * s)
            ),
            rgb("#4f9a3a"),
        ),
    ]


def tomato(cx: float = 0.5, cy: float = 0.55, s: float = 1.0) -> list[tuple[Shape, Color]]:
    return [
        (circle(cx, cy, 0.33 * s), rgb("#9e1f16")),
        (circle(cx, cy, 0.29 * s), rgb("#e03b2e")),
        (ellipse(cx - 0.1 * s, cy - 0.08 * s, 0.07 * s, 0.1 * s), rgb("#f08a7e")),
        (ellipse(cx, cy - 0.28 * s, 0.14 * s, 0.05 * s), rgb("#3f8a2e")),
    ]


def plate(cx: float = 0.5, cy: float = 0.5, s: float = 1.0) -> list[tuple[Shape, Color]]:
    return [
        (circle(cx, cy, 0.42 * s), rgb("#9a9a9a")),
        (circle(cx, cy, 0.39 * s), rgb("#fafafa")),
        (ring(cx, cy, 0.26 * s, 0.28 * s), rgb("#d6d6d6")),
    ]


def soup(color: str, cx: float = 0.5, cy: float = 0.5, s: float = 1.0):
    return [
        *plate(cx, cy, s),
        (circle(cx, cy, 0.25 * s), rgb(color)),
        (circle(cx - 0.07 * s, cy - 0.06 * s, 0.05 * s), rgb("#fff3c4")),
    ]


def crate(contents: list[tuple[Shape, Color]]) -> list[tuple[Shape, Color]]:
    return [
        *counter_base(),
        (rect(0.12, 0.12, 0.88, 0.88), rgb("#6b4423")),
        (rect(0.16, 0.16, 0.84, 0.84), rgb("#8b5a2b")),
        *contents,
    ]


def chef(direction: str, body: str) -> list[tuple[Shape, Color]]:
    vec = {"right": (1, 0), "down": (0, 1), "left": (-1, 0), "up": (0, -1)}[direction]
    dx, dy = vec
    px, py = -dy, dx  # perpendicular
    cx, cy = 0.5, 0.5
    tip = (cx + dx * 0.47, cy + dy * 0.47)
    base1 = (cx + dx * 0.3 + px * 0.13, cy + dy * 0.3 + py * 0.13)
    base2 = (cx + dx * 0.3 - px * 0.13, cy + dy * 0.3 - py * 0.13)
    dark = rgb(body)
    dark = (dark[0] * 2 // 3, dark[1] * 2 // 3, dark[2] * 2 // 3, 255)
    return [
        (circle(cx, cy, 0.40), dark),
        (circle(cx, cy, 0.36), rgb(body)),
        (triangle(tip, base1, base2), dark),
        (circle(cx - dx * 0.05, cy - dy * 0.05, 0.2), rgb("#cfcfcf")),
        (circle(cx - dx * 0.05, cy - dy * 0.05, 0.18), rgb("#ffffff")),
        (circle(cx + dx * 0.2 + px * 0.1, cy + dy * 0.2 + py * 0.1, 0.035), rgb("#222222")),
        (circle(cx + dx * 0.2 - px * 0.1, cy + dy * 0.2 - py * 0.1, 0.035), rgb("#222222")),
    ]


def frames() -> dict[str, list[tuple[Shape, Color]]]:
    f: dict[str, list[tuple[Shape, Color]]] = {}
    f["floor"] = [(FULL, rgb("#d9cdb4")), (rect(0.03, 0.03, 0.97, 0.97), rgb("#ece3cf"))]
    f["counter"] = counter_base()
    f["wall"] = [
        (FULL, rgb("#4a4a55")),
        (rect(0.04, 0.04, 0.46, 0.46), rgb("#62626e")),
        (rect(0.54, 0.04, 0.96, 0.46), rgb("#62626e")),
        (rect(0.04, 0.54, 0.96, 0.96), rgb("#62626e")),
    ]
    f["pot"] = [
        *counter_base(),
        (rect(0.04, 0.42, 0.96, 0.56), rgb("#2b2b2b")),
        (circle(0.5, 0.5, 0.4), rgb("#2b2b2b")),
        (circle(0.5, 0.5, 0.36), rgb("#5c5c5c")),
        (circle(0.5, 0.5, 0.3), rgb("#3a3a3a")),
    ]
    f["delivery"] = [
        *counter_base(),
        (rect(0.1, 0.1, 0.9, 0.9), rgb("#2e8b57")),
        (rect(0.16, 0.16, 0.84, 0.84), rgb("#3cb371")),
        (triangle((0.3, 0.5), (0.45, 0.66), (0.45, 0.5)), rgb("#ffffff")),
        (triangle((0.45, 0.66), (0.72, 0.34), (0.62, 0.32)), rgb("#ffffff")),
        (triangle((0.45, 0.66), (0.62, 0.32), (0.45, 0.5)), rgb("#ffffff")),
    ]
    f["onion_stack"] = crate(
        onion(0.32, 0.38, 0.5) + onion(0.68, 0.38, 0.5) + onion(0.5, 0.68, 0.5)
    )
    f["tomato_stack"] = crate(
        tomato(0.32, 0.38, 0.5) + tomato(0.68, 0.38, 0.5) + tomato(0.5, 0.68, 0.5)
    )
    f["plate_stack"] = crate(plate(0.5, 0.58, 0.8) + plate(0.5, 0.5, 0.8) + plate(0.5, 0.42, 0.8))
    f["onion_soup_stack"] = crate(soup("#e9a23b", 0.5, 0.5, 0.85))
    f["tomato_soup_stack"] = crate(soup("#d9452b", 0.5, 0.5, 0.85))
    f["onion"] = onion()
    f["tomato"] = tomato()
    f["plate"] = plate()
    f["onion_soup"] = soup("#e9a23b")
    f["tomato_soup"] = soup("#d9452b")
    colors = ("#2f6fde", "#e8731c", "#2e9e4f", "#9b4fd1")  # = render.AGENT_COLORS
    for seat, body in enumerate(colors):
        for d in ("right", "down", "left", "up"):
            f[f"chef_{d}_{seat}"] = chef(d, body)
    return f


def png_bytes(width: int, height: int, pixels: list[Color]) -> bytes:
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        for x in range(width):
            raw.extend(pixels[y * width + x])

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + chunk(b"IEND", b"")
    )


def build() -> tuple[bytes, str]:
    """The atlas PNG and its JSON frame map."""
    fr = frames()
    names = list(fr)
    rows = (len(names) + COLS - 1) // COLS
    width, height = COLS * TILE, rows * TILE
    pixels: list[Color] = [(0, 0, 0, 0)] * (width * height)
    index = {}
    for i, name in enumerate(names):
        gx, gy = (i % COLS) * TILE, (i // COLS) * TILE
        tile = paint(fr[name])
        for y in range(TILE):
            row = (gy + y) * width + gx
            pixels[row : row + TILE] = tile[y * TILE : (y + 1) * TILE]
        index[name] = {"x": gx, "y": gy, "w": TILE, "h": TILE}
    meta = {
        "image": "overcooked.png",
        "tile": TILE,
        "width": width,
        "height": height,
        "frames": index,
    }
    return png_bytes(width, height, pixels), json.dumps(meta, indent=1, sort_keys=True) + "\n"


def main() -> int:
    png, meta = build()
    ASSETS.mkdir(parents=True, exist_ok=True)
    (ASSETS / "overcooked.png").write_bytes(png)
    (ASSETS / "overcooked.json").write_text(meta)
    print(f"wrote {ASSETS / 'overcooked.png'} ({len(png)} bytes) and overcooked.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
