"""The map's own interface text (rallymap's labels), in the current language.

The same on the site's map, the embed and the offline copy; the urgent sentences come from
mapapp.publishing.words, so the map says them as the pages do.
"""

from __future__ import annotations

from flask_babel import gettext as _
from markupsafe import Markup

# The tiles' attribution as the app ships it (config TILE_ATTRIBUTION's default): said in the
# page's language. An operator's own line is shown as they wrote it.
OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)
OSM_LINK = Markup('<a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>')


def tile_attribution(configured: str) -> str:
    """The attribution line for the map's corner, in the page's language when it is ours."""
    if configured.strip() != OSM_ATTRIBUTION:
        return configured
    # Translators: the map's corner; %(osm)s is the link "OpenStreetMap".
    return _("© %(osm)s contributors", osm=OSM_LINK)  # the catalogue's text is trusted


def map_labels() -> dict[str, str]:
    """The map's own interface text, in the page's language."""
    return {
        "details": _("Rally page"),
        # Translators: read by screen readers after a link on a map inside another site.
        "newTab": _("(opens in a new tab)"),
        "cancelled": _("Cancelled"),
        "featured": _("Main rally"),
        "loading": _("Loading rallies…"),
        # Translators: {count} becomes a number in the browser. "Rallies on the map: 5" needs
        # no plural forms, which Belarusian and Russian would otherwise need three of.
        "loaded": _("Rallies on the map: %(count)s", count="{count}"),
        "none": _("No rallies match these filters."),
        "failed": _("The map could not load the rallies. The list of rallies works without it."),
        "show": _("Show on the map"),
        # Translators: {count} becomes a number in the browser.
        "cluster": _("Rallies here: %(count)s. Zoom in to see them.", count="{count}"),
        # Translators: {count} becomes a number in the browser. The heading of a list of
        # rallies drawn at one point (a cluster that zooming in would not part).
        "clusterList": _("Rallies here: %(count)s", count="{count}"),
        # Translators: {count} becomes a number in the browser; it leads a cluster's name.
        "clusterDanger": _("Danger warnings here: %(count)s.", count="{count}"),
        "closePopup": _("Close popup"),
        "zoomIn": _("Zoom in"),
        # Translators: the map's scale bar: "500 m", "2 km".
        "metres": _("%(num)s m", num="{num}"),
        "kilometres": _("%(num)s km", num="{num}"),
        "zoomOut": _("Zoom out"),
        # Translators: the title of the "Leaflet" link in the map's corner.
        "leaflet": _("A JavaScript library for interactive maps"),
        "nearMe": _("Near me"),
        # Translators: {count} becomes a number in the browser.
        "more": _("All rallies on the map, %(count)s, in the list", count="{count}"),
        "nearMeFailed": _(
            "Your position is not available now. Try again, or choose your town in the filters."
        ),
        "nearMeDenied": _(
            "The browser did not share your position. You can allow it in the site's settings,"
            " or choose your town in the filters."
        ),
        # Translators: beside the visitor's own position on the map (kept in the browser only).
        "youAreHere": _("You are here"),
        # Translators: {town}, {day} and {km} are filled in the browser.
        "nearest": _(
            "The nearest rally: %(town)s, %(day)s, %(km)s km from you.",
            town="{town}",
            day="{day}",
            km="{km}",
        ),
        "noneNear": _("No rallies match these filters."),
        "pin": _("The place of the rally: drag to move"),
        "underPin": _("Town under the pin: %(town)s", town="{town}"),
        "outside": _("The pin is outside Belarus."),
        # Translators: a button under the first rallies in the list beside the map.
        "showMore": _("Show more rallies"),
        # Translators: in a rally's popup on the map while its title and place are on their way.
        "loadingDetails": _("Loading the rally's details…"),
        "detailsFailed": _("The rally's details could not be loaded. Check your connection."),
        "retry": _("Try again"),
        # Translators: a heading in the main rally's popup, over rallies drawn under its star.
        "alsoHere": _("Other rallies at this place"),
        # Translators: the last line of that list when the star hides many; {count} is a number.
        "alsoMore": _("%(count)s more: zoom in to see them", count="{count}"),
        # Translators: the urgent banner over the map shows its most urgent notice; this
        # button opens the others (danger warnings, new places, cancels). {count} is a number.
        "urgentMore": _("Other urgent notices: %(count)s", count="{count}"),
        # Translators: the same button once they are open: it folds them away again.
        "urgentFewer": _("Show only the most urgent notice"),
        # The fixed sentences of urgent statuses, the same on the server's pages.
        "danger": _("Danger: police are at the place. Do not come."),
        "cancelledNotice": _("This rally is cancelled."),
        "moved": _("The place has changed: check the new place before you go."),
        # How a rally was checked (mapapp.publishing.public.verification), said in its
        # marker's name; the map's feed has the grade but not the count of moderators.
        "vModerators": _("Checked by two or more moderators."),
        "vKnownOrganizer": _("Organizer known to the moderators; checked by one moderator."),
        "vModerator": _("Checked by one moderator."),
        "vImported": _("Imported by the site's operators, not checked by a moderator here."),
        # A rally page left open when its rally is taken down (the page stops re-checking).
        "removed": _("This rally was removed from the map."),
    }
