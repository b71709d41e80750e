"""The map on partner sites: the options of /embed and the iframe that shows it.

Pure functions of query parameters; the views are in mapapp/views/embed.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from markupsafe import Markup

from mapapp.domain.filters import flag, number

# What decides what a map shows: the shared filters, the language, the centre and zoom.
# A link from an embed to the full map, or an oEmbed answer, carries exactly these.
MAP_PARAMS = ("lang", "when", "region", "city", "from", "to", "featured", "lat", "lon", "zoom")
HEIGHT = (200, 2000)
DEFAULT_HEIGHT = 500
# oEmbed's "rich" answer must give a width; the iframe itself takes the width it is given.
DEFAULT_WIDTH = 800


@dataclass(frozen=True)
class EmbedOptions:
    with_list: bool = False  # ?list=1: the rallies listed under the map
    height: int = DEFAULT_HEIGHT  # ?height=: of the iframe in the snippet; the page fills any frame


def parse_embed(args: Mapping[str, str]) -> EmbedOptions:
    height = number(args, "height", *HEIGHT, whole=True)
    return EmbedOptions(flag(args, "list"), DEFAULT_HEIGHT if height is None else int(height))


def map_query(args: Mapping[str, str]) -> dict[str, str]:
    """The parameters of a map link, without empty ones."""
    return {name: args[name] for name in MAP_PARAMS if args.get(name)}


def embed_query(args: Mapping[str, str]) -> dict[str, str]:
    """The parameters of an /embed link: the map's, and the list if asked for."""
    query = map_query(args)
    if parse_embed(args).with_list:
        query["list"] = "1"
    return query


def iframe_html(src: str, title: str, height: int, max_width: int | None = None) -> str:
    """The snippet partners paste: as wide as their column, `height` pixels tall."""
    style = f"width:100%;height:{int(height)}px;border:0"
    if max_width:
        style += f";max-width:{int(max_width)}px"
    # No Referer: which page of a partner site a visitor reads is not our business.
    return str(
        Markup(
            '<iframe src="{}" title="{}" loading="lazy" style="{}" referrerpolicy="no-referrer">'
            "</iframe>"
        ).format(src, title, style)
    )
