"""Signatures anyone can check: minisign's format, made with the deployment's Ed25519 key.

A copy of the map passed around in a messenger, or a feed fetched through a mirror, can be
checked with Debian's `minisign` (`minisign -Vm FILE -p signing.pub`) against the public
key the site shows on its about page. Pure functions, no Flask.

Formats (https://jedisct1.github.io/minisign/):
- public key file: ``untrusted comment: ...`` then base64("Ed" + key id (8 bytes) + key (32))
- signature file: ``untrusted comment: ...``, base64("ED" + key id + Ed25519(BLAKE2b-512(file))),
  ``trusted comment: TEXT``, base64(Ed25519(signature + TEXT)), each line ending in "\\n".

The secret (MAPAPP_SIGNING_KEY) is the key's 32-byte seed in base64; the key id is
derived from the public key, so the one setting is all a deployment keeps. The functions
are pure; init_app keeps the deployment's key in app.extensions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

if TYPE_CHECKING:
    from flask import Flask

KEY_ALGORITHM = b"Ed"
PREHASHED = b"ED"  # what minisign itself writes since 0.10: the file's BLAKE2b-512 is signed


class SigningKeyError(ValueError):
    """MAPAPP_SIGNING_KEY is not a key this module made."""


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    public: bytes  # 32 bytes
    key_id: bytes  # 8 bytes, as minisign stores it

    @property
    def key_id_hex(self) -> str:
        # minisign prints the id as a little-endian 64-bit number in upper-case hex.
        return self.key_id[::-1].hex().upper()

    @property
    def fingerprint(self) -> str:
        """The key's fingerprint for people to compare (copy, /about, /verify, the channel):
        the first 128 bits of SHA-256 of the public key, in groups of four hex digits."""
        digest = hashlib.sha256(self.public).hexdigest()[:32].upper()
        return " ".join(digest[i : i + 4] for i in range(0, 32, 4))

    def public_key_base64(self) -> str:
        """What `minisign -P` takes, and the second line of the public key file."""
        return base64.b64encode(KEY_ALGORITHM + self.key_id + self.public).decode()

    def public_key_file(self) -> str:
        """The contents of signing.pub (minisign's public key file)."""
        return (
            f"untrusted comment: minisign public key {self.key_id_hex}\n"
            f"{self.public_key_base64()}\n"
        )

    def sign(self, data: bytes, trusted_comment: str) -> str:
        """The contents of NAME.minisig for the bytes `data`.

        `trusted_comment` is one line, signed too (minisign shows it after verifying).
        """
        if "\n" in trusted_comment or "\r" in trusted_comment:
            raise ValueError("A trusted comment is one line.")
        signature = self.private.sign(hashlib.blake2b(data, digest_size=64).digest())
        comment = trusted_comment.encode()
        global_signature = self.private.sign(signature + comment)
        return (
            f"untrusted comment: signature from the rally map's key {self.key_id_hex}\n"
            f"{base64.b64encode(PREHASHED + self.key_id + signature).decode()}\n"
            f"trusted comment: {trusted_comment}\n"
            f"{base64.b64encode(global_signature).decode()}\n"
        )


def new_secret() -> str:
    """A new secret for MAPAPP_SIGNING_KEY (base64 of a random 32-byte Ed25519 seed)."""
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    return base64.b64encode(seed).decode()


def load_key(secret: str) -> SigningKey:
    """The key from MAPAPP_SIGNING_KEY; SigningKeyError if it is not 32 bytes of base64."""
    try:
        seed = base64.b64decode(secret.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SigningKeyError(
            "MAPAPP_SIGNING_KEY is not base64: make one with `signing-key`."
        ) from None
    if len(seed) != 32:
        raise SigningKeyError("MAPAPP_SIGNING_KEY must be 32 bytes: make one with `signing-key`.")
    private = Ed25519PrivateKey.from_private_bytes(seed)
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.blake2b(public, digest_size=8, person=b"mapapp-keyid").digest()
    return SigningKey(private=private, public=public, key_id=key_id)


def signed_comment(
    what: str,
    now: float | None = None,
    selection: dict[str, str] | None = None,
    made_at: datetime | None = None,
) -> str:
    """A trusted comment like minisign's own: when it was signed, and what.

    `selection` (a filter's query parameters) and `made_at` say which rallies the signed
    file shows and as of when: a hostile mirror cannot pass a genuine copy of one town, or
    of an empty date range, off as the whole map. `minisign -V` prints this line.
    """
    line = f"timestamp:{int(now if now is not None else time.time())}\tfile:{what}"
    if selection is not None:
        line += f"\tfilter:{urlencode(selection) or 'all-upcoming'}"
    if made_at is not None:
        line += f"\tmade:{made_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
    return line


def signing_key(app: Flask) -> SigningKey | None:
    """The deployment's key (MAPAPP_SIGNING_KEY), or None when the site signs nothing."""
    return app.extensions.get("mapapp.signing_key")


def init_app(app: Flask) -> None:
    """Load MAPAPP_SIGNING_KEY once; a bad key stops the app at start, not at the first export."""
    secret = app.config.get("SIGNING_KEY")
    app.extensions["mapapp.signing_key"] = load_key(secret) if secret else None
