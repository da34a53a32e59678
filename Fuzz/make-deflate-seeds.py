#!/usr/bin/env python3
"""Writes the `deflate` harness's seeds (Fuzz/corpus/deflate/): zlib, gzip and raw deflate streams
made by zlib, each after the mode byte that names its container (Fuzz/Sources/ota-fuzz/DeflateTarget.swift).

    Fuzz/make-deflate-seeds.py [DIR]     (default Fuzz/corpus/deflate)
"""
import gzip
import os
import sys
import zlib

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "deflate")
os.makedirs(out, exist_ok=True)
text = b"ota fuzz seed: the quick brown fox jumps over the lazy dog\n" * 30 + bytes(range(256)) * 2
# Mode byte: bit 0 clear (puff), bits 1-2 the prefix (1: 2 bytes, 2: 10 bytes), bits 3-4 the suffix (1: 4, 2: 8).
ZLIB, GZIP, RAW = (1 << 1) | (1 << 3), (2 << 1) | (2 << 3), 0


def deflate(data, level=6, wbits=15, strategy=zlib.Z_DEFAULT_STRATEGY, flush_at=None):
    c = zlib.compressobj(level, zlib.DEFLATED, wbits, 8, strategy)
    if flush_at is None:
        return c.compress(data) + c.flush()
    return c.compress(data[:flush_at]) + c.flush(zlib.Z_SYNC_FLUSH) + c.compress(data[flush_at:]) + c.flush()


seeds = {
    "zlib-level1": bytes([ZLIB]) + deflate(text, 1),
    "zlib-level9": bytes([ZLIB]) + deflate(text, 9),
    "zlib-stored": bytes([ZLIB]) + deflate(text[:300], 0),
    "zlib-fixed": bytes([ZLIB]) + deflate(text, 6, strategy=zlib.Z_FIXED),
    "zlib-sync-flush": bytes([ZLIB]) + deflate(text, 6, flush_at=500),
    "raw-rle": bytes([RAW]) + deflate(text, 6, -15, zlib.Z_RLE),
    "gzip": bytes([GZIP]) + gzip.compress(text, mtime=0),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
