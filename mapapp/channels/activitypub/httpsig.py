"""HTTP signatures as the fediverse uses them: draft-cavage-http-signatures-12, rsa-sha256.

Mastodon, Mobilizon and Gancio sign every POST to an inbox (and Mastodon's "secure mode"
every GET) with ``Signature: keyId="...",algorithm="rsa-sha256",headers="(request-target)
host date digest",signature="..."``, the RSA PKCS#1 v1.5 SHA-256 signature of the listed
headers one per line, ``name: value``. No well-kept Python library does this draft (the
``http-message-signatures`` package is RFC 9421, which none of them reads yet), so it is
here, with ``cryptography``, in pure functions: no Flask, no network.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# What an inbox POST must sign, at least (Mastodon signs these, and so do we).
REQUIRED_POST = ("(request-target)", "host", "date", "digest")
# Keys smaller than this are refused; larger than this too (a costly verification).
MIN_KEY_BITS, MAX_KEY_BITS = 2048, 8192
PARAM = re.compile(r'\s*([a-zA-Z]+)="([^"]*)"\s*(?:,|$)')


class SignatureError(ValueError):
    """The request is not signed as required; the message says why (safe to log)."""


class Mismatch(SignatureError):
    """Everything holds but the signature itself: the key may have been rotated."""


@dataclass(frozen=True)
class Signature:
    """A parsed ``Signature`` header."""

    key_id: str
    algorithm: str
    headers: tuple[str, ...]
    signature: bytes


def digest(body: bytes) -> str:
    """The ``Digest`` header of a body: ``SHA-256=`` and its base64 (RFC 3230)."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def http_date(moment: datetime) -> str:
    """A ``Date`` header value (RFC 9110 IMF-fixdate) for an aware datetime."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def signing_string(
    method: str, path: str, headers: Mapping[str, str], names: tuple[str, ...]
) -> str:
    """The text that is signed: each named header as ``name: value``, one per line.

    `path` is the request's path with its query string; `headers` are looked up by
    lower-case name. :raise SignatureError: a named header is missing.
    """
    lines = []
    lowered = {name.lower(): value for name, value in headers.items()}
    for name in names:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {path}")
        elif name in lowered:
            lines.append(f"{name}: {lowered[name].strip()}")
        else:
            raise SignatureError("a signed header is missing")
    return "\n".join(lines)


def sign(
    private_key: rsa.RSAPrivateKey,
    key_id: str,
    method: str,
    url_path: str,
    host: str,
    body: bytes | None,
    now: datetime,
) -> dict[str, str]:
    """The headers to send with a request: Date, Host, Digest (with a body) and Signature.

    `url_path` is the path and query of the target URL, `host` its host[:port] as sent.
    """
    headers = {"Host": host, "Date": http_date(now)}
    names: tuple[str, ...] = ("(request-target)", "host", "date")
    if body is not None:
        headers["Digest"] = digest(body)
        names += ("digest",)
    text = signing_string(method, url_path, headers, names)
    value = private_key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    headers["Signature"] = (
        f'keyId="{key_id}",algorithm="rsa-sha256",headers="{" ".join(names)}",'
        f'signature="{base64.b64encode(value).decode()}"'
    )
    return headers


def parse(header: str) -> Signature:
    """A ``Signature`` header's parameters. :raise SignatureError: malformed."""
    if len(header) > 4096:
        raise SignatureError("signature header too long")
    params: dict[str, str] = {}
    position = 0
    for match in PARAM.finditer(header):
        if match.start() != position:
            raise SignatureError("malformed signature header")
        params[match.group(1)] = match.group(2)
        position = match.end()
    if position != len(header) or "keyId" not in params or "signature" not in params:
        raise SignatureError("malformed signature header")
    try:
        value = base64.b64decode(params["signature"], validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("signature is not base64") from None
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in ("rsa-sha256", "hs2019"):  # hs2019: the key decides (RSA here)
        raise SignatureError("algorithm not supported")
    names = tuple(params.get("headers", "date").lower().split())
    return Signature(params["keyId"], algorithm, names, value)


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM. :raise SignatureError: not RSA, or an odd size."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        raise SignatureError("public key is not PEM") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("public key is not RSA")
    if not MIN_KEY_BITS <= key.key_size <= MAX_KEY_BITS:
        raise SignatureError("public key size is not accepted")
    return key


def check_fresh(date_header: str | None, now: datetime, window: timedelta) -> None:
    """:raise SignatureError: no Date, or further than `window` from `now` either way."""
    if not date_header:
        raise SignatureError("no Date header")
    try:
        moment = parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        raise SignatureError("Date is not an HTTP date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if abs(now - moment) > window:
        raise SignatureError("Date is outside the accepted window")


def verify(
    public_key: rsa.RSAPublicKey,
    signature: Signature,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    window: timedelta,
    required: tuple[str, ...] = REQUIRED_POST,
) -> None:
    """Check a request's signature, its Date and (for a body) its Digest.

    :raise SignatureError: a required header is not signed, the Date is stale, the Digest
        does not match the body, or the signature does not match the key.
    """
    missing = [name for name in required if name not in signature.headers]
    if missing:
        raise SignatureError("a required header is not signed")
    lowered = {name.lower(): value for name, value in headers.items()}
    check_fresh(lowered.get("date"), now, window)
    if "digest" in signature.headers or body:
        sent = lowered.get("digest", "")
        wanted = digest(body)
        found = [part.strip() for part in sent.split(",")]
        sha = [part for part in found if part[:8].upper() == "SHA-256="]
        if not sha or sha[0][8:] != wanted[8:]:
            raise SignatureError("Digest does not match the body")
    text = signing_string(method, path, headers, signature.headers)
    try:
        public_key.verify(signature.signature, text.encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise Mismatch("signature does not match") from None


def new_private_key() -> rsa.RSAPrivateKey:
    """A new 2048-bit RSA key, the size Mastodon makes for its actors."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    """The PEM (SubjectPublicKeyInfo) of a private key's public half, as actors publish it."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
