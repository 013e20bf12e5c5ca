#!/usr/bin/env python3
"""Talk to a running `shoutnet node` over loopback TCP, from the spec alone.

    python3 tools/interop/live_peer.py target/debug/shoutnet
    python3 tools/interop/live_peer.py --profile rsa2048 target/debug/shoutnet

A second, independent implementation of docs/PROTOCOL.md: it starts
`shoutnet node --listen 127.0.0.1:0 --local-network --profile P`, dials it,
and runs the secure channel of §9.1 as the initiator (Noise XX, the hellos
of §9.1 and their bindings of §5.5) with a fresh identity key of the profile
(§2) and a fresh X25519 static key. Message 3 goes out in one write with the
first transport message, as §9.1 allows. Then it sends direct WHISPERs
(§8.6) in uncompressed transmissions (§4):

1. plain: unencrypted, unsigned (a direct WHISPER needs no signature, §5.2);
2. encrypted to the node's key (§5.4), unsigned, with a request id that
   needs a uint 64;
3. encrypted and signed (§5.2: encrypt first, then sign the ciphertext),
   as a routed WHISPER would be, so the ACK's digest must cover the
   signature too (§8.6).

Each must be answered with `ACK [6, request_id, digest]` where digest is
SHA-256 of the WHISPER's whole body as sent, and the node must print
`whisper <this peer's key> plain|encrypted <text>` on its console.
Everything the node sends is decoded with check_vectors.py's strict decoder
(§3-§8), its signatures verified (§5.3) and its keys checked (§9.2); its
hello is checked as §9.1 says and its binding verified over the static key
the handshake delivered. The node's own requests (PING, SET_CONNECTION_OPT,
FIND_NODE, FIND_VALUE) are answered.

It prints one line per step and exits 0 on success, 1 on any mismatch or
timeout (the whole run has a deadline, 30 s by default), 2 if a dependency
is missing. The node is always stopped: `quit` on its console, killed if it
does not stop.

Reuses check_vectors.py as a module: the restricted msgpack decoder, the
transmission decoder and schemas, signature verification, §5.4's Montgomery
conversion and decryption (to self-test the encryption here), and the Noise
XX HandshakeState. Encoding (msgpack's shortest forms, §7), signing and
encryption are here.
"""

import argparse
import os
import queue
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_vectors as cv  # noqa: E402  (exits 2 if a dependency is missing)

import msgpack  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa, x25519  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305  # noqa: E402
from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: E402

FLAG_ENCRYPTED, FLAG_SIGNED = 0x01, 0x02  # §5
# What this peer says in its hello: it decodes `none` only and listens nowhere.
OWN_MAX_TRANSMISSION = 1 << 20
NACK_CODES = {0: "UNSPECIFIED", 1: "MALFORMED", 2: "UNSUPPORTED_OPCODE",
              3: "UNSUPPORTED_OPTION", 4: "TOO_LARGE", 5: "UNDELIVERABLE",
              6: "LOCKED", 7: "CONFLICT", 8: "NOT_AUTHENTICATED",
              9: "BAD_SIGNATURE", 10: "DECRYPT_FAILED", 11: "RATE_LIMITED",
              12: "VERSION_MISMATCH", 13: "NOT_FOUND", 14: "INTERNAL"}


class Failure(Exception):
    """The run failed: the message says where and why."""


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self, what):
        left = self.end - time.monotonic()
        if left <= 0:
            raise Failure(f"timed out waiting for {what}")
        return left


def raw_public(key):
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


def prologue(profile):
    """§9.1: `shoutnet/1 ` and the profile's name, 18 bytes."""
    return b"shoutnet/1 " + profile.encode("ascii")


