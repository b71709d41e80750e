"""The OpenAPI 3.1 description of the machine-readable endpoints, as plain data.

Enums come from the code that checks them, so the document cannot drift from the app
on those; tests/test_openapi.py runs Schemathesis against the app to catch the rest.
"""

from __future__ import annotations

from typing import Any

from mapapp.domain.filters import CITY_CHARACTERS, WHEN
from mapapp.domain.models import PUBLIC_STATUSES
from mapapp.places.locale import LANGUAGES
from mapapp.places.regions import REGION_CODES
from mapapp.publishing.public import VERIFICATIONS

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


def point_feature(properties: dict[str, Any], coordinates: str) -> dict[str, Any]:
    """The schema of a GeoJSON Feature with a rally id, a Point and `properties`."""
    return obj(
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
                        "description": coordinates,
                    },
                }
            ),
            "properties": properties,
        }
    )


STRING = {"type": "string"}
NUMBER = {"type": "number"}
SIZE = {"type": "integer", "minimum": 1, "maximum": 100_000}
INTEGER = {"type": "integer"}
REGION = {"type": "string", "enum": list(REGION_CODES)}
LOCAL_TIME = {
    "type": "string",
    "format": "date-time",
    "description": "ISO 8601 with the Minsk offset (+03:00).",
}

# A day the filters take: EARLIEST to LATEST (1900-2999); the app refuses other years.
DAY = {
    "type": "string",
    "format": "date",
    "pattern": r"^(19[0-9]{2}|2[0-9]{3})-[0-9]{2}-[0-9]{2}$",
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
        {"type": "string", "maxLength": 120, "pattern": f"^{CITY_CHARACTERS}$"},
        "A town, in any spelling the gazetteer knows (Гродна, Гродно, Hrodna, Grodno); no "
        "control or direction-control characters.",
        allowEmptyValue=True,
    ),
    query(
        "from",
        DAY,
        "First day, Minsk time (1900-01-01 to 2999-12-31).",
        allowEmptyValue=True,
    ),
    query(
        "to",
        DAY,
        "Last day, Minsk time (1900-01-01 to 2999-12-31). Not before `from` (400): the one "
        "rule here JSON Schema cannot state.",
        allowEmptyValue=True,
    ),
]
LANG = query(
    "lang",
    {"type": "string", "enum": list(LANGUAGES)},
    "Language of names (and of a feed's warnings); without it, Accept-Language decides. "
    "Any other value is a 400.",
    allowEmptyValue=True,
)
FIELDS = query(
    "fields",
    {"type": "string", "enum": ["map"]},
    "`map`: the map's compact form (MapCollection): a Point a rally with only its status, "
    "whether it is the main rally, its town (an index into `towns`) and its day; no title, "
    "description or place (they are at /api/rallies/{id}). Without it, every public property.",
    allowEmptyValue=True,
)
RALLY_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
    "description": "The rally's id (as in the GeoJSON).",
}
BAD_FILTER = error(
    "A query parameter has a value the app cannot use, or `from` is after `to`; `message` "
    "says which."
)
NOT_FOUND = error("No public rally has this id (pending and rejected ones are not public).")
RATE_LIMITED = error("Too many requests from this address (MAPAPP_GEOCODE_LIMIT).")


