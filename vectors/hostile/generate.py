#!/usr/bin/python3
"""Generate the hostile kvseal corpus (run at test time, deterministic).

  /usr/bin/python3 vectors/hostile/generate.py OUTDIR [--golden DIR]

Builds hostile variants of the golden files (whose DEKs and salts are fixed
and listed in vectors/golden/manifest.json), so variants that must be
"otherwise valid" are re-signed with the real header key, and chunk-level
variants are sealed with the real payload key.  Nothing here is random.

OUTDIR receives:
  *.kvs           the files
  keys/           copies of the golden private keys the entries name
  manifest.json   [{"file","key","context"?,"expect_exit","expect_msg_substring"?,
                    "why","gap"?,"expect_from"?}]  -- every one MUST be refused
  accept.json     [{"file","key","context"?,"plaintext_sha256","why","gap"?}]
                  -- edge cases that are valid and MUST decrypt

expect_exit: 2 = not a valid or authentic kvseal file; 3 = no recipient could be
unwrapped.  "gap" marks entries whose expectation rests on an interpretation
where FORMAT.md is silent (see vectors/README.md); a harness may accept any
refusal (2 or 3) for them while the contract is settled.  "expect_from":
"reference" marks entries (single byte flips) whose 2-vs-3 split was computed
by running tests/interop/kvseal_ref.py rather than written by hand.
"""

import argparse
import copy
import hashlib
import hmac
import io
import json
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True   # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.join(REPO, "tests", "interop"))
import kvseal_ref as ref  # noqa: E402

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: E402

AUTH_FAILED = "header authentication failed"
NOT_KVSEAL = "not a kvseal file"
KID = "https://kvseal-hostile.vault.azure.net/keys/kek/00112233445566778899aabbccddeeff"


