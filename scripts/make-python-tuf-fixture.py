#!/usr/bin/env python3
"""Makes the python-tuf repository fixture in Tests/OTATUFTests/Fixtures/python-tuf/ (committed).

An independent implementation's repository for ota's TUF client to read: root (ed25519 +
rsassa-pss-sha256, threshold 2) rotated once, targets (ecdsa-sha2-nistp256) with delegations
(paths, path_hash_prefixes, terminating, two levels), snapshot (rsa-pkcs1v15-sha256), timestamp
(ed25519), an unknown field under the signature, consistent snapshots.
Usage: scripts/make-python-tuf-fixture.py OUT_DIR      (needs `pip install tuf`)
"""
import hashlib
import os
import sys
from datetime import datetime, timezone

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole, Delegations, Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

out = sys.argv[1]
os.makedirs(f"{out}/metadata", exist_ok=True)
os.makedirs(f"{out}/targets/apps", exist_ok=True)
os.makedirs(f"{out}/targets/hashed", exist_ok=True)
expires = datetime(2099, 1, 1, tzinfo=timezone.utc)
ser = JSONSerializer(compact=False)

root_a = CryptoSigner.generate_ed25519()
root_b = CryptoSigner.generate_rsa(scheme="rsassa-pss-sha256")
root_c = CryptoSigner.generate_ecdsa()
targets_key = CryptoSigner.generate_ecdsa()
snapshot_key = CryptoSigner.generate_rsa(scheme="rsa-pkcs1v15-sha256")
timestamp_key = CryptoSigner.generate_ed25519()
apps_key = CryptoSigner.generate_ed25519()
hashed_key = CryptoSigner.generate_ecdsa()
deep_key = CryptoSigner.generate_rsa(scheme="rsassa-pss-sha256")

root = Metadata(Root(expires=expires, consistent_snapshot=True))
for signer in (root_a, root_b):
    root.signed.add_key(signer.public_key, "root")
root.signed.roles["root"].threshold = 2
root.signed.add_key(targets_key.public_key, "targets")
root.signed.add_key(snapshot_key.public_key, "snapshot")
root.signed.add_key(timestamp_key.public_key, "timestamp")
root.sign(root_a)
root.sign(root_b, append=True)
root.to_file(f"{out}/metadata/1.root.json", ser)
# Version 2: root key b replaced by c; signed by the old threshold (a, b) and the new (a, c).
root.signed.version = 2
root.signed.revoke_key(root_b.public_key.keyid, "root")
root.signed.add_key(root_c.public_key, "root")
root.signatures.clear()
for signer in (root_a, root_b, root_c):
    root.sign(signer, append=True)
root.to_file(f"{out}/metadata/2.root.json", ser)


def add_file(targets, name, data, folder):
    path = f"{out}/targets/{folder}{hashlib.sha256(data).hexdigest()}.{name.split('/')[-1]}"
    with open(path, "wb") as f:
        f.write(data)
    targets.targets[name] = TargetFile.from_data(name, data, ["sha256"])


top = Metadata(Targets(expires=expires))
add_file(top.signed, "readme.txt", b"hello from python-tuf\n", "")
top.signed.unrecognized_fields["x-tool"] = {"made-by": "python-tuf", "note": "unknown fields stay under the signature"}
top.signed.delegations = Delegations(keys={}, roles={})
apps_role = DelegatedRole("apps", [apps_key.public_key.keyid], 1, True, paths=["apps/*"])
hashed_role = DelegatedRole("hashed", [hashed_key.public_key.keyid], 1, False, path_hash_prefixes=[
    hashlib.sha256(b"hashed/blob.bin").hexdigest()[:2]])
top.signed.delegations.keys[apps_key.public_key.keyid] = apps_key.public_key
top.signed.delegations.keys[hashed_key.public_key.keyid] = hashed_key.public_key
top.signed.delegations.roles["apps"] = apps_role
top.signed.delegations.roles["hashed"] = hashed_role

apps = Metadata(Targets(expires=expires))
add_file(apps.signed, "apps/app.bin", b"app payload\n" * 10, "apps/")
apps.signed.delegations = Delegations(keys={deep_key.public_key.keyid: deep_key.public_key}, roles={
    "deep": DelegatedRole("deep", [deep_key.public_key.keyid], 1, False, paths=["apps/deep-*"])})
deep = Metadata(Targets(expires=expires))
add_file(deep.signed, "apps/deep-1.bin", b"two levels down\n", "apps/")
hashed = Metadata(Targets(expires=expires))
add_file(hashed.signed, "hashed/blob.bin", b"found by hash prefix\n", "hashed/")

for md, name, signer in ((top, "targets", targets_key), (apps, "apps", apps_key), (deep, "deep", deep_key), (hashed, "hashed", hashed_key)):
    md.sign(signer)
    md.to_file(f"{out}/metadata/1.{name}.json", ser)

snapshot = Metadata(Snapshot(expires=expires))
for name in ("targets", "apps", "deep", "hashed"):
    snapshot.signed.meta[f"{name}.json"] = MetaFile(version=1)
snapshot.sign(snapshot_key)
snapshot.to_file(f"{out}/metadata/1.snapshot.json", ser)

timestamp = Metadata(Timestamp(expires=expires))
timestamp.signed.snapshot_meta = MetaFile.from_data(1, open(f"{out}/metadata/1.snapshot.json", "rb").read(), ["sha256"])
timestamp.sign(timestamp_key)
timestamp.to_file(f"{out}/metadata/timestamp.json", ser)
