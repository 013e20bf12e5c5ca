#!/usr/bin/env python3
"""Cross-check shoutnet's wire test vectors with an independent decoder.

Written from docs/PROTOCOL.md alone (no shoutnet source was read), so that a
vector which agrees with this decoder agrees with the spec's text, not merely
with the Rust implementation that generated it.

    python3 tools/interop/check_vectors.py docs/vectors

For every <profile>/<name>.hex + <name>.json the transmission is decoded
(§3-§7), every payload is checked against its opcode's schema (§8) and the
result is compared with the JSON (§13). Every <profile>/invalid/<name>.hex
must be rejected with the error the .json beside it names, and refused as
its "scope" says: the whole transmission, or one message with a §10 code,
answered with a NACK or not.

Then the cryptography of §5.3-§5.4 is checked with the test-only fixture
keys of fixtures/keys/ (--keys): every signature is verified with its
from-key, and every encrypted message to a fixture key is decrypted and its
plaintext compared with the JSON's "plaintext".

Each <profile>/handshake.json (§9.1, §13.2) is replayed with this file's own
Noise XX (written from the Noise specification, revision 34, on the
`cryptography` primitives) from the vector's fixed keys: messages 1-3, the
handshake hash and the transport messages must come out byte for byte, both
hellos must follow §9.1, their bindings (§5.5) must verify over the static
keys the handshake delivered, and the transmissions carried must decode as
those of §4. The byte streams of <profile>/handshake/ must be those
messages in order.

Crypto failures are FAILs with --require-crypto (which also fails if
nothing of a kind was verified), and warnings without it.

Dependencies: Python 3.11 standard library, msgpack 1.x, cramjam,
cryptography.
"""

import argparse
import bz2
import hashlib
import ipaddress
import json
import lzma
import pathlib
import struct
import sys
import zlib

try:
    import cramjam
    import msgpack
    from cryptography.exceptions import InvalidSignature, InvalidTag
    from cryptography.hazmat.primitives import hashes, hmac, serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, x25519
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
except ImportError as exc:
    print(
        f"check_vectors.py: cannot import {exc.name!r}; install the "
        "dependencies with: pip install msgpack cramjam cryptography",
        file=sys.stderr,
    )
    sys.exit(2)

# §2: profile -> (K = key-field length, S = signature length), in bytes.
PROFILES = {"ed25519": (32, 64), "rsa2048": (270, 256)}

# §11 default limits.
MAX_TRANSMISSION = 16 * 1024 * 1024
MAX_DECOMPRESSED = 64 * 1024 * 1024
MAX_MESSAGES = 65536
MAX_PAYLOAD = 16 * 1024 * 1024
MAX_DEPTH = 64
MAX_VALUES = 1048576
MAX_LISTEN = 8
MAX_RELAYS = 3
MAX_NODES = 20
MAX_DHT_KEY = 1024
MAX_DHT_VALUE = 65536
MAX_CUSTOM_NAME = 64
MAX_NACK_REASON = 256

# §3 compression ids; 6 and 7 are reserved.
COMPRESSION = ["none", "bz2", "gzip", "lzma", "zlib", "snappy"]

# The test-only fixture keys (fixtures/keys/README.md): two levels above us.
DEFAULT_KEYS = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "keys"

# §5.1 opcodes.
ACK, NACK, PING, SET_CONNECTION_OPT, SHOUT, SPEAK, WHISPER = range(7)
FIND_NODE, FIND_VALUE, STORE, CUSTOM = 7, 8, 9, 15
OPCODE_NAMES = {
    ACK: "ACK", NACK: "NACK", PING: "PING",
    SET_CONNECTION_OPT: "SET_CONNECTION_OPT", SHOUT: "SHOUT", SPEAK: "SPEAK",
    WHISPER: "WHISPER", FIND_NODE: "FIND_NODE", FIND_VALUE: "FIND_VALUE",
    STORE: "STORE", CUSTOM: "CUSTOM",
}
OPCODE_NAMES.update({op: f"RESERVED_{op}" for op in range(10, 15)})

# §10 NACK codes whose `detail` has a fixed shape (§8.3).
LOCKED, CONFLICT = 6, 7

# Error names the spec defines (§4, §5.2, §7); the schema checks of §8 use
# the NACK code names of §10.
SPEC_ERRORS = {
    "ReservedBitsSet", "UnknownCompression", "UnnegotiatedCompression",
    "EmptyTransmission", "TransmissionTooLarge", "Decompress", "Truncated",
    "PayloadPastEnd", "PayloadTooLarge", "TooManyMessages", "MissingSignature",
    "ReservedMarker", "ExtType", "NonStringKey", "DuplicateKey", "InvalidUtf8",
    "TooDeep", "TooManyValues", "UnexpectedEnd", "TrailingBytes",
    "BytesAfterTransmission",
    "MALFORMED", "TOO_LARGE", "BAD_SIGNATURE", "DECRYPT_FAILED",
}

# §7 and §8 errors refuse one message, with one of these §10 codes (§13).
MESSAGE_CODES = {"MALFORMED", "TOO_LARGE", "BAD_SIGNATURE", "DECRYPT_FAILED"}

RSA_DER_PREFIX = bytes.fromhex("3082010a0282010100")
RSA_DER_SUFFIX = bytes.fromhex("0203010001")


class Reject(Exception):
    """The decoder rejects the input with the spec's error `name`.

    `certain` is False where the spec names no error for the case, so the
    name given is this decoder's best guess. `message` is None for a
    framing error (§4, §5: the whole transmission is refused), else the
    index of the one message refused (§7, §8).
    """

    def __init__(self, name, detail, certain=True, message=None):
        super().__init__(f"{name}: {detail}")
        self.name = name
        self.detail = detail
        self.certain = certain
        self.message = message


class Mismatch(Exception):
    """The vector decodes, but not to what its .json says."""


# ---------------------------------------------------------------------------
# §4 transmission header and §3 decompression


def parse_transmission(raw):
    """Returns (compression id, compressed body); checks in §4's order."""
    if len(raw) < 6:
        raise Reject("Truncated", f"{len(raw)} bytes, shorter than the 6-byte "
                     "transmission header", certain=False)
    b0, b1, body_len = struct.unpack(">BBI", raw[:6])
    if b0 != 0 or b1 & 0xF8:
        raise Reject("ReservedBitsSet",
                     f"transmission header bytes 0-1 are {raw[:2].hex()}")
    cid = b1 & 0x07
    if cid >= len(COMPRESSION):
        raise Reject("UnknownCompression", f"compression id {cid}")
    if body_len == 0:
        raise Reject("EmptyTransmission", "body length 0")
    if body_len > MAX_TRANSMISSION:
        raise Reject("TransmissionTooLarge",
                     f"body length {body_len} > max_transmission {MAX_TRANSMISSION}")
    body = raw[6:]
    # §4 step 2 names both errors.
    if len(body) < body_len:
        raise Reject("Truncated", f"header gives a body of {body_len} bytes, "
                     f"the file has {len(body)}")
    if len(body) > body_len:
        raise Reject("BytesAfterTransmission", f"{len(body) - body_len} bytes "
                     "after the body; a transmission decoded on its own ends "
                     "with it (§4)")
    return cid, body


