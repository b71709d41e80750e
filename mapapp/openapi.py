"""The OpenAPI 3.1 description of the machine-readable endpoints, as plain data.

Enums come from the code that checks them, so the document cannot drift from the app
on those; tests/test_openapi.py runs Schemathesis against the app to catch the rest.
"""

from __future__ import annotations

from typing import Any

from mapapp.filters import WHEN
from mapapp.gazetteer import REGION_CODES
from mapapp.i18n import LANGUAGES
from mapapp.models import PUBLIC_STATUSES

JSON = "application/json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def query(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description, **extra}


def content(schema: dict[str, Any], media_type: str = JSON) -> dict[str, Any]:
    return {media_type: {"schema": schema}}


def error(description: str) -> dict[str, Any]:
    return {"description": description, "content": content(ref("Error"))}


def obj(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object with these properties, all required but the optional ones."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
    }


STRING = {"type": "string"}
NUMBER = {"type": "number"}
INTEGER = {"type": "integer"}
REGION = {"type": "string", "enum": list(REGION_CODES)}
LOCAL_TIME = {
    "type": "string",
    "format": "date-time",
    "description": "ISO 8601 with the Minsk offset (+03:00).",
}

# The filters come from forms too, and a form sends an empty field: "not given".
FILTERS = [
    query(
        "when",
        {"type": "string", "enum": list(WHEN), "default": "upcoming"},
        "Upcoming rallies (also those that started less than 3 hours ago), past ones, or all.",
        allowEmptyValue=True,
    ),
    query(
        "region",
        REGION,
        "ISO 3166-2 code of a region (or Minsk city, BY-HM); lower case is accepted too.",
        allowEmptyValue=True,
    ),
    query(
        "city",
        {"type": "string", "maxLength": 120},
        "A town, in any spelling the gazetteer knows (Гродна, Гродно, Hrodna, Grodno).",
        allowEmptyValue=True,
    ),
    query(
        "from",
        {"type": "string", "format": "date"},
        "First day, Minsk time (1900-01-01 to 2999-12-31).",
        allowEmptyValue=True,
    ),
    query(
        "to",
        {"type": "string", "format": "date"},
        "Last day, Minsk time (1900-01-01 to 2999-12-31); not before `from`.",
        allowEmptyValue=True,
    ),
]
LANG = query(
    "lang",
    {"type": "string", "enum": list(LANGUAGES)},
    "Language of names; without it, Accept-Language decides.",
    allowEmptyValue=True,
)
RALLY_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
    "description": "The rally's id (as in the GeoJSON).",
}
BAD_FILTER = error("A query parameter has a value the app cannot use; `message` says which.")
NOT_FOUND = error("No public rally has this id (pending and rejected ones are not public).")
RATE_LIMITED = error("Too many requests from this address (MAPAPP_GEOCODE_LIMIT).")