class Identity:
    """A fresh identity key of a profile (§2): its key field, and §5.3's
    signature scheme (pure Ed25519, or RSASSA-PSS with SHA-256, MGF1-SHA-256
    and a 32-byte salt)."""

    def __init__(self, profile):
        self.profile = profile
        if profile == "ed25519":
            self.private = ed25519.Ed25519PrivateKey.generate()
        else:
            self.private = rsa.generate_private_key(public_exponent=65537,
                                                    key_size=2048)
        # (profile, key field): the raw key, or PKCS#1 RSAPublicKey DER.
        _, self.key = cv.key_field_of(self.private)

    def sign(self, data):
        if self.profile == "ed25519":
            return self.private.sign(data)
        return self.private.sign(data, cv.PSS, hashes.SHA256())


def pack(value):
    """One restricted msgpack value (§7), shortest forms, as §7 says a
    sender SHOULD: bytes are bin, str is str, ints shortest."""
    return msgpack.packb(value, use_bin_type=True)


# ---------------------------------------------------------------------------
# the node process and its console


class NodeProcess:
    """`shoutnet node` with its console on pipes; stdout and stderr are read
    by threads, so nothing here blocks past a deadline."""

    def __init__(self, binary, profile):
        # --profile only matters for the fresh key of a node without a key
        # file, which is what this is.
        self.args = [binary, "node", "--listen", "127.0.0.1:0", "--local-network",
                     "--profile", profile]
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.lines = queue.Queue()
        self.seen = []      # every stdout line, in order
        self.stderr = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, None),
                         daemon=True).start()

    def _pump(self, stream, into):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if into is None:
                self.stderr.append(line)
            else:
                into.put(line)
        if into is not None:
            into.put(None)  # end of stdout

    def expect(self, test, what, deadline):
        """The first stdout line from now on for which test(line) holds."""
        while True:
            try:
                line = self.lines.get(timeout=min(deadline.left(what), 0.5))
            except queue.Empty:
                continue
            if line is None:
                self.lines.put(None)
                raise Failure(f"the node's stdout closed while waiting for {what} "
                              f"(exit status {self.proc.poll()})")
            self.seen.append(line)
            if test(line):
                return line

    def console(self, text):
        self.proc.stdin.write(text.encode("utf-8") + b"\n")
        self.proc.stdin.flush()

    def stop(self, seconds=5.0):
        """`quit`, then wait; kill if it does not stop. Returns its status."""
        if self.proc.poll() is None:
            try:
                self.console("quit")
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                return self.proc.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


# ---------------------------------------------------------------------------
# §9.1 the secure channel, as the initiator