def det_bytes(label, n):
    """Deterministic filler bytes."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"kvseal hostile {label}".encode() + i.to_bytes(8, "big")).digest()
        i += 1
    return bytes(out[:n])


def b64(data):
    return ref.b64url_encode(data)


def compact(obj, ascii_json=False):
    return ref.encode_header(obj, ascii_json)


# --- a golden file taken apart --------------------------------------------------

class Base:
    def __init__(self, golden_dir, case):
        with open(os.path.join(golden_dir, case["file"]), "rb") as f:
            self.data = f.read()
        self.name = case["name"]
        self.dek = bytes.fromhex(case["dek_hex_TEST_ONLY"])
        self.salt = bytes.fromhex(case["salt_hex"])
        self.key = "keys/" + os.path.basename(case["decrypt_with"][0]["private_key"])
        self.context = case["context"]
        self.chunk_size = case["chunk_size"]
        self.plain_sha = case["plaintext_sha256"]
        hl = int.from_bytes(self.data[8:12], "big")
        self.header = self.data[12:12 + hl]
        self.tag = self.data[12 + hl:44 + hl]
        self.prefix = self.data[:44 + hl]
        payload = self.data[44 + hl:]
        step = self.chunk_size + 16
        self.chunks = [payload[i:i + step] for i in range(0, len(payload), step)]
        self.obj = json.loads(self.header)
        self.header_key, self.payload_key = ref.derive_keys(self.dek, self.salt)

    def plaintext_chunks(self):
        return [ref.open_chunk(self.payload_key, i, i == len(self.chunks) - 1, c)
                for i, c in enumerate(self.chunks)]

    def frame(self, header, ikm=None, salt=None, length=None):
        """magic || len || header || tag re-signed (with this file's DEK by default)."""
        hkey, _ = ref.derive_keys(ikm if ikm is not None else self.dek,
                                  salt if salt is not None else self.salt)
        length = len(header) if length is None else length
        lb = length.to_bytes(4, "big")
        return ref.MAGIC + lb + header + ref.header_tag(hkey, lb, header)

    def with_header(self, header, **kw):
        return self.frame(header, **kw) + b"".join(self.chunks)

    def with_obj(self, obj, ascii_json=False):
        return self.with_header(compact(obj, ascii_json))

    def edit(self, fn):
        """Deep-copy the header object, let fn modify it, re-sign."""
        obj = copy.deepcopy(self.obj)
        fn(obj)
        return self.with_obj(obj)

    def with_chunks(self, chunks):
        return self.prefix + b"".join(chunks)

    def recipient(self):
        return self.obj["recipients"][0]


# --- the corpus -----------------------------------------------------------------

class Corpus:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.refuse, self.accept_list, self.names = [], [], set()

    def _write(self, name, data):
        name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        if name in self.names:
            raise ValueError(f"duplicate case name {name}")
        self.names.add(name)
        with open(os.path.join(self.out_dir, name + ".kvs"), "wb") as f:
            f.write(data)
        return name + ".kvs"

    def add(self, name, data, why, base, exit=2, msg=None, gap=None, key=None,
            context=None, expect_from=None):
        entry = {"file": self._write(name, data), "key": key or base.key,
                 "expect_exit": exit, "why": why}
        if context:
            entry["context"] = context
        if msg:
            entry["expect_msg_substring"] = msg
        if gap:
            entry["gap"] = gap
        if expect_from:
            entry["expect_from"] = expect_from
        self.refuse.append(entry)

    def accept(self, name, data, why, base, key=None, gap=None, plain_sha=None):
        entry = {"file": self._write(name, data), "key": key or base.key,
                 "plaintext_sha256": plain_sha or base.plain_sha, "why": why}
        if base.context:
            entry["context"] = base.context
        if gap:
            entry["gap"] = gap
        self.accept_list.append(entry)


# --- families -------------------------------------------------------------------

def framing(c, b):
    """Magic and header_len."""
    c.add("magic-empty-file", b"", "empty file", b)
    for n in (1, 4, 7):
        c.add(f"magic-short-{n}", b.data[:n], f"file is only {n} bytes of the magic", b)
    c.add("magic-only", ref.MAGIC, "magic and nothing else", b)
    c.add("magic-len-partial", b.data[:10], "file ends inside header_len", b)
    c.add("magic-version-2", b"KVSEAL\x00\x02" + b.data[8:], "format version byte 2", b,
          msg=NOT_KVSEAL, gap="magic includes the version; message could name the version")
    c.add("magic-version-0", b"KVSEAL\x00\x00" + b.data[8:], "format version byte 0", b,
          msg=NOT_KVSEAL, gap="magic includes the version; message could name the version")
    c.add("magic-lowercase", b"kvseal\x00\x01" + b.data[8:], "magic in lower case", b,
          msg=NOT_KVSEAL)
    c.add("magic-age", b"age-encryption.org/v1\n" + b.data, "another format's magic", b,
          msg=NOT_KVSEAL)
    c.add("magic-shifted", b"\x00" + b.data, "one byte before the magic", b, msg=NOT_KVSEAL)
    hdr_rest = b.data[12:]
    for n in (0, 1, 65537, 2**31, 2**32 - 1):
        c.add(f"hlen-{n}", ref.MAGIC + n.to_bytes(4, "big") + hdr_rest,
              f"header_len {n} outside 2..65536", b)
    c.add("hlen-1-brace", ref.MAGIC + b"\x00\x00\x00\x01{" + det_bytes("t", 32),
          "header_len 1 holding '{'", b)
    hl = len(b.header)
    c.add("hlen-minus-1", ref.MAGIC + (hl - 1).to_bytes(4, "big") + hdr_rest,
          "header_len one short: JSON cut, tag misframed", b)
    c.add("hlen-plus-1", ref.MAGIC + (hl + 1).to_bytes(4, "big") + hdr_rest,
          "header_len one long: a tag byte read as JSON", b)
    c.add("hlen-beyond-eof", ref.MAGIC + (60000).to_bytes(4, "big") + hdr_rest,
          "header_len larger than the file", b)
    c.add("hlen-little-endian", ref.MAGIC + hl.to_bytes(4, "little") + hdr_rest,
          "header_len written little-endian", b)
    for n in (13, hl // 2, hl + 11, hl + 12 + 31):
        c.add(f"truncated-at-{n}", b.data[:n], f"file cut at byte {n} (header or tag)", b)


def padded_header(b, target):
    """A valid header of exactly `target` bytes, padded by an unknown member."""
    obj = copy.deepcopy(b.obj)
    obj["x-pad"] = ""
    base_len = len(compact(obj))
    obj["x-pad"] = "A" * (target - base_len)
    raw = compact(obj)
    assert len(raw) == target
    return raw


def sizes(c, b):
    c.accept("size-header-65536", b.with_header(padded_header(b, 65536)),
             "header of exactly 65536 bytes (the maximum), otherwise valid", b)
    c.add("size-header-65537", b.with_header(padded_header(b, 65537)),
          "otherwise valid, re-signed header of 65537 bytes", b)
    c.add("size-header-100000", b.with_header(padded_header(b, 100000)),
          "huge JSON header (100000 bytes)", b)
    c.add("size-header-1mib", b.with_header(padded_header(b, 1 << 20)),
          "huge JSON header (1 MiB)", b)


def json_syntax(c, b):
    """Malformed JSON, re-signed so only the syntax is wrong."""
    h = b.header.decode()
    body = h[1:-1]
    cases = {
        "trailing-comma": "{" + body + ",}",
        "missing-brace": "{" + body,
        "extra-brace": "{" + body + "}}",
        "single-quotes": h.replace('"suite"', "'suite'"),
        "unquoted-key": h.replace('"suite"', "suite"),
        "comment": "{/* c */" + body + "}",
        "line-comment": "{" + body + "}//",
        "trailing-garbage": h + "x",
        "two-objects": h + h,
        "top-array": "[" + h + "]",
        "top-string": '"' + "x" * 10 + '"',
        "top-number": "4096",
        "top-null": "null",
        "top-true": "true",
        "empty-object": "{}",
        "nan": "{" + body + ',"x":NaN}',
        "infinity": "{" + body + ',"x":Infinity}',
        "neg-infinity": "{" + body + ',"x":-Infinity}',
        "raw-control-char": h.replace('"created":"', '"created":"\x01'),
        "raw-newline-in-string": h.replace('"created":"', '"created":"\n'),
        "bad-escape": h.replace('"created":"', '"created":"\\x41'),
        "bad-u-escape": h.replace('"created":"', '"created":"\\u12G4'),
        "short-u-escape": h.replace('"created":"', '"created":"\\u12"'),
        "leading-zero": h.replace('"chunk_size":4096', '"chunk_size":04096'),
        "plus-sign": h.replace('"chunk_size":4096', '"chunk_size":+4096'),
        "hex-number": h.replace('"chunk_size":4096', '"chunk_size":0x1000'),
        "missing-colon": h.replace('"suite":', '"suite" '),
        "missing-comma": h.replace(',"chunk_size"', '"chunk_size"'),
        "nul-after": h + "\x00",
        "nul-before": "\x00" + h,
        "only-whitespace": " " * 40,
        "unterminated-string": h[:-2],
        "deep-arrays-10000": "{" + body + ',"x":' + "[" * 10000 + "]" * 10000 + "}",
        "deep-objects-10000": "{" + body + ',"x":' + '{"a":' * 10000 + "1" + "}" * 10000 + "}",
        "deep-unclosed-10000": "{" + body + ',"x":' + "[" * 10000 + "}",
        "deep-top-10000": "[" * 10000 + "]" * 10000,
    }
    for name, text in cases.items():
        gap = "depth bound not given in FORMAT.md" if "deep" in name else None
        c.add(f"json-{name}", b.with_header(text.encode()), f"malformed JSON header: {name}",
              b, gap=gap)
    c.add("json-bom", b.with_header(b"\xef\xbb\xbf" + b.header),
          "UTF-8 byte order mark before the object", b,
          gap="RFC 8259 lets parsers ignore a BOM; FORMAT.md is silent")
    c.add("json-lone-surrogate", b.with_header(h.replace('"created":"', '"created":"\\ud800')
                                               .encode()),
          "escaped lone surrogate in a string", b,
          gap="legal JSON syntax, not a Unicode string; FORMAT.md is silent")


def invalid_utf8(c, b):
    h = b.header
    seqs = {"ff": b"\xff", "overlong-slash": b"\xc0\xaf", "surrogate-d800": b"\xed\xa0\x80",
            "truncated-3byte": b"\xe2\x82", "lone-continuation": b"\x80",
            "5-byte": b"\xf8\x88\x80\x80\x80", "above-10ffff": b"\xf4\x90\x80\x80",
            "overlong-nul": b"\xc0\x80"}
    for name, seq in seqs.items():
        bad = h.replace(b'"created":"', b'"created":"' + seq)
        c.add(f"utf8-{name}-in-value", b.with_header(bad),
              f"invalid UTF-8 ({name}) inside a string value", b)
    c.add("utf8-ff-in-member-name", b.with_header(h.replace(b'"created"', b'"cr\xffeated"')),
          "invalid UTF-8 inside a member name", b)
    c.add("utf8-ff-outside-string", b.with_header(h[:-1] + b"\xff}"),
          "invalid UTF-8 between tokens", b)


def set_member(name, value):
    def fn(obj):
        obj[name] = value
    return fn


def del_member(name):
    def fn(obj):
        del obj[name]
    return fn


def set_recipient(name, value, index=0):
    def fn(obj):
        obj["recipients"][index][name] = value
    return fn


def del_recipient_member(name):
    def fn(obj):
        del obj["recipients"][0][name]
    return fn


def members(c, b):
    """Each member of the header wrong in one way; re-signed."""
    for m in ("suite", "chunk_size", "salt", "recipients"):
        c.add(f"missing-{m}", b.edit(del_member(m)), f"required member {m} missing", b)
    for i, v in enumerate(["", "AES-256-GCM", "aes-256-gcm-hkdf-sha256",
                           "AES-256-GCM-HKDF-SHA256 ", "AES-256-GCM-HKDF-SHA256\u0000",
                           "AES-256-GCM-HKDF-SHA512", "ChaCha20-Poly1305", 1, None,
                           ["AES-256-GCM-HKDF-SHA256"], {"name": "AES-256-GCM-HKDF-SHA256"}]):
        c.add(f"suite-{i}", b.edit(set_member("suite", v)), f"suite {v!r}", b)
    bad_sizes = {"0": 0, "1": 1, "2048": 2048, "4095": 4095, "4097": 4097,
                 "3x4096": 3 * 4096, "2e27": 2**27, "2e32": 2**32, "2e64": 2**64,
                 "minus-4096": -4096, "float-4096.0": 4096.0, "string": "4096",
                 "true": True, "null": None, "array": [4096], "2e26-plus-4096": 2**26 + 4096}
    for name, v in bad_sizes.items():
        c.add(f"chunk-size-{name}", b.edit(set_member("chunk_size", v)),
              f"chunk_size {json.dumps(v)}", b,
              gap="integer-valued float 4096.0" if isinstance(v, float) else None)
    c.add("chunk-size-10000", b.edit(set_member("chunk_size", 10000)),
          "chunk_size 10000 (not a power of two)", b)
    h = b.header.decode()
    c.add("chunk-size-exponent", b.with_header(
        h.replace('"chunk_size":4096', '"chunk_size":4.096e3').encode()),
        "chunk_size written as 4.096e3", b, gap="JSON number with exponent but integral value")
    c.add("chunk-size-4096e0", b.with_header(
        h.replace('"chunk_size":4096', '"chunk_size":4096e0').encode()),
        "chunk_size written as 4096e0", b, gap="JSON number with exponent but integral value")
    salt_cases = {
        "31-bytes": b64(b.salt[:31]), "33-bytes": b64(b.salt + b"\x00"), "empty": "",
        "padded": b64(b.salt) + "=", "std-alphabet-plus": "+" + b64(b.salt)[1:],
        "std-alphabet-slash": "/" + b64(b.salt)[1:], "dot": "." + b64(b.salt)[1:],
        "space-inside": b64(b.salt)[:20] + " " + b64(b.salt)[21:],
        "trailing-newline": b64(b.salt) + "\n", "hex": b.salt.hex(),
        "number": 1234, "null": None, "array": [b64(b.salt)],
    }
    for name, v in salt_cases.items():
        c.add(f"salt-{name}", b.edit(set_member("salt", v)), f"salt {name}", b)
    c.add("salt-noncanonical-bits", b.edit(set_member("salt", noncanonical(b64(b.salt)))),
          "salt with non-zero unused trailing bits (decodes to the same 32 bytes)", b,
          gap="FORMAT.md does not say whether non-canonical base64url is refused")
    other = det_bytes("salt", 32)
    c.add("salt-changed-not-resigned",
          raw_replace_unsigned(b, b64(b.salt).encode(), b64(other).encode()),
          "salt replaced, tag left as is", b, msg=AUTH_FAILED)
    c.add("salt-changed-resigned",
          b.frame(compact(dict(b.obj, salt=b64(other))), salt=other) + b"".join(b.chunks),
          "consistent header under another salt, payload under the old one", b)
    for name, v in {"context-array": ["a"], "context-string": "a=b", "context-number": 1,
                    "context-null": None, "context-bool": True}.items():
        c.add(name, b.edit(set_member("context", v)), f"context of the wrong type ({name})", b,
              gap="null for an optional member" if v is None else None)
    for name, v in {"created-number": 1735689600, "created-null": None,
                    "created-object": {}, "created-bool": False}.items():
        c.add(name, b.edit(set_member("created", v)), f"created of the wrong type ({name})", b,
              gap="null for an optional member" if v is None else None)


def noncanonical(text):
    """Same bytes, but with the unused low bits of the last character set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return text[:-1] + alphabet[alphabet.index(text[-1]) | 1]


def raw_replace_unsigned(b, old, new):
    """Edit header bytes without re-signing; keeps header_len consistent."""
    hdr = b.header.replace(old, new, 1)
    assert hdr != b.header
    return ref.MAGIC + len(hdr).to_bytes(4, "big") + hdr + b.tag + b"".join(b.chunks)


def recipients(c, b, pub):
    r0 = b.recipient()
    for name, v in {"empty": [], "object": r0, "string": "rsa", "null": None,
                    "null-entry": [None], "number-entry": [1], "string-entry": ["x"],
                    "array-entry": [[r0]]}.items():
        c.add(f"recipients-{name}", b.edit(set_member("recipients", v)),
              f"recipients: {name}", b)
    c.add("recipients-65", b.edit(set_member("recipients", [r0] * 65)),
          "65 recipients (limit 64), all valid copies", b)
    c.accept("recipients-64", b.edit(set_member("recipients", [r0] * 64)),
             "64 recipients (the maximum), identical copies", b)
    for m in ("type", "alg", "wrapped_key", "key_id"):
        c.add(f"recipient-missing-{m}", b.edit(del_recipient_member(m)),
              f"recipient without {m}", b)
    # A non-string type is malformed (2); an unknown string type is kept but
    # never usable (docs/FORMAT.md §5), so the only recipient is unusable (3).
    for i, v in enumerate([1, None, "RSA", "Rsa", "", "rsa ", ["rsa"]]):
        c.add(f"recipient-type-{i}", b.edit(set_recipient("type", v)), f"type {v!r}", b,
              exit=3 if isinstance(v, str) else 2)
    c.add("recipient-type-unknown", b.edit(set_recipient("type", "gcp-kms")),
          "unknown recipient type", b, exit=3)
    c.add("recipient-type-azure-without-kid", b.edit(set_recipient("type", "azure-keyvault")),
          "azure-keyvault recipient with key_id but no kid", b)
    for i, v in enumerate(["RSA1_5", "RSA-OAEP-384", "rsa-oaep-256", "RSA-OAEP-256 ", "",
                           "RSA-OAEP-512", "A256KW", "dir", 1, None]):
        c.add(f"recipient-alg-{i}", b.edit(set_recipient("alg", v)), f"alg {v!r}", b)
    kid = r0["key_id"]
    hexpart = kid[7:]
    key_ids = {"uppercase": "sha256:" + hexpart.upper(), "no-prefix": hexpart,
               "sha1": "sha1:" + hexpart[:40], "short": kid[:-1], "long": kid + "0",
               "prefix-case": "SHA256:" + hexpart, "newline": kid + "\n", "number": 1,
               "null": None, "empty": ""}
    for name, v in key_ids.items():
        c.add(f"recipient-key-id-{name}", b.edit(set_recipient("key_id", v)),
              f"malformed key_id ({name})", b,
              gap="a malformed key_id could also just match no key (3)"
              if isinstance(v, str) else None)
    wk = r0["wrapped_key"]
    wrapped = {"padded": wk + "==", "std-alphabet": wk.replace("-", "+").replace("_", "/")
               if ("-" in wk or "_" in wk) else "+" + wk[1:],
               "space": wk[:10] + " " + wk[10:], "newline": wk[:64] + "\n" + wk[64:],
               "impossible-length": wk + "AAA", "number": 5, "null": None, "array": [wk]}
    for name, v in wrapped.items():
        c.add(f"wrapped-key-{name}", b.edit(set_recipient("wrapped_key", v)),
              f"wrapped_key {name}", b)
    c.add("wrapped-key-noncanonical-bits", b.edit(set_recipient("wrapped_key", noncanonical(wk))),
          "wrapped_key with non-zero unused trailing bits", b,
          gap="FORMAT.md does not say whether non-canonical base64url is refused")
    raw_wk = ref.b64url_decode(wk, "wk")
    unwrap_gap = "OAEP decryption failure with a matching key_id: 3 (cannot unwrap) or 2?"
    for name, v in {"empty": b"", "255-bytes": raw_wk[:-1], "257-bytes": raw_wk + b"\x00",
                    "512-bytes": raw_wk * 2, "zeros": bytes(len(raw_wk)),
                    "all-ff": b"\xff" * len(raw_wk)}.items():
        c.add(f"wrapped-key-{name}", b.edit(set_recipient("wrapped_key", b64(v))),
              f"wrapped_key {name}: OAEP cannot decrypt it", b, exit=3, gap=unwrap_gap)
    flipped = bytearray(raw_wk)
    flipped[100] ^= 1
    c.add("wrapped-key-bitflip", b.edit(set_recipient("wrapped_key", b64(bytes(flipped)))),
          "one bit of the wrapped key flipped", b, exit=3, gap=unwrap_gap)
    wrong_wraps(c, b, pub, unwrap_gap)


def pkcs1v15_encrypt(pub, message, label):
    """Deterministic PKCS#1 v1.5 type 2 padding (for the refusal tests only)."""
    nums = pub.public_numbers()
    k = (nums.n.bit_length() + 7) // 8
    ps = bytes(x or 1 for x in det_bytes(label, k - len(message) - 3))
    em = b"\x00\x02" + ps + b"\x00" + message
    return pow(int.from_bytes(em, "big"), nums.e, nums.n).to_bytes(k, "big")


def wrong_wraps(c, b, pub, unwrap_gap):
    """Recipients whose wrapped_key is a real RSA ciphertext of the wrong kind."""
    def with_wrap(wrapped, alg=None):
        def fn(obj):
            obj["recipients"][0]["wrapped_key"] = b64(wrapped)
            if alg:
                obj["recipients"][0]["alg"] = alg
        return b.edit(fn)
    seed32, seed20 = det_bytes("seed", 32), det_bytes("seed", 20)
    c.add("wrap-sha1-labelled-sha256", with_wrap(ref.oaep_encrypt_with_seed(
        pub, "RSA-OAEP", b.dek, seed20)), "DEK wrapped with OAEP SHA-1, alg says RSA-OAEP-256",
        b, exit=3, gap=unwrap_gap)
    c.add("wrap-sha256-labelled-sha1", with_wrap(ref.oaep_encrypt_with_seed(
        pub, "RSA-OAEP-256", b.dek, seed32), "RSA-OAEP"),
        "DEK wrapped with OAEP SHA-256, alg says RSA-OAEP", b, exit=3, gap=unwrap_gap)
    v15 = pkcs1v15_encrypt(pub, b.dek, "v15")
    c.add("wrap-pkcs1v15-labelled-oaep", with_wrap(v15),
          "DEK wrapped with PKCS#1 v1.5, alg says RSA-OAEP-256", b, exit=3, gap=unwrap_gap)
    c.add("wrap-pkcs1v15-rsa1_5", with_wrap(v15, "RSA1_5"),
          "DEK really wrapped with RSA1_5 and labelled so: always refused", b)
    nums = pub.public_numbers()
    k = (nums.n.bit_length() + 7) // 8
    raw = pow(int.from_bytes(b.dek, "big"), nums.e, nums.n).to_bytes(k, "big")
    c.add("wrap-raw-rsa", with_wrap(raw), "DEK encrypted with unpadded RSA", b,
          exit=3, gap=unwrap_gap)
    other = ref.oaep_encrypt_with_seed(pub, "RSA-OAEP-256", det_bytes("dek", 32), seed32)
    c.add("wrap-other-dek", with_wrap(other),
          "wrapped_key holds a different valid DEK: header tag fails", b, msg=AUTH_FAILED)
    plain = b"".join(b.plaintext_chunks())
    for n in (0, 16, 31, 33, 64):
        c.add(f"dek-length-{n}", consistent_file(b, pub, det_bytes(f"ikm{n}", n), plain),
              f"unwrapped value is {n} bytes; header and payload keyed from it consistently",
              b, gap="2 (MUST be 32 bytes) rather than 3")


def consistent_file(b, pub, ikm, plain, salt=None):
    """A whole file keyed from `ikm` (any length), wrapped for pub."""
    salt = salt or b.salt
    obj = copy.deepcopy(b.obj)
    obj["salt"] = b64(salt)
    seed = det_bytes("cf" + ikm.hex(), 32)
    obj["recipients"] = [{"type": "rsa", "alg": "RSA-OAEP-256", "key_id": ref.rsa_key_id(pub),
                          "wrapped_key": b64(ref.oaep_encrypt_with_seed(
                              pub, "RSA-OAEP-256", ikm, seed))}]
    _, pkey = ref.derive_keys(ikm, salt)
    out = io.BytesIO()
    ref.encrypt_payload(io.BytesIO(plain), out.write, pkey, obj["chunk_size"])
    return b.frame(compact(obj), ikm=ikm, salt=salt) + out.getvalue()


def azure_recipients(c, b):
    """An azure-keyvault recipient placed before the valid rsa one."""
    r0 = b.recipient()
    good = {"type": "azure-keyvault", "alg": "RSA-OAEP-256", "kid": KID,
            "wrapped_key": r0["wrapped_key"]}
    c.accept("azure-then-rsa", b.edit(set_member("recipients", [good, r0])),
             "an azure-keyvault recipient first; the rsa key must find its own", b)
    c.add("azure-only", b.edit(set_member("recipients", [good])),
          "only an azure-keyvault recipient; an rsa key cannot unwrap it", b, exit=3)
    bad = {"missing": None, "http": KID.replace("https", "http"),
           "no-version": KID.rsplit("/", 1)[0], "not-keys": KID.replace("/keys/", "/secrets/"),
           "number": 7, "query": KID + "?x=1", "userinfo": KID.replace("https://",
                                                                       "https://u@")}
    for name, kid in bad.items():
        r = dict(good)
        if kid is None:
            del r["kid"]
        else:
            r["kid"] = kid
        c.add(f"azure-kid-{name}", b.edit(set_member("recipients", [r, r0])),
              f"azure-keyvault recipient with bad kid ({name}) before a valid rsa one", b)
    kid_grammar(c, b, good, r0)


# FORMAT.md §5 kid grammar: https://host[:port]/keys/name/version, where host is
# 1 to 253 characters of dot-separated labels of 1 to 63 [A-Za-z0-9-] that
# neither start nor end with '-'; port 1 to 65535 without leading zeros; name 1
# to 127 of [0-9A-Za-z-]; version 1 to 64 of [0-9A-Za-z].
VAULT = "kvseal-hostile.vault.azure.net"
VERSION = "00112233445566778899aabbccddeeff"


def kid_of(host=VAULT, port="", name="kek", version=VERSION):
    return f"https://{host}{':' + port if port else ''}/keys/{name}/{version}"


def label_host(*lengths):
    """A host of labels of the given lengths, "a"-filled, ending in ".net"."""
    return ".".join("a" * n for n in lengths) + ".net"


# Kids every decoder accepts (boundaries just inside each limit).
KIDS_OK = {
    "port-1": kid_of(port="1"),
    "port-443": kid_of(port="443"),
    "port-65535": kid_of(port="65535"),
    "loopback-single-label": kid_of(host="localhost", port="8443"),
    "dotted-quad": kid_of(host="127.0.0.1", port="8443"),
    "host-mixed-case": kid_of(host="KVseal-Hostile.Vault.Azure.NET"),
    "host-inner-hyphens": kid_of(host="a--b.x-y.net"),
    "label-63": kid_of(host=label_host(63)),
    "host-253": kid_of(host=label_host(63, 63, 63, 57)),
    "name-1": kid_of(name="k"),
    "name-127": kid_of(name="n" * 127),
    "name-hyphens": kid_of(name="-a-"),
    "version-1": kid_of(version="0"),
    "version-64": kid_of(version="v" * 64),
    "version-mixed-case": kid_of(version="AbC123"),
}

# Kids every decoder refuses, each breaking one rule.
KIDS_BAD = {
    "port-0": kid_of(port="0"),
    "port-65536": kid_of(port="65536"),
    "port-99999": kid_of(port="99999"),
    "port-6-digits": kid_of(port="100000"),
    "port-leading-zero": kid_of(port="0443"),
    "port-empty": f"https://{VAULT}:/keys/kek/{VERSION}",
    "port-sign": kid_of(port="+443"),
    "port-hex": kid_of(port="0x1bb"),
    "two-colons": kid_of(port="443:443"),
    "colon-in-host": kid_of(host="a:b.net"),
    "underscore-host": kid_of(host="kv_x.vault.azure.net"),
    "empty-host": kid_of(host=""),
    "empty-label": kid_of(host="kvseal..vault.azure.net"),
    "leading-dot": kid_of(host=".vault.azure.net"),
    "trailing-dot": kid_of(host=VAULT + "."),
    "label-leading-hyphen": kid_of(host="-kv.vault.azure.net"),
    "label-trailing-hyphen": kid_of(host="kv-.vault.azure.net"),
    "inner-label-trailing-hyphen": kid_of(host="kv.vault-.azure.net"),
    "label-64": kid_of(host=label_host(64)),
    "host-254": kid_of(host=label_host(63, 63, 63, 58)),
    "ipv6-literal": kid_of(host="[::1]", port="8443"),
    "percent-escape": kid_of(host="kv%2Dx.vault.azure.net"),
    "non-ascii-host": kid_of(host="k\u00e9.vault.azure.net"),
    "space-in-host": kid_of(host="kv .vault.azure.net"),
    "scheme-uppercase": kid_of().replace("https://", "HTTPS://"),
    "scheme-slashes": kid_of().replace("https://", "https:///"),
    "keys-uppercase": kid_of().replace("/keys/", "/Keys/"),
    "double-slash": kid_of().replace("/keys/", "//keys/"),
    "name-empty": kid_of(name=""),
    "name-128": kid_of(name="n" * 128),
    "name-underscore": kid_of(name="k_1"),
    "name-dot": kid_of(name="k.1"),
    "version-empty": kid_of(version=""),
    "version-65": kid_of(version="v" * 65),
    "version-hyphen": kid_of(version="0011-2233"),
    "version-underscore": kid_of(version="0011_2233"),
    "trailing-slash": kid_of() + "/",
    "extra-segment": kid_of() + "/wrapkey",
    "fragment": kid_of() + "#f",
    "empty-query": kid_of() + "?",
    "percent-in-version": kid_of(version="00%41"),
    "trailing-newline": kid_of() + "\n",
}


def kid_grammar(c, b, good, r0):
    """Boundaries of the kid grammar; the azure recipient comes before the rsa one,
    so accepted kids decrypt with the rsa key and refused ones fail the parse."""
    for name, kid in KIDS_OK.items():
        r = dict(good, kid=kid)
        c.accept(f"azure-kid-ok-{name}", b.edit(set_member("recipients", [r, r0])),
                 f"a valid kid at a grammar boundary ({name}) before a valid rsa one", b)
    for name, kid in KIDS_BAD.items():
        r = dict(good, kid=kid)
        c.add(f"azure-kid-bad-{name}", b.edit(set_member("recipients", [r, r0])),
              f"kid breaking the grammar ({name}) before a valid rsa one", b)


def context(c, b):
    def ctx(value):
        return b.edit(set_member("context", value))
    many = {f"k{i}": "v" for i in range(65)}
    c.add("context-65-members", ctx(many), "context with 65 members (limit 64)", b)
    c.accept("context-64-members", ctx({f"k{i}": "v" for i in range(64)}),
             "context with 64 members (the limit)", b)
    c.add("context-key-1025", ctx({"k" * 1025: "v"}), "context key of 1025 bytes", b)
    c.add("context-value-1025", ctx({"k": "v" * 1025}), "context value of 1025 bytes", b)
    c.accept("context-1024", ctx({"k" * 1024: "v" * 1024}), "key and value of 1024 bytes", b)
    euro = "\u20ac"
    c.add("context-value-342-euro", ctx({"k": euro * 342}),
          "342 characters but 1026 UTF-8 bytes: the limit is in bytes", b,
          gap="limit read as UTF-8 bytes of the decoded string")
    c.accept("context-value-341-euro-a", ctx({"k": euro * 341 + "a"}),
             "exactly 1024 UTF-8 bytes of multi-byte characters", b,
             gap="limit read as UTF-8 bytes of the decoded string")
    c.accept("context-escaped-1024", b.with_header(compact(
        dict(b.obj, context={"k": euro * 341 + "a"}), ascii_json=True)),
        "1024 bytes once decoded, 2047 bytes as \\u escapes in the JSON", b,
        gap="limit read as UTF-8 bytes of the decoded string")
    for name, v in {"number": 1, "null": None, "object": {"a": "b"}, "array": ["a"],
                    "bool": True}.items():
        c.add(f"context-value-{name}", ctx({"k": v}), f"context value of type {name}", b)
    h = compact(dict(b.obj, context={"a": "1"})).decode()
    c.add("context-duplicate-key", b.with_header(h.replace('"a":"1"', '"a":"1","a":"2"').encode()),
          "context member named twice", b, gap="duplicate member names")
    c.add("context-lone-surrogate", b.with_header(
        h.replace('"a":"1"', '"a":"\\udc00"').encode()),
        "context value is an escaped lone surrogate", b,
        gap="legal JSON syntax, not a Unicode string")


def context_mismatch(c, g):
    """Decrypting with a --context the file does not carry (gap: FORMAT.md silent)."""
    gap = "FORMAT.md does not define how a decoder checks context"
    k = next(iter(g.context))
    c.add("context-mismatch-value", g.data, "--context names a value the file does not carry",
          g, context={k: g.context[k] + "x"}, gap=gap)
    c.add("context-mismatch-missing-key", g.data, "--context names a key the file lacks",
          g, context={"absent-key": "v"}, gap=gap)


def duplicates(c, b):
    h = b.header.decode()
    s = h.index('"salt":')
    salt_member = h[s:h.index(",", s)]
    cases = {
        "suite-same": h.replace('{"suite":', '{"suite":"AES-256-GCM-HKDF-SHA256","suite":', 1),
        "suite-differs": h.replace('{"suite":', '{"suite":"NONE","suite":', 1),
        "chunk-size": h.replace('"chunk_size":4096', '"chunk_size":8192,"chunk_size":4096'),
        "salt": h.replace(salt_member, salt_member + "," + salt_member),
        "recipients": h[:-1] + ',"recipients":[]}',
        "created": h[:-1] + ',"created":"2030-01-01T00:00:00Z"}',
        "wrapped-key": h.replace('"wrapped_key":', '"wrapped_key":"AAAA","wrapped_key":'),
        "alg": h.replace('"alg":"RSA-OAEP-256"', '"alg":"RSA1_5","alg":"RSA-OAEP-256"'),
        "key-id": h.replace('"key_id":', '"key_id":"sha256:' + "0" * 64 + '","key_id":'),
        "type": h.replace('"type":"rsa"', '"type":"rsa","type":"rsa"'),
        "escaped-name": h[:-1] + ',"\\u0073uite":"NONE"}',
    }
    for name, text in cases.items():
        c.add(f"duplicate-{name}", b.with_header(text.encode()),
              f"member named twice ({name}); parsers disagree which one wins", b,
              gap="duplicate member names (FORMAT.md silent)")


def header_tags(c, b):
    """Valid header, wrong header_tag."""
    lb = len(b.header).to_bytes(4, "big")
    rest = b"".join(b.chunks)
    hkey, pkey = b.header_key, b.payload_key

    def mac(key, msg):
        return hmac.new(key, msg, hashlib.sha256).digest()
    tags = {
        "zero": bytes(32),
        "header-only": mac(hkey, b.header),
        "no-magic": mac(hkey, lb + b.header),
        "payload-key": mac(pkey, ref.MAGIC + lb + b.header),
        "dek-as-key": mac(b.dek, ref.MAGIC + lb + b.header),
        "len-little-endian": mac(hkey, ref.MAGIC + len(b.header).to_bytes(4, "little") + b.header),
        "no-salt-hkdf": mac(HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                                 info=ref.INFO_HEADER).derive(b.dek),
                            ref.MAGIC + lb + b.header),
        "sha512-truncated": hmac.new(hkey, ref.MAGIC + lb + b.header,
                                         hashlib.sha512).digest()[:32],
    }
    for name, tag in tags.items():
        c.add(f"tag-{name}", ref.MAGIC + lb + b.header + tag + rest,
              f"header_tag computed wrongly ({name})", b, msg=AUTH_FAILED)
    c.add("tag-missing", ref.MAGIC + lb + b.header + rest, "no header_tag at all", b)
    c.add("tag-16-bytes", ref.MAGIC + lb + b.header + b.tag[:16] + rest,
          "header_tag truncated to 16 bytes", b)
    c.add("header-edited-not-resigned",
          raw_replace_unsigned(b, b'"created":"2025', b'"created":"2026'),
          "created changed without re-signing", b, msg=AUTH_FAILED)
    c.add("header-unknown-member-not-resigned",
          raw_replace_unsigned(b, b'{"suite"', b'{"x":1,"suite"'),
          "unknown member added without re-signing (unknown members are authenticated)",
          b, msg=AUTH_FAILED)


def tolerated(c, b):
    """Valid header spellings every v1 decoder must accept."""
    obj = b.obj
    c.accept("ok-pretty-printed", b.with_header(
        (" \n" + json.dumps(obj, indent=4) + "\n\t ").encode()),
        "whitespace around and inside the JSON", b)
    c.accept("ok-reordered", b.with_obj(dict(reversed(list(obj.items())))),
             "members in reverse order", b)
    c.accept("ok-no-created", b.edit(del_member("created")), "created omitted", b)
    c.accept("ok-unknown-members", b.edit(lambda o: o.update(
        {"x-num": 1e300, "x-null": None, "x-obj": {"a": [1, {"b": False}]},
         "x-big": 10**50, "x-unicode": "\u00e9\U0001F510"})),
        "unknown members of every JSON type", b)
    c.accept("ok-unknown-recipient-members", b.edit(
        lambda o: o["recipients"][0].update({"x-note": "ignored", "kid": KID})),
        "unknown members inside the recipient (an rsa recipient with a kid)", b,
        gap="FORMAT.md states 'unknown members are ignored' for the header object")
    c.accept("ok-escaped-names", b.with_header(b.header.replace(
        b'"suite":', b'"\\u0073uite":').replace(b'"salt":', b'"sal\\u0074":')),
        "member names spelled with \\u escapes (same JSON names)", b)
    c.accept("ok-escaped-solidus", b.with_header(b.header.replace(
        b'"created":"', b'"x":"a\\/b","created":"')), "escaped solidus in a string", b)
    c.accept("ok-depth-8", b.edit(lambda o: o.update({"x": [[[[[[[1]]]]]]]})),
             "an unknown member nested 8 deep", b, gap="depth bound not given in FORMAT.md")
    c.accept("ok-big-number-member", b.with_header(
        b.header[:-1] + b',"x":' + b"9" * 5000 + b"}"),
        "an unknown member holding a 5000-digit integer", b,
        gap="a parser may bound number length; JSON itself does not")


def recipient_choice(c, b, keys, pubs):
    """Which recipient a decoder picks, and rotation."""
    r0 = b.recipient()
    seed = det_bytes("rot", 32)
    rb = ref.make_rsa_recipient(pubs["rsa2048-b"], b.dek, "RSA-OAEP-256", seed)
    rw = ref.make_rsa_recipient(pubs["rsa2048-wrong"], b.dek, "RSA-OAEP-256", seed)
    rotated = b.edit(set_member("recipients", [rb]))
    c.accept("rotated-to-b", rotated,
             "header rewritten for another key (rotation); payload bytes unchanged", b,
             key=keys["rsa2048-b"])
    c.add("rotated-to-b-old-key", rotated, "after rotation the old key is no recipient", b,
          exit=3)
    c.accept("other-recipient-first", b.edit(set_member("recipients", [rw, r0])),
             "a recipient for another key comes first", b)
    c.add("key-id-of-other-key", b.edit(set_recipient("key_id", rw["key_id"])),
          "our wrapped key, but key_id names another key", b, exit=3)
    c.add("two-other-recipients", b.edit(set_member("recipients", [rb, rw])),
          "recipients only for other keys", b, exit=3)
    garbage = dict(r0, wrapped_key=b64(bytes(256)))
    c.accept("same-key-garbage-first", b.edit(set_member("recipients", [garbage, r0])),
             "first recipient with our key_id cannot be unwrapped; the second can", b,
             gap="step 3 says pick a recipient it can unwrap")
    other = dict(r0, wrapped_key=b64(ref.oaep_encrypt_with_seed(
        pubs["rsa2048-a"], "RSA-OAEP-256", det_bytes("dek2", 32), seed)))
    c.accept("same-key-other-dek-first", b.edit(set_member("recipients", [other, r0])),
             "first recipient unwraps to a DEK that fails the tag; step 4: try the next", b)


def chunk_flips(c, b):
    for i, ch in enumerate(b.chunks):
        ct_len = len(ch) - 16
        spots = {"first": (0, 0), "middle": (ct_len // 2, 7), "last": (ct_len - 1, 3)}
        if ct_len == 0:
            spots = {}
        for t in range(16):
            spots[f"tag{t}"] = (ct_len + t, t % 8)
        for name, (pos, bit) in spots.items():
            m = bytearray(ch)
            m[pos] ^= 1 << bit
            chunks = list(b.chunks)
            chunks[i] = bytes(m)
            c.add(f"{b.name}-flip-chunk{i}-{name}", b.with_chunks(chunks),
                  f"bit {bit} flipped in chunk {i} ({name} byte)", b)


def truncations(c, b):
    start = len(b.prefix)
    step = b.chunk_size + 16
    c.add(f"{b.name}-no-chunks", b.prefix, "file ends right after the header_tag", b)
    for k in range(1, len(b.chunks)):
        c.add(f"{b.name}-cut-after-{k}-chunks", b.with_chunks(b.chunks[:k]),
              f"file ends at a chunk boundary after {k} chunk(s): no final chunk", b)
    for k, ch in enumerate(b.chunks):
        for off in sorted({1, 15, 16, 17, len(ch) // 2, len(ch) - 1}):
            if 0 < off < len(ch):
                c.add(f"{b.name}-cut-chunk{k}-at-{off}",
                      b.data[:start + k * step + off],
                      f"file cut {off} bytes into chunk {k}", b)


def reorders(c, b):
    ch = b.chunks
    orders = {"swap-0-1": [1, 0, 2], "swap-1-2": [0, 2, 1], "swap-0-2": [2, 1, 0],
              "rotate": [1, 2, 0], "dup-0": [0, 0, 1, 2], "dup-1": [0, 1, 1, 2],
              "dup-last": [0, 1, 2, 2], "first-again-at-end": [0, 1, 2, 0],
              "drop-0": [1, 2], "drop-1": [0, 2], "drop-last": [0, 1], "only-last": [2],
              "only-middle": [1], "reverse": [2, 1, 0]}
    for name, order in orders.items():
        c.add(f"{b.name}-{name}", b.with_chunks([ch[i] for i in order]),
              f"chunks reordered/duplicated/dropped: {order}", b)
    tail = {"1-byte": b"\x00", "15-bytes": bytes(15), "16-bytes": bytes(16),
            "full-chunk-garbage": det_bytes("app", b.chunk_size + 16),
            "copy-of-last": ch[-1], "copy-of-first": ch[0], "newline": b"\n"}
    for name, extra in tail.items():
        c.add(f"{b.name}-append-{name}", b.data + extra, f"bytes after the final chunk: {name}", b)


def chunk_size_mismatch(c, b):
    for v in (8192, 2**26):
        c.add(f"{b.name}-chunk-size-{v}", b.edit(set_member("chunk_size", v)),
              f"chunk_size {v} is legal but the payload was cut at {b.chunk_size}", b)


def sealed_variants(c, b):
    """Payloads re-sealed with the real payload key but breaking a payload rule."""
    pts = b.plaintext_chunks()
    key, n = b.payload_key, len(pts)

    def seal(specs, k=key):
        return b.with_chunks([AESGCM(k).encrypt(nonce, pt, aad) for nonce, pt, aad in specs])

    def std(i, final, pt, aad=None):
        return ref.chunk_nonce(i, final), pt, aad
    c.add(f"{b.name}-no-final-flag", seal([std(i, False, p) for i, p in enumerate(pts)]),
          "every chunk flagged non-final (looks like truncation)", b)
    c.add(f"{b.name}-first-flagged-final",
          seal([std(i, i in (0, n - 1), p) for i, p in enumerate(pts)]),
          "chunk 0 flagged final and more chunks follow", b)
    c.add(f"{b.name}-empty-final-after-full",
          seal([std(i, False, p) for i, p in enumerate(pts)] + [std(n, True, b"")]),
          "full chunks then an authentic empty final chunk (refused)", b)
    c.add(f"{b.name}-index-from-1",
          seal([std(i + 1, i == n - 1, p) for i, p in enumerate(pts)]),
          "chunk indices start at 1", b)
    c.add(f"{b.name}-index-repeated",
          seal([std(min(i, 1), i == n - 1, p) for i, p in enumerate(pts)]),
          "chunk indices 0,1,1", b)
    c.add(f"{b.name}-nonce-little-endian",
          seal([((i).to_bytes(11, "little") + bytes([i == n - 1]), p, None)
                for i, p in enumerate(pts)]),
          "index written little-endian in the nonce", b)
    c.add(f"{b.name}-flag-first-byte",
          seal([(bytes([i == n - 1]) + i.to_bytes(11, "big"), p, None)
                for i, p in enumerate(pts)]),
          "final flag in the first nonce byte", b)
    c.add(f"{b.name}-aad-header",
          seal([std(i, i == n - 1, p, b.header) for i, p in enumerate(pts)]),
          "chunks sealed with the header as AAD (AAD must be empty)", b)
    c.add(f"{b.name}-dek-as-payload-key",
          seal([std(i, i == n - 1, p) for i, p in enumerate(pts)], b.dek),
          "chunks sealed with the DEK itself, no HKDF", b)
    c.add(f"{b.name}-header-key-for-payload",
          seal([std(i, i == n - 1, p) for i, p in enumerate(pts)], b.header_key),
          "chunks sealed with the header key", b)
    c.add(f"{b.name}-oversized-final",
          seal([std(0, False, pts[0]), std(1, True, pts[1] + pts[2][:1])]),
          "final chunk holds chunk_size+1 plaintext bytes", b)
    c.add(f"{b.name}-short-nonfinal",
          seal([std(0, False, pts[0][:100]), std(1, False, pts[1]), std(2, True, pts[2])]),
          "a short chunk that is not the last", b)
    c.add(f"{b.name}-short-tags",
          b.with_chunks([AESGCM(key).encrypt(ref.chunk_nonce(i, i == n - 1), p, None)[:-8]
                         for i, p in enumerate(pts)]),
          "GCM tags truncated to 8 bytes", b)


def empty_variants(c, e):
    """Around the empty plaintext (one empty final chunk)."""
    key = e.payload_key
    c.add("empty-no-chunk", e.prefix, "empty plaintext but no chunk at all", e)
    c.add("empty-flag-nonfinal", e.with_chunks([ref.seal_chunk(key, 0, False, b"")]),
          "the only (empty) chunk flagged non-final", e)
    c.add("empty-two-empty-chunks", e.with_chunks([ref.seal_chunk(key, 0, False, b""),
                                                   ref.seal_chunk(key, 1, True, b"")]),
          "two empty chunks", e)
    c.add("empty-zero-tag", e.with_chunks([bytes(16)]), "a 16-byte chunk of zeros", e)
    c.add("empty-15-bytes", e.with_chunks([e.chunks[0][:15]]), "stored chunk of 15 bytes", e)
    c.add("empty-append-empty-final", e.data + ref.seal_chunk(key, 1, True, b""),
          "an authentic empty final chunk after the final chunk", e)


def splices(c, b, other):
    """Same DEK, different salt: chunks must not move between files."""
    pts = b"".join(b.plaintext_chunks())
    salt2 = det_bytes("salt2", 32)
    sib_header = b.frame(compact(dict(b.obj, salt=b64(salt2))), salt=salt2)
    _, pkey2 = ref.derive_keys(b.dek, salt2)
    out = io.BytesIO()
    ref.encrypt_payload(io.BytesIO(pts), out.write, pkey2, b.chunk_size)
    sib_payload = out.getvalue()
    step = b.chunk_size + 16
    sib_chunks = [sib_payload[i:i + step] for i in range(0, len(sib_payload), step)]
    c.accept("splice-sibling-valid", sib_header + sib_payload,
             "same DEK and recipients, another salt: a valid file of its own", b)
    c.add("splice-chunk1-from-sibling", b.with_chunks([b.chunks[0], sib_chunks[1], b.chunks[2]]),
          "chunk 1 taken from a file with the same DEK but another salt", b)
    c.add("splice-last-from-sibling", b.with_chunks(b.chunks[:2] + sib_chunks[2:]),
          "final chunk taken from the sibling", b)
    c.add("splice-payload-from-sibling", b.prefix + sib_payload,
          "header of one file, payload of the sibling", b)
    c.add("splice-header-from-sibling", sib_header + b"".join(b.chunks),
          "header of the sibling, payload of the original", b)
    c.add("splice-chunk-other-file", b.with_chunks([other.chunks[0]] + b.chunks[1:]),
          "chunk 0 from another golden file (other DEK)", b)


def header_byte_flips(c, b, keys_dir):
    """Every byte of magic..header_tag xor 0x01, every 8th header byte also xor 0x80
    (which mostly makes invalid UTF-8); 2-vs-3 computed by the reference."""
    end = len(b.prefix)
    for pos in range(end):
        for mask in (0x01, 0x80):
            if mask == 0x80 and not (12 <= pos < 12 + len(b.header) and pos % 8 == 0):
                continue
            m = bytearray(b.data)
            m[pos] ^= mask
            key_path = os.path.join(keys_dir, os.path.basename(b.key))
            exit_code, region = ref_outcome(bytes(m), key_path, b, pos)
            gap = "decided by the reference decoder" if exit_code == 3 else None
            c.add(f"byteflip-{pos:04d}-{mask:02x}", bytes(m),
                  f"byte {pos} ({region}) xor 0x{mask:02x}", b, exit=exit_code, gap=gap,
                  expect_from="reference")


def region_of(b, pos):
    if pos < 8:
        return "magic"
    if pos < 12:
        return "header_len"
    if pos >= 12 + len(b.header):
        return "header_tag"
    rel = pos - 12
    best, where = -1, "header"
    for name in ("suite", "chunk_size", "salt", "recipients", "type", "alg", "key_id",
                 "wrapped_key", "context", "created"):
        at = b.header.find(f'"{name}":'.encode())
        if 0 <= at <= rel and at > best:
            best, where = at, f"header member {name}"
    return where


_KEY_CACHE = {}


def ref_outcome(data, key_path, b, pos):
    if key_path not in _KEY_CACHE:
        _KEY_CACHE[key_path] = ref.load_private_key(key_path)
    try:
        ref.decrypt_stream(io.BytesIO(data), lambda _: None, [_KEY_CACHE[key_path]])
    except ref.KvsealError as e:
        return e.exit_code, region_of(b, pos)
    raise AssertionError(f"byte flip at {pos} was accepted by the reference")


def wrong_keys(c, bases, keys):
    for name in ("three-chunks-exact", "multi-recipient", "chunk64k-200k", "keyvault-and-rsa"):
        g = bases[name]
        c.add(f"wrong-key-{name}", g.data, f"golden {name} with a key that is no recipient",
              g, exit=3, key=keys["rsa2048-wrong"] if name != "keyvault-and-rsa"
              else keys["rsa2048-a"], context=g.context or None)


# --- main -----------------------------------------------------------------------

def generate(out_dir, golden_dir):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(golden_dir, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    bases = {case["name"]: Base(golden_dir, case) for case in manifest["cases"]
             if case["chunk_size"] <= 65536}
    keys_out = os.path.join(out_dir, "keys")
    os.makedirs(keys_out, exist_ok=True)
    keys, pubs = {}, {}
    for name in ("rsa2048-a", "rsa2048-b", "rsa3072-c", "rsa4096-d", "rsa2048-wrong"):
        src = os.path.join(golden_dir, "keys", name + ".pem")
        shutil.copyfile(src, os.path.join(keys_out, name + ".pem"))
        keys[name] = f"keys/{name}.pem"
        pubs[name] = ref.load_public_key(src)

    c = Corpus(out_dir)
    small, multi = bases["one-byte"], bases["three-chunks-exact"]
    framing(c, small)
    sizes(c, small)
    json_syntax(c, small)
    invalid_utf8(c, small)
    members(c, small)
    recipients(c, small, pubs["rsa2048-a"])
    azure_recipients(c, small)
    context(c, small)
    context_mismatch(c, bases["context-utf8"])
    duplicates(c, small)
    header_tags(c, small)
    tolerated(c, small)
    recipient_choice(c, small, keys, pubs)
    wrong_keys(c, bases, keys)
    for b in (multi, bases["chunk-plus-one"]):
        chunk_flips(c, b)
        truncations(c, b)
    reorders(c, multi)
    sealed_variants(c, multi)
    chunk_size_mismatch(c, multi)
    empty_variants(c, bases["empty"])
    splices(c, multi, bases["one-chunk"])
    header_byte_flips(c, small, keys_out)

    for fname, entries in (("manifest.json", c.refuse), ("accept.json", c.accept_list)):
        with open(os.path.join(out_dir, fname), "w", encoding="utf-8") as f:
            json.dump(entries, f, indent=1, ensure_ascii=False)
            f.write("\n")
    return c.refuse, c.accept_list


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out_dir")
    p.add_argument("--golden", default=os.path.join(REPO, "vectors", "golden"))
    a = p.parse_args()
    refuse, accept = generate(a.out_dir, a.golden)
    print(f"{len(refuse)} hostile files, {len(accept)} accept files in {a.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
