"""Draw the web app's icons (mapapp/static/icons/) from the favicon's shapes: a white star on a
dark red disc (any purpose) or a full square (maskable, its safe zone kept), with Pillow.

Run from the checkout's root: python scripts/build_icons.py
"""

from pathlib import Path

from PIL import Image, ImageDraw

RED, WHITE = (164, 22, 26, 255), (255, 255, 255, 255)
# The favicon's star, on its 32-unit grid.
STAR = [(16, 5), (19.2, 12.2), (27, 12.9), (21.1, 18.1), (22.9, 25.8), (16, 21.8), (9.1, 25.8),
        (10.9, 18.1), (5, 12.9), (12.8, 12.2)]  # fmt: skip
OUT = Path(__file__).resolve().parent.parent / "mapapp" / "static" / "icons"


def icon(size: int, maskable: bool) -> Image.Image:
    scale = 4  # drawn large, then reduced: smooth edges
    big = size * scale
    image = Image.new("RGBA", (big, big), RED if maskable else (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if not maskable:
        draw.ellipse((big / 32, big / 32, big * 31 / 32, big * 31 / 32), fill=RED)
    # A maskable icon's content stays in the middle 80% (the safe zone).
    shrink = 0.7 if maskable else 1.0
    offset = big * (1 - shrink) / 2
    points = [(offset + x * big * shrink / 32, offset + y * big * shrink / 32) for x, y in STAR]
    draw.polygon(points, fill=WHITE)
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for size in (192, 512):
        icon(size, False).save(OUT / f"icon-{size}.png", optimize=True)
        icon(size, True).save(OUT / f"maskable-{size}.png", optimize=True)
    icon(180, True).convert("RGB").save(OUT / "apple-touch-icon.png", optimize=True)


if __name__ == "__main__":
    main()
