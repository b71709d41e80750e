"""Logging without client addresses: visitors of this map face surveillance."""

from __future__ import annotations

import logging
import re

from flask import Flask

# An IPv4 or IPv6 address at the start of a line, as werkzeug's request log writes it.
_LEADING_ADDRESS = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]+) - - ")


class DropClientAddress(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _LEADING_ADDRESS.sub("- - - ", record.msg)
        return True


def init_app(app: Flask) -> None:
    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, DropClientAddress) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(DropClientAddress())