class Channel:
    """One TCP connection's secure channel: Noise messages framed by a
    big-endian u16 length; after the handshake, the plaintext stream of
    transport messages in each direction is a transmission stream (§4)."""

    def __init__(self, sock, profile):
        self.sock = sock
        self.profile = profile
        self.pending = b""  # message 3, sent with the first transmission
        self.inbuf = b""
        self.send_cs = self.recv_cs = None
        self.plain = b""   # received transport plaintext not yet framed

    def _read_exact(self, n, deadline, what):
        while len(self.inbuf) < n:
            self.sock.settimeout(min(deadline.left(what), 1.0))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise Failure(f"the node closed the connection while this peer "
                              f"waited for {what}")
            self.inbuf += chunk
        out, self.inbuf = self.inbuf[:n], self.inbuf[n:]
        return out

    def read_noise(self, deadline, what):
        (length,) = struct.unpack(">H", self._read_exact(2, deadline, what))
        if length == 0:
            raise Failure(f"{what}: a Noise message of length 0 (§9.1)")
        return self._read_exact(length, deadline, what)

    def write_noise(self, message):
        self.sock.sendall(self.pending + cv.noise_frame(message))
        self.pending = b""

    def handshake(self, identity, static_private, deadline):
        """Runs XX as the initiator; returns the node's checked hello and
        the handshake state. Message 3 waits in `pending`: it goes out in
        the same write as the first transport message, which §9.1 allows
        (the initiator is established once message 2 checks)."""
        profile, own_key = self.profile, identity.key
        hs = cv.HandshakeState(True, prologue(profile), static_private,
                               os.urandom(32))
        # Message 1, -> e: an empty payload.
        self.write_noise(hs.write_message(b""))
        # Message 2, <- e, ee, s, es: the responder's hello.
        message2 = self.read_noise(deadline, "handshake message 2")
        try:
            their_hello = hs.read_message(message2)
        except ValueError as exc:
            raise Failure(f"handshake message 2 does not read (§9.1): {exc}")
        try:
            hello = cv.check_hello(profile, their_hello, own_key, "the node's hello")
        except cv.Mismatch as exc:
            raise Failure(str(exc))
        problem = cv.verify(profile, hello.get("key"), hello.get("binding"),
                            cv.BINDING_LABEL + hs.rs)
        if problem:
            raise Failure(f"the node's binding does not verify over the static key "
                          f"the handshake delivered (§5.5): {problem}")
        # Message 3, -> s, se: this peer's hello, its binding over its own
        # static key (§5.5).
        binding = identity.sign(cv.BINDING_LABEL + hs.s_public)
        mine = pack({
            "key": own_key,
            "binding": binding,
            "listen": [],
            "compression": [0],
            "preferred": 0,
            "max_transmission": OWN_MAX_TRANSMISSION,
        })
        self.pending = cv.noise_frame(hs.write_message(mine))
        # Split: the first cipher is the initiator's, to the responder.
        self.send_cs, self.recv_cs = hs.symmetric.split()
        return hello, hs

    def send_transmission(self, body):
        """One uncompressed transmission (§4), cut into transport messages
        of at most 65,519 plaintext bytes (§9.1)."""
        stream = struct.pack(">BBI", 0, 0, len(body)) + body
        for at in range(0, len(stream), cv.MAX_TRANSPORT_PLAINTEXT):
            chunk = stream[at:at + cv.MAX_TRANSPORT_PLAINTEXT]
            self.write_noise(self.send_cs.encrypt_with_ad(b"", chunk))

    def receive_transmission(self, deadline, what):
        """The raw bytes of the next whole transmission the node sends."""
        while True:
            if len(self.plain) >= 6:
                if self.plain[1] & 0x07:
                    raise Failure(f"a transmission with compression id "
                                  f"{self.plain[1] & 0x07}, which this peer never "
                                  "accepted (§3, §9.3: UnnegotiatedCompression)")
                (body_len,) = struct.unpack(">I", self.plain[2:6])
                if body_len == 0 or body_len > OWN_MAX_TRANSMISSION:
                    raise Failure(f"a transmission header announcing {body_len} "
                                  "bytes (§4; this peer's hello says at most "
                                  f"{OWN_MAX_TRANSMISSION})")
                if len(self.plain) >= 6 + body_len:
                    raw = self.plain[:6 + body_len]
                    self.plain = self.plain[6 + body_len:]
                    return raw
            message = self.read_noise(deadline, what)
            try:
                self.plain += self.recv_cs.decrypt_with_ad(b"", message)
            except ValueError as exc:
                raise Failure(f"a transport message from the node does not decrypt "
                              f"(§9.1): {exc}")


# ---------------------------------------------------------------------------
# §5 messages, §5.3 signatures, §5.4 encryption


def message_bytes(from_key, to_key, opcode, flags, body):
    """A message: its 2K+6-byte header (§5) and its body."""
    return (from_key + to_key + bytes([opcode << 4, flags])
            + struct.pack(">I", len(body)) + body)


