"""The instance actor's RSA key, kept like the site's other keys.

MAPAPP_ACTIVITYPUB_KEY (the PEM in base64, on one line) from a secrets store, as
MAPAPP_SIGNING_KEY is; unset, a key is made once in instance/activitypub_key.pem (mode
0600, made atomically so that the web workers and the worker agree). The key must last:
followers' servers keep the public half they fetched and check our deliveries with it.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, current_app

from mapapp.channels.activitypub.httpsig import new_private_key, private_pem

EXTENSION = "mapapp.activitypub_key"
FILE_NAME = "activitypub_key.pem"


class KeyError_(RuntimeError):  # noqa: N801 - KeyError is a builtin
    """The configured key cannot be used; the message says what to do."""


def parse_key(pem: bytes) -> rsa.RSAPrivateKey:
    """:raise KeyError_: not an unencrypted RSA private key in PEM, or under 2048 bits."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise KeyError_("MAPAPP_ACTIVITYPUB_KEY is not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise KeyError_("MAPAPP_ACTIVITYPUB_KEY must be an RSA key of 2048 bits or more")
    return key


def from_setting(raw: str) -> rsa.RSAPrivateKey:
    """The key from the setting: base64 of the PEM (or the PEM itself)."""
    text = raw.strip()
    if text.startswith("-----BEGIN"):
        return parse_key(text.encode())
    try:
        return parse_key(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        raise KeyError_("MAPAPP_ACTIVITYPUB_KEY is not base64 of a PEM key") from None


def from_file(path: Path) -> rsa.RSAPrivateKey:
    """The key in `path`, made there first (0600) if need be; refused if others can read it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, private_pem(new_private_key()).encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            os.link(temporary, path)  # never replaces another process's key
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyError_(f"{path} can be read by other users: chmod 600 it")
    return parse_key(path.read_bytes())


def init_app(app: Flask) -> None:
    """Load the key when ActivityPub is on (a bad key stops the app at start)."""
    if not app.config.get("ACTIVITYPUB"):
        return
    raw = app.config.get("ACTIVITYPUB_KEY")
    key = from_setting(raw) if raw else from_file(Path(app.instance_path) / FILE_NAME)
    app.extensions[EXTENSION] = key


def private_key(app: Flask | None = None) -> rsa.RSAPrivateKey:
    return (app or current_app).extensions[EXTENSION]
