#!/usr/bin/python3
"""Generate and check the signed-file known-answer vectors (vectors/signed/).

Made with the independent reference implementation tests/interop/kvseal_ref.py.
Everything but the signature is derived from fixed labels (DEK, salt, OAEP seed,
plaintext, created, context), so a regeneration reproduces every byte of every
file except the signature: ECDSA and RSA-PSS signatures are randomized.

  /usr/bin/python3 vectors/signed/generate.py            # --check (default)
  /usr/bin/python3 vectors/signed/generate.py --write    # rewrite the committed files

--check rebuilds each vector in memory and requires it to equal the committed
file outside the signature bytes, verifies the committed signature with the
signer's public key, decrypts the committed file (seekable and streaming,
with the signer required) and compares every manifest value.
"""

import argparse
import hashlib
import io
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(REPO, "tests", "interop"))
import kvseal_ref as ref  # noqa: E402

CHUNK = 4096
RECIPIENT = "tests/keys/rsa2048-a"
SIGNER_KEYS = {"ES256": "tests/keys/ec-p256", "ES384": "tests/keys/ec-p384",
               "PS256": "tests/keys/rsa3072"}
CREATED = "2026-12-07T00:00:00Z"

# name, alg, plaintext length, with context and created
CASES = [
    ("es256-empty", "ES256", 0, False),
    ("es256-1chunk", "ES256", 1000, True),
    ("es256-15chunks", "ES256", 14 * CHUNK + 123, True),
    ("es256-16chunks", "ES256", 16 * CHUNK, True),
    ("es256-17chunks", "ES256", 16 * CHUNK + 1000, True),
    ("es256-40chunks", "ES256", 40 * CHUNK - 5, True),
    ("es384-empty", "ES384", 0, True),
    ("es384-1chunk", "ES384", 1, True),
    ("es384-17chunks", "ES384", 16 * CHUNK + 1, True),
    ("ps256-empty", "PS256", 0, True),
    ("ps256-1chunk", "PS256", 4096, True),
    ("ps256-17chunks", "PS256", 17 * CHUNK, True),
]


def label_hash(kind, name):
    return hashlib.sha256(f"kvseal signed vector {kind}:{name}".encode()).digest()


def counter_stream(label, length):
    """Plaintext: SHA-256(label || 8-byte big-endian counter) blocks, cut to length."""
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(label.encode() + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:length])


def path(rel):
    return os.path.join(REPO, rel)


def build(name, alg, length, extras, signature=None):
    """(file bytes, manifest entry).  signature: reuse these bytes instead of
    signing (a check against a committed file)."""
    dek, salt = label_hash("dek", name), label_hash("salt", name)
    plain = counter_stream("kvseal signed " + name, length)
    context = {"vector": name, "purpose": "kvseal signed vectors"} if extras else {}
    created = CREATED if extras else None
    sign_key, _ = ref.load_signing_key(path(SIGNER_KEYS[alg] + ".pem"), alg)
    key_id = ref.spki_key_id(sign_key.public_key())
    recipient_pub = ref.load_public_key(path(RECIPIENT + ".pub.pem"))
    recipient = ref.make_rsa_recipient(recipient_pub, dek, "RSA-OAEP-256",
                                       label_hash("oaep seed", name))
    signer = {"type": "key", "key_id": key_id, "alg": alg}
    obj = ref.build_header_object(CHUNK, salt, [recipient], context, created, signer)
    header_key, payload_key = ref.derive_keys(dek, salt)
    head = ref.frame_header(ref.encode_header(obj), header_key)
    body = io.BytesIO()
    acc = ref.RootAccumulator()
    n = ref.encrypt_payload(io.BytesIO(plain), body.write, payload_key, CHUNK, acc.add)
    roots = acc.finish()
    commit = ref.commit_value(dek, salt)
    statement = ref.signed_statement(salt, CHUNK, n, commit, roots,
                                     {"type": "key", "id": key_id, "alg": alg},
                                     context, created)
    if signature is None:
        signature = ref.sign_statement(sign_key, alg, statement)
    trailer = ref.encode_trailer(roots, commit, signature)
    data = head + body.getvalue() + trailer
    entry = {
        "name": name, "file": name + ".kvs", "file_sha256": hashlib.sha256(data).hexdigest(),
        "file_len": len(data),
        "plaintext_len": length, "plaintext_sha256": hashlib.sha256(plain).hexdigest(),
        "plaintext_generator": {"counter_stream_label": "kvseal signed " + name},
        "recipient_key": RECIPIENT + ".pem", "recipient_key_id": recipient["key_id"],
        "signer_key": SIGNER_KEYS[alg] + ".pem", "signer_pub": SIGNER_KEYS[alg] + ".pub.pem",
        "signer_key_id": key_id, "alg": alg,
        "dek_hex_TEST_ONLY": dek.hex(), "salt_hex": salt.hex(),
        "header_key_hex": header_key.hex(), "payload_key_hex": payload_key.hex(),
        "chunk_size": CHUNK, "context": context, "created": created,
        "header_len": len(head) - 44, "payload_offset": len(head),
        "n": n, "m": len(roots), "roots_hex": [r.hex() for r in roots],
        "commit_hex": commit.hex(),
        "statement_hex": statement.hex(),
        "statement_sha256": hashlib.sha256(statement).hexdigest(),
        "statement_digest_hex": ref.statement_digest(alg, statement).hex(),
        "sig_len": len(signature), "signature_hex": signature.hex(),
        "trailer_offset": len(data) - len(trailer), "trailer_len": len(trailer),
    }
    return data, entry, plain


