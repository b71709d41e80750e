"""Signals (blinker, as Flask's own): what other parts of the app may listen for."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Sent inside the transaction that changes what the public sees of a rally, before it commits,
# so a listener's writes (an outbox row) land or fail with the change itself.
# Sender: the Flask app. Keyword arguments: session (the SQLAlchemy Session), rally_id (int),
# kind (str): "published", "edited", "cancelled", "danger", "moved", "restored", "taken_down".
public_change = _signals.signal("public-change")
