#!/usr/bin/python3
"""Generate kvseal v1 golden files with the independent reference encoder.

The committed files are the contract: every kvseal version must decrypt them
byte for byte.  Do NOT regenerate them casually.  This script exists to show
how they were made and to check that they still can be (--check).

Everything is derived from fixed labels: DEKs, salts, plaintexts and even the
OAEP seeds (RFC 8017 encoding with a chosen seed), so a regeneration with the
committed keys is byte-identical.  Only the RSA keys are random; they are
created once if missing and then committed.

  /usr/bin/python3 vectors/golden/generate.py             # regenerate to a temp dir, compare
  /usr/bin/python3 vectors/golden/generate.py --out DIR   # write a copy to DIR
  (--out vectors/golden --force rewrites the committed files: only for a new format version)
"""

import argparse
import filecmp
import hashlib
import io
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True   # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "interop"))
import kvseal_ref as ref  # noqa: E402

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

CREATED = "2025-01-01T00:00:00Z"
KEYS = {"rsa2048-a": 2048, "rsa2048-b": 2048, "rsa3072-c": 3072,
        "rsa4096-d": 4096, "rsa2048-wrong": 2048}
KV_KID = ("https://kvseal-golden.vault.azure.net/keys/golden-kek/"
          "0123456789abcdef0123456789abcdef")
CONTEXT_UTF8 = {"purpose": "golden vector", "città": "Zürich",
                "名前": "テスト", "emoji 🔐": "ключ ✓"}

# name: chunk_size, plaintext length, recipients [(key or "kv:"+key, alg)], options
CASES = [
    ("empty", 4096, 0, [("rsa2048-a", "RSA-OAEP-256")], {}),
    ("one-byte", 4096, 1, [("rsa2048-a", "RSA-OAEP-256")], {}),
    ("one-chunk", 4096, 4096, [("rsa2048-a", "RSA-OAEP-256")], {}),
    ("three-chunks-exact", 4096, 3 * 4096, [("rsa2048-a", "RSA-OAEP-256")], {}),
    ("chunk-plus-one", 4096, 4097, [("rsa2048-a", "RSA-OAEP-256")], {}),
    ("chunk64k-200k", 65536, 200000, [("rsa4096-d", "RSA-OAEP-256")], {}),
    ("multi-recipient", 4096, 10000,
     [("rsa2048-a", "RSA-OAEP-256"), ("rsa2048-b", "RSA-OAEP"),
      ("rsa3072-c", "RSA-OAEP-256")], {}),
    ("context-utf8", 4096, 5000, [("rsa2048-a", "RSA-OAEP-256")],
     {"context": CONTEXT_UTF8}),
    ("context-escaped", 4096, 5000, [("rsa2048-a", "RSA-OAEP-256")],
     {"context": CONTEXT_UTF8, "ascii_json": True}),
    ("default-chunk-2.5m", 1 << 20, 5 << 19, [("rsa2048-b", "RSA-OAEP-256")],
     {"store_plain": False}),
    ("unknown-members-no-created", 4096, 100, [("rsa2048-a", "RSA-OAEP-256")],
     {"created": None,
      "extra": {"x-future": {"nested": [1, 2.5, {"a": None}], "flag": True},
                "comment": "unknown members are ignored but authenticated"}}),
    ("keyvault-and-rsa", 4096, 300,
     [("kv:rsa3072-c", "RSA-OAEP-256"), ("rsa2048-b", "RSA-OAEP")], {}),
]

NOTES = {
    "context-escaped": "same context as context-utf8, but the header JSON spells "
                       "non-ASCII as \\u escapes (astral characters as surrogate pairs)",
    "unknown-members-no-created": "header has no 'created' and two unknown members "
                                  "(one nested) that v1 decoders must ignore",
    "keyvault-and-rsa": "first recipient is type azure-keyvault (kid " + KV_KID +
                        ", wrapped with rsa3072-c's public key); a decoder given "
                        "rsa2048-b must skip it without contacting any host",
    "multi-recipient": "rsa2048-b's recipient uses alg RSA-OAEP (SHA-1)",
    "default-chunk-2.5m": "plaintext not stored (size); regenerate it with "
                          "counter_stream(label, length) in this script",
}


def label_hash(kind, *parts):
    return hashlib.sha256(("kvseal golden v1 " + kind + ":" + ":".join(parts))
                          .encode()).digest()


def counter_stream(label, length):
    """Deterministic plaintext: SHA-256(label || 8-byte BE counter) blocks."""
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(label.encode() + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:length])


def ensure_keys(key_dir):
    os.makedirs(key_dir, exist_ok=True)
    for name, bits in KEYS.items():
        priv_path = os.path.join(key_dir, name + ".pem")
        if not os.path.exists(priv_path):
            key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
            with open(priv_path, "wb") as f:
                f.write(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
        pub_path = os.path.join(key_dir, name + ".pub.pem")
        if os.path.exists(pub_path):
            continue
        pub = ref.load_private_key(priv_path).public_key()
        with open(pub_path, "wb") as f:
            f.write(pub.public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo))