def check(manifest_path):
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    by_name = {v["name"]: v for v in manifest["vectors"]}
    problems = []
    if sorted(by_name) != sorted(c[0] for c in CASES):
        problems.append(f"manifest names {sorted(by_name)} differ from CASES")
    for name, alg, length, extras in CASES:
        v = by_name.get(name)
        if v is None:
            continue
        with open(os.path.join(HERE, v["file"]), "rb") as f:
            committed = f.read()
        sig = bytes.fromhex(v["signature_hex"])
        data, entry, plain = build(name, alg, length, extras, signature=sig)
        if data != committed:
            problems.append(f"{name}: rebuilt file differs from the committed one")
        if entry != v:
            diff = [k for k in entry if entry[k] != v.get(k)] + [k for k in v if k not in entry]
            problems.append(f"{name}: manifest differs in {diff}")
        req = ref.RequiredSigner.from_pem(path(v["signer_pub"]))
        stmt = bytes.fromhex(v["statement_hex"])
        if not ref.verify_statement(req.public_key, alg, stmt, sig):
            problems.append(f"{name}: committed signature does not verify")
        key = ref.load_private_key(path(v["recipient_key"]))
        for seekable in (True, False):
            out = []
            try:
                n = ref.decrypt_stream(io.BytesIO(committed), out.append, [key], None, req,
                                       seekable)
            except ref.KvsealError as e:
                problems.append(f"{name}: refused ({'seekable' if seekable else 'stream'}): {e}")
                continue
            if b"".join(out) != plain or n != v["n"]:
                problems.append(f"{name}: wrong plaintext or n")
        try:
            ref.verify_signer_keyless(io.BytesIO(committed), req)
        except ref.KvsealError as e:
            problems.append(f"{name}: keyless verify refused: {e}")
    return problems


def write(out_dir):
    entries, total = [], 0
    for name, alg, length, extras in CASES:
        data, entry, _ = build(name, alg, length, extras)
        with open(os.path.join(out_dir, entry["file"]), "wb") as f:
            f.write(data)
        entries.append(entry)
        total += len(data)
    manifest = {
        "about": "kvseal signed-file known-answer vectors (docs/FORMAT.md, signed files); "
                 "made by vectors/signed/generate.py with tests/interop/kvseal_ref.py. "
                 "TEST-ONLY keys and DEKs.",
        "recipient": RECIPIENT + ".pem", "chunk_size": CHUNK, "vectors": entries,
    }
    with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help="rewrite the committed vectors")
    a = ap.parse_args()
    if a.write:
        total = write(HERE)
        print(f"wrote {len(CASES)} vectors, {total} bytes")
    problems = check(os.path.join(HERE, "manifest.json"))
    for p in problems:
        print("FAIL", p)
    print(f"{len(CASES)} vectors, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