def schemas() -> dict[str, Any]:
    properties = {
        "id": INTEGER,
        "title": STRING,
        "town": STRING,
        "place": {
            "type": ["string", "null"],
            "description": "null until the place is revealed (see reveal_at).",
        },
        "region": REGION,
        "starts_at": LOCAL_TIME,
        "status": {"type": "string", "enum": list(PUBLIC_STATUSES)},
        "featured": {"type": "boolean", "description": "The main rally, on October Square."},
        "verification": {
            "type": "string",
            "enum": list(VERIFICATIONS),
            "description": "How it was checked: approved by two or more different moderators, "
            "by one, or imported by the site's operators.",
        },
        "checked_by": {
            "type": "integer",
            "minimum": 0,
            "description": "How many different moderators approved this version.",
        },
    }
    unrevealed = {
        "exact": {
            "type": "boolean",
            "description": "false until the place is revealed: the point is the town's.",
        },
        "reveal_at": {**LOCAL_TIME, "description": "When the exact place becomes public."},
    }
    # With ?lang=: what the map shows, in that language ("town" is then the gazetteer's name).
    localised = {
        "starts_text": {"type": "string", "description": "The start, Minsk time, in words."},
        "place_text": {
            "type": "string",
            "description": "Until the place is revealed: when it will be announced.",
        },
        "verification_text": {"type": "string", "description": "`verification` in words."},
        "time_note": {
            "type": "string",
            "description": "After a time change, the old time in words"
            ' ("The time has changed: it was ..."); absent otherwise.',
        },
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
        "RallyProperties": obj({**properties, **unrevealed}, optional=tuple(unrevealed)),
        "Rally": obj(
            {
                **properties,
                "description": STRING,
                "ends_at": {**LOCAL_TIME, "type": ["string", "null"]},
                "lat": NUMBER,
                "lon": NUMBER,
                "exact": unrevealed["exact"],
                "reveal_at": {**unrevealed["reveal_at"], "type": ["string", "null"]},
                "changes_pending": {
                    "type": "boolean",
                    "description": "An edit waits for a moderator; this is the approved version.",
                },
                "sequence": {
                    "type": "integer",
                    "description": "The public revision: rises with every public change, "
                    "the place's reveal at its time included (ICS SEQUENCE).",
                },
                "updated_at": {"type": "string", "format": "date-time"},
                **localised,
            },
            optional=tuple(localised),
        ),
        "RallyCollection": obj(
            {
                "type": {"const": "FeatureCollection"},
                "features": {
                    "type": "array",
                    "items": point_feature(ref("RallyProperties"), "[longitude, latitude]"),
                },
            }
        ),
        "MapCollection": obj(
            {
                "type": {"const": "FeatureCollection"},
                "towns": {
                    "type": "array",
                    "items": STRING,
                    "description": "Town names (in `lang` when asked for); features point here.",
                },
                "day_names": {
                    "type": "object",
                    "additionalProperties": STRING,
                    "description": "With `lang`: each day of the features in words.",
                },
                "features": {
                    "type": "array",
                    "items": point_feature(
                        obj(
                            {
                                "status": {"type": "string", "enum": list(PUBLIC_STATUSES)},
                                "featured": {"type": "boolean"},
                                "verification": {
                                    "type": "string",
                                    "enum": list(VERIFICATIONS),
                                    "description": "How it was checked (as in the full feed).",
                                },
                                "town": {
                                    "type": "integer",
                                    "minimum": 0,
                                    "description": "Index into `towns`.",
                                },
                                "day": {**DAY, "description": "The start's day, Minsk."},
                                "rev": {
                                    "type": "integer",
                                    "minimum": 0,
                                    "description": "The rally's public revision (`sequence`).",
                                },
                            }
                        ),
                        "[longitude, latitude], 5 decimals; an unrevealed place is its town's point.",
                    ),
                },
            },
            optional=("day_names",),
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
        "OEmbed": obj(
            {
                "version": {"const": "1.0"},
                "type": {"const": "rich"},
                "title": STRING,
                "provider_name": STRING,
                "provider_url": {"type": "string", "format": "uri"},
                "html": {"type": "string", "description": "An iframe of /embed."},
                "width": {"type": "integer", "minimum": 1},
                "height": {"type": "integer", "minimum": 1},
            }
        ),
    }


def feed(operation_id: str, summary: str, media_type: str, description: str) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "parameters": [*FILTERS, LANG],
            "responses": {
                "200": {"description": description, "content": content(STRING, media_type)},
                "400": BAD_FILTER,
            },
        }
    }


