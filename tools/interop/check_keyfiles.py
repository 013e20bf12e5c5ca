#!/usr/bin/env python3
"""Check that Python's `cryptography` reads the key files `shoutnet keygen`
writes.

    python3 tools/interop/check_keyfiles.py target/debug/shoutnet

For each key profile of docs/PROTOCOL.md §2 (ed25519, rsa2048) this runs
`shoutnet keygen --profile P --out FILE` in a temporary directory and
`shoutnet key show --json FILE`, then loads FILE with
`serialization.load_pem_private_key` and checks that:

- FILE has mode 0600;
- the key is of the profile's type (Ed25519, or 2048-bit RSA with
  e = 65537);
- its public key, as the §2 key field (the raw 32-byte Ed25519 key, or the
  PKCS#1 `RSAPublicKey` DER), is the `key` that `key show` printed;
- `cryptography` writes the key back as PKCS#8 PEM byte for byte as FILE is
  (PKCS#8 v1, the format crates/shoutnet-crypto/README.md specifies).

It prints one line per profile (`ok   ed25519 ...` or `FAIL rsa2048: reason`)
and then `N passed, M failed`. It exits with status 1 if a check failed and
with status 2 if `cryptography` is missing. Dependencies: Python 3.11
standard library and cryptography (tested with 50.0.2).
"""

import argparse
import json
import os
import pathlib
import stat
import subprocess
import sys
import tempfile

try:
    import cryptography
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
except ImportError as exc:
    print(
        f"check_keyfiles.py: cannot import {exc.name!r}; install it with: "
        "pip install cryptography",
        file=sys.stderr,
    )
    sys.exit(2)

PROFILES = ("ed25519", "rsa2048")


class Mismatch(Exception):
    """A check failed."""


def run(args):
    """Runs a command and returns its stdout, or raises Mismatch."""
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise Mismatch(f"`{' '.join(map(str, args))}` exited with "
                       f"{done.returncode}: {done.stderr.strip()}")
    return done.stdout


def key_field(key):
    """The §2 key field of a private key's public key."""
    public = key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        return public.public_bytes(serialization.Encoding.Raw,
                                   serialization.PublicFormat.Raw)
    return public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.PKCS1)


def check(shoutnet, profile, directory):
    """Generates a key file of `profile` and checks it; returns a note."""
    path = pathlib.Path(directory) / f"{profile}.pem"
    run([shoutnet, "keygen", "--profile", profile, "--out", path])
    shown = json.loads(run([shoutnet, "key", "show", "--json", path]))
    if shown.get("profile") != profile:
        raise Mismatch(f"key show printed profile {shown.get('profile')!r}")

    mode = stat.S_IMODE(os.stat(path).st_mode)
    if os.name == "posix" and mode != 0o600:
        raise Mismatch(f"the key file has mode {mode:04o}, not 0600")

    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise Mismatch(f"load_pem_private_key refused the file: {exc}") from None

    if profile == "ed25519":
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise Mismatch(f"read as {type(key).__name__}, not an Ed25519 key")
    else:
        if not isinstance(key, rsa.RSAPrivateKey):
            raise Mismatch(f"read as {type(key).__name__}, not an RSA key")
        numbers = key.public_key().public_numbers()
        if key.key_size != 2048 or numbers.e != 65537:
            raise Mismatch(f"RSA key of {key.key_size} bits with e = {numbers.e}")

    field = key_field(key).hex()
    if field != shown.get("key"):
        raise Mismatch(f"cryptography's public key {field} is not key show's "
                       f"{shown.get('key')}")

    again = key.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    if again != data:
        raise Mismatch("cryptography writes the key back as other bytes:\n"
                       f"{again.decode()}instead of\n{data.decode()}")
    return f"public key {field[:16]}… = key show's, written back byte for byte"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Check that Python's cryptography reads the key files "
        "`shoutnet keygen` writes.")
    parser.add_argument("shoutnet", type=pathlib.Path,
                        help="the shoutnet binary, e.g. target/debug/shoutnet")
    args = parser.parse_args(argv)
    print(f"cryptography {cryptography.__version__}")
    passed = failed = 0
    with tempfile.TemporaryDirectory() as directory:
        for profile in PROFILES:
            try:
                note = check(args.shoutnet, profile, directory)
            except (Mismatch, OSError) as exc:
                failed += 1
                print(f"FAIL {profile}: {exc}")
                continue
            passed += 1
            print(f"ok   {profile}: {note}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
