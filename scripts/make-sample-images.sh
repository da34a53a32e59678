#!/usr/bin/env bash
# Makes the sample image files the manifests in manifests/ name, deterministically, in DIR.
# Usage: scripts/make-sample-images.sh DIR [SIZE_MIB]
set -euo pipefail
dir=$1
size_mib=${2:-8}
mkdir -p "$dir"
python3 - "$dir" "$size_mib" <<'PY'
import hashlib, os, sys
directory, size_mib = sys.argv[1], int(sys.argv[2])

def image(name, size, seed):
    # Filesystem-like: mostly repeated blocks and zero runs, with some pseudo-random data.
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        block = 0
        written = 0
        while written < size:
            digest = hashlib.sha256(f"{seed}:{block}".encode()).digest()
            kind = digest[0] % 4
            if kind == 0:
                data = bytes(4096)
            elif kind == 1:
                data = (f"{seed} config line {block}\n" * 200).encode()[:4096]
            else:
                data = b"".join(hashlib.sha256(digest + bytes([i])).digest() for i in range(128))
            data = data[: min(4096, size - written)]
            f.write(data)
            written += len(data)
            block += 1

def evolve(old_name, new_name, seed):
    # The next release: most blocks unchanged, some rewritten, a few KiB inserted mid-image
    # (later files shift), as between two builds of a root filesystem.
    with open(os.path.join(directory, old_name), "rb") as f:
        data = bytearray(f.read())
    for block in range(0, len(data) // 4096, 37):
        start = block * 4096
        data[start:start + 512] = hashlib.sha256(f"{seed}:{block}".encode()).digest() * 16
    middle = len(data) // 2
    data[middle:middle] = (f"{seed} new component\n" * 400).encode()
    with open(os.path.join(directory, new_name), "wb") as f:
        f.write(bytes(data[: len(data)]))

mib = 1 << 20
image("ivi-rootfs-2.3.1.img", size_mib * mib, "ivi-2.3.1")
evolve("ivi-rootfs-2.3.1.img", "ivi-rootfs-2.4.0.img", "ivi-2.4.0")
image("tbox-fw-4.1.0.bin", mib, "tbox-4.1.0")
image("adas-main-5.1.0.img", size_mib * mib // 2, "adas-5.1.0")
image("bcm-app-3.2.0.bin", mib, "bcm-3.2.0")
image("gateway-fw-1.8.0.bin", mib // 2 + 12345, "cgw-1.8.0")
PY
