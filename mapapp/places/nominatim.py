"""Nominatim through geopy: one search, no cache, no throttle (the service adds those). Pure.

The only module that imports geopy. urllib, not requests: requests' urllib3 retries on its
own (more than one request a second, against Nominatim's policy) and logs the URL, with the
typed address in it, at WARNING when it does.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Found:
    """Nominatim's best answer: WGS84 degrees and its display address."""

    lat: float
    lon: float
    address: str


def search(query: str, url: str, user_agent: str, timeout: float) -> Found | None:
    """Ask the Nominatim at `url` for `query` inside Belarus, in Belarusian; None when it finds
    nothing. `timeout` is in seconds.

    Raises whatever geopy raises (timeouts, refusals, 429, 5xx, bad JSON): the caller decides
    how to degrade, and must not log the query.
    """
    from geopy.adapters import URLLibAdapter
    from geopy.geocoders import Nominatim

    parts = urlsplit(url)
    client = Nominatim(
        user_agent=user_agent,
        domain=parts.netloc + parts.path.rstrip("/"),
        scheme=parts.scheme or "https",
        timeout=timeout,
        adapter_factory=URLLibAdapter,
    )
    location = client.geocode(
        query, exactly_one=True, country_codes="by", addressdetails=True, language="be"
    )
    if location is None:
        return None
    return Found(float(location.latitude), float(location.longitude), str(location.address))