def seal(profile, to_key, h, plaintext):
    """§5.4. ed25519: E || ChaCha20-Poly1305(k, nonce 0, H, P), with k from
    HKDF-SHA256 over X25519(e, R), R the Montgomery form of the to-key.
    rsa2048: W || ChaCha20-Poly1305(k, nonce 0, H, P), W = RSAES-OAEP of a
    random k (SHA-256, MGF1-SHA-256, empty label)."""
    if profile == "rsa2048":
        k = os.urandom(32)
        w = cv.public_key(profile, to_key).encrypt(k, cv.OAEP)
        return w + ChaCha20Poly1305(k).encrypt(cv.ZERO_NONCE, plaintext, h)
    e = x25519.X25519PrivateKey.generate()
    big_e = raw_public(e)
    r = cv.montgomery_u(to_key)
    z = e.exchange(x25519.X25519PublicKey.from_public_bytes(r))
    if z == bytes(32):
        raise Failure("the shared secret Z is all zero (§5.4)")
    k = HKDF(algorithm=hashes.SHA256(), length=32, salt=big_e + r,
             info=cv.HKDF_INFO).derive(z)
    return big_e + ChaCha20Poly1305(k).encrypt(cv.ZERO_NONCE, plaintext, h)


def whisper_message(identity, to_key, request_id, text, encrypted, signed):
    """A WHISPER [request_id, text] (§8.6) from `identity`: returns (message
    bytes, body)."""
    from_key = identity.key
    flags = (FLAG_ENCRYPTED if encrypted else 0) | (FLAG_SIGNED if signed else 0)
    h = from_key + to_key + bytes([cv.WHISPER << 4, flags])   # §5.3's H
    plaintext = pack([request_id, text])
    content = (seal(identity.profile, to_key, h, plaintext) if encrypted
               else plaintext)
    # Encrypt first, then sign the ciphertext (§5.2).
    body = content + (identity.sign(h + content) if signed else b"")
    return message_bytes(from_key, to_key, cv.WHISPER, flags, body), body


def self_test_seal(profile):
    """seal() against check_vectors.decrypt(), which was written separately
    from §5.4: encrypt to a throwaway key and decrypt with its private key."""
    throwaway = Identity(profile)
    k = cv.PROFILES[profile][0]
    h = bytes(k) + throwaway.key + bytes([cv.WHISPER << 4, FLAG_ENCRYPTED])
    plain = pack([1, "self test"])
    sealed = seal(profile, throwaway.key, h, plain)
    if cv.decrypt(profile, throwaway.private, throwaway.key, sealed, h) != plain:
        raise Failure("self test: seal() and check_vectors.decrypt() disagree")


# ---------------------------------------------------------------------------
# the run


