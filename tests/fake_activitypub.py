"""A stand-in for a Mastodon-like server on 127.0.0.1, for the ActivityPub tests.

It has two people: alice (a Person whose server has a shared inbox, as Mastodon's and
Mobilizon's do) and bob (a Person with only his own inbox). It serves their actor
documents with alice's RSA key, signs alice's Follow and Undo as Mastodon does
(draft-cavage rsa-sha256 over (request-target) host date digest), and takes deliveries at
its shared inbox `/inbox`, checking each one's signature against the key the map's actor
publishes (`trust(actor_document)`) with its own code, not the app's. `fail_next` makes
the next deliveries fail ("500", "410", "drop").
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# One key for the whole test run: RSA key generation is slow.
ALICE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


class FakeServer:
    def __init__(self) -> None:
        self.deliveries: list[dict[str, Any]] = []  # activities received, signature checked
        self.refused: list[str] = []  # why a delivery's signature did not hold
        self.fail_next: list[str] = []
        self.delay = 0.0  # seconds each delivery waits before it is answered (a slow server)
        self.fetch_delay = 0.0  # seconds each document fetch waits (a slow key server)
        self.arrived: list[float] = []  # time.monotonic() of each delivery's arrival
        self.fetches: list[str] = []  # paths of documents fetched from it
        self.their_signatures: list[str] = []  # Signature headers of the fetches
        self.trusted: dict[str, rsa.RSAPublicKey] = {}
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                with fake.lock:
                    fake.fetches.append(self.path)
                    fake.their_signatures.append(self.headers.get("Signature", ""))
                time.sleep(fake.fetch_delay)
                document = fake.document(self.path)
                if document is None:
                    return self.reply(404, {})
                return self.reply(200, document)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with fake.lock:
                    fake.arrived.append(time.monotonic())
                time.sleep(fake.delay)
                with fake.lock:
                    failure = fake.fail_next.pop(0) if fake.fail_next else None
                if failure == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
                if failure:
                    return self.reply(int(failure), {})
                reason = fake.check(self.command, self.path, dict(self.headers.items()), body)
                with fake.lock:
                    if reason:
                        fake.refused.append(reason)
                    else:
                        fake.deliveries.append(json.loads(body))
                return self.reply(401 if reason else 202, {})

            def reply(self, status: int, document: dict[str, Any]) -> None:
                raw = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/activity+json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- its people --------------------------------------------------------------------

    def actor_id(self, name: str) -> str:
        return f"{self.base}/users/{name}"

    def document(self, path: str) -> dict[str, Any] | None:
        name = path.removeprefix("/users/")
        if name not in ("alice", "bob", "carol"):
            return None
        ident = self.actor_id(name)
        document = {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": ident,
            "type": "Person",
            "preferredUsername": name,
            "inbox": f"{ident}/inbox",
            "publicKey": {
                "id": f"{ident}#main-key",
                "owner": ident,
                "publicKeyPem": pem(ALICE_KEY),
            },
        }
        if name != "bob":
            document["endpoints"] = {"sharedInbox": f"{self.base}/inbox"}
        return document

    def signed(
        self,
        activity: dict[str, Any],
        inbox_path: str,
        host: str,
        key: rsa.RSAPrivateKey = ALICE_KEY,
        key_id: str | None = None,
        date: datetime | None = None,
        signed_headers: str = "(request-target) host date digest",
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a POST of `activity` to `inbox_path` on `host`, signed
        as Mastodon signs it (app/lib/request.rb)."""
        body = json.dumps(activity).encode()
        headers = {
            "Host": host,
            "Date": format_datetime(date or datetime.now(UTC), usegmt=True),
            "Digest": "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode(),
            "Content-Type": "application/activity+json",
        }
        lines = []
        for name in signed_headers.split():
            if name == "(request-target)":
                lines.append(f"(request-target): post {inbox_path}")
            else:
                lines.append(f"{name}: {headers[name.title()]}")
        signature = key.sign("\n".join(lines).encode(), padding.PKCS1v15(), hashes.SHA256())
        key_id = key_id or f"{activity['actor']}#main-key"
        headers["Signature"] = (
            f'keyId="{key_id}",algorithm="rsa-sha256",headers="{signed_headers}",'
            f'signature="{base64.b64encode(signature).decode()}"'
        )
        return body, headers

    def follow(self, name: str, target: str) -> dict[str, Any]:
        return {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{self.actor_id(name)}#follows/{secrets.token_hex(4)}",
            "type": "Follow",
            "actor": self.actor_id(name),
            "object": target,
        }

    def undo(self, follow: dict[str, Any]) -> dict[str, Any]:
        inner = {k: v for k, v in follow.items() if k != "@context"}
        return {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{follow['id']}/undo",
            "type": "Undo",
            "actor": follow["actor"],
            "object": inner,
        }

    # -- checking the map's signatures ---------------------------------------------------

    def trust(self, actor: dict[str, Any]) -> None:
        """Take the map's key as its actor document publishes it."""
        key = serialization.load_pem_public_key(actor["publicKey"]["publicKeyPem"].encode())
        self.trusted[actor["publicKey"]["id"]] = key

    def check(self, method: str, path: str, headers: dict[str, str], body: bytes) -> str:
        """Why a delivery is refused, or "" (as Mastodon's SignatureVerification checks)."""
        lowered = {k.lower(): v for k, v in headers.items()}
        match = dict(re.findall(r'(\w+)="([^"]*)"', lowered.get("signature", "")))
        if not match:
            return "unsigned"
        names = match.get("headers", "").split()
        if not {"(request-target)", "host", "date", "digest"} <= set(names):
            return "headers"
        sent = parsedate_to_datetime(lowered["date"])
        if abs(datetime.now(UTC) - sent) > timedelta(hours=1):
            return "date"
        wanted = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
        if lowered.get("digest") != wanted:
            return "digest"
        key = self.trusted.get(match.get("keyId", ""))
        if key is None:
            return "unknown key"
        lines = [
            f"(request-target): {method.lower()} {path}"
            if n == "(request-target)"
            else f"{n}: {lowered[n]}"
            for n in names
        ]
        try:
            key.verify(
                base64.b64decode(match["signature"]),
                "\n".join(lines).encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return "signature"
        return ""

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.deliveries if d["type"] == kind]

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        with contextlib.suppress(OSError):
            self.server.server_close()