def _stream_decompress(d, body, what):
    """Runs a bz2/lzma/zlib decompressor object with the §3 checks.

    The streaming objects stop at the end of the first stream and leave
    what follows in `unused_data` (xz stream padding included), where the
    one-shot bz2/lzma.decompress would go on to the next stream or skip
    padding. `max_length` stops the output one byte past the limit.
    """
    try:
        out = d.decompress(body, MAX_DECOMPRESSED + 1)
    except (OSError, ValueError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise Reject("Decompress", f"{what}: {exc}")
    if len(out) > MAX_DECOMPRESSED:
        raise Reject("Decompress", f"{what}: output passes max_decompressed")
    if not d.eof:
        raise Reject("Decompress", f"{what}: the stream is incomplete")
    leftover = d.unused_data + getattr(d, "unconsumed_tail", b"")
    if leftover:
        raise Reject("Decompress",
                     f"{what}: {len(leftover)} bytes after the end of the stream")
    return out


def decompress(cid, body):
    if cid == 0:
        return body
    if cid == 1:
        return _stream_decompress(bz2.BZ2Decompressor(), body, "bz2")
    if cid == 2:
        return _stream_decompress(zlib.decompressobj(wbits=31), body, "gzip")
    if cid == 3:
        return _stream_decompress(lzma.LZMADecompressor(format=lzma.FORMAT_XZ),
                                  body, "lzma")
    if cid == 4:
        return _stream_decompress(zlib.decompressobj(), body, "zlib")
    # cid == 5: snappy raw block. Check the declared length before inflating.
    declared, shift, pos = 0, 0, 0
    while True:
        if pos >= len(body) or pos >= 5:
            raise Reject("Decompress", "snappy: bad length varint")
        byte = body[pos]
        declared |= (byte & 0x7F) << shift
        pos += 1
        shift += 7
        if not byte & 0x80:
            break
    if declared > MAX_DECOMPRESSED:
        raise Reject("Decompress",
                     f"snappy: declared length {declared} passes max_decompressed")
    try:
        out = bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:  # cramjam.DecompressionError and friends
        raise Reject("Decompress", f"snappy: {exc}")
    if len(out) != declared:
        raise Reject("Decompress", f"snappy: {len(out)} bytes, declared {declared}")
    return out


# ---------------------------------------------------------------------------
# §5 message framing


class Message:
    def __init__(self, index, from_key, to_key, opcode, flags, body, header_sig):
        self.index = index
        self.from_key = from_key
        self.to_key = to_key
        self.opcode = opcode
        self.encrypted = bool(flags & 0x01)
        self.signed = bool(flags & 0x02)
        self.body = body              # the payload bytes as sent
        self.header_sig = header_sig  # header minus its length field (2K+2)
        self.content = body
        self.signature = None
        self.value = None             # decoded content, if not encrypted

    @property
    def signed_bytes(self):
        """What the signature covers (§5.2)."""
        return self.header_sig + self.content


def split_messages(body, k):
    """All framing errors of §4/§5 come out of here, before any payload is read."""
    hlen = 2 * k + 6
    if not body:
        raise Reject("EmptyTransmission", "the body decompresses to 0 bytes (§4)")
    messages, off = [], 0
    while off < len(body):
        if len(messages) == MAX_MESSAGES:
            raise Reject("TooManyMessages", f"more than {MAX_MESSAGES} messages")
        i = len(messages)
        if len(body) - off < hlen:
            raise Reject("Truncated", f"message {i}: {len(body) - off} bytes left, "
                         f"header needs {hlen}")
        hdr = body[off:off + hlen]
        op_byte, flags = hdr[2 * k], hdr[2 * k + 1]
        (plen,) = struct.unpack(">I", hdr[2 * k + 2:])
        if op_byte & 0x0F:
            raise Reject("ReservedBitsSet", f"message {i}: opcode byte {op_byte:#04x} "
                         "has low bits set (§5)")
        if flags & 0xFC:
            raise Reject("ReservedBitsSet", f"message {i}: flags byte {flags:#04x} "
                         "has reserved bits set (§5)")
        if plen > MAX_PAYLOAD:
            raise Reject("PayloadTooLarge", f"message {i}: payload length {plen}")
        start = off + hlen
        if plen > len(body) - start:
            raise Reject("PayloadPastEnd", f"message {i}: payload length {plen}, "
                         f"{len(body) - start} bytes left")
        messages.append(Message(i, hdr[:k], hdr[k:2 * k], op_byte >> 4, flags,
                                body[start:start + plen], hdr[:2 * k + 2]))
        off = start + plen
    return messages


# ---------------------------------------------------------------------------
# §7 restricted msgpack


class WireMap:
    """A decoded map: its (key, value) pairs in wire order."""

    def __init__(self, pairs):
        self.pairs = pairs

    def get(self, key):
        for k, v in self.pairs:
            if k == key:
                return v
        raise KeyError(key)


def _ext_hook(code, data):
    raise Reject("ExtType", f"ext type {code}")


def _pairs_hook(pairs):
    seen = set()
    for key, _ in pairs:
        if type(key) is not str:
            raise Reject("NonStringKey", f"map key {key!r}")
        if key in seen:
            raise Reject("DuplicateKey", f"map key {key!r} repeats")
        seen.add(key)
    return WireMap(pairs)


def _check_tree(value):
    """Depth, value count and leftover types of a value msgpack accepted."""
    count = 0
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise Reject("TooManyValues", f"more than {MAX_VALUES} values")
        if isinstance(v, (list, WireMap)):
            if depth + 1 > MAX_DEPTH:
                raise Reject("TooDeep", f"nesting deeper than {MAX_DEPTH}")
            if isinstance(v, list):
                stack.extend((x, depth + 1) for x in v)
            else:
                for key, x in v.pairs:
                    stack.append((key, depth + 1))
                    stack.append((x, depth + 1))
        elif isinstance(v, msgpack.Timestamp):
            raise Reject("ExtType", "ext type -1 (timestamp)")
        elif v is not None and type(v) not in (bool, int, float, str, bytes):
            raise Reject("MsgpackType", f"unexpected decoded type {type(v)}",
                         certain=False)


def _library_decode(content):
    """Decodes with the msgpack library; returns (value, error name, detail)."""
    try:
        value = msgpack.unpackb(
            content, raw=False, strict_map_key=False, use_list=True,
            ext_hook=_ext_hook, object_pairs_hook=_pairs_hook)
    except Reject as exc:
        return None, exc.name, exc.detail
    except msgpack.ExtraData as exc:
        # The value itself came first in the bytes: its faults win.
        try:
            _check_tree(exc.unpacked)
        except Reject as inner:
            return None, inner.name, inner.detail
        return None, "TrailingBytes", f"{len(exc.extra)} bytes after the value"
    except msgpack.StackError:
        return None, "TooDeep", "msgpack's own nesting limit"
    except msgpack.FormatError:
        return None, "ReservedMarker", "msgpack FormatError (marker 0xc1)"
    except UnicodeDecodeError as exc:
        return None, "InvalidUtf8", str(exc)
    except ValueError as exc:
        text = str(exc)
        if "incomplete input" in text or any(
                f"max_{t}_len" in text for t in ("str", "bin", "array", "map")):
            return None, "UnexpectedEnd", text
        if "max_ext_len" in text or "timestamp" in text:
            return None, "ExtType", text
        return None, None, f"msgpack ValueError: {text}"
    except Exception as exc:  # anything else msgpack may raise
        return None, None, f"msgpack {type(exc).__name__}: {exc}"
    try:
        _check_tree(value)
    except Reject as exc:
        return None, exc.name, exc.detail
    return value, None, None


def _scan(buf):
    """A structural walk of restricted msgpack in wire order.

    Returns None if `buf` is exactly one valid restricted value, else
    (error name, detail) for the first violation in the bytes. It names
    errors precisely where msgpack's exceptions cannot (e.g. a truncated ext
    is an ExtType before it is an UnexpectedEnd), and it is a second,
    independent acceptance check.
    """
    n, pos, count = len(buf), 0, 0
    stack = []  # per open container: [items left, is map, seen keys]

    def take(size):
        nonlocal pos
        if pos + size > n:
            raise Reject("UnexpectedEnd", f"needs {size} bytes at offset {pos}")
        chunk = buf[pos:pos + size]
        pos += size
        return chunk

    def uint(size):
        return int.from_bytes(take(size), "big")

    try:
        while True:
            top = stack[-1] if stack else None
            is_key = top is not None and top[1] and top[0] % 2 == 0
            marker = take(1)[0]
            count += 1
            if count > MAX_VALUES:
                raise Reject("TooManyValues", f"more than {MAX_VALUES} values")
            length, kind = None, "scalar"
            if marker <= 0x7F or marker >= 0xE0:
                pass
            elif 0x80 <= marker <= 0x8F:
                kind, length = "map", marker & 0x0F
            elif 0x90 <= marker <= 0x9F:
                kind, length = "array", marker & 0x0F
            elif 0xA0 <= marker <= 0xBF:
                kind, length = "str", marker & 0x1F
            elif marker == 0xC1:
                raise Reject("ReservedMarker", f"0xc1 at offset {pos - 1}")
            elif marker in (0xC7, 0xC8, 0xC9) or 0xD4 <= marker <= 0xD8:
                raise Reject("ExtType", f"marker {marker:#04x} at offset {pos - 1}")
            elif marker in (0xC0, 0xC2, 0xC3):
                pass
            elif marker in (0xC4, 0xC5, 0xC6):
                kind, length = "bin", uint({0xC4: 1, 0xC5: 2, 0xC6: 4}[marker])
            elif marker in (0xCA, 0xCB):
                take(4 if marker == 0xCA else 8)
            elif 0xCC <= marker <= 0xD3:
                take(1 << ((marker - 0xCC) % 4))
            elif marker in (0xD9, 0xDA, 0xDB):
                kind, length = "str", uint({0xD9: 1, 0xDA: 2, 0xDB: 4}[marker])
            elif marker in (0xDC, 0xDD):
                kind, length = "array", uint(2 if marker == 0xDC else 4)
            else:  # 0xDE, 0xDF
                kind, length = "map", uint(2 if marker == 0xDE else 4)
            if is_key and kind != "str":
                raise Reject("NonStringKey", f"{kind} key at offset {pos - 1}")
            if kind == "bin":
                take(length)
            elif kind == "str":
                raw = take(length)
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise Reject("InvalidUtf8", str(exc))
                if is_key:
                    if raw in top[2]:
                        raise Reject("DuplicateKey", f"key {raw!r} repeats")
                    top[2].add(raw)
            elif kind in ("array", "map"):
                if len(stack) + 1 > MAX_DEPTH:
                    raise Reject("TooDeep", f"nesting deeper than {MAX_DEPTH}")
                if length:
                    stack.append([length * (2 if kind == "map" else 1),
                                  kind == "map", set()])
                    continue
            # One value is complete: close every container it completes.
            while stack:
                stack[-1][0] -= 1
                if stack[-1][0]:
                    break
                stack.pop()
            if not stack:
                break
        if pos != n:
            raise Reject("TrailingBytes", f"{n - pos} bytes after the value")
    except Reject as exc:
        return exc.name, exc.detail
    return None


def decode_value(content):
    """Decodes one restricted msgpack value (§7) or raises Reject."""
    value, lib_name, lib_detail = _library_decode(content)
    scanned = _scan(content)
    if lib_name is None and lib_detail is None and scanned is None:
        return value
    if scanned is None:
        raise Reject(lib_name or "?", f"msgpack rejects ({lib_detail}) but the "
                     "structural scan accepts", certain=False)
    name, detail = scanned
    if lib_name is None and lib_detail is None:
        raise Reject(name, f"{detail} (found by the structural scan only; "
                     "msgpack accepted)", certain=False)
    if lib_name == name:
        raise Reject(name, detail)
    # Several faults, found in another order by msgpack (it checks a
    # container's declared length up front, and map keys only once the map
    # is complete); the spec fixes no precedence between them.
    raise Reject(name, f"{detail}, the first fault in wire order; msgpack "
                 f"reports {lib_name or lib_detail}", certain=False)


# ---------------------------------------------------------------------------
# §8 payload schemas


class Schema:
    """Checks for one message; errors are Reject('MALFORMED'|'TOO_LARGE')."""

    def __init__(self, profile, msg, content=None):
        self.profile = profile
        self.k, self.s = PROFILES[profile]
        self.msg = msg
        # The encoded value: the content, or the plaintext of an encrypted one.
        self.content = msg.content if content is None else content

    def fail(self, where, what, name="MALFORMED"):
        raise Reject(name, f"message {self.msg.index} "
                     f"({OPCODE_NAMES[self.msg.opcode]}) {where}: {what}")

    # element types -------------------------------------------------------

    def uint(self, v, where):
        if type(v) is not int or not 0 <= v < 2 ** 64:
            self.fail(where, f"expected uint, got {_describe(v)}")
        return v

    def uint_or_nil(self, v, where):
        if v is not None:
            self.uint(v, where)

    def binary(self, v, where, size=None, limit=None):
        if type(v) is not bytes:
            self.fail(where, f"expected bin, got {_describe(v)}")
        if size is not None and len(v) != size:
            self.fail(where, f"expected bin({size}), got bin({len(v)})")
        if limit is not None and len(v) > limit:
            self.fail(where, f"{len(v)} bytes > {limit}", "TOO_LARGE")
        return v

    def key(self, v, where):
        """bin(K) holding a key field of the profile (§2)."""
        self.binary(v, where, self.k)
        problem = key_field_problem(self.profile, v)
        if problem:
            self.fail(where, problem)
        return v

    def string(self, v, where, lo=0, hi=None):
        if type(v) is not str:
            self.fail(where, f"expected str, got {_describe(v)}")
        size = len(v.encode("utf-8"))
        if size < lo:
            self.fail(where, f"{size} bytes < {lo}")
        if hi is not None and size > hi:
            self.fail(where, f"{size} bytes > {hi}", "TOO_LARGE")
        return v

    def array(self, v, where, lo, hi=None):
        """An array of lo..hi elements (hi None: exactly lo)."""
        hi = lo if hi is None else hi
        if type(v) is not list:
            self.fail(where, f"expected array, got {_describe(v)}")
        if not lo <= len(v) <= hi:
            self.fail(where, f"{len(v)} elements, schema allows {lo}..{hi}")
        return v

    def list_of(self, v, where, hi):
        """An array of 0..hi elements where going over is TOO_LARGE."""
        if type(v) is not list:
            self.fail(where, f"expected array, got {_describe(v)}")
        if len(v) > hi:
            self.fail(where, f"{len(v)} elements > {hi}", "TOO_LARGE")
        return v

    def exact_map(self, v, where, keys):
        if not isinstance(v, WireMap):
            self.fail(where, f"expected map, got {_describe(v)}")
        got = [k for k, _ in v.pairs]
        if sorted(got) != sorted(keys):
            self.fail(where, f"keys {got}, expected exactly {sorted(keys)}")
        return v

    # common fields -------------------------------------------------------

    def socket_addr(self, v, where):
        self.string(v, where)
        problem = socket_addr_problem(v)
        if problem:
            self.fail(where, f"{v!r}: {problem}")

    def node_info(self, v, where):
        key, listen, relays = self.array(v, where, 3)
        self.key(key, f"{where}.key")
        for i, addr in enumerate(self.list_of(listen, f"{where}.listen", MAX_LISTEN)):
            self.socket_addr(addr, f"{where}.listen[{i}]")
        for i, relay in enumerate(self.list_of(relays, f"{where}.relays", MAX_RELAYS)):
            self.key(relay, f"{where}.relays[{i}]")

    def nodes(self, v, where):
        for i, node in enumerate(self.list_of(v, where, MAX_NODES)):
            self.node_info(node, f"{where}[{i}]")

    def metadata(self, v, where):
        m = self.exact_map(v, where,
                           ["version", "ttl", "stored_at", "publisher", "lock"])
        for name in ("version", "ttl", "stored_at"):
            self.uint(m.get(name), f"{where}.{name}")
        self.key(m.get("publisher"), f"{where}.publisher")
        lock = m.get("lock")
        if lock is not None:
            lock = self.exact_map(lock, f"{where}.lock", ["holder", "expires"])
            self.key(lock.get("holder"), f"{where}.lock.holder")
            self.uint(lock.get("expires"), f"{where}.lock.expires")

    def dht_key(self, v, where):
        return self.binary(v, where, limit=MAX_DHT_KEY)

    def dht_value(self, index, where):
        """The encoded size of top-level array element `index` (§8.7, §11)."""
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        unpacker.feed(self.content)
        unpacker.read_array_header()
        for _ in range(index):
            unpacker.skip()
        start = unpacker.tell()
        unpacker.skip()
        size = unpacker.tell() - start
        if size > MAX_DHT_VALUE:
            self.fail(where, f"encoded value is {size} bytes > {MAX_DHT_VALUE}",
                      "TOO_LARGE")

    def address_of(self, address, key, where):
        if hashlib.sha256(key).digest() != address:
            self.fail(where, "address is not SHA-256 of key")

    # payloads ------------------------------------------------------------

    def check(self, v):
        op = self.msg.opcode
        if op == PING:  # a keepalive, §8.1
            p = self.array(v, "payload", 1)
            self.uint(p[0], "request_id")
        elif op == ACK:
            self.ack(v)
        elif op == NACK:
            self.nack(v)
        elif op == SET_CONNECTION_OPT:
            p = self.array(v, "payload", 3)
            self.uint(p[0], "request_id")
            self.uint(p[1], "option")
            self.uint(p[2], "setting")
        elif op in (SHOUT, SPEAK):
            p = self.array(v, "payload", 2)
            self.uint(p[0], "nonce")
        elif op == WHISPER:
            p = self.array(v, "payload", 2)
            self.uint(p[0], "request_id")
        elif op == FIND_NODE:
            p = self.array(v, "payload", 2)
            self.uint(p[0], "request_id")
            self.binary(p[1], "target", 32)
        elif op == FIND_VALUE:
            p = self.array(v, "payload", 3)
            self.uint(p[0], "request_id")
            self.binary(p[1], "address", 32)
            self.dht_key(p[2], "key")
            self.address_of(p[1], p[2], "address")
        elif op == STORE:
            p = self.array(v, "payload", 4, 6)
            self.uint(p[0], "request_id")
            self.binary(p[1], "address", 32)
            self.dht_key(p[2], "key")
            self.address_of(p[1], p[2], "address")
            self.dht_value(3, "value")
            for i, name in enumerate(("version", "ttl"), start=4):
                if len(p) > i:
                    self.uint(p[i], name)
        elif op == CUSTOM:
            p = self.array(v, "payload", 3)
            self.uint_or_nil(p[0], "request_id")
            self.string(p[1], "name", 1, MAX_CUSTOM_NAME)
        # 10-14 are reserved: no schema, any restricted value.

    def ack(self, v):
        self.array(v, "payload", 2, 5)
        acked = self.uint(v[0], "acked_opcode")
        self.uint(v[1], "request_id")
        r = v[2:]
        name = OPCODE_NAMES.get(acked, str(acked))
        if acked == PING:  # no result, §8.2
            self.array(r, "result", 0)
        elif acked == SET_CONNECTION_OPT:
            self.array(r, "result", 2)
            self.uint(r[0], "option")
            self.uint(r[1], "setting")
        elif acked == WHISPER:
            self.array(r, "result", 1)
            self.binary(r[0], "digest", 32)
        elif acked == FIND_NODE:
            self.array(r, "result", 1)
            self.nodes(r[0], "nodes")
        elif acked == FIND_VALUE:
            self.array(r, "result", 1, 3)
            if len(r) == 1:
                self.nodes(r[0], "nodes")
            elif len(r) == 3:
                self.dht_key(r[0], "key")
                self.dht_value(3, "value")
                self.metadata(r[2], "metadata")
            else:
                self.fail("result", "2 elements: neither nodes nor key, value, metadata")
        elif acked == STORE:
            self.array(r, "result", 2)
            self.dht_key(r[0], "key")
            self.metadata(r[1], "metadata")
        elif acked == CUSTOM:
            self.array(r, "result", 1)
        else:
            self.fail("acked_opcode", f"ACK of {name} is malformed (§8.2)")

    def nack(self, v):
        p = self.array(v, "payload", 4, 5)
        acked = self.uint(p[0], "acked_opcode")
        if acked > 15:
            self.fail("acked_opcode", f"{acked} is not an opcode")
        self.uint_or_nil(p[1], "request_id")
        code = self.uint(p[2], "code")
        self.string(p[3], "reason", 0, MAX_NACK_REASON)
        if len(p) == 5:
            if acked == SET_CONNECTION_OPT:
                d = self.array(p[4], "detail", 2)
                self.uint(d[0], "detail.option")
                self.uint(d[1], "detail.setting")
            elif code in (LOCKED, CONFLICT):
                self.metadata(p[4], "detail")


def key_field_problem(profile, key):
    """None if `key` is a well-formed key field of `profile` (§2)."""
    if profile == "ed25519":
        return ed25519_key_problem(key)
    if profile == "rsa2048":
        if not (key.startswith(RSA_DER_PREFIX) and key.endswith(RSA_DER_SUFFIX)):
            return "not the 270-byte DER RSAPublicKey layout of §2"
        if key[len(RSA_DER_PREFIX)] < 0x80:
            return "modulus is not 2048 bits"
    return None


def socket_addr_problem(text):
    """None if `text` is IPv4:port or [IPv6]:port (§8 node_info)."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            return "expected [IPv6]:port"
        if "%" in host:
            return "an IPv6 zone id (§8)"
        if not _is_ipv6(host):
            return "bad IPv6 address"
        if host != _canonical_ipv6(host):
            return (f"IPv6 not in the canonical form of RFC 5952 "
                    f"({_canonical_ipv6(host)!r}, §8)")
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            return "no port"
        if not _is_ipv4(host):
            return "bad IPv4 address"
    if not (port.isascii() and port.isdigit() and len(port) <= 5
            and int(port) <= 65535):
        return "bad port"
    if port != "0" and port.startswith("0"):
        return "a port with leading zeros (§8)"
    return None


def _canonical_ipv6(text):
    """The RFC 5952 text of an IPv6 address (§8): lowercase hex without
    leading zeros, `::` for the longest run of two or more zero groups (the
    first on a tie), and an IPv4-mapped address as ::ffff:a.b.c.d."""
    packed = ipaddress.IPv6Address(text).packed
    groups = struct.unpack(">8H", packed)
    if groups[:6] == (0, 0, 0, 0, 0, 0xFFFF):
        return "::ffff:" + ".".join(str(b) for b in packed[12:])
    best_start, best_len, start = None, 1, None
    for i, g in enumerate(groups + (1,)):
        if g == 0 and start is None:
            start = i
        elif g != 0 and start is not None:
            if i - start > best_len:
                best_start, best_len = start, i - start
            start = None
    text = [f"{g:x}" for g in groups]
    if best_start is None:
        return ":".join(text)
    return (":".join(text[:best_start]) + "::"
            + ":".join(text[best_start + best_len:]))


def _is_ipv4(text):
    parts = text.split(".")
    return len(parts) == 4 and all(
        p.isascii() and p.isdigit() and len(p) <= 3 and int(p) <= 255
        and (p == "0" or not p.startswith("0")) for p in parts)


def _is_ipv6(text):
    def groups(s):
        if not s:
            return 0
        parts = s.split(":")
        count = 0
        for i, p in enumerate(parts):
            if i == len(parts) - 1 and "." in p:
                if not _is_ipv4(p):
                    return None
                count += 2
            elif 1 <= len(p) <= 4 and all(c in "0123456789abcdefABCDEF" for c in p):
                count += 1
            else:
                return None
        return count

    if text.count("::") > 1:
        return False
    if "::" in text:
        head, tail = text.split("::")
        if tail and "." in head:
            return False
        h, t = groups(head), groups(tail)
        return h is not None and t is not None and h + t <= 7
    return groups(text) == 8


def _describe(v):
    if isinstance(v, WireMap):
        return "map"
    if type(v) is list:
        return "array"
    return {type(None): "nil", bool: "bool", int: "int", float: "float",
            str: "str", bytes: "bin"}.get(type(v), type(v).__name__)


# ---------------------------------------------------------------------------
# whole-transmission decoding


def header_problems(profile, msg):
    """MUSTs of §2/§5.2/§8.5 that concern the header rather than the payload."""
    k = PROFILES[profile][0]
    zero = bytes(k)
    name = OPCODE_NAMES[msg.opcode]
    if msg.from_key == zero:
        return "the from-key is the broadcast key (§2)"
    if msg.to_key == zero:
        if msg.opcode not in (SHOUT, SPEAK):
            return f"broadcast to-key on {name} (§2)"
    elif msg.opcode == SHOUT:
        return "SHOUT's to-key is not the broadcast key (§8.5)"
    if msg.opcode == SHOUT and not msg.signed:
        return "SHOUT MUST be signed (§5.2)"
    for what, key in (("from-key", msg.from_key), ("to-key", msg.to_key)):
        if key != zero:
            problem = key_field_problem(profile, key)
            if problem:
                return f"{what}: {problem}"
    return None


def decode_transmission(raw, profile):
    """Returns (compression name, [Message]) or raises Reject."""
    k, s = PROFILES[profile]
    cid, body = parse_transmission(raw)
    messages = split_messages(decompress(cid, body), k)
    for msg in messages:
        if msg.signed:
            if len(msg.body) < s:
                raise Reject("MissingSignature", f"message {msg.index}: signed body "
                             f"of {len(msg.body)} bytes < S = {s}")
            msg.content, msg.signature = msg.body[:-s], msg.body[-s:]
            # Signatures are verified (and ciphertexts decrypted) afterwards,
            # by CryptoLayer.check, with the fixture keys.
        if not msg.encrypted:
            try:
                msg.value = decode_value(msg.content)
            except Reject as exc:
                refused = Reject(exc.name, f"message {msg.index}: {exc.detail}",
                                 exc.certain, message=msg.index)
                refused.msg = msg
                raise refused
            try:
                Schema(profile, msg).check(msg.value)
            except Reject as exc:
                exc.message, exc.msg = msg.index, msg
                raise
        problem = header_problems(profile, msg)
        if problem:
            raise Reject("Header", f"message {msg.index}: {problem}", certain=False)
    return COMPRESSION[cid], messages


# ---------------------------------------------------------------------------
# §13 JSON forms


def value_to_json(v):
    if v is None or type(v) in (bool, int, str):
        return v
    if type(v) is float:
        if v != v:
            return {"$float": "NaN"}
        if v in (float("inf"), float("-inf")):
            return {"$float": "Infinity" if v > 0 else "-Infinity"}
        return {"$float": v}
    if type(v) is bytes:
        return {"$bin": v.hex()}
    if type(v) is list:
        return [value_to_json(x) for x in v]
    obj = {key: value_to_json(x) for key, x in v.pairs}
    if len(obj) == 1 and next(iter(obj)).startswith("$"):
        return {"$map": obj}
    return obj


def message_to_json(msg):
    obj = {
        "from": msg.from_key.hex(),
        "to": msg.to_key.hex(),
        "opcode": OPCODE_NAMES[msg.opcode],
        "encrypted": msg.encrypted,
        "signed": msg.signed,
    }
    if msg.encrypted:
        obj["payload_hex"] = msg.content.hex()
    else:
        obj["payload"] = value_to_json(msg.value)
    if msg.signed:
        obj["signature"] = msg.signature.hex()
    return obj


def _float_bits(x):
    return struct.pack(">d", float(x))


def value_diff(exp, act, path):
    """None if the JSON value `exp` equals `act` exactly, maps in order."""
    if type(exp) is dict and type(act) is dict:
        if list(exp) != list(act):
            return f"{path}: keys {list(exp)} != decoded {list(act)} (wire order)"
        if list(act) == ["$float"] and type(act["$float"]) is float:
            x = exp["$float"]
            try:
                same = type(x) in (int, float) and _float_bits(x) == _float_bits(act["$float"])
            except OverflowError:
                same = False
            return None if same else f"{path}: {x!r} != decoded {act['$float']!r}"
        for key in exp:
            d = value_diff(exp[key], act[key], f"{path}.{key}")
            if d:
                return d
        return None
    if type(exp) is list and type(act) is list:
        if len(exp) != len(act):
            return f"{path}: {len(exp)} elements != decoded {len(act)}"
        for i, (e, a) in enumerate(zip(exp, act)):
            d = value_diff(e, a, f"{path}[{i}]")
            if d:
                return d
        return None
    if type(exp) is not type(act) or exp != act:
        return f"{path}: {json.dumps(exp)[:80]} != decoded {json.dumps(act)[:80]}"
    return None


def compare_messages(expected, messages):
    if type(expected) is not list:
        raise Mismatch('"messages" is not an array')
    if len(expected) != len(messages):
        raise Mismatch(f"the JSON has {len(expected)} messages, "
                       f"the transmission {len(messages)}")
    for i, (exp, msg) in enumerate(zip(expected, messages)):
        act = message_to_json(msg)
        if type(exp) is not dict:
            raise Mismatch(f"messages[{i}] is not an object")
        # The crypto annotations are checked (placement included) by CryptoLayer.
        fields = set(exp) - MESSAGE_CRYPTO_FIELDS
        if fields != set(act):
            raise Mismatch(f"messages[{i}] has fields {sorted(fields)}, "
                           f"expected {sorted(act)}")
        for field in act:
            d = value_diff(exp[field], act[field], f"messages[{i}].{field}")
            if d:
                raise Mismatch(d)


# ---------------------------------------------------------------------------
# §5.3-§5.5 cryptography

ED25519_P = 2 ** 255 - 19
ED25519_L = 2 ** 252 + 27742317777372353535851937790883648493  # group order
ED25519_D = -121665 * pow(121666, ED25519_P - 2, ED25519_P) % ED25519_P
ED25519_SQRT_M1 = pow(2, (ED25519_P - 1) // 4, ED25519_P)
HKDF_INFO = b"shoutnet/1 ed25519 encryption"   # §5.4
# §5.4: what precedes ChaCha20-Poly1305's output: E (ed25519), W (rsa2048).
KEY_PREFIX = {"ed25519": 32, "rsa2048": 256}
TAG = 16
ZERO_NONCE = bytes(12)
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(),
                    label=None)

# The §10 names an invalid vector may give for a transmission that frames
# and decodes, but whose cryptography fails.
CRYPTO_ERRORS = {"BAD_SIGNATURE", "DECRYPT_FAILED"}
# Fields a message's JSON object may carry besides those of §13 (README).
MESSAGE_CRYPTO_FIELDS = {"plaintext", "signature_valid"}


def rsa_public_numbers(der):
    """(n, e) of a DER PKCS#1 RSAPublicKey, SEQUENCE { INTEGER n, INTEGER e }."""

    def tlv(buf, pos, tag, what):
        if pos + 2 > len(buf) or buf[pos] != tag:
            raise ValueError(f"{what}: expected DER tag {tag:#04x}")
        length, pos = buf[pos + 1], pos + 2
        if length & 0x80:
            size = length & 0x7F
            if not 1 <= size <= 4 or pos + size > len(buf):
                raise ValueError(f"{what}: bad DER length")
            length = int.from_bytes(buf[pos:pos + size], "big")
            if length < 0x80 or buf[pos] == 0:
                raise ValueError(f"{what}: DER length not in its shortest form")
            pos += size
        if pos + length > len(buf):
            raise ValueError(f"{what}: DER length runs past the end")
        return buf[pos:pos + length], pos + length

    def integer(buf, pos, what):
        body, pos = tlv(buf, pos, 0x02, what)
        if not body or body[0] & 0x80:
            raise ValueError(f"{what}: not a positive INTEGER")
        if len(body) > 1 and body[0] == 0 and not body[1] & 0x80:
            raise ValueError(f"{what}: INTEGER not in its shortest form")
        return int.from_bytes(body, "big"), pos

    seq, end = tlv(der, 0, 0x30, "RSAPublicKey")
    if end != len(der):
        raise ValueError("bytes after the RSAPublicKey SEQUENCE")
    n, pos = integer(seq, 0, "modulus")
    e, pos = integer(seq, pos, "publicExponent")
    if pos != len(seq):
        raise ValueError("more than two INTEGERs in RSAPublicKey")
    return n, e


_PUBLIC_KEYS = {}


def public_key(profile, key_field):
    """The `cryptography` public key of a key field (§2); raises ValueError."""
    cached = _PUBLIC_KEYS.get((profile, key_field))
    if cached is None:
        if profile == "ed25519":
            cached = ed25519.Ed25519PublicKey.from_public_bytes(key_field)
        else:
            n, e = rsa_public_numbers(key_field)
            cached = rsa.RSAPublicNumbers(e, n).public_key()
        _PUBLIC_KEYS[(profile, key_field)] = cached
    return cached


def ed25519_point(encoding):
    """(x, y) of a 32-byte Edwards point encoding (RFC 8032 §5.1.3); raises
    ValueError if it is not canonical (§2: y < 2^255 - 19) or no point."""
    p = ED25519_P
    y = int.from_bytes(encoding, "little") & ((1 << 255) - 1)
    sign = encoding[31] >> 7
    if y >= p:
        raise ValueError("y is not below 2^255 - 19: not canonical")
    # -x^2 + y^2 = 1 + d x^2 y^2, so x^2 = (y^2 - 1) / (d y^2 + 1).
    x2 = (y * y - 1) * pow(ED25519_D * y * y + 1, p - 2, p) % p
    x = pow(x2, (p + 3) // 8, p)
    if (x * x - x2) % p:
        x = x * ED25519_SQRT_M1 % p
    if (x * x - x2) % p:
        raise ValueError("no curve point has this y")
    if x == 0 and sign:
        raise ValueError("x = 0 with the sign bit set: not canonical")
    if x & 1 != sign:
        x = p - x
    return x, y


def _edwards_add(a, b):
    """The sum of two points of edwards25519 (the complete addition law)."""
    p = ED25519_P
    (x1, y1), (x2, y2) = a, b
    t = ED25519_D * x1 * x2 * y1 * y2 % p
    return ((x1 * y2 + x2 * y1) * pow(1 + t, p - 2, p) % p,
            (y1 * y2 + x1 * x2) * pow(1 - t, p - 2, p) % p)


def ed25519_small_order(point):
    """Whether [8]point is the identity (0, 1): a point of order 1-8."""
    for _ in range(3):
        point = _edwards_add(point, point)
    return point == (0, 1)


_ED25519_KEY_PROBLEMS = {}


def ed25519_key_problem(key):
    """None if `key` is a valid ed25519 key field (§2): a canonical encoding
    of a curve point that is not of small order."""
    if key not in _ED25519_KEY_PROBLEMS:
        try:
            problem = ("a point of small order" if ed25519_small_order(
                ed25519_point(key)) else None)
        except ValueError as exc:
            problem = str(exc)
        _ED25519_KEY_PROBLEMS[key] = problem and f"not a valid Ed25519 key: {problem}"
    return _ED25519_KEY_PROBLEMS[key]


def ed25519_strict_problem(key_field, signature):
    """The strict checks of §5.3 that an Ed25519 verifier may skip: S below
    L, and neither the key nor R of small order (nor, for R, non-canonical)."""
    if len(signature) != 64:
        return f"an Ed25519 signature of {len(signature)} bytes"
    if int.from_bytes(signature[32:], "little") >= ED25519_L:
        return "S is not below L (§5.3: strict)"
    problem = ed25519_key_problem(key_field)
    if problem:
        return f"the key: {problem} (§5.3: strict)"
    try:
        if ed25519_small_order(ed25519_point(signature[:32])):
            return "R is of small order (§5.3: strict)"
    except ValueError as exc:
        return f"R: {exc}"
    return None


def verify(profile, key_field, signature, data):
    """None if `signature` is the §5.3 signature of `data` by `key_field`."""
    try:
        key = public_key(profile, key_field)
    except ValueError as exc:
        return f"the key field is not a usable public key ({exc})"
    if profile == "ed25519":
        problem = ed25519_strict_problem(key_field, signature)
        if problem:
            return problem
    try:
        if profile == "ed25519":
            key.verify(signature, data)
        else:
            key.verify(signature, data, PSS, hashes.SHA256())
    except InvalidSignature:
        scheme = "Ed25519" if profile == "ed25519" else "RSASSA-PSS"
        return f"{scheme} signature does not verify"
    return None


def key_field_of(private_key):
    """(profile, key field) of a fixture private key, or raises ValueError."""
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return "ed25519", private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if isinstance(private_key, rsa.RSAPrivateKey):
        numbers = private_key.public_key().public_numbers()
        if private_key.key_size != 2048 or numbers.e != 65537:
            raise ValueError("an RSA key but not 2048 bits with e = 65537 (§2)")
        field = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        if rsa_public_numbers(field) != (numbers.n, numbers.e):
            raise ValueError("this decoder's DER parser misreads the key")
        return "rsa2048", field
    raise ValueError(f"unsupported key type {type(private_key).__name__}")


def load_fixture_keys(directory):
    """Returns ({(profile, key field): (name, private key)}, [problem])."""
    keys, problems = {}, []
    try:
        listed = json.loads((directory / "public.json").read_text(encoding="utf-8"),
                            object_pairs_hook=_json_pairs)
    except (OSError, ValueError) as exc:
        return keys, [f"{directory / 'public.json'}: {exc}"]
    if type(listed) is not dict:
        return keys, [f"{directory / 'public.json'} is not a JSON object"]
    for name, hex_field in listed.items():
        try:
            pem = (directory / f"{name}.pem").read_bytes()
            private = serialization.load_pem_private_key(pem, password=None)
            profile, field = key_field_of(private)
        except (OSError, ValueError, TypeError) as exc:
            problems.append(f"{name}.pem: {exc}")
            continue
        if hex_field != field.hex():
            problems.append(f"public.json[{name!r}] is not the key field of "
                            f"{name}.pem")
            continue
        keys[(profile, field)] = (name, private)
    for pem in sorted(directory.glob("*.pem")):
        if pem.stem not in listed:
            problems.append(f"{pem.name} is not listed in public.json")
    return keys, problems


def montgomery_u(key_field):
    """R of §5.4: the X25519 public key (u, 32 bytes little-endian) of an
    Ed25519 key field, u = (1 + y) / (1 - y) mod p (RFC 7748 §4.1)."""
    y = int.from_bytes(key_field, "little") & ((1 << 255) - 1)  # drop x's sign
    if y >= ED25519_P:
        raise ValueError("the key's y coordinate is not reduced mod p")
    if y == 1:
        raise ValueError("the key is the identity point (y = 1), u is undefined")
    u = (1 + y) * pow(1 - y, ED25519_P - 2, ED25519_P) % ED25519_P
    return u.to_bytes(32, "little")


def x25519_private(private_key):
    """§5.4: clamp(SHA-512(Ed25519 seed)[:32]) as an X25519 private key."""
    seed = private_key.private_bytes(serialization.Encoding.Raw,
                                     serialization.PrivateFormat.Raw,
                                     serialization.NoEncryption())
    scalar = bytearray(hashlib.sha512(seed).digest()[:32])
    scalar[0] &= 248
    scalar[31] &= 127
    scalar[31] |= 64
    return x25519.X25519PrivateKey.from_private_bytes(bytes(scalar))


def decrypt(profile, private_key, to_key, content, aad):
    """The plaintext of an encrypted content (§5.4); raises ValueError."""
    prefix = KEY_PREFIX[profile]
    if len(content) < prefix + TAG:
        raise ValueError(f"content of {len(content)} bytes is shorter than the "
                         f"{prefix + TAG}-byte overhead")
    head, sealed = content[:prefix], content[prefix:]
    if profile == "ed25519":
        r = montgomery_u(to_key)
        mine = x25519_private(private_key)
        derived = mine.public_key().public_bytes(serialization.Encoding.Raw,
                                                 serialization.PublicFormat.Raw)
        if derived != r:  # checks the two conversions against each other
            raise ValueError("the X25519 public key of the converted private key "
                             "is not the Montgomery form of the to-key")
        try:
            z = mine.exchange(x25519.X25519PublicKey.from_public_bytes(head))
        except ValueError as exc:  # OpenSSL refuses an all-zero result itself
            raise ValueError(f"X25519 with E fails ({exc})")
        if z == bytes(32):
            raise ValueError("the shared secret Z is all zero")
        k = HKDF(algorithm=hashes.SHA256(), length=32, salt=head + r,
                 info=HKDF_INFO).derive(z)
    else:
        try:
            k = private_key.decrypt(head, OAEP)
        except ValueError:
            raise ValueError("the wrapped key W does not decrypt (RSAES-OAEP)")
        if len(k) != 32:
            raise ValueError(f"W unwraps to {len(k)} bytes, not a 32-byte key")
    try:
        return ChaCha20Poly1305(k).decrypt(ZERO_NONCE, sealed, aad)
    except InvalidTag:
        raise ValueError("the ChaCha20-Poly1305 tag does not verify")


def _hex_bytes(v, size, where):
    if type(v) is not str or len(v) != 2 * size or any(
            c not in "0123456789abcdef" for c in v):
        raise Mismatch(f"{where} is not {size} bytes of lowercase hex")
    return bytes.fromhex(v)


class CryptoLayer:
    """Verifies and decrypts the messages of vectors; counts what it checked.

    `check` returns faults, [(name, text)], where name is BAD_SIGNATURE,
    DECRYPT_FAILED, a §7/§8 error of a plaintext, or a name of this checker
    for a disagreement with the JSON. A JSON annotation in the wrong place or
    form raises Mismatch instead: that is a broken vector whatever the mode.
    """

    def __init__(self, keys, strict):
        self.keys = keys
        self.strict = strict
        self.signatures = self.decrypted = self.bindings = self.handshakes = 0

    def check(self, profile, messages, spec=None):
        """`spec` is the valid vector's JSON (None for an invalid vector:
        nothing is compared or counted). Returns (faults, notes)."""
        faults, notes = [], []
        counting = spec is not None
        expected = spec["messages"] if counting else [{}] * len(messages)
        default_valid = spec.get("signature_valid", True) if counting else True
        if type(default_valid) is not bool:
            raise Mismatch('"signature_valid" is not a boolean')
        for msg, exp in zip(messages, expected):
            at = f"message {msg.index} ({OPCODE_NAMES[msg.opcode]})"
            sig_valid = exp.get("signature_valid", default_valid)
            if "signature_valid" in exp and (type(sig_valid) is not bool
                                             or not msg.signed):
                raise Mismatch(f'{at}: "signature_valid" must be a boolean, '
                               "and only on a signed message")
            if "plaintext" in exp and not msg.encrypted:
                raise Mismatch(f'{at}: "plaintext" on a message that is not encrypted')
            if msg.signed:
                problem = verify(profile, msg.from_key, msg.signature,
                                 msg.signed_bytes)
                if not sig_valid:
                    if not problem:
                        faults.append(("SignatureVerifies", f'{at}: "signature_valid" '
                                       "is false, but the signature verifies (§5.3)"))
                elif problem:
                    faults.append(("BAD_SIGNATURE", f"{at}: {problem} with the "
                                   "from-key over H || content (§5.3)"))
                elif counting:
                    self.signatures += 1
            if msg.encrypted:
                self._decrypt(profile, msg, exp, at, counting, faults, notes)
        return faults, notes

    def _decrypt(self, profile, msg, exp, at, counting, faults, notes):
        """The decrypted value of an encrypted message, or None."""
        fixture = self.keys.get((profile, msg.to_key))
        if fixture is None:
            if "plaintext" in exp:
                notes.append(f'{at}: "plaintext" not checked: the to-key is not '
                             "a fixture key")
            return None
        name, private = fixture
        try:
            plain = decrypt(profile, private, msg.to_key, msg.content,
                            msg.header_sig)
        except ValueError as exc:
            faults.append(("DECRYPT_FAILED", f"{at}: does not decrypt with "
                           f"fixture key {name} (§5.4): {exc}"))
            return None
        try:
            value = decode_value(plain)
            Schema(profile, msg, plain).check(value)
        except Reject as exc:
            faults.append((exc.name, f"{at}: the plaintext is not valid (§5.2): "
                           f"{exc.name}: {exc.detail}"))
            return None
        if counting:
            if "plaintext" not in exp:
                faults.append(("NoPlaintext", f'{at}: encrypted to fixture key '
                               f'{name}, but the JSON has no "plaintext"'))
                return value
            diff = value_diff(exp["plaintext"], value_to_json(value),
                              f"messages[{msg.index}].plaintext")
            if diff:
                faults.append(("PlaintextMismatch", f"{at}: decrypts, but {diff}"))
                return value
            self.decrypted += 1
        return value


# ---------------------------------------------------------------------------
# §9.1 the secure channel: Noise XX, written from the Noise specification
# (revision 34, https://noiseprotocol.org/noise.html) on the `cryptography`
# primitives, and the hello

NOISE_PROTOCOL = "Noise_XX_25519_ChaChaPoly_SHA256"
NOISE_HASHLEN = 32
MAX_NOISE_MESSAGE = 65535
MAX_TRANSPORT_PLAINTEXT = MAX_NOISE_MESSAGE - 16   # §9.1: 65,519 bytes
# The XX pattern (Noise §7.5): the tokens of messages 1, 2 and 3; the
# initiator writes the odd ones.
XX_TOKENS = (("e",), ("e", "ee", "s", "es"), ("s", "se"))
XX_TEXT = ("-> e", "<- e, ee, s, es", "-> s, se")
BINDING_LABEL = b"shoutnet/1 channel binding"   # §5.5, 26 ASCII bytes
MAX_HELLO = 4096
HELLO_KEYS = ("key", "binding", "listen", "compression", "preferred",
              "max_transmission")


def sha256(data):
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize()


def hmac_sha256(key, data):
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(data)
    return mac.finalize()


def noise_hkdf(chaining_key, ikm, outputs):
    """HKDF(chaining_key, input_key_material, num_outputs) of Noise §4.3."""
    temp_key = hmac_sha256(chaining_key, ikm)
    out, block = [], b""
    for i in range(1, outputs + 1):
        block = hmac_sha256(temp_key, block + bytes([i]))
        out.append(block)
    return out


def x25519_public(private):
    """The X25519 public key (RFC 7748) of 32 private key bytes."""
    public = x25519.X25519PrivateKey.from_private_bytes(private).public_key()
    return public.public_bytes(serialization.Encoding.Raw,
                               serialization.PublicFormat.Raw)


class CipherState:
    """Noise §5.1. ChaChaPoly's nonce is 32 zero bits followed by the
    64-bit counter n, little-endian (Noise §12.3)."""

    def __init__(self, key=None):
        self.k, self.n = key, 0

    def _nonce(self):
        if self.n >= 2 ** 64 - 1:
            raise ValueError("the nonce is exhausted")
        return bytes(4) + self.n.to_bytes(8, "little")

    def encrypt_with_ad(self, ad, plaintext):
        if self.k is None:
            return plaintext
        out = ChaCha20Poly1305(self.k).encrypt(self._nonce(), plaintext, ad)
        self.n += 1
        return out

    def decrypt_with_ad(self, ad, ciphertext):
        if self.k is None:
            return ciphertext
        try:
            out = ChaCha20Poly1305(self.k).decrypt(self._nonce(), ciphertext, ad)
        except InvalidTag:
            raise ValueError("the ChaCha20-Poly1305 tag does not verify")
        self.n += 1
        return out


class SymmetricState:
    """Noise §5.2."""

    def __init__(self, protocol_name):
        name = protocol_name.encode("ascii")
        if len(name) <= NOISE_HASHLEN:
            self.h = name + bytes(NOISE_HASHLEN - len(name))
        else:
            self.h = sha256(name)
        self.ck = self.h
        self.cipher = CipherState()

    def mix_key(self, ikm):
        self.ck, temp_k = noise_hkdf(self.ck, ikm, 2)
        self.cipher = CipherState(temp_k)

    def mix_hash(self, data):
        self.h = sha256(self.h + data)

    def encrypt_and_hash(self, plaintext):
        ciphertext = self.cipher.encrypt_with_ad(self.h, plaintext)
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext):
        plaintext = self.cipher.decrypt_with_ad(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return plaintext

    def split(self):
        """(initiator-to-responder, responder-to-initiator) cipher states."""
        k1, k2 = noise_hkdf(self.ck, b"", 2)
        return CipherState(k1), CipherState(k2)


class HandshakeState:
    """Noise §5.3 for the XX pattern, no PSK, with a given ephemeral private
    key (the vector's) where a node would generate one."""

    def __init__(self, initiator, prologue, static_private, ephemeral_private):
        self.initiator = initiator
        self.symmetric = SymmetricState(NOISE_PROTOCOL)
        self.symmetric.mix_hash(prologue)
        self.s = x25519.X25519PrivateKey.from_private_bytes(static_private)
        self.s_public = x25519_public(static_private)
        self.e_private = ephemeral_private
        self.e = self.rs = self.re = None
        self.next = 0  # the index in XX_TOKENS of the next message

    def _tokens(self, writing):
        if self.next >= len(XX_TOKENS):
            raise ValueError("the handshake is over")
        if (self.next % 2 == 0) != (self.initiator == writing):
            raise ValueError("not this side's turn")
        self.next += 1
        return XX_TOKENS[self.next - 1]

    def _dh(self, token):
        # "es" is DH of the initiator's e and the responder's s, and so on.
        mine, theirs = token if self.initiator else token[::-1]
        private = self.e if mine == "e" else self.s
        public = self.re if theirs == "e" else self.rs
        try:
            return private.exchange(x25519.X25519PublicKey.from_public_bytes(public))
        except ValueError as exc:  # OpenSSL refuses an all-zero result
            raise ValueError(f"DH for {token} fails ({exc})")

    def write_message(self, payload):
        out = b""
        for token in self._tokens(writing=True):
            if token == "e":
                self.e = x25519.X25519PrivateKey.from_private_bytes(self.e_private)
                public = x25519_public(self.e_private)
                self.symmetric.mix_hash(public)
                out += public
            elif token == "s":
                out += self.symmetric.encrypt_and_hash(self.s_public)
            else:
                self.symmetric.mix_key(self._dh(token))
        return out + self.symmetric.encrypt_and_hash(payload)

    def read_message(self, message):
        for token in self._tokens(writing=False):
            if token == "e":
                if len(message) < 32:
                    raise ValueError("too short for the ephemeral key")
                self.re, message = message[:32], message[32:]
                self.symmetric.mix_hash(self.re)
            elif token == "s":
                size = 32 + (TAG if self.symmetric.cipher.k is not None else 0)
                if len(message) < size:
                    raise ValueError("too short for the static key")
                self.rs = self.symmetric.decrypt_and_hash(message[:size])
                message = message[size:]
            else:
                self.symmetric.mix_key(self._dh(token))
        return self.symmetric.decrypt_and_hash(message)


def noise_frame(message):
    """§9.1: a Noise message preceded by its length, a big-endian u16."""
    if not 1 <= len(message) <= MAX_NOISE_MESSAGE:
        raise ValueError(f"a Noise message of {len(message)} bytes")
    return struct.pack(">H", len(message)) + message


def noise_unframe(framed, where):
    """The Noise message of one framed message; raises Mismatch."""
    if len(framed) < 2:
        raise Mismatch(f"{where}: shorter than the 2-byte length")
    (length,) = struct.unpack(">H", framed[:2])
    if length == 0:
        raise Mismatch(f"{where}: length 0, an error that closes (§9.1)")
    if length != len(framed) - 2:
        raise Mismatch(f"{where}: the length says {length} bytes, "
                       f"{len(framed) - 2} follow")
    return framed[2:]


def check_hello(profile, raw, own_key, where):
    """The hello of §9.1 in `raw`, decoded, as a node whose key field is
    `own_key` checks it up to its binding; raises Mismatch."""
    k, s = PROFILES[profile]

    def fail(what):
        raise Mismatch(f"{where}: {what} (§9.1)")

    if len(raw) > MAX_HELLO:
        fail(f"{len(raw)} bytes, over {MAX_HELLO}")
    try:
        hello = decode_value(raw)
    except Reject as exc:
        fail(f"not one restricted value (§7): {exc.name}: {exc.detail}")
    if not isinstance(hello, WireMap):
        fail(f"a {_describe(hello)}, not a map")
    fields = {}
    for name in HELLO_KEYS:  # every one is required; others are ignored
        try:
            fields[name] = hello.get(name)
        except KeyError:
            fail(f'no "{name}"')
    key, binding = fields["key"], fields["binding"]
    if type(key) is not bytes or len(key) != k:
        fail(f'"key" is not bin({k})')
    if key == bytes(k):
        fail('"key" is the broadcast key (§2)')
    problem = key_field_problem(profile, key)
    if problem:
        fail(f'"key": {problem} (§2)')
    if key == own_key:
        fail('"key" is the checking node\'s own key')
    if type(binding) is not bytes or len(binding) != s:
        fail(f'"binding" is not bin({s})')
    listen = fields["listen"]
    if type(listen) is not list or len(listen) > MAX_LISTEN:
        fail(f'"listen" is not an array of at most {MAX_LISTEN} addresses')
    for n, addr in enumerate(listen):
        problem = socket_addr_problem(addr) if type(addr) is str else "not a str"
        if problem:
            fail(f'"listen"[{n}]: {problem}')
    ids = fields["compression"]
    if (type(ids) is not list or not 1 <= len(ids) <= 8
            or any(type(i) is not int or not 0 <= i < len(COMPRESSION) for i in ids)
            or 0 not in ids):
        fail('"compression" is not an array of 1 to 8 compression ids with 0')
    preferred = fields["preferred"]
    if type(preferred) is not int or not 0 <= preferred < len(COMPRESSION):
        fail('"preferred" is not a compression id')
    most = fields["max_transmission"]
    if type(most) is not int or not 1 <= most < 2 ** 32:
        fail('"max_transmission" is not a uint from 1 to 2^32 - 1')
    return hello


# ---------------------------------------------------------------------------
# the vector directory


def _json_pairs(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate JSON key {key!r}")
        obj[key] = value
    return obj


def _bad_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def load_hex(hex_path):
    """The bytes of a .hex file; raises Mismatch unless it is one line of
    lowercase hex (§13)."""
    text = hex_path.read_text(encoding="ascii", errors="replace")
    if text.endswith("\n"):
        text = text[:-1]
    if len(text) % 2 or any(c not in "0123456789abcdef" for c in text):
        raise Mismatch(f"{hex_path.name} is not one line of lowercase hex (§13)")
    return bytes.fromhex(text)


def load_json(json_path):
    """A vector's JSON object; raises Mismatch."""
    try:
        spec = json.loads(json_path.read_text(encoding="utf-8"),
                          object_pairs_hook=_json_pairs,
                          parse_constant=_bad_constant)
    except ValueError as exc:
        raise Mismatch(f"{json_path.name}: {exc}")
    if type(spec) is not dict:
        raise Mismatch(f"{json_path.name} is not a JSON object")
    return spec


def load_vector(hex_path):
    """Returns (transmission bytes, JSON object); raises Mismatch on format."""
    json_path = hex_path.with_suffix(".json")
    if not json_path.is_file():
        raise Mismatch(f"no {json_path.name} beside it")
    return load_hex(hex_path), load_json(json_path)


def check_valid(hex_path, profile, crypto):
    """Returns a list of warnings; raises Mismatch or Reject on failure."""
    raw, spec = load_vector(hex_path)
    warnings = []
    if spec.get("profile") != profile:
        raise Mismatch(f'"profile" is {spec.get("profile")!r}, '
                       f"the directory says {profile!r}")
    if type(spec.get("description")) is not str:
        warnings.append('no "description" string')
    extra = set(spec) - {"description", "profile", "compression", "messages",
                         "signature_valid"}
    if extra:
        warnings.append(f"unknown fields {sorted(extra)}")
    compression, messages = decode_transmission(raw, profile)
    if spec.get("compression") != compression:
        raise Mismatch(f'"compression" is {spec.get("compression")!r}, '
                       f"the header says {compression!r}")
    compare_messages(spec.get("messages"), messages)
    faults, notes = crypto.check(profile, messages, spec)
    warnings.extend(notes)
    if faults:
        text = "; ".join(text for _, text in faults)
        if crypto.strict:
            raise Mismatch(text)
        warnings.append(f"{text} [a FAIL with --require-crypto]")
    return warnings


def _refusal(spec):
    """The refusal an invalid vector's JSON gives (§13): ("transmission",)
    or ("message", index, code, answer); raises Mismatch on a bad form."""
    scope = spec.get("scope")
    keys = {"description", "profile", "error", "scope"}
    if scope == "transmission":
        extra = set(spec) - keys
        if extra:
            raise Mismatch(f'"scope": "transmission" with {sorted(extra)}; '
                           "a refused transmission names no message (§13)")
        return ("transmission",)
    if scope != "message":
        raise Mismatch('"scope" is neither "transmission" nor "message" (§13)')
    extra = set(spec) - keys - {"message", "code", "answer"}
    if extra:
        raise Mismatch(f"unknown fields {sorted(extra)}")
    index, code, answer = spec.get("message"), spec.get("code"), spec.get("answer")
    if type(index) is not int or index < 0:
        raise Mismatch('"message" is not a message index')
    if code not in MESSAGE_CODES:
        raise Mismatch(f'"code" {code!r} is not a §10 code refusing a message')
    if answer not in ("NACK", "none"):
        raise Mismatch('"answer" is neither "NACK" nor "none"')
    return ("message", index, code, answer)


def _answer(msg):
    """Whether a refused message is answered (§10): a NACK if it expects a
    reply. Replies and broadcasts never do; a CUSTOM only with a request
    id, which must be readable: the first element of its array, not nil."""
    if msg.opcode in (ACK, NACK, SHOUT, SPEAK):
        return "none"
    if msg.opcode == CUSTOM:
        c = msg.content
        readable = (not msg.encrypted and len(c) >= 2
                    and (0x91 <= c[0] <= 0x9F) and c[1] != 0xC0)
        return "NACK" if readable else "none"
    return "NACK"


def check_invalid(hex_path, profile, crypto):
    raw, spec = load_vector(hex_path)
    warnings = []
    if "profile" in spec and spec["profile"] != profile:
        raise Mismatch(f'"profile" is {spec["profile"]!r}, '
                       f"the directory says {profile!r}")
    expected = spec.get("error")
    if type(expected) is not str:
        raise Mismatch('no "error" string')
    if expected not in SPEC_ERRORS:
        warnings.append(f"{expected!r} is not an error name of the spec")
    refusal = _refusal(spec)
    try:
        _, messages = decode_transmission(raw, profile)
    except Reject as exc:
        if exc.message is None:
            got = ("transmission",)
        else:
            # Schema faults carry their §10 code as their name; §7 faults
            # are MALFORMED.
            code = exc.name if exc.name in MESSAGE_CODES else "MALFORMED"
            got = ("message", exc.message, code, _answer(exc.msg))
        if got != refusal:
            raise Mismatch(f"refused as {got}, the JSON says {refusal}")
        if exc.name == expected:
            return warnings
        if exc.certain and expected in SPEC_ERRORS:
            raise Mismatch(f"rejected as {exc.name} ({exc.detail}), "
                           f"the JSON expects {expected}")
        warnings.append(f"rejected as {exc.name} ({exc.detail}), the JSON "
                        f"expects {expected}: the spec does not fix this name")
        return warnings
    if expected not in CRYPTO_ERRORS:
        raise Mismatch(f"accepted, the JSON expects {expected}")
    # It frames and decodes; the fault must be in its cryptography.
    if expected == "DECRYPT_FAILED" and not any(
            m.encrypted and (profile, m.to_key) in crypto.keys for m in messages):
        raise Mismatch("expects DECRYPT_FAILED, but no message is encrypted to "
                       "a fixture key, so nothing can be decrypted")
    failing = []
    for msg in messages:
        faults, _ = crypto.check(profile, [msg])
        failing.extend((msg, name, text) for name, text in faults)
    if not failing:
        raise Mismatch(f"decodes, and every signature verifies and every message "
                       f"to a fixture key decrypts; the JSON expects {expected}")
    msg, name, text = failing[0]
    if len(failing) > 1 or name != expected:
        raise Mismatch(f"{text}; the JSON expects exactly one {expected}")
    got = ("message", msg.index, name, _answer(msg))
    if got != refusal:
        raise Mismatch(f"refused as {got}, the JSON says {refusal}")
    return warnings


HANDSHAKE_FIELDS = ("description", "profile", "protocol", "prologue", "initiator",
                    "responder", "handshake", "handshake_hash", "transport")
SIDE_FIELDS = ("fixture", "key", "static_private", "static_public",
               "ephemeral_private", "ephemeral_public", "binding", "hello",
               "hello_value")
ROLES = ("initiator", "responder")


def _difference(mine, theirs):
    """Where the bytes this checker made differ from the vector's."""
    at = next((n for n, (a, b) in enumerate(zip(mine, theirs)) if a != b),
              min(len(mine), len(theirs)))
    return (f"differs from the JSON's from byte {at}: {mine[at:at + 8].hex()}... "
            f"({len(mine)} bytes), not {theirs[at:at + 8].hex()}... "
            f"({len(theirs)} bytes)")


def _hex_any(v, where):
    if type(v) is not str or len(v) % 2 or any(
            c not in "0123456789abcdef" for c in v):
        raise Mismatch(f"{where} is not lowercase hex")
    return bytes.fromhex(v)


def _fields(obj, names, where, warnings):
    if type(obj) is not dict:
        raise Mismatch(f"{where} is not an object")
    missing = [n for n in names if n not in obj]
    if missing:
        raise Mismatch(f"{where} has no {missing}")
    extra = set(obj) - set(names)
    if extra:
        warnings.append(f"{where}: unknown fields {sorted(extra)}")
    return obj


def _side(spec, role, profile, crypto, warnings):
    """One side of a handshake vector, its keys checked against each other."""
    k, s = PROFILES[profile]
    obj = _fields(spec[role], SIDE_FIELDS, role, warnings)
    side = {"role": role}
    for kind in ("static", "ephemeral"):
        private = _hex_bytes(obj[f"{kind}_private"], 32, f"{role}.{kind}_private")
        public = _hex_bytes(obj[f"{kind}_public"], 32, f"{role}.{kind}_public")
        if x25519_public(private) != public:
            raise Mismatch(f"{role}.{kind}_public is not the X25519 public key "
                           f"of {kind}_private")
        side[kind] = private
        side[f"{kind}_public"] = public
    side["key"] = _hex_bytes(obj["key"], k, f"{role}.key")
    side["binding"] = _hex_bytes(obj["binding"], s, f"{role}.binding")
    side["hello"] = _hex_any(obj["hello"], f"{role}.hello")
    side["hello_value"] = obj["hello_value"]
    fixture = crypto.keys.get((profile, side["key"]))
    if fixture is None:
        warnings.append(f"{role}.key is not a fixture key")
    elif fixture[0] != obj["fixture"]:
        raise Mismatch(f'{role}.key is fixture {fixture[0]}, "fixture" says '
                       f"{obj['fixture']!r}")
    return side


def check_handshake(json_path, profile, crypto):
    """Replays a handshake vector (§9.1, §13.2) from its fixed keys; returns
    warnings, raises Mismatch."""
    warnings, faults = [], []
    spec = _fields(load_json(json_path), HANDSHAKE_FIELDS, json_path.name, warnings)
    if spec["profile"] != profile:
        raise Mismatch(f'"profile" is {spec["profile"]!r}, the directory says '
                       f"{profile!r}")
    if spec["protocol"] != NOISE_PROTOCOL:
        raise Mismatch(f'"protocol" is {spec["protocol"]!r}, §9.1 says '
                       f"{NOISE_PROTOCOL}")
    prologue = b"shoutnet/1 " + profile.encode("ascii")
    if _hex_any(spec["prologue"], "prologue") != prologue:
        raise Mismatch(f'"prologue" is not {prologue!r} (§9.1)')
    i, r = (_side(spec, role, profile, crypto, warnings) for role in ROLES)

    # Messages 1-3 (§9.1): the dialler is the initiator; message 1 carries
    # nothing, message 2 the responder's hello, message 3 the initiator's.
    init = HandshakeState(True, prologue, i["static"], i["ephemeral"])
    resp = HandshakeState(False, prologue, r["static"], r["ephemeral"])
    steps = spec["handshake"]
    if type(steps) is not list or len(steps) != 3:
        raise Mismatch('"handshake" is not an array of the 3 messages of XX')
    streams = {"initiator": [], "responder": []}
    for n, (step, writer, reader, payload) in enumerate(zip(
            steps, (init, resp, init), (resp, init, resp),
            (b"", r["hello"], i["hello"])), 1):
        where = f"handshake[{n - 1}]"
        _fields(step, ("message", "from", "tokens", "payload", "framed"), where,
                warnings)
        sender = "initiator" if writer is init else "responder"
        got = (step["message"], step["from"], step["tokens"])
        if got != (n, sender, XX_TEXT[n - 1]):
            raise Mismatch(f"{where} is not message {n} of XX, {XX_TEXT[n - 1]} "
                           f"from the {sender}")
        if _hex_any(step["payload"], f"{where}.payload") != payload:
            raise Mismatch(f"{where}.payload is not "
                           + ("empty" if n == 1 else f"the {sender}'s hello"))
        framed = _hex_any(step["framed"], f"{where}.framed")
        noise_unframe(framed, where)
        try:
            mine = noise_frame(writer.write_message(payload))
        except ValueError as exc:
            raise Mismatch(f"{where}: writing message {n} fails: {exc}")
        if mine != framed:
            raise Mismatch(f"{where}: message {n} from the fixed keys "
                           f"{_difference(mine, framed)}")
        try:
            read = reader.read_message(framed[2:])
        except ValueError as exc:
            raise Mismatch(f"{where}: reading message {n} fails: {exc}")
        if read != payload:
            raise Mismatch(f"{where}: message {n} reads as another payload")
        streams[sender].append(framed)
    if init.rs != r["static_public"] or resp.rs != i["static_public"]:
        raise Mismatch("the handshake delivers other static keys than the sides'")
    if init.symmetric.h != resp.symmetric.h:
        raise Mismatch("the two sides end with different handshake hashes")
    if _hex_bytes(spec["handshake_hash"], 32, "handshake_hash") != init.symmetric.h:
        raise Mismatch(f'"handshake_hash" is not h after message 3 '
                       f"({init.symmetric.h.hex()})")

    # Each side checks the peer's hello once its channel completes: it
    # decodes, its key is valid and not the checker's own, and its binding
    # verifies over the static key the handshake delivered (§5.5, §9.1).
    for checker, peer, delivered in ((i, r, init.rs), (r, i, resp.rs)):
        where = f"the {peer['role']}'s hello"
        hello = check_hello(profile, peer["hello"], checker["key"], where)
        diff = value_diff(peer["hello_value"], value_to_json(hello),
                          f"{peer['role']}.hello_value")
        if diff:
            raise Mismatch(diff)
        if (hello.get("key"), hello.get("binding")) != (peer["key"], peer["binding"]):
            raise Mismatch(f'{peer["role"]}.key and .binding are not those of '
                           "its hello")
        problem = verify(profile, peer["key"], peer["binding"],
                         BINDING_LABEL + delivered)
        if problem:
            faults.append(f"{where}: the binding: {problem} over \"shoutnet/1 "
                          "channel binding\" || the static key (§5.5)")
        else:
            crypto.bindings += 1
        # What defeats a relay: it covers that static key and no other.
        if not verify(profile, peer["key"], peer["binding"],
                      BINDING_LABEL + checker["static_public"]):
            raise Mismatch(f"{where}: the binding also verifies over the "
                           "other side's static key")

    # Transport (§9.1): each direction's plaintexts, in order, are that
    # direction's transmission stream (§4); the associated data is empty.
    # Split gives each side the initiator-to-responder cipher, then the
    # responder-to-initiator one: by sender, its own and its peer's copy.
    (i_to_r, r_from_i), (i_from_r, r_to_i) = zip(init.symmetric.split(),
                                                 resp.symmetric.split())
    ciphers = {"initiator": (i_to_r, r_from_i), "responder": (r_to_i, i_from_r)}
    keys = {"initiator": i["key"], "responder": r["key"]}
    transport = spec["transport"]
    if type(transport) is not list or not transport:
        raise Mismatch('"transport" is not a non-empty array')
    for n, entry in enumerate(transport):
        where = f"transport[{n}]"
        _fields(entry, ("from", "nonce", "plaintext", "compression", "messages",
                        "framed"), where, warnings)
        sender = entry["from"]
        if sender not in ROLES:
            raise Mismatch(f'{where}.from is neither "initiator" nor "responder"')
        receiver = ROLES[1 - ROLES.index(sender)]
        out, into = ciphers[sender]
        if entry["nonce"] != out.n:
            raise Mismatch(f"{where}.nonce is {entry['nonce']!r}, the {sender}'s "
                           f"nonce is {out.n}")
        plaintext = _hex_any(entry["plaintext"], f"{where}.plaintext")
        if len(plaintext) > MAX_TRANSPORT_PLAINTEXT:
            raise Mismatch(f"{where}: {len(plaintext)} plaintext bytes in one "
                           "transport message (§9.1)")
        framed = _hex_any(entry["framed"], f"{where}.framed")
        noise_unframe(framed, where)
        mine = noise_frame(out.encrypt_with_ad(b"", plaintext))
        if mine != framed:
            raise Mismatch(f"{where}: the {sender}'s transport message from the "
                           f"fixed keys {_difference(mine, framed)}")
        try:
            if into.decrypt_with_ad(b"", framed[2:]) != plaintext:
                raise Mismatch(f"{where}: decrypts to another plaintext")
        except ValueError as exc:
            raise Mismatch(f"{where}: the {receiver} cannot decrypt it: {exc}")
        try:
            compression, messages = decode_transmission(plaintext, profile)
        except Reject as exc:
            raise Mismatch(f"{where}: the plaintext is not a transmission (§4): "
                           f"{exc}")
        if entry["compression"] != compression:
            raise Mismatch(f'{where}.compression is {entry["compression"]!r}, '
                           f"the header says {compression!r}")
        try:
            compare_messages(entry["messages"], messages)
        except Mismatch as exc:
            raise Mismatch(f"{where}: {exc}")
        for msg in messages:  # §9.2: the peer's own messages
            if (msg.from_key, msg.to_key) != (keys[sender], keys[receiver]):
                raise Mismatch(f"{where}: message {msg.index} is not from the "
                               f"{sender}'s key to the {receiver}'s (§9.2)")
        streams[sender].append(framed)

    # The byte streams: what each side writes, in order.
    for role in ROLES:
        path = json_path.parent / "handshake" / f"{role}.hex"
        if not path.is_file():
            raise Mismatch(f"no handshake/{role}.hex")
        if load_hex(path) != b"".join(streams[role]):
            raise Mismatch(f"handshake/{role}.hex is not the {role}'s framed "
                           "messages in order")

    # Another version or profile has another prologue, so message 2 fails.
    for other in (b"shoutnet/2 " + profile.encode("ascii"),
                  b"shoutnet/1 " + next(p for p in PROFILES if p != profile)
                  .encode("ascii")):
        stranger = HandshakeState(True, other, i["static"], i["ephemeral"])
        stranger.write_message(b"")  # the same message 1: nothing is sealed yet
        try:
            stranger.read_message(_hex_any(steps[1]["framed"], "")[2:])
        except ValueError:
            continue
        raise Mismatch(f"an initiator with the prologue {other!r} reads message 2")

    if faults:
        text = "; ".join(faults)
        if crypto.strict:
            raise Mismatch(text)
        warnings.append(f"{text} [a FAIL with --require-crypto]")
    else:
        crypto.handshakes += 1
    return warnings


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Cross-check shoutnet wire test vectors (docs/PROTOCOL.md §13).")
    parser.add_argument("vectors", type=pathlib.Path,
                        help="the vectors directory, e.g. docs/vectors")
    parser.add_argument("--keys", type=pathlib.Path, default=None,
                        help="the fixture keys directory (public.json and "
                        "<name>.pem); default: fixtures/keys of this repository")
    parser.add_argument("--require-crypto", action="store_true",
                        help="crypto failures are FAILs, not warnings, and "
                        "verifying no signature, decrypting no message, "
                        "verifying no binding or replaying no handshake "
                        "fails the run")
    args = parser.parse_args(argv)

    jobs = []  # (label, path, profile, kind: "valid", "invalid" or "handshake")
    problems = []
    keys_dir = args.keys or DEFAULT_KEYS
    keys = {}
    if keys_dir.is_dir():
        keys, key_problems = load_fixture_keys(keys_dir)
        problems.extend(f"FAIL {keys_dir}: {p}" for p in key_problems)
    elif args.keys is not None:
        problems.append(f"FAIL {keys_dir}: no such directory")
    else:
        print(f"check_vectors.py: no fixture keys at {keys_dir}; encrypted "
              "messages are not decrypted", file=sys.stderr)
    crypto = CryptoLayer(keys, args.require_crypto)
    root = args.vectors
    if root.is_dir():
        for pdir in sorted(p for p in root.iterdir() if p.is_dir()):
            for sub, kind in ((pdir, "valid"), (pdir / "invalid", "invalid")):
                if not sub.is_dir():
                    continue
                for path in sorted(sub.iterdir()):
                    label = str(path.relative_to(root).with_suffix(""))
                    if path.suffix == ".hex":
                        jobs.append((label, path, pdir.name, kind))
                    elif kind == "valid" and path.name == "handshake.json":
                        jobs.append((label, path, pdir.name, "handshake"))
                    elif path.suffix == ".json" and not path.with_suffix(".hex").exists():
                        problems.append(f"FAIL {label}: .json without .hex")
    passed, failed = 0, len(problems)
    for line in problems:
        print(line)
    checks = {"valid": check_valid, "invalid": check_invalid,
              "handshake": check_handshake}
    for label, path, profile, kind in jobs:
        try:
            if profile not in PROFILES:
                raise Mismatch(f"unknown profile directory {profile!r}")
            warnings = checks[kind](path, profile, crypto)
        except (Mismatch, Reject) as exc:
            failed += 1
            print(f"FAIL {label}: {exc}")
            continue
        except Exception as exc:  # a bug here, or input nothing above expects
            failed += 1
            print(f"FAIL {label}: checker error {type(exc).__name__}: {exc}")
            continue
        passed += 1
        note = "".join(f" (warning: {w})" for w in warnings)
        print(f"ok   {label}{note}")
    if not jobs:
        print(f"FAIL: no vectors found under {root}")
    print(f"crypto: {crypto.signatures} signatures verified, {crypto.decrypted} "
          f"messages decrypted, {crypto.bindings} bindings verified, "
          f"{crypto.handshakes} handshakes replayed")
    missing = [what for what, n in (("signature verified", crypto.signatures),
                                    ("message decrypted", crypto.decrypted),
                                    ("binding verified", crypto.bindings),
                                    ("handshake replayed", crypto.handshakes))
               if not n]
    if args.require_crypto and missing:
        print(f"FAIL --require-crypto: no {', no '.join(missing)}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not jobs or (args.require_crypto and missing) else 0


if __name__ == "__main__":
    sys.exit(main())