class Peer:
    """This side of an established connection to the node."""

    def __init__(self, channel, identity, node_key):
        self.channel = channel
        self.profile = identity.profile
        self.identity = identity
        self.own_key = identity.key
        self.node_key = node_key
        self.answered = []   # the node's requests this peer answered
        self.other = []      # other messages from the node, unexpected

    def send(self, *messages):
        self.channel.send_transmission(b"".join(messages))

    def reply(self, opcode, value):
        self.send(message_bytes(self.own_key, self.node_key, opcode, 0, pack(value)))

    def next_messages(self, deadline, what):
        """The messages of the node's next transmission, decoded and checked
        (§3-§8), signatures verified (§5.3), their keys checked (§9.2)."""
        raw = self.channel.receive_transmission(deadline, what)
        try:
            _, messages = cv.decode_transmission(raw, self.profile)
        except cv.Reject as exc:
            raise Failure(f"the node sent a transmission this decoder refuses: "
                          f"{exc.name}: {exc.detail}")
        for msg in messages:
            name = cv.OPCODE_NAMES[msg.opcode]
            if msg.signed:
                problem = cv.verify(self.profile, msg.from_key, msg.signature,
                                    msg.signed_bytes)
                if problem:
                    raise Failure(f"the node's {name} is signed, but {problem} "
                                  "(§5.3)")
            # §9.2: this peer sends nothing routed, so everything comes from
            # the node's key to this peer's.
            if (msg.from_key, msg.to_key) != (self.node_key, self.own_key):
                raise Failure(f"the node's {name} goes from {msg.from_key.hex()} to "
                              f"{msg.to_key.hex()}, not from its key to this "
                              "peer's (§9.2)")
        return messages

    def answer_unasked(self, msg):
        """Answers the node's own requests (§8) as a node would, so that the
        connection stays in good standing; False for anything else."""
        v = msg.value
        if msg.encrypted:
            return False
        if msg.opcode == cv.PING:
            self.reply(cv.ACK, [cv.PING, v[0]])
        elif msg.opcode == cv.SET_CONNECTION_OPT:
            # This peer decodes `none` only (its hello) and keeps nothing.
            rid, option, setting = v
            if (option in (0, 1) and setting == 0) or (option == 2 and setting <= 1):
                self.reply(cv.ACK, [cv.SET_CONNECTION_OPT, rid, option, setting])
            else:
                self.reply(cv.NACK, [cv.SET_CONNECTION_OPT, rid, 3,
                                     "not supported by live_peer.py",
                                     [option, setting]])
        elif msg.opcode in (cv.FIND_NODE, cv.FIND_VALUE):
            self.reply(cv.ACK, [msg.opcode, v[0], []])   # it knows no nodes
        else:
            return False
        self.answered.append(f"{cv.OPCODE_NAMES[msg.opcode]} {cv.value_to_json(v)}")
        return True

    def whisper(self, request_id, text, encrypted, signed, deadline):
        """Sends one WHISPER and waits for its answer. Returns (digest, body
        length, whether the ACK was signed)."""
        message, body = whisper_message(self.identity, self.node_key, request_id,
                                        text, encrypted, signed)
        self.send(message)
        sent_digest = cv.sha256(body)   # §8.6: the whole body, as sent
        s = cv.PROFILES[self.profile][1]
        what = f"the answer to WHISPER {request_id}"
        while True:
            for msg in self.next_messages(deadline, what):
                v = msg.value
                if msg.opcode == cv.ACK and v[0] == cv.WHISPER and v[1] == request_id:
                    digest = v[2]
                    if digest != sent_digest:
                        content_only = cv.sha256(body[:len(body) - s] if signed
                                                 else body)
                        raise Failure(
                            f"ACK WHISPER {request_id}: digest {digest.hex()}, but "
                            f"SHA-256 of the body as sent is {sent_digest.hex()} "
                            f"(§8.6); of the content alone {content_only.hex()}")
                    return digest, len(body), msg.signed
                # A refusal names the WHISPER by request id, or by digest with
                # a nil request id (§8.6); this peer has one WHISPER
                # outstanding, so a nil one without a digest is taken too.
                if msg.opcode == cv.NACK and v[0] == cv.WHISPER and (
                        v[1] == request_id or v[1] is None):
                    code = NACK_CODES.get(v[2], v[2])
                    detail = (f", detail {cv.value_to_json(v[4])}" if len(v) > 4
                              else "")
                    raise Failure(f"WHISPER {request_id} refused: NACK {code} "
                                  f"{v[3]!r} (request id {v[1]}{detail})")
                if not self.answer_unasked(msg):
                    self.other.append(cv.message_to_json(msg))


# (request id, text, encrypted, signed). The second id needs a uint 64.
CASES = [
    (1, "plain whisper from live_peer.py, h\u00e9llo", False, False),
    (2 ** 32 + 7, "encrypted whisper from live_peer.py", True, False),
    (3, "encrypted and signed whisper from live_peer.py", True, True),
]