def schemas() -> dict[str, Any]:
    properties = {
        "id": INTEGER,
        "title": STRING,
        "town": STRING,
        "place": STRING,
        "region": REGION,
        "starts_at": LOCAL_TIME,
        "status": {"type": "string", "enum": list(PUBLIC_STATUSES)},
        "featured": {"type": "boolean", "description": "The main rally, on October Square."},
    }
    candidate = {
        "name": {"type": "string", "description": "The square and town, or the town."},
        "town": STRING,
        "geonameid": INTEGER,
        "lat": NUMBER,
        "lon": NUMBER,
        "region": REGION,
        "kind": {"type": "string", "enum": ["square", "town", "approximate", "address"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    }
    return {
        "Error": obj(
            {
                "error": {"type": "string", "description": "The HTTP status's name."},
                "message": {"type": "string", "description": "What went wrong, for people."},
                "status": {"type": "integer", "description": "The HTTP status code again."},
            }
        ),
        "RallyProperties": obj(properties),
        "Rally": obj(
            {
                **properties,
                "description": STRING,
                "ends_at": {**LOCAL_TIME, "type": ["string", "null"]},
                "lat": NUMBER,
                "lon": NUMBER,
                "updated_at": {"type": "string", "format": "date-time"},
            }
        ),
        "RallyCollection": obj(
            {
                "type": {"const": "FeatureCollection"},
                "features": {
                    "type": "array",
                    "items": obj(
                        {
                            "type": {"const": "Feature"},
                            "id": INTEGER,
                            "geometry": obj(
                                {
                                    "type": {"const": "Point"},
                                    "coordinates": {
                                        "type": "array",
                                        "items": NUMBER,
                                        "minItems": 2,
                                        "maxItems": 2,
                                        "description": "[longitude, latitude]",
                                    },
                                }
                            ),
                            "properties": ref("RallyProperties"),
                        }
                    ),
                },
            }
        ),
        "Candidate": obj(candidate),
        "Place": obj(
            {
                "query": STRING,
                **candidate,
                "matched": {"type": "string", "description": "The name the query matched."},
                "source": {"type": "string", "enum": ["gazetteer", "nominatim"]},
                "alternatives": {
                    "type": "array",
                    "items": ref("Candidate"),
                    "description": "Near-ties: other places the query may mean.",
                },
            },
            optional=("matched",),  # Nominatim's answers match no name of ours
        ),
        "PlaceNotFound": obj({"query": STRING, "error": STRING}),
        "Reverse": obj(
            {
                "lat": NUMBER,
                "lon": NUMBER,
                "town": {"type": "string", "description": "The nearest town."},
                "geonameid": INTEGER,
                "region": REGION,
                "distance_km": NUMBER,
            }
        ),
        "Health": obj({"status": {"type": "string", "enum": ["ok", "database unavailable"]}}),
    }


def feed(summary: str, media_type: str, description: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": FILTERS,
            "responses": {
                "200": {"description": description, "content": content(STRING, media_type)},
                "400": BAD_FILTER,
            },
        }
    }


def document() -> dict[str, Any]:
    """The OpenAPI document; paths are relative to wherever the app is served."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Rally map of Belarus",
            "version": "1",
            "description": "Public rallies and the geocoder behind the map. Only approved and "
            "cancelled rallies are public; times are Europe/Minsk.",
        },
        "paths": {
            "/api/rallies.geojson": {
                "get": {
                    "summary": "Public rallies as GeoJSON points",
                    "parameters": [*FILTERS, LANG],
                    "responses": {
                        "200": {
                            "description": "One Point feature a rally. ETag; 304 on If-None-Match.",
                            "content": content(ref("RallyCollection"), "application/geo+json"),
                        },
                        "400": BAD_FILTER,
                    },
                }
            },
            "/api/rallies.geojson.minisig": {
                "get": {
                    "summary": "minisign signature of /api/rallies.geojson for the same query",
                    "description": "Check with `minisign -Vm rallies.geojson -P <key>`; the key is "
                    "on /about. The trusted comment carries the document's ETag.",
                    "parameters": [*FILTERS, LANG],
                    "responses": {
                        "200": {
                            "description": "minisign's signature file (prehashed Ed25519).",
                            "content": content(STRING, "text/plain"),
                        },
                        "400": BAD_FILTER,
                        "404": error("This site has no signing key (MAPAPP_SIGNING_KEY)."),
                    },
                }
            },
            "/api/rallies/{id}": {
                "get": {
                    "summary": "One public rally, with its description",
                    "parameters": [RALLY_ID],
                    "responses": {
                        "200": {"description": "The rally.", "content": content(ref("Rally"))},
                        "404": NOT_FOUND,
                    },
                }
            },
            "/api/geocode": {
                "get": {
                    "summary": "Where a place is (the offline gazetteer, then Nominatim)",
                    "parameters": [
                        query(
                            "q",
                            {"type": "string", "minLength": 1, "maxLength": 300, "pattern": r"\S"},
                            "A town, and a square or street: Гродна, пл. Октябрьская, Mahiliou.",
                            required=True,
                        ),
                        LANG,
                    ],
                    "responses": {
                        "200": {"description": "The place.", "content": content(ref("Place"))},
                        "400": error("`q` is missing, blank or too long."),
                        "404": {
                            "description": "Nothing fits: choose the town and set the pin.",
                            "content": content(ref("PlaceNotFound")),
                        },
                        "429": RATE_LIMITED,
                    },
                }
            },
            "/api/reverse": {
                "get": {
                    "summary": "The town and region under a point",
                    "parameters": [
                        query("lat", NUMBER, "Latitude, decimal degrees.", required=True),
                        query("lon", NUMBER, "Longitude, decimal degrees.", required=True),
                        LANG,
                    ],
                    "responses": {
                        "200": {"description": "The town.", "content": content(ref("Reverse"))},
                        "400": error("`lat` or `lon` is missing or not a number."),
                        "422": error("The point is outside Belarus."),
                        "429": RATE_LIMITED,
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Whether the app can reach its database",
                    "responses": {
                        "200": {"description": "Healthy.", "content": content(ref("Health"))},
                        "503": {
                            "description": "The database does not answer.",
                            "content": content(ref("Health")),
                        },
                    },
                }
            },
            "/rallies.ics": feed(
                "Public rallies as an iCalendar feed",
                "text/calendar",
                "RFC 5545, times in Europe/Minsk. ETag; 304 on If-None-Match.",
            ),
            "/rallies.ics.minisig": {
                "get": {
                    "summary": "minisign signature of /rallies.ics for the same query",
                    "parameters": [*FILTERS, LANG],
                    "responses": {
                        "200": {
                            "description": "minisign's signature file (prehashed Ed25519).",
                            "content": content(STRING, "text/plain"),
                        },
                        "400": BAD_FILTER,
                        "404": error("This site has no signing key (MAPAPP_SIGNING_KEY)."),
                    },
                }
            },
            "/rallies.csv": feed(
                "Public rallies as CSV",
                "text/csv",
                "UTF-8 with a byte order mark; id,title,town,place,region,starts_at,status,"
                "lat,lon,url. Cells that would be formulas start with '.",
            ),
            "/rallies/{id}.ics": {
                "get": {
                    "summary": "One public rally as an iCalendar file",
                    "parameters": [RALLY_ID],
                    "responses": {
                        "200": {
                            "description": "A VCALENDAR with one VEVENT, as an attachment.",
                            "content": content(STRING, "text/calendar"),
                        },
                        "404": NOT_FOUND,
                    },
                }
            },
        },
        "components": {"schemas": schemas()},
    }
