"""The naive baseline of bench/serve.py: the map as folium's tutorials make it.

A WSGI app that, on every request, reads every rally and renders a folium page with one
Marker and Popup a rally inline. bench/serve.py serves it with gunicorn (the same worker
count as the app) on the database it gives in MAPAPP_DATABASE_URL, and compares.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import folium
from sqlalchemy import create_engine, text

engine = create_engine(os.environ["MAPAPP_DATABASE_URL"])


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT title, lat, lon FROM published_rally")).all()
    fmap = folium.Map(location=(53.7, 27.9), zoom_start=6, tiles=None)
    for title, lat, lon in rows:
        folium.Marker((lat, lon), popup=folium.Popup(title)).add_to(fmap)
    body = fmap.get_root().render().encode()
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]
