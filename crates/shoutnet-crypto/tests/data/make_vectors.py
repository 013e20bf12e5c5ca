"""Makes the Python-side interop data for tests/python_interop.rs, using only
the `cryptography` package: malformed RSA key fields, and signatures and
ciphertexts made independently of the Rust code, following
docs/PROTOCOL.md §5.3-§5.5 exactly. Run from this directory:
python3 make_vectors.py (output: python_vectors.txt, *.der, *.pem).
"""
import hashlib
import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEYS = "../../../../fixtures/keys/"
P = 2**255 - 19


def load(name):
    with open(KEYS + name + ".pem", "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def field(key):
    pub = key.public_key()
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


def montgomery(ed_field):
    y = int.from_bytes(ed_field, "little") & ((1 << 255) - 1)
    u = (1 + y) * pow(1 - y, P - 2, P) % P
    return u.to_bytes(32, "little")


def pss():
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def oaep():
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def encrypt(profile, to_field, to_key, aad, plaintext):
    k = os.urandom(32)
    if profile == "ed25519":
        e = x25519.X25519PrivateKey.generate()
        E = e.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        R = montgomery(to_field)
        Z = e.exchange(x25519.X25519PublicKey.from_public_bytes(R))
        k = HKDF(hashes.SHA256(), 32, E + R, b"shoutnet/1 ed25519 encryption").derive(Z)
        prefix = E
    else:
        prefix = to_key.public_key().encrypt(k, oaep())
    return prefix + ChaCha20Poly1305(k).encrypt(b"\0" * 12, plaintext, aad)


def sign(key, data):
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    return key.sign(data, pss(), hashes.SHA256())


lines = []
for profile in ["ed25519", "rsa2048"]:
    a, b = load(profile + "-1"), load(profile + "-2")
    fa, fb = field(a), field(b)
    # A WHISPER (opcode 6) from 1 to 2, encrypted then signed: H has flags 0x03.
    h = fa + fb + bytes([6 << 4, 0x03])
    plaintext = bytes([0x92, 0x07, 0xa5]) + b"hello"
    content = encrypt(profile, fb, b, h, plaintext)
    signature = sign(a, h + content)
    lines.append(f"{profile} sealed {h.hex()} {content.hex()} {signature.hex()} {plaintext.hex()}")
    # Channel binding by 1 of the X25519 Noise static key whose private key
    # is 0x00..0x1f (§5.5).
    static_private = bytes(range(32))
    static_key = x25519.X25519PrivateKey.from_private_bytes(static_private)
    static_public = static_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    binding = sign(a, b"shoutnet/1 channel binding" + static_public)
    lines.append(f"{profile} binding {static_private.hex()} {static_public.hex()} "
                 f"{binding.hex()}")
with open("python_vectors.txt", "w") as f:
    f.write("\n".join(lines) + "\n")

# Malformed RSA key fields of the right families.
for name, bits, e in [("rsa1024", 1024, 65537), ("rsa2048_e3", 2048, 3)]:
    key = rsa.generate_private_key(public_exponent=e, key_size=bits)
    with open(name + ".der", "wb") as f:
        f.write(field(key))
    with open(name + ".pem", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