def document(server: str = "/") -> dict[str, Any]:
    """The OpenAPI document; `server` is the site's address (MAPAPP_BASE_URL, or the address
    and path prefix the document was asked at), which the paths are relative to."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Rally map of Belarus",
            "version": "1",
            "description": "Public rallies and the geocoder behind the map. Only the last "
            "approved version of a rally is public (status approved, cancelled, danger or moved); "
            "its place is null until its reveal time; times are Europe/Minsk. The rallies, feeds "
            "and oEmbed may be read from any origin (CORS), with their ETag.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": server}],
        # Every operation is public: no credentials, said once for the whole document.
        "security": [],
        "paths": {
            "/api/rallies.geojson": {
                "get": {
                    "operationId": "listRallies",
                    "summary": "Public rallies as GeoJSON points",
                    "parameters": [*FILTERS, LANG, FIELDS],
                    "responses": {
                        "200": {
                            "description": "One Point feature a rally (RallyCollection, or "
                            "MapCollection with fields=map). ETag; 304 on If-None-Match.",
                            "content": content(
                                {"anyOf": [ref("RallyCollection"), ref("MapCollection")]},
                                "application/geo+json",
                            ),
                        },
                        "400": BAD_FILTER,
                    },
                }
            },
            "/api/rallies.geojson.minisig": {
                "get": {
                    "operationId": "getRalliesSignature",
                    "summary": "minisign signature of /api/rallies.geojson for the same query",
                    "description": "Check with `minisign -Vm rallies.geojson -P <key>`; the key is "
                    "on /about. The trusted comment carries the document's ETag.",
                    "parameters": [*FILTERS, LANG, FIELDS],
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
                    "operationId": "getRally",
                    "summary": "One public rally, with its description",
                    "description": "With `lang`, also its town, start and an unrevealed "
                    "place's note in that language: what a popup on the map shows.",
                    "parameters": [RALLY_ID, LANG],
                    "responses": {
                        "200": {"description": "The rally.", "content": content(ref("Rally"))},
                        "400": BAD_FILTER,
                        "404": NOT_FOUND,
                    },
                }
            },
            "/api/geocode": {
                "get": {
                    "operationId": "geocode",
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
                    "operationId": "reverseGeocode",
                    "summary": "The town and region under a point",
                    "parameters": [
                        query("lat", NUMBER, "Latitude, decimal degrees.", required=True),
                        query("lon", NUMBER, "Longitude, decimal degrees.", required=True),
                        LANG,
                    ],
                    "responses": {
                        "200": {"description": "The town.", "content": content(ref("Reverse"))},
                        "400": error("`lat` or `lon` is missing or not a number."),
                        "404": error("The point is outside Belarus: no town is under it."),
                        "429": RATE_LIMITED,
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "Whether the app can reach its database",
                    "responses": {
                        "200": {"description": "Healthy.", "content": content(ref("Health"))},
                        "400": {"description": "The request's host is not a name of the site."},
                        "503": {
                            "description": "The database does not answer.",
                            "content": content(ref("Health")),
                        },
                    },
                }
            },
            "/rallies.ics": feed(
                "ralliesCalendar",
                "Public rallies as an iCalendar feed",
                "text/calendar",
                "RFC 5545, times in Europe/Minsk. ETag; 304 on If-None-Match.",
            ),
            "/rallies.ics.minisig": {
                "get": {
                    "operationId": "getCalendarSignature",
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
                "ralliesCsv",
                "Public rallies as CSV",
                "text/csv",
                "UTF-8 with a byte order mark; id,title,town,place,region,starts_at,status,"
                "lat,lon,url. Cells that would be formulas start with '.",
            ),
            "/rallies.atom": feed(
                "ralliesAtom",
                "Public rallies as an Atom feed",
                "application/atom+xml",
                "RFC 4287: an entry a rally (a tag: id that never changes, `updated` its last "
                "public change), and a short entry of its own for each urgent change (danger, "
                "cancelled, moved, rescheduled, the place revealed). ETag; 304 on If-None-Match.",
            ),
            "/rallies/{id}.ics": {
                "get": {
                    "operationId": "rallyCalendar",
                    "summary": "One public rally as an iCalendar file",
                    "parameters": [RALLY_ID, LANG],
                    "responses": {
                        "200": {
                            "description": "A VCALENDAR with one VEVENT, as an attachment.",
                            "content": content(STRING, "text/calendar"),
                        },
                        "400": BAD_FILTER,
                        "404": NOT_FOUND,
                    },
                }
            },
            "/oembed": {
                "get": {
                    "operationId": "oembed",
                    "summary": "oEmbed (https://oembed.com) for the map and rally pages",
                    "parameters": [
                        query(
                            "url",
                            {"type": "string", "minLength": 1},
                            "An address of this site: the map (/), /embed or /rallies/{id}, "
                            "with their query. Any other address is a 404.",
                            required=True,
                        ),
                        query(
                            "format",
                            {"type": "string", "enum": ["json"], "default": "json"},
                            "Only json; xml is a 501, as oEmbed says.",
                        ),
                        query("maxwidth", SIZE, "Largest width the consumer can show (px)."),
                        query("maxheight", SIZE, "Largest height the consumer can show (px)."),
                    ],
                    "responses": {
                        "200": {
                            "description": "A `rich` answer: the iframe to embed.",
                            "content": content(ref("OEmbed")),
                        },
                        "400": error(
                            "`url` is missing, a size is not a whole number, or the format "
                            "is neither json nor xml."
                        ),
                        "404": error("Not an address of this site's map or of a public rally."),
                        "501": error("format=xml: only json is made."),
                    },
                }
            },
        },
        "components": {"schemas": schemas()},
    }
