#!/usr/bin/env python3
"""Writes the interop vectors in this directory with Python's standard library
(and cramjam for snappy, which the standard library lacks, and the `xz` tool
for a multi-block stream, which Python's lzma module cannot write).

Run once from this directory: python3 generate.py
The outputs are committed; tests/interop.rs decodes each one and compares it
with plain.bin. Encoders' outputs can change between library versions, so
regenerating may change the compressed files; they stay valid vectors.
"""
import bz2
import gzip
import io
import lzma
import subprocess
import zlib

import cramjam

PLAIN = (
    b"shoutnet interop vector\n"
    + bytes(range(256)) * 4
    + b"the quick brown fox jumps over the lazy dog. " * 40
    + b"\x85\xa2id\xce\x00\x00\x00\x2a\xa2op\xa5shout\xa4from\xc4\x20" + bytes(32)
)


def gzip_with_name(data):
    out = io.BytesIO()
    with gzip.GzipFile(filename="vector.bin", mode="wb", fileobj=out, mtime=0) as f:
        f.write(data)
    return out.getvalue()


VECTORS = {
    "plain.bin": PLAIN,
    "python.bz2": bz2.compress(PLAIN),  # level 9, "BZh9"
    "python.gz": gzip.compress(PLAIN, mtime=0),  # level 9
    "python_fname.gz": gzip_with_name(PLAIN),  # FNAME header field
    "python.xz": lzma.compress(PLAIN),  # FORMAT_XZ, CHECK_CRC64, preset 6
    "python_crc32.xz": lzma.compress(PLAIN, check=lzma.CHECK_CRC32),
    "python_sha256.xz": lzma.compress(PLAIN, check=lzma.CHECK_SHA256),
    "python_nocheck.xz": lzma.compress(PLAIN, check=lzma.CHECK_NONE),
    # A BCJ or delta filter before LZMA2: the decoder takes one such filter.
    "python_delta.xz": lzma.compress(
        PLAIN,
        filters=[{"id": lzma.FILTER_DELTA, "dist": 4}, {"id": lzma.FILTER_LZMA2}],
    ),
    "python_x86.xz": lzma.compress(
        PLAIN, filters=[{"id": lzma.FILTER_X86}, {"id": lzma.FILTER_LZMA2}]
    ),
    # Three blocks, each header carrying compressed and uncompressed sizes.
    "xz_blocks.xz": subprocess.run(
        ["xz", "--format=xz", "--check=crc32", "--block-size=1024", "-c"],
        input=PLAIN,
        capture_output=True,
        check=True,
    ).stdout,
    "python.zlib": zlib.compress(PLAIN),  # level 6
    "python.snappy": bytes(cramjam.snappy.compress_raw(PLAIN)),
}

for name, data in VECTORS.items():
    with open(name, "wb") as f:
        f.write(data)
    print(f"{name}: {len(data)} bytes")
