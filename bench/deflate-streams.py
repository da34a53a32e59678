#!/usr/bin/env python3
"""Zlib streams inside an old and a new image (a program's embedded assets), and what a delta of
their decompressed bytes would cost.

    bench/deflate-streams.py OLD NEW

Finds every zlib stream (RFC 1950 header, then a deflate stream that decodes completely to more
than 256 bytes), then prints for NEW: the streams, their compressed and decompressed bytes, how
many decompress to bytes some stream of OLD also holds, the compressed bytes of the others (what a
byte-level delta must carry almost as they are), how many zlib itself re-creates bit for bit at
some level 0-9 (the condition for re-compressing on the vehicle, as Android's imgdiff does), and
the size of `zstd -19 --patch-from` of NEW's decompressed streams against OLD's (a bound on what a
delta of the decompressed data would carry). Needs python3 and zstd.
"""
import hashlib
import os
import subprocess
import sys
import tempfile
import zlib


def streams(path):
    data = open(path, "rb").read()
    found, index = [], 0
    while True:
        index = data.find(b"\x78", index)
        if index < 0 or index + 1 >= len(data):
            return data, found
        if data[index + 1] in (0x01, 0x5E, 0x9C, 0xDA) and ((data[index] << 8) | data[index + 1]) % 31 == 0:
            decoder = zlib.decompressobj()
            try:
                window = data[index:index + (64 << 20)]
                raw = decoder.decompress(window)
                if decoder.eof and len(raw) > 256:
                    used = len(window) - len(decoder.unused_data)
                    found.append((index, used, raw))
                    index += used
                    continue
            except zlib.error:
                pass
        index += 1


def main():
    old_path, new_path = sys.argv[1], sys.argv[2]
    _, old = streams(old_path)
    new_data, new = streams(new_path)
    old_digests = {hashlib.sha256(raw).digest() for _, _, raw in old}
    changed = [(offset, used, raw) for offset, used, raw in new if hashlib.sha256(raw).digest() not in old_digests]
    exact = 0
    for offset, used, raw in new:
        compressed = new_data[offset:offset + used]
        if any(zlib.compress(raw, level) == compressed for level in range(10)):
            exact += 1
    if not new:
        print(f"{os.path.basename(new_path)}: no zlib streams")
        return
    with tempfile.TemporaryDirectory() as work:
        old_raw, new_raw = os.path.join(work, "old.raw"), os.path.join(work, "new.raw")
        open(old_raw, "wb").write(b"".join(raw for _, _, raw in old))
        open(new_raw, "wb").write(b"".join(raw for _, _, raw in new))
        patch = os.path.join(work, "p.zst")
        if old:
            subprocess.run(["zstd", "-q", "-19", "--long=27", "-f", "--patch-from=" + old_raw, new_raw, "-o", patch],
                           check=True, stderr=subprocess.DEVNULL)
        else:
            subprocess.run(["zstd", "-q", "-19", "-f", new_raw, "-o", patch], check=True, stderr=subprocess.DEVNULL)
        patch_size = os.path.getsize(patch)
    print(f"{os.path.basename(new_path)}: {len(new)} zlib streams, {sum(u for _, u, _ in new)} bytes compressed, "
          f"{sum(len(r) for _, _, r in new)} decompressed; {len(new) - len(changed)} decompress to bytes OLD holds; "
          f"the other {len(changed)}: {sum(u for _, u, _ in changed)} bytes compressed; "
          f"zlib re-creates {exact} of {len(new)} bit for bit; "
          f"zstd --patch-from of the decompressed streams: {patch_size} bytes")


if __name__ == "__main__":
    main()
