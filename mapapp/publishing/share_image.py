"""Share images (og:image): the app draws its own link previews, nothing from another host.

Pure functions, no Flask: texts and a point in, PNG bytes out. The map behind the text is the
app's own basemap (data/basemap.json): Belarus, its regions, and a dot where the rally is
(the town's point until the place is revealed: the caller passes what the public may see).
Fonts: DejaVu Sans, shipped in mapapp/fonts (Bitstream Vera licence, see its README).
"""

from __future__ import annotations

import io
import json
import math
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from mapapp.paths import DATA_DIR, PACKAGE_DIR

FONTS = PACKAGE_DIR / "fonts"
SIZE = (1200, 630)  # what Telegram, Facebook and others show large
BACKGROUND = (246, 244, 238)
INK = (31, 35, 40)
MUTED = (77, 89, 101)
ACCENT = (178, 34, 34)
# The map's box on the image: right part, Belarus fitted inside.
MAP_BOX = (700, 70, 1160, 560)


@cache
def _font(bold: bool, size: int) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONTS / name), size)


@cache
def _basemap() -> dict:
    return json.loads((DATA_DIR / "basemap.json").read_text(encoding="utf-8"))


def _projector(box: tuple[int, int, int, int]):  # noqa: ANN202
    """lat/lon -> pixel in box: equirectangular, shrunk east-west by cos(latitude)."""
    outline = _basemap()["outline"][0]
    lons = [p[0] for p in outline]
    lats = [p[1] for p in outline]
    scale_x = math.cos(math.radians((min(lats) + max(lats)) / 2))
    width = (max(lons) - min(lons)) * scale_x
    height = max(lats) - min(lats)
    left, top, right, bottom = box
    k = min((right - left) / width, (bottom - top) / height)
    x0 = left + ((right - left) - width * k) / 2
    y0 = top + ((bottom - top) - height * k) / 2

    def project(lon: float, lat: float) -> tuple[float, float]:
        return (x0 + (lon - min(lons)) * scale_x * k, y0 + (max(lats) - lat) * k)

    return project


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int, lines: int) -> list[str]:  # noqa: ANN001
    """Words into at most `lines` lines of `width` pixels; a long word is cut, the end gets '…'."""
    out: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if draw.textlength(candidate, font=font) <= width:
            current = candidate
            continue
        if current:
            out.append(current)
        current = word
        while draw.textlength(current, font=font) > width:  # one very long word
            cut = len(current)
            while cut > 1 and draw.textlength(current[:cut], font=font) > width:
                cut -= 1
            out.append(current[:cut])
            current = current[cut:]
    if current:
        out.append(current)
    if len(out) > lines:
        out = out[:lines]
        last = out[-1]
        while last and draw.textlength(last + "…", font=font) > width:
            last = last[:-1]
        out[-1] = last.rstrip() + "…"
    return out


def share_image(
    title: str,
    lines: list[str],
    site_name: str,
    point: tuple[float, float] | None = None,
    cancelled_text: str | None = None,
) -> bytes:
    """A 1200x630 PNG: `title` (up to 4 lines), a few `lines` under it (time, town), the site's
    name, and Belarus with its regions on the right, with a dot at `point` (lat, lon) if given.
    `cancelled_text` puts a red band with it over the top.
    """
    image = Image.new("RGB", SIZE, BACKGROUND)
    draw = ImageDraw.Draw(image)
    project = _projector(MAP_BOX)
    data = _basemap()
    outline = [project(*p) for p in data["outline"][0]]
    draw.polygon(outline, fill=(255, 253, 245))
    for region in data["regions"]:
        for ring in region["rings"]:
            draw.line([project(*p) for p in ring], fill=(160, 170, 180), width=2, joint="curve")
    draw.line([*outline, outline[0]], fill=(74, 85, 96), width=4, joint="curve")
    if point is not None:
        x, y = project(point[1], point[0])
        draw.ellipse((x - 16, y - 16, x + 16, y + 16), fill=ACCENT, outline="white", width=4)
    top = 70
    if cancelled_text:
        band = _font(True, 34)
        draw.rectangle((0, 0, SIZE[0], 56), fill=ACCENT)
        draw.text((60, 10), cancelled_text, font=band, fill="white")
        top = 96
    title_font = _font(True, 50)
    y = top
    for line in _wrap(draw, title, title_font, 600, 4):
        draw.text((60, y), line, font=title_font, fill=INK)
        y += 62
    y += 18
    text_font = _font(False, 32)
    for text in lines:
        for line in _wrap(draw, text, text_font, 600, 2):
            draw.text((60, y), line, font=text_font, fill=MUTED)
            y += 42
    draw.text((60, SIZE[1] - 70), site_name, font=_font(True, 30), fill=ACCENT)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
