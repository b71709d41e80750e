"""Whole documents (GeoJSON, iCalendar, CSV) joined from per-rally parts, and their gzip.

After a public change most rallies are as they were: their serialised parts (a GeoJSON
Feature, a VEVENT, a CSV row) are kept on their mapapp.publishing.public.Entry and reused, so a
rebuild serialises only the rallies that changed. The gzip of a document is made the same
way: the parts are cut into chunks at points that depend on the parts' content alone (so
a changed, added or removed rally changes the chunk it is in, and the cut points stay put
elsewhere), each chunk is compressed into raw deflate ended by a sync flush, with the chunk
before it as its dictionary (as pigz does), and the compressed chunks are joined behind one
gzip header. Unchanged chunks (with unchanged chunks before them) come from a cache. Every
process makes the same bytes for the same parts, as a strong ETag promises.

Pure apart from the caches handed in; no Flask.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from mapapp.publishing.public import Entry, PublicRally

# A chunk ends after a part whose Adler-32 is 0 modulo this (about this many parts a chunk,
# a few tens of KiB; not Python's hash(), which differs from process to process)...
CHUNK_PARTS = 64
# ... or at this many parts, whatever the hashes say.
MAX_CHUNK_PARTS = 4 * CHUNK_PARTS
# zlib's default: chunks are compressed once, so the better ratio costs nothing later.
LEVEL = 6
# deflate's window (bytes): how far back a compressed piece may refer.
WINDOW = 32 * 1024
# The gzip header (RFC 1952): deflate, no name, mtime 0, OS unknown; and the empty last block
# that ends a deflate stream made of sync-flushed pieces.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
LAST_BLOCK = b"\x03\x00"


@dataclass(frozen=True)
class Layout:
    """How a document is made of parts: `head`, the parts with `sep` between them, `tail`."""

    head: bytes
    sep: bytes
    tail: bytes


def rally_parts(
    entries: Sequence[Entry],
    context: tuple,
    render: Callable[[PublicRally], bytes],
    load: Callable[[list[Entry], tuple], object] | None = None,
    save: Callable[[list[Entry], tuple], object] | None = None,
) -> list[bytes]:
    """Each entry's part for `context`, rendered (and kept on the entry) when missing.

    `context` must name everything the part depends on besides the rally: the format, the
    language, the site's address the links use. The rally itself is the entry's.
    `load(missing, context)` may first fill the missing parts from a shared store
    (mapapp.publishing.partstore); the entries whose part was rendered here go to `save`.
    """
    if load is not None:
        missing = [entry for entry in entries if context not in entry.parts]
        if missing:
            load(missing, context)
    parts, made = [], []
    for entry in entries:
        part = entry.parts.get(context)
        if part is None:
            part = entry.parts[context] = render(entry.rally)
            made.append(entry)
        parts.append(part)
    if save is not None and made:
        save(made, context)
    return parts


def chunks(ends: Iterable[bool], count: int) -> list[range]:
    """Where `count` parts are cut: the index ranges of the chunks, a chunk ending after each
    part `ends` says (or after MAX_CHUNK_PARTS parts)."""
    cut, start = [], 0
    for index, end in enumerate(ends):
        if end or index + 1 - start >= MAX_CHUNK_PARTS:
            cut.append(range(start, index + 1))
            start = index + 1
    if start < count:
        cut.append(range(start, count))
    return cut


def deflate(data: bytes, before: bytes = b"", level: int = LEVEL) -> bytes:
    """Raw deflate of `data` ending on a byte boundary and not final: such pieces can be
    joined one after another into one stream. `before` is (the end of) what comes before
    `data` in that stream: the compressor may refer back to it, as the reader has it."""
    if before:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15, zdict=before[-WINDOW:])
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


class ChunkStore(Protocol):
    """Compressed chunks shared by every process (mapapp.publishing.partstore), by digest."""

    def load(self, digests: list[bytes]) -> dict[bytes, bytes]:
        """The chunks held for these digests (those not held are left out)."""
        ...

    def save(self, chunks: dict[bytes, bytes]) -> None:
        """Keep these chunks (digest -> compressed bytes) for every process."""
        ...


def digest(*items: bytes) -> bytes:
    """A 32-byte digest of a sequence of byte strings (each length-prefixed, so no two
    sequences share one): what a compressed chunk is found by in a ChunkStore."""
    hashed = hashlib.blake2b(digest_size=32, person=b"mapapp-chunk-v2")
    for item in items:
        hashed.update(len(item).to_bytes(8, "little"))
        hashed.update(item)
    return hashed.digest()


# A kept chunk (in a ChunkCache and a ChunkStore): the CRC-32 and length of its text, then its
# raw deflate. The gzip trailer's CRC of a document is combined from its chunks' (`crc_combine`),
# so a document of kept chunks is made without reading its text.
PIECE = struct.Struct("<II")
_POLY = 0xEDB88320


def _multiply(a: int, b: int) -> int:
    """a times b modulo the CRC-32 polynomial (reflected, as zlib's crc32_combine)."""
    product, bit = 0, 1 << 31
    while a:
        if a & bit:
            product ^= b
            a ^= bit
        bit >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1
    return product


# x to the 2**k: _POWERS[k]; the multiplication by each, a byte at a time (made when first used).
_POWERS = [1 << 30]
for _ in range(63):
    _POWERS.append(_multiply(_POWERS[-1], _POWERS[-1]))
_TIMES: dict[int, list[list[int]]] = {}


def _times(power: int) -> list[list[int]]:
    """The multiplication by x to the 2**power, a byte of the operand at a time: each
    table's entry for a byte is the sum (XOR) of its bits' entries."""
    factor = _POWERS[power]
    tables = []
    for byte in range(4):
        table = [0] * 256
        for bit in range(8):
            table[1 << bit] = _multiply(1 << (8 * byte + bit), factor)
        for value in range(3, 256):
            low = value & -value
            if value != low:
                table[value] = table[low] ^ table[value ^ low]
        tables.append(table)
    _TIMES[power] = tables
    return tables


def crc_combine(first: int, second: int, length: int) -> int:
    """The CRC-32 of A followed by B from A's (`first`), B's (`second`) and B's length, as
    zlib's crc32_combine (which Python's zlib does not offer): A's CRC shifted over 8 *
    `length` zero bits (times x to that power), then B's added."""
    crc, power = first, 3
    while length:
        if length & 1:
            table = _TIMES.get(power) or _times(power)
            crc = (
                table[0][crc & 255]
                ^ table[1][(crc >> 8) & 255]
                ^ table[2][(crc >> 16) & 255]
                ^ table[3][crc >> 24]
            )
        length >>= 1
        power += 1
    return crc ^ second


class ChunkCache:
    """Compressed chunks by their digest (`digest`: 32 bytes, never the text itself), least
    recently used first out, at most `budget` bytes of compressed data and keys together.

    Keyed by digest, a kept chunk holds no part's text alive: parts dropped from the entries
    (mapapp.publishing.public.EntryCache.PART_BUDGET) are gone, and a map feed's parts (made
    anew for each filter) go with their build. At 100,000 rallies a calendar is about 6.4 MiB
    gzipped, a GeoJSON 3.6 MiB; a chunk not kept here is read from the shared store."""

    # Bytes a kept chunk costs besides its compressed data: its key (a 32-byte bytes object)
    # and the dict's slot.
    OVERHEAD = 150

    def __init__(self, budget: int = 32 * 2**20) -> None:
        self.budget = budget
        self.size = 0
        self.chunks: dict[bytes, bytes] = {}  # digest -> PIECE and compressed bytes
        self.lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        """The compressed chunk kept under `key`, now the most recently used; None if none."""
        with self.lock:
            found = self.chunks.pop(key, None)
            if found is None:
                return None
            self.chunks[key] = found
            return found

    def put(self, key: bytes, made: bytes) -> None:
        """Keep `made` under `key`, within the budget (the oldest go first)."""
        with self.lock:
            if key not in self.chunks:
                self.chunks[key] = made
                self.size += len(made) + self.OVERHEAD
            while self.size > self.budget and self.chunks:
                self.size -= len(self.chunks.pop(next(iter(self.chunks)))) + self.OVERHEAD


def gzipped(
    layout: Layout,
    parts: Sequence[bytes] | Callable[[list[int]], list[bytes]],
    cache: ChunkCache,
    store: ChunkStore | None = None,
    names: Sequence[bytes] | None = None,
    scope: bytes = b"",
) -> bytes:
    """The document (head, parts joined by sep, tail) gzipped (RFC 1952), never joined plain.

    Chunks are taken from `cache`, then from `store` (shared by every process: a worker
    that has just started reads what another compressed), and only the rest compressed
    (and then saved to `store`). A chunk is found by a digest of what its bytes depend on:
    its text, the separator, and the chunk before it (its dictionary).

    Without `names`, `parts` are the parts, and a chunk's text is named by the text itself.
    With `names` (one a part, each ending in b";": mapapp.publishing.public.Entry.token, a
    rally's id, row version and reveal side, which with `scope`, the context's name led by the
    release's rendering fingerprint, fix the part's bytes, as the shared parts' table holds),
    the document is cut and named by them, and `parts(indices)` gives the parts at those
    indices only when a chunk has to be compressed: a document whose chunks are all kept
    reads no part. gzip.decompress (and every browser) reads the result as one member; its
    bytes differ from gzip.compress's of the same text.
    """
    head, sep, tail = layout.head, layout.sep, layout.tail
    if names is None:
        assert not callable(parts)
        texts: Sequence[bytes] = parts
        cut = chunks((zlib.adler32(part) % CHUNK_PARTS == 0 for part in texts), len(texts))
        named = [digest(b"text", *(texts[i] for i in span)) for span in cut]

        def read(indices: list[int]) -> list[bytes]:
            return [texts[i] for i in indices]
    else:
        assert callable(parts)
        read = parts
        cut = chunks((zlib.crc32(name) % CHUNK_PARTS == 0 for name in names), len(names))
        named = [digest(b"names", scope, b"".join(names[i] for i in span)) for span in cut]
    head_name = digest(b"head", head)
    # The name of each piece, and what it is made of: its text and its dictionary, as index
    # ranges of the parts (None: the head), with the text that leads them.
    pieces: list[bytes] = [head_name]
    for index in range(len(cut)):
        # Each chunk is compressed with the chunk before it as its dictionary: nearly the
        # ratio of one stream, and a changed rally recompresses two chunks, not one.
        # The dictionary is `sep` and the previous chunk after the first two chunks, the
        # previous chunk alone for the second (the head for the first): the digest tells
        # them apart, or a chunk kept from one document could refer back to a `sep` that is
        # not there in another.
        lead = sep if index else b""
        flag = b"1" if index > 1 else b"0"
        before = named[index - 1] if index else head_name
        pieces.append(digest(b"chunk", lead, sep, named[index], before, flag))
    tail_name = digest(b"tail", tail)
    pieces.append(tail_name)
    found: dict[bytes, bytes] = {}
    for name in pieces:
        kept = cache.get(name)
        if kept is not None:
            found[name] = kept
    missing = list(dict.fromkeys(name for name in pieces if name not in found))
    if missing:
        from_store = store.load(missing) if store is not None else {}
        made_here: dict[bytes, bytes] = {}
        todo: dict[bytes, None] = {}
        for name in pieces:
            if name in found or name in todo:
                continue
            made = from_store.get(name)
            if made is not None:
                found[name] = made
                cache.put(name, made)
            else:
                todo[name] = None
        if todo:
            # Positions of the pieces to make: 0 is the head, len(cut) + 1 the tail.
            spans = [position for position, name in enumerate(pieces) if name in todo]
            needed = sorted(
                {
                    i
                    for position in spans
                    if 0 < position <= len(cut)
                    for span in (cut[position - 1], cut[position - 2] if position > 1 else ())
                    for i in span
                }
            )
            text = dict(zip(needed, read(needed), strict=True)) if needed else {}
            for position in spans:
                name = pieces[position]
                if name in made_here:
                    continue
                if position == 0:
                    data, before_text = head, b""
                elif position == len(cut) + 1:
                    data, before_text = tail, b""
                else:
                    index = position - 1
                    data = (sep if index else b"") + sep.join(text[i] for i in cut[index])
                    if index:
                        lead = sep if index > 1 else b""
                        before_text = lead + sep.join(text[i] for i in cut[index - 1])
                    else:
                        before_text = head
                made = PIECE.pack(zlib.crc32(data), len(data)) + deflate(data, before_text)
                made_here[name] = found[name] = made
                cache.put(name, made)
        if store is not None and made_here:
            store.save(made_here)
    crc, length = 0, 0
    body = [GZIP_HEADER]
    for name in pieces:
        made = found[name]
        piece_crc, piece_length = PIECE.unpack_from(made)
        crc = crc_combine(crc, piece_crc, piece_length)
        length += piece_length
        body.append(made[PIECE.size :])
    body.append(LAST_BLOCK)
    body.append(PIECE.pack(crc, length & 0xFFFFFFFF))
    return b"".join(body)


def document(
    layout: Layout,
    parts: Sequence[bytes],
    cache: ChunkCache,
    store: ChunkStore | None = None,
) -> tuple[bytes, bytes]:
    """The document plain and gzipped (`gzipped`): the plain text joined, for tests and
    callers that want both."""
    plain = layout.head + layout.sep.join(parts) + layout.tail
    return plain, gzipped(layout, parts, cache, store)