def make_recipient(key_dir, case, index, spec, alg, dek):
    """An rsa recipient, or ("kv:" prefix) an azure-keyvault one; fixed OAEP seed."""
    key_name = spec[3:] if spec.startswith("kv:") else spec
    pub = ref.load_public_key(os.path.join(key_dir, key_name + ".pem"))
    hlen = ref.ALGS[alg]().digest_size
    seed = label_hash("oaep seed", case, str(index))[:hlen]
    r = ref.make_rsa_recipient(pub, dek, alg, seed)
    if spec.startswith("kv:"):
        r = {"type": "azure-keyvault", "alg": alg, "kid": KV_KID,
             "wrapped_key": r["wrapped_key"]}
    return r, key_name


def build_case(out_dir, key_dir, name, chunk_size, length, recips, opts):
    dek, salt = label_hash("dek", name), label_hash("salt", name)
    plain = counter_stream("kvseal golden " + name, length)
    recipients, decrypting = [], []
    for i, (spec, alg) in enumerate(recips):
        r, key_name = make_recipient(key_dir, name, i, spec, alg, dek)
        recipients.append(r)
        entry = {"private_key": f"keys/{key_name}.pem", "alg": alg,
                 "recipient_index": i, "type": r["type"]}
        entry["key_id"] = r.get("key_id") or ref.rsa_key_id(
            ref.load_public_key(os.path.join(key_dir, key_name + ".pem")))
        decrypting.append(entry)
    obj = ref.build_header_object(chunk_size, salt, recipients, opts.get("context"),
                                  opts.get("created", CREATED))
    obj.update(opts.get("extra", {}))
    header_key, payload_key = ref.derive_keys(dek, salt)
    out = io.BytesIO()
    out.write(ref.frame_header(ref.encode_header(obj, opts.get("ascii_json", False)),
                               header_key))
    chunks = ref.encrypt_payload(io.BytesIO(plain), out.write, payload_key, chunk_size)
    data = out.getvalue()
    with open(os.path.join(out_dir, name + ".kvs"), "wb") as f:
        f.write(data)
    plain_file = None
    if opts.get("store_plain", True):
        plain_file = name + ".plain"
        with open(os.path.join(out_dir, plain_file), "wb") as f:
            f.write(plain)
    return {
        "name": name, "file": name + ".kvs", "file_sha256": hashlib.sha256(data).hexdigest(),
        "plaintext_file": plain_file, "plaintext_len": length,
        "plaintext_sha256": hashlib.sha256(plain).hexdigest(),
        "plaintext_generator": {"counter_stream_label": "kvseal golden " + name},
        "chunk_size": chunk_size, "chunks": chunks,
        "context": opts.get("context", {}),
        "decrypt_with": [d for d in decrypting if d["type"] == "rsa"],
        "recipients": decrypting,
        "wrong_keys": ["keys/rsa2048-wrong.pem"],
        "dek_hex_TEST_ONLY": dek.hex(), "salt_hex": salt.hex(),
        "notes": NOTES.get(name, ""),
    }


def generate(out_dir, key_dir):
    os.makedirs(out_dir, exist_ok=True)
    ensure_keys(key_dir)
    cases = [build_case(out_dir, key_dir, *c) for c in CASES]
    manifest = {
        "format": "kvseal v1",
        "generator": "vectors/golden/generate.py with tests/interop/kvseal_ref.py",
        "created_member": CREATED,
        "about": "Golden files: every kvseal version must decrypt each file with each "
                 "key in decrypt_with (and the given context) to exactly the plaintext. "
                 "Keys are TEST-ONLY. DEKs are fixed for reproducibility (test-only).",
        "cases": cases,
    }
    with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return manifest


def check():
    """Regenerate with the committed keys into a temp dir; compare every file."""
    with tempfile.TemporaryDirectory() as tmp:
        generate(tmp, os.path.join(HERE, "keys"))
        bad = [n for n in sorted(os.listdir(tmp))
               if not os.path.exists(os.path.join(HERE, n))
               or not filecmp.cmp(os.path.join(tmp, n), os.path.join(HERE, n), shallow=False)]
    for n in bad:
        print(f"golden file differs from regeneration: {n}", file=sys.stderr)
    return not bad


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true",
                   help="regenerate into a temp dir and compare (the default)")
    p.add_argument("--out", help="write the files to this directory instead")
    p.add_argument("--force", action="store_true",
                   help="allow overwriting the committed golden files (never casually)")
    a = p.parse_args()
    if a.out is None or a.check:
        ok = check()
        print("golden files reproducible" if ok else "golden files DIFFER")
        return 0 if ok else 1
    committed = os.path.exists(os.path.join(HERE, "manifest.json"))
    if os.path.realpath(a.out) == os.path.realpath(HERE) and committed and not a.force:
        print("refusing to overwrite the committed golden files without --force",
              file=sys.stderr)
        return 1
    generate(a.out, os.path.join(HERE, "keys"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