def run(binary, profile, seconds):
    deadline = Deadline(seconds)
    k = cv.PROFILES[profile][0]
    self_test_seal(profile)
    print(f"ok   self test: §5.4 sealing ({profile}) agrees with "
          "check_vectors.decrypt")
    node = NodeProcess(binary, profile)
    sock = None
    try:
        key_line = node.expect(lambda l: l.startswith("key "), "the node's `key` line",
                               deadline)
        node_key = bytes.fromhex(key_line.split()[1])
        if len(node_key) != k:
            raise Failure(f"the node's key is {len(node_key)} bytes, not the "
                          f"{k} of {profile}")
        listen_line = node.expect(lambda l: l.startswith("listening "),
                                  "the node's `listening` line", deadline)
        host, _, port = listen_line.split()[1].rpartition(":")
        print(f"ok   node started ({profile}): key {node_key.hex()[:32]}..., "
              f"listening {host}:{port}")

        identity = Identity(profile)
        sock = socket.create_connection((host, int(port)),
                                        timeout=deadline.left("connecting"))
        channel = Channel(sock, profile)
        hello, hs = channel.handshake(identity, os.urandom(32), deadline)
        if hello.get("key") != node_key:
            raise Failure("the key in the node's hello is not the key it printed")
        shown = {name: value for name, value in cv.value_to_json(hello).items()
                 if name not in ("key", "binding")}
        print(f"ok   Noise XX handshake as the initiator, prologue "
              f"{prologue(profile).decode()!r}: the node's hello checks and its "
              f"binding verifies over its Noise static key (§5.5, §9.1); "
              f"the hello's other fields: {shown}")
        print(f"     this peer's key: {identity.key.hex()[:32]}...")

        peer = Peer(channel, identity, node_key)
        for request_id, text, encrypted, signed in CASES:
            kind = "encrypted" if encrypted else "plain"
            label = kind + (" and signed" if signed else "")
            digest, size, ack_signed = peer.whisper(request_id, text, encrypted,
                                                    signed, deadline)
            expected = f"whisper {identity.key.hex()} {kind} {text}"
            printed = node.expect(lambda l: l.startswith("whisper "),
                                  f"the node's whisper line for WHISPER {request_id}",
                                  deadline)
            if printed != expected:
                raise Failure(f"the node printed {printed!r}, expected {expected!r}")
            print(f"ok   WHISPER {label} (request id {request_id}, body {size} bytes): "
                  f"ACK WHISPER{' (signed)' if ack_signed else ''} with digest "
                  f"{digest.hex()[:16]}..., SHA-256 of the body as sent (§8.6); "
                  f"the node printed `whisper <this peer's key> {kind} {text}`")
        for line in peer.answered:
            print(f"     answered the node's {line}")
        for obj in peer.other:
            print(f"     also from the node: {obj}")
        sock.close()
        sock = None
        status = node.stop()
        if status != 0:
            raise Failure(f"the node exited with status {status} after `quit`")
        print("ok   the node stopped after `quit`")
    except BaseException:
        node.kill()
        for line in node.seen:
            print(f"     node stdout: {line}")
        for line in node.stderr[-20:]:
            print(f"     node stderr: {line}")
        raise
    finally:
        if sock is not None:
            sock.close()


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Whisper to a live `shoutnet node` over loopback TCP, "
        "implementing docs/PROTOCOL.md independently.")
    parser.add_argument("binary", help="the shoutnet binary, e.g. target/debug/shoutnet")
    parser.add_argument("--profile", choices=sorted(cv.PROFILES), default="ed25519",
                        help="the key profile of the node and of this peer "
                        "(default ed25519)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="deadline for the whole run, in seconds (default 30)")
    args = parser.parse_args(argv)
    if not os.access(args.binary, os.X_OK):
        print(f"live_peer.py: {args.binary} is not an executable", file=sys.stderr)
        return 1
    try:
        run(args.binary, args.profile, args.timeout)
    except Failure as exc:
        print(f"FAIL {exc}")
        return 1
    except (OSError, cv.Reject, cv.Mismatch, ValueError) as exc:
        print(f"FAIL {type(exc).__name__}: {exc}")
        return 1
    print("live_peer.py: the node interoperates (plain and encrypted WHISPERs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
