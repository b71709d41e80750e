"""Geocoding for the app: the offline gazetteer, loaded once per process.

(Nominatim through geopy comes in as an option here; this is the one module that will import it.)
"""

from __future__ import annotations

from flask import Flask, current_app

from mapapp.gazetteer import Gazetteer


def init_app(app: Flask) -> None:
    app.extensions["mapapp.gazetteer"] = Gazetteer.load()


def gazetteer() -> Gazetteer:
    return current_app.extensions["mapapp.gazetteer"]
