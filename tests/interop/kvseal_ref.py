#!/usr/bin/python3
"""kvseal_ref: an independent reference implementation of kvseal format v1.

Written only from the design brief FORMAT.md (not from kvseal's C code), using
the Python standard library and `cryptography`.  It is a test oracle: the C
implementation must read every file this writes and vice versa.

Run it with Debian's /usr/bin/python3 (python3-cryptography 38).

CLI:
  kvseal_ref.py encrypt -r PUB.pem [-r [ALG=]PUB.pem ...] [--alg ALG]
                [--chunk-size N] [--context k=v ...] [--dek-file F --salt-hex H]
                [--sign PRIV.pem [--sign-alg ALG]]
                IN OUT
  kvseal_ref.py decrypt -k PRIV.pem [-k ...] [--context k=v ...]
                [--require-signer PUB.pem] IN OUT
  kvseal_ref.py verify [-k PRIV.pem ...] [--context k=v ...]
                [--require-signer PUB.pem] IN
  kvseal_ref.py inspect IN
IN/OUT may be "-" for stdin/stdout.  `verify --require-signer` without -k proves
authorship without any decryption key (signature and roots, not the commit).

Exit codes: 0 ok; 1 usage or I/O error; 2 not a valid or authentic kvseal file
(including an unsigned or differently signed file under --require-signer);
3 no recipient could be unwrapped with the given key(s).

Signed files follow the section "Signed files" of the design brief FORMAT.md.

Interpretations where FORMAT.md is silent are marked "GAP:" below.
"""

import argparse
import base64
import hashlib
import hmac
import io
import json
import os
import re
import stat
import sys
import tempfile
import time

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed, decode_dss_signature, encode_dss_signature)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# --- constants straight from FORMAT.md ---------------------------------------

MAGIC = b"KVSEAL\x00\x01"
SUITE = "AES-256-GCM-HKDF-SHA256"
HEADER_LEN_MIN = 2
HEADER_LEN_MAX = 65536
HEADER_TAG_LEN = 32
GCM_TAG_LEN = 16
CHUNK_LOG2_MIN, CHUNK_LOG2_MAX = 12, 26
DEFAULT_CHUNK_SIZE = 1 << 20
DEK_LEN = 32
SALT_LEN = 32
MAX_RECIPIENTS = 64
MAX_CONTEXT_MEMBERS = 64
MAX_CONTEXT_BYTES = 1024
MAX_CHUNKS = 1 << 32          # module-level so the self-test can lower it
INFO_HEADER = b"kvseal/v1/header"
INFO_PAYLOAD = b"kvseal/v1/payload"
# GAP: FORMAT.md asks for "bounded depth" without a number.  A valid header
# needs depth 3 (object > recipients array > recipient object).
MAX_JSON_DEPTH = 8  # docs/FORMAT.md §4.1: the top-level object is depth 1

ALGS = {"RSA-OAEP-256": hashlib.sha256, "RSA-OAEP": hashlib.sha1}
RECIPIENT_TYPES = ("rsa", "azure-keyvault")
KEY_ID_RE = re.compile(r"sha256:[0-9a-f]{64}\Z")
# docs/FORMAT.md §5: kid = https://host[:port]/keys/name/version.  Host: 1 to 253
# characters of dot-separated labels, each 1 to 63 of [A-Za-z0-9-] neither
# starting nor ending with '-'.  Port: 1 to 65535, no leading zero.  Name: 1 to
# 127 of [0-9A-Za-z-].  Version: 1 to 64 of [0-9A-Za-z].  Nothing else: no user
# information, query, fragment, percent escape, IP literal or trailing slash.
KID_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
KID_RE = re.compile(r"https://(?P<host>%s(?:\.%s)*)(?::(?P<port>[1-9][0-9]{0,4}))?"
                    r"/keys/[0-9A-Za-z-]{1,127}/[0-9A-Za-z]{1,64}" % (KID_LABEL, KID_LABEL))
KID_HOST_MAX = 253
KID_PORT_MAX = 65535


# Signed files (FORMAT.md "Signed files").
SIGNER_TYPES = ("key", "azure-keyvault")
# alg -> (hash, key kind, EC curve name or None, raw ECDSA signature length or None)
SIGN_ALGS = {
    "ES256": (hashes.SHA256, "ec", "secp256r1", 64),
    "ES384": (hashes.SHA384, "ec", "secp384r1", 96),
    "PS256": (hashes.SHA256, "rsa", None, None),
    "PS384": (hashes.SHA384, "rsa", None, None),
    "PS512": (hashes.SHA512, "rsa", None, None),
}
SIGN_RSA_MIN_BITS = 3072
SEGMENT_CHUNKS = 16
SIG_LEN_MIN, SIG_LEN_MAX = 1, 1024
END_MAGIC = b"KVSS"
TRAILER_TAIL_LEN = 10         # u32 m || u16 sig_len || end_magic
INFO_COMMIT = b"kvseal/v1/commit"
LEAF_LABEL = b"kvseal/v1/leaf"
SEGMENT_LABEL = b"kvseal/v1/segment"
ROOTS_LABEL = b"kvseal/v1/roots"
STATEMENT_LABEL = b"kvseal/v1/signed-file"


def valid_kid(kid):
    m = KID_RE.fullmatch(kid)
    return (m is not None and len(m["host"]) <= KID_HOST_MAX
            and (m["port"] is None or int(m["port"]) <= KID_PORT_MAX))

B64URL_RE = re.compile(r"[A-Za-z0-9_-]*\Z")


class KvsealError(Exception):
    exit_code = 1


class FormatError(KvsealError):
    """Not a valid or authentic kvseal file (exit 2)."""
    exit_code = 2


class NoRecipientError(KvsealError):
    """No recipient could be unwrapped with the given key(s) (exit 3)."""
    exit_code = 3


class UsageError(KvsealError):
    exit_code = 1


class SignerError(FormatError):
    """Unsigned, or signed by another key, under a required signer (exit 2)."""


# --- small primitives ---------------------------------------------------------

def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text, what):
    """Strict base64url: alphabet only, no padding, canonical trailing bits.

    GAP: FORMAT.md does not say whether non-zero unused trailing bits are
    refused; we refuse them so every value has exactly one encoding.
    """
    if not isinstance(text, str) or not B64URL_RE.match(text):
        raise FormatError(f"{what}: not base64url without padding")
    if len(text) % 4 == 1:
        raise FormatError(f"{what}: impossible base64url length")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(data) != text:
        raise FormatError(f"{what}: non-canonical base64url")
    return data


def hkdf(dek, salt, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                info=info).derive(dek)


def derive_keys(dek, salt):
    """Returns (header key, payload key)."""
    return hkdf(dek, salt, INFO_HEADER), hkdf(dek, salt, INFO_PAYLOAD)


def header_tag(header_key, header_len_bytes, header):
    return hmac.new(header_key, MAGIC + header_len_bytes + header,
                    hashlib.sha256).digest()


def chunk_nonce(index, final):
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def seal_chunk(payload_key, index, final, plaintext):
    return AESGCM(payload_key).encrypt(chunk_nonce(index, final), plaintext, None)


def open_chunk(payload_key, index, final, stored):
    """Returns the plaintext, or None if the tag does not verify."""
    try:
        return AESGCM(payload_key).decrypt(chunk_nonce(index, final), stored, None)
    except InvalidTag:
        return None


def check_chunk_size(size):
    ok = (type(size) is int and (1 << CHUNK_LOG2_MIN) <= size <= (1 << CHUNK_LOG2_MAX)
          and size & (size - 1) == 0)
    if not ok:
        raise FormatError("chunk_size must be a power of two from 4096 to 67108864")


def read_exact(f, n):
    """Read up to n bytes, looping over short reads (pipes)."""
    parts, got = [], 0
    while got < n:
        b = f.read(n - got)
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts)


# --- RSA keys and wrapping ------------------------------------------------------

def rsa_key_id(public_key):
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def load_public_key(path):
    """A public key PEM (SPKI or PKCS#1); a private key PEM is accepted too."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        key = serialization.load_pem_private_key(data, password=None).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise UsageError(f"{path}: not an RSA key")
    return key


def load_private_key(path):
    with open(path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise UsageError(f"{path}: not an RSA private key")
    return key


def _oaep_padding(alg):
    h = hashes.SHA256() if alg == "RSA-OAEP-256" else hashes.SHA1()
    return padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None)


def mgf1(hash_fn, seed, length):
    out = b""
    for counter in range((length + hash_fn().digest_size - 1) // hash_fn().digest_size):
        out += hash_fn(seed + counter.to_bytes(4, "big")).digest()
    return out[:length]


def _xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def oaep_encrypt_with_seed(public_key, alg, message, seed):
    """RFC 8017 RSAES-OAEP-ENCRYPT with a caller-chosen seed, empty label.

    Only for reproducible test vectors; normal wrapping uses a random seed.
    """
    hash_fn = ALGS[alg]
    hlen = hash_fn().digest_size
    nums = public_key.public_numbers()
    k = (nums.n.bit_length() + 7) // 8
    if len(seed) != hlen or len(message) > k - 2 * hlen - 2:
        raise ValueError("bad OAEP seed or message length")
    db = (hash_fn(b"").digest() + b"\x00" * (k - len(message) - 2 * hlen - 2)
          + b"\x01" + message)
    masked_db = _xor(db, mgf1(hash_fn, seed, k - hlen - 1))
    masked_seed = _xor(seed, mgf1(hash_fn, masked_db, hlen))
    em = int.from_bytes(b"\x00" + masked_seed + masked_db, "big")
    return pow(em, nums.e, nums.n).to_bytes(k, "big")


def wrap_dek(public_key, alg, dek, seed=None):
    if seed is not None:
        return oaep_encrypt_with_seed(public_key, alg, dek, seed)
    return public_key.encrypt(dek, _oaep_padding(alg))


def unwrap_dek(private_key, alg, wrapped):
    """Returns the unwrapped bytes, or None if OAEP decryption fails."""
    try:
        return private_key.decrypt(wrapped, _oaep_padding(alg))
    except ValueError:
        return None


def make_rsa_recipient(public_key, dek, alg="RSA-OAEP-256", seed=None):
    if alg not in ALGS:
        raise UsageError(f"unsupported alg {alg!r}")
    return {"type": "rsa", "alg": alg, "key_id": rsa_key_id(public_key),
            "wrapped_key": b64url_encode(wrap_dek(public_key, alg, dek, seed))}


# --- signed files: keys, signatures, leaves, roots, trailer, statement --------

def u16(v):
    return v.to_bytes(2, "big")


def u32(v):
    return v.to_bytes(4, "big")


def u64(v):
    return v.to_bytes(8, "big")


def lp(text):
    """lp(x) = u16(byte length of x) || x, x a str (UTF-8) or bytes."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if len(data) > 0xFFFF:
        raise FormatError("statement field longer than 65535 bytes")
    return u16(len(data)) + data


def spki_key_id(public_key):
    """"sha256:" + hex SHA-256 of the DER SubjectPublicKeyInfo (an EC key:
    named curve, uncompressed point, which is what public_bytes writes)."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def alg_fits_key(alg, public_key):
    """'' if alg can be used with this key, else why not."""
    spec = SIGN_ALGS.get(alg)
    if spec is None:
        return f"unsupported signature alg {alg!r}"
    _, kind, curve, _ = spec
    if kind == "ec":
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            return f"{alg} needs an EC key"
        if public_key.curve.name != curve:
            return f"{alg} needs curve {curve}, key is {public_key.curve.name}"
        return ""
    if not isinstance(public_key, rsa.RSAPublicKey):
        return f"{alg} needs an RSA key"
    if public_key.key_size < SIGN_RSA_MIN_BITS:
        return f"{alg} needs an RSA key of at least {SIGN_RSA_MIN_BITS} bits"
    return ""


def default_sign_alg(public_key):
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "ES256", "secp384r1": "ES384"}.get(public_key.curve.name)
    if isinstance(public_key, rsa.RSAPublicKey):
        return "PS256"
    return None


def expected_sig_len(alg, public_key=None):
    """(low, high) bounds of sig_len for alg, exact when the key is known.

    GAP: without the key, a PS* signature is only known to be as long as an RSA
    modulus of 3072 bits or more, i.e. 384 to 1024 bytes.
    """
    _, kind, _, ec_len = SIGN_ALGS[alg]
    if kind == "ec":
        return ec_len, ec_len
    if public_key is not None:
        k = (public_key.key_size + 7) // 8
        return k, k
    return SIGN_RSA_MIN_BITS // 8, SIG_LEN_MAX


def load_signing_key(path, alg=None):
    """A private EC (P-256, P-384) or RSA (>= 3072) PEM key; returns (key, alg)."""
    with open(path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise UsageError(f"{path}: not an EC or RSA private key")
    alg = alg or default_sign_alg(key.public_key())
    if alg is None:
        raise UsageError(f"{path}: EC curve not supported for signing")
    why = alg_fits_key(alg, key.public_key())
    if why:
        raise UsageError(f"{path}: {why}")
    return key, alg


def load_signer_public(path):
    """The public part of a signer key from a public or private PEM."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        key = serialization.load_pem_private_key(data, password=None).public_key()
    if not isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey)):
        raise UsageError(f"{path}: not an EC or RSA key")
    if default_sign_alg(key) is None:
        raise UsageError(f"{path}: EC curve not supported for signing")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < SIGN_RSA_MIN_BITS:
        raise UsageError(f"{path}: RSA signing keys need at least {SIGN_RSA_MIN_BITS} bits")
    return key


def _pss(hash_cls):
    return padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=hash_cls().digest_size)


def statement_digest(alg, statement):
    h = hashes.Hash(SIGN_ALGS[alg][0]())
    h.update(statement)
    return h.finalize()


def sign_statement(private_key, alg, statement):
    """Sign the digest of M with alg's hash; ES*: raw r || s, fixed width."""
    hash_cls, kind, _, ec_len = SIGN_ALGS[alg]
    digest = statement_digest(alg, statement)
    pre = Prehashed(hash_cls())
    if kind == "ec":
        r, s = decode_dss_signature(private_key.sign(digest, ec.ECDSA(pre)))
        half = ec_len // 2
        return r.to_bytes(half, "big") + s.to_bytes(half, "big")
    return private_key.sign(digest, _pss(hash_cls), pre)


def verify_statement(public_key, alg, statement, signature):
    hash_cls, kind, _, ec_len = SIGN_ALGS[alg]
    digest = statement_digest(alg, statement)
    pre = Prehashed(hash_cls())
    try:
        if kind == "ec":
            if len(signature) != ec_len:
                return False
            half = ec_len // 2
            der = encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                       int.from_bytes(signature[half:], "big"))
            public_key.verify(der, digest, ec.ECDSA(pre))
        else:
            public_key.verify(signature, digest, _pss(hash_cls), pre)
        return True
    except InvalidSignature:
        return False


def leaf_hash(index, stored):
    return hashlib.sha256(LEAF_LABEL + u64(index) + stored).digest()


def segments_for(n):
    """m = ceil(n / 16)"""
    return (n + SEGMENT_CHUNKS - 1) // SEGMENT_CHUNKS


class RootAccumulator:
    """Segment roots of chunks added in order; memory: one hash state + roots."""

    def __init__(self):
        self.roots = []
        self.count = 0
        self._seg = None

    def add(self, index, stored):
        if index != self.count:
            raise ValueError("chunks must be added in order")
        if index % SEGMENT_CHUNKS == 0:
            self._close()
            self._seg = hashlib.sha256(SEGMENT_LABEL + u64(index // SEGMENT_CHUNKS))
        self._seg.update(leaf_hash(index, stored))
        self.count += 1
        if self.count % SEGMENT_CHUNKS == 0:
            self._close()

    def _close(self):
        if self._seg is not None:
            self.roots.append(self._seg.digest())
            self._seg = None

    def finish(self):
        self._close()
        return self.roots


def roots_of(chunks):
    acc = RootAccumulator()
    for i, c in enumerate(chunks):
        acc.add(i, c)
    return acc.finish()


def commit_value(dek, salt):
    return hkdf(dek, salt, INFO_COMMIT)


def signed_statement(salt, chunk_size, n, commit, roots, signer, context, created):
    """M of FORMAT.md "Signed statement".  signer: {"type", "id", "alg"};
    context: dict (may be empty); created: str or None."""
    out = [STATEMENT_LABEL, b"\x00", salt, u32(chunk_size), u64(n), commit,
           u32(len(roots)), hashlib.sha256(ROOTS_LABEL + b"".join(roots)).digest(),
           lp(signer["type"]), lp(signer["id"]), lp(signer["alg"]), u16(len(context))]
    pairs = sorted((k.encode("utf-8"), v.encode("utf-8")) for k, v in context.items())
    for k, v in pairs:
        out += [lp(k), lp(v)]
    out.append(b"\x00" if created is None else b"\x01" + lp(created))
    return b"".join(out)


def encode_trailer(roots, commit, signature):
    return (b"".join(roots) + commit + signature + u32(len(roots))
            + u16(len(signature)) + END_MAGIC)


def parse_trailer_tail(tail, alg, public_key=None):
    """The last 10 bytes: returns (m, sig_len, trailer_len) or refuses."""
    if len(tail) != TRAILER_TAIL_LEN:
        raise FormatError("truncated file (trailer)")
    if tail[6:] != END_MAGIC:
        raise FormatError("trailer: end_magic is not KVSS")
    m = int.from_bytes(tail[:4], "big")
    sig_len = int.from_bytes(tail[4:6], "big")
    if not SIG_LEN_MIN <= sig_len <= SIG_LEN_MAX:
        raise FormatError(f"trailer: sig_len {sig_len} out of bounds")
    low, high = expected_sig_len(alg, public_key)
    if not low <= sig_len <= high:
        raise FormatError(f"trailer: sig_len {sig_len} does not agree with {alg}")
    if m < 1:
        raise FormatError("trailer: m is 0")
    return m, sig_len, 32 * m + 32 + sig_len + TRAILER_TAIL_LEN


def split_trailer(trailer, m, sig_len):
    roots = [trailer[32 * j:32 * j + 32] for j in range(m)]
    commit = trailer[32 * m:32 * m + 32]
    signature = trailer[32 * m + 32:32 * m + 32 + sig_len]
    return roots, commit, signature


class RequiredSigner:
    """The signer a decoder requires: a local public key."""

    def __init__(self, public_key, name="key"):
        self.public_key = public_key
        self.key_id = spki_key_id(public_key)
        self.name = name

    @classmethod
    def from_pem(cls, path):
        return cls(load_signer_public(path), path)


def check_signer(parsed, required):
    """Refuse an unsigned or differently signed file (before any unwrap)."""
    s = parsed["signer"]
    if s is None:
        raise SignerError(f"file is not signed; {required.key_id} required")
    if s["type"] != "key" or s["id"] != required.key_id:
        raise SignerError(f"file is signed by {s['type']} {s['id']}, "
                          f"not by the required {required.key_id}")
    why = alg_fits_key(s["alg"], required.public_key)
    if why:
        raise FormatError(f"signer alg: {why}")


def check_signed(parsed, required, n, roots, commit, signature, expected_commit=None):
    """Signature over M (and the commit when the DEK is known); roots as stored."""
    if expected_commit is not None and not hmac.compare_digest(commit, expected_commit):
        raise FormatError("signature: commit does not match the data key")
    m = signed_statement(parsed["salt"], parsed["chunk_size"], n, commit, roots,
                         parsed["signer"], parsed["context"], parsed["created"])
    if not verify_statement(required.public_key, parsed["signer"]["alg"], m, signature):
        raise FormatError("signature verification failed")


def check_roots(computed, stored, first=0):
    for j, (a, b) in enumerate(zip(computed, stored)):
        if a != b:  # not secret
            raise FormatError(f"segment {first + j}: root does not match the chunks")


# --- header: build -------------------------------------------------------------

def utc_now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def build_header_object(chunk_size, salt, recipients, context=None, created=None,
                        signer=None):
    """signer: the header member, e.g. {"type": "key", "key_id": ..., "alg": ...}."""
    obj = {"suite": SUITE, "chunk_size": chunk_size, "salt": b64url_encode(salt),
           "recipients": recipients}
    if context:
        obj["context"] = dict(context)
    if created is not None:
        obj["created"] = created
    if signer is not None:
        obj["signer"] = dict(signer)
    return obj


def encode_header(obj, ascii_json=False):
    """Compact UTF-8 JSON; ascii_json=True writes \\u escapes instead of UTF-8."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=ascii_json).encode("utf-8")


def frame_header(header, header_key):
    """magic || header_len || header || header_tag"""
    length = len(header).to_bytes(4, "big")
    return MAGIC + length + header + header_tag(header_key, length, header)


# --- header: parse and validate ------------------------------------------------

def _json_depth_ok(text, limit):
    """Scan nesting depth before json.loads, which would recurse without bound."""
    depth, in_str, esc = 0, False, False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _no_duplicates(pairs):
    # GAP: FORMAT.md does not address duplicate member names; accepting them
    # lets two parsers see two different headers, so we refuse.
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise FormatError(f"header JSON: duplicate member {key!r}")
        obj[key] = value
    return obj


def _reject_constant(name):
    raise FormatError(f"header JSON: {name} is not JSON")


def _check_strings_encodable(value):
    # GAP: "\ud800" is legal JSON syntax but no UTF-8 string; refused anywhere.
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise FormatError("header JSON: lone surrogate in string") from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_strings_encodable(k)
            _check_strings_encodable(v)
    elif isinstance(value, list):
        for v in value:
            _check_strings_encodable(v)


class BigInt(int):
    """An integer literal too long to convert; never a valid chunk_size."""


def _parse_int(text):
    # Python caps int() at 4300 digits; an unknown member may hold a longer one.
    return int(text) if len(text) <= 100 else BigInt(-1)


def parse_header_json(raw):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("header is not valid UTF-8") from None
    if not _json_depth_ok(text, MAX_JSON_DEPTH):
        raise FormatError("header JSON nested too deeply")
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicates,
                         parse_constant=_reject_constant, parse_int=_parse_int)
    except (ValueError, RecursionError) as e:
        raise FormatError(f"header is not valid JSON: {e}") from None
    if not isinstance(obj, dict):
        raise FormatError("header JSON is not an object")
    _check_strings_encodable(obj)
    return obj


def _require(obj, name, typ, where="header"):
    if name not in obj:
        raise FormatError(f"{where}: missing member {name!r}")
    value = obj[name]
    # bool is an int subclass in Python; JSON true is not an integer.
    if type(value) is not typ:
        raise FormatError(f"{where}: member {name!r} has the wrong type")
    return value


def validate_recipient(r, i):
    where = f"recipient {i}"
    if not isinstance(r, dict):
        raise FormatError(f"{where}: not an object")
    rtype = _require(r, "type", str, where)
    alg = _require(r, "alg", str, where)
    wrapped = b64url_decode(_require(r, "wrapped_key", str, where), f"{where} wrapped_key")
    if alg == "RSA1_5":
        raise FormatError(f"{where}: alg RSA1_5 is refused")
    if alg not in ALGS:
        raise FormatError(f"{where}: unsupported alg {alg!r}")
    # docs/FORMAT.md §5: an unknown recipient type is kept but never usable.
    if rtype not in RECIPIENT_TYPES:
        return {"type": rtype, "alg": alg, "id": None, "wrapped": wrapped}
    if rtype == "rsa":
        ident = _require(r, "key_id", str, where)
        if not KEY_ID_RE.match(ident):
            raise FormatError(f"{where}: malformed key_id")
    else:
        ident = _require(r, "kid", str, where)
        if not valid_kid(ident):
            raise FormatError(f"{where}: malformed kid")
    return {"type": rtype, "alg": alg, "id": ident, "wrapped": wrapped}


def validate_context(ctx):
    if not isinstance(ctx, dict):
        raise FormatError("context: not an object")
    if len(ctx) > MAX_CONTEXT_MEMBERS:
        raise FormatError("context: more than 64 members")
    for k, v in ctx.items():
        if not isinstance(v, str):
            raise FormatError(f"context: value of {k!r} is not a string")
        # GAP: "each at most 1024 bytes" read as UTF-8 bytes after unescaping.
        if len(k.encode("utf-8")) > MAX_CONTEXT_BYTES or len(v.encode("utf-8")) > MAX_CONTEXT_BYTES:
            raise FormatError("context: key or value longer than 1024 bytes")
    return dict(ctx)


def validate_signer(s):
    """FORMAT.md "Header member": returns {"type", "id", "alg"}.

    GAP: a `type` other than "key" and "azure-keyvault" refuses the file (M
    covers the identifying member, so an unknown kind could not be verified).
    Unlisted members of the signer object are ignored, as in recipients.
    """
    if not isinstance(s, dict):
        raise FormatError("signer: not an object")
    stype = _require(s, "type", str, "signer")
    alg = _require(s, "alg", str, "signer")
    if stype == "key":
        ident = _require(s, "key_id", str, "signer")
        if not KEY_ID_RE.match(ident):
            raise FormatError("signer: malformed key_id")
    elif stype == "azure-keyvault":
        ident = _require(s, "kid", str, "signer")
        if not valid_kid(ident):
            raise FormatError("signer: malformed kid")
    else:
        raise FormatError(f"signer: unknown type {stype!r}")
    if alg not in SIGN_ALGS:
        raise FormatError(f"signer: unsupported alg {alg!r}")
    return {"type": stype, "id": ident, "alg": alg}


def validate_header(obj):
    """Check every member FORMAT.md defines; returns a small dict of parsed values."""
    suite = _require(obj, "suite", str)
    if suite != SUITE:
        raise FormatError(f"unsupported suite {suite!r}")
    chunk_size = _require(obj, "chunk_size", int)
    check_chunk_size(chunk_size)
    salt = b64url_decode(_require(obj, "salt", str), "salt")
    if len(salt) != SALT_LEN:
        raise FormatError("salt is not 32 bytes")
    recips = _require(obj, "recipients", list)
    if not 1 <= len(recips) <= MAX_RECIPIENTS:
        raise FormatError("recipients: need 1 to 64")
    recipients = [validate_recipient(r, i) for i, r in enumerate(recips)]
    # GAP: null for an optional member is treated as the wrong type.
    context = validate_context(obj["context"]) if "context" in obj else {}
    if "created" in obj and not isinstance(obj["created"], str):
        raise FormatError("created: not a string")
    signer = validate_signer(obj["signer"]) if "signer" in obj else None
    return {"chunk_size": chunk_size, "salt": salt, "recipients": recipients,
            "context": context, "created": obj.get("created"), "signer": signer}


def read_header(f):
    """Reads magic..header_tag.  Returns (raw header, header_len bytes, tag, parsed)."""
    magic = read_exact(f, len(MAGIC))
    if magic != MAGIC:
        raise FormatError("not a kvseal file")
    len_bytes = read_exact(f, 4)
    if len(len_bytes) != 4:
        raise FormatError("truncated file (header length)")
    header_len = int.from_bytes(len_bytes, "big")
    if not HEADER_LEN_MIN <= header_len <= HEADER_LEN_MAX:
        raise FormatError(f"header_len {header_len} out of bounds")
    raw = read_exact(f, header_len)
    if len(raw) != header_len:
        raise FormatError("truncated file (header)")
    parsed = validate_header(parse_header_json(raw))
    tag = read_exact(f, HEADER_TAG_LEN)
    if len(tag) != HEADER_TAG_LEN:
        raise FormatError("truncated file (header tag)")
    return raw, len_bytes, tag, parsed


def inspect_file(f):
    """Validated header object (the tag cannot be checked without a key)."""
    raw, _, _, _ = read_header(f)
    return parse_header_json(raw)


# --- unlocking: steps 3 and 4 ---------------------------------------------------

def unlock(parsed, raw, len_bytes, tag, private_keys):
    """unlock_dek without the DEK: returns the payload key."""
    return unlock_dek(parsed, raw, len_bytes, tag, private_keys)[1]


def unlock_dek(parsed, raw, len_bytes, tag, private_keys):
    """Find a recipient the keys can unwrap whose DEK verifies the header tag.

    Returns (DEK, payload key).  Exit-code policy (GAP: FORMAT.md gives only the
    messages): no recipient names one of our keys, or OAEP decryption fails for
    all that do -> 3; an unwrapped value that is not 32 bytes, or a DEK that
    fails the header tag -> 2.
    """
    by_id = {rsa_key_id(k.public_key()): k for k in private_keys}
    bad_length = tag_failed = False
    for r in parsed["recipients"]:
        key = by_id.get(r["id"]) if r["type"] == "rsa" else None
        if key is None:
            continue
        dek = unwrap_dek(key, r["alg"], r["wrapped"])
        if dek is None:
            continue
        if len(dek) != DEK_LEN:
            bad_length = True
            continue
        header_key, payload_key = derive_keys(dek, parsed["salt"])
        if hmac.compare_digest(header_tag(header_key, len_bytes, raw), tag):
            return dek, payload_key
        tag_failed = True
    if tag_failed:
        raise FormatError("header authentication failed")
    if bad_length:
        raise FormatError("unwrapped data key is not 32 bytes")
    raise NoRecipientError("no recipient could be unwrapped with the given key(s)")


def check_context(file_ctx, wanted):
    # GAP: FORMAT.md does not say how a decoder uses context; we require every
    # pair the user names to be present with that value (extra members are OK).
    for k, v in (wanted or {}).items():
        if file_ctx.get(k) != v:
            raise FormatError(f"context mismatch for {k!r}")


# --- payload --------------------------------------------------------------------

def _diagnose_chunk(payload_key, index, is_last, stored):
    """After a tag failure, say which rule failed (messages only)."""
    if open_chunk(payload_key, index, not is_last, stored) is not None:
        if is_last:
            return "truncated file (last chunk is not flagged final)"
        return "data after the final chunk"
    return f"chunk {index}: authentication failed"


def decrypt_payload(fin, write, payload_key, chunk_size):
    """Stream chunks; each plaintext goes to write() only after its tag verifies."""
    stored_size = chunk_size + GCM_TAG_LEN
    buf = read_exact(fin, stored_size)
    index = 0
    while True:
        if index >= MAX_CHUNKS:
            raise FormatError("file holds more than 2^32 chunks")
        peek = read_exact(fin, 1) if len(buf) == stored_size else b""
        is_last = not peek
        if index == 0 and not buf:
            raise FormatError("truncated file (no chunks)")
        if len(buf) < GCM_TAG_LEN:
            raise FormatError(f"chunk {index}: shorter than 16 bytes")
        if is_last and len(buf) == GCM_TAG_LEN and index > 0:
            raise FormatError("empty final chunk after other chunks")
        plain = open_chunk(payload_key, index, is_last, buf)
        if plain is None:
            raise FormatError(_diagnose_chunk(payload_key, index, is_last, buf))
        write(plain)
        if is_last:
            return index + 1
        buf = peek + read_exact(fin, stored_size - 1)
        index += 1


def payload_geometry(R, chunk_size):
    """FORMAT.md §6 size arithmetic for R payload bytes: returns n."""
    S = chunk_size + GCM_TAG_LEN
    if R < GCM_TAG_LEN:
        raise FormatError("truncated file (payload shorter than 16 bytes)")
    n = (R + S - 1) // S
    last = R - (n - 1) * S
    if n > 1 and last < GCM_TAG_LEN:
        raise FormatError("truncated file (last chunk shorter than 16 bytes)")
    if n > 1 and last == GCM_TAG_LEN:
        raise FormatError("empty final chunk after other chunks")
    if n > MAX_CHUNKS:
        raise FormatError("file holds more than 2^32 chunks")
    return n


def _open_or_refuse(payload_key, index, final, stored):
    plain = open_chunk(payload_key, index, final, stored)
    if plain is None:
        raise FormatError(_diagnose_chunk(payload_key, index, final, stored))
    return plain


def decrypt_signed_seekable(fin, write, payload_key, parsed, required, dek, payload_offset):
    """Signed file, seekable input: the trailer first (found from the end), then
    segment by segment; with a required signer a segment's plaintext is written
    only after its root matches and the signature over M verified."""
    chunk_size = parsed["chunk_size"]
    S = chunk_size + GCM_TAG_LEN
    alg = parsed["signer"]["alg"]
    size = fin.seek(0, os.SEEK_END)
    total = size - payload_offset
    if total < TRAILER_TAIL_LEN:
        raise FormatError("truncated file (no trailer)")
    fin.seek(size - TRAILER_TAIL_LEN)
    m, sig_len, trailer_len = parse_trailer_tail(
        read_exact(fin, TRAILER_TAIL_LEN), alg, required.public_key if required else None)
    if trailer_len > total:
        raise FormatError("truncated file (trailer longer than the payload)")
    n = payload_geometry(total - trailer_len, chunk_size)
    if m != segments_for(n):
        raise FormatError(f"trailer: m = {m}, but {n} chunks need {segments_for(n)}")
    fin.seek(size - trailer_len)
    roots, commit, signature = split_trailer(read_exact(fin, trailer_len), m, sig_len)
    if required is not None:
        check_signed(parsed, required, n, roots, commit, signature,
                     commit_value(dek, parsed["salt"]))
    fin.seek(payload_offset)
    R = total - trailer_len
    for j in range(m):
        first = j * SEGMENT_CHUNKS
        count = min(SEGMENT_CHUNKS, n - first)
        acc = hashlib.sha256(SEGMENT_LABEL + u64(j)) if required is not None else None
        plains = []
        for i in range(first, first + count):
            length = S if i < n - 1 else R - (n - 1) * S
            stored = read_exact(fin, length)
            if len(stored) != length:
                raise FormatError("truncated file (file shrank while reading)")
            plains.append(_open_or_refuse(payload_key, i, i == n - 1, stored))
            if acc is not None:
                acc.update(leaf_hash(i, stored))
        if acc is not None:
            check_roots([acc.digest()], [roots[j]], j)
        for p in plains:
            write(p)
    return n


def decrypt_signed_stream(fin, write, payload_key, parsed, required, dek):
    """Signed file, non-seekable input: a stored chunk that does not open as a
    non-final chunk starts the tail; the rest of the input (bounded) is read
    and split from the end.  Plaintext is written as chunks open: the caller
    writes to a temp file renamed only on success (a pipe output is refused
    under a required signer)."""
    chunk_size = parsed["chunk_size"]
    S = chunk_size + GCM_TAG_LEN
    alg = parsed["signer"]["alg"]
    pub = required.public_key if required else None
    acc = RootAccumulator() if required is not None else None
    index = 0
    while True:
        block = read_exact(fin, S)
        if len(block) == S:
            plain = open_chunk(payload_key, index, False, block)
            if plain is not None:
                if index + 1 >= MAX_CHUNKS:
                    raise FormatError("file holds more than 2^32 chunks")
                if acc is not None:
                    acc.add(index, block)
                write(plain)
                index += 1
                continue
        break
    n = index + 1
    m_max = segments_for(n)
    limit = S + 32 * m_max + 32 + SIG_LEN_MAX + TRAILER_TAIL_LEN
    tail = block + read_exact(fin, limit + 1 - len(block))
    if len(tail) > limit:
        raise FormatError("trailing data after the trailer (or trailer too long)")
    if len(tail) < TRAILER_TAIL_LEN:
        raise FormatError("truncated file (no trailer)")
    m, sig_len, trailer_len = parse_trailer_tail(tail[-TRAILER_TAIL_LEN:], alg, pub)
    if m != segments_for(n):
        raise FormatError(f"trailer: m = {m}, but {n} chunks need {segments_for(n)}")
    if trailer_len > len(tail) or len(tail) - trailer_len < GCM_TAG_LEN:
        raise FormatError("truncated file (final chunk shorter than 16 bytes)")
    final = tail[:len(tail) - trailer_len]
    if len(final) > S:
        raise FormatError("trailing data after the final chunk")
    if n > 1 and len(final) == GCM_TAG_LEN:
        raise FormatError("empty final chunk after other chunks")
    plain = _open_or_refuse(payload_key, index, True, final)
    roots, commit, signature = split_trailer(tail[len(final):], m, sig_len)
    if acc is not None:
        acc.add(index, final)
        check_roots(acc.finish(), roots)
        check_signed(parsed, required, n, roots, commit, signature,
                     commit_value(dek, parsed["salt"]))
    write(plain)
    return n


def _is_seekable(f):
    try:
        return stat.S_ISREG(os.fstat(f.fileno()).st_mode)
    except (OSError, AttributeError, io.UnsupportedOperation):
        return f.seekable() if hasattr(f, "seekable") else False


def decrypt_stream(fin, write, private_keys, context=None, required=None, seekable=None):
    """Decrypt one file.  required: a RequiredSigner or None.  seekable: None =
    ask the input (a regular file / BytesIO) -- False forces the streaming decoder."""
    raw, len_bytes, tag, parsed = read_header(fin)
    if required is not None:
        check_signer(parsed, required)
    dek, payload_key = unlock_dek(parsed, raw, len_bytes, tag, private_keys)
    check_context(parsed["context"], context)
    if parsed["signer"] is None:
        return decrypt_payload(fin, write, payload_key, parsed["chunk_size"])
    if seekable is None:
        seekable = _is_seekable(fin)
    if seekable:
        return decrypt_signed_seekable(fin, write, payload_key, parsed, required, dek,
                                       len(MAGIC) + 4 + len(raw) + HEADER_TAG_LEN)
    return decrypt_signed_stream(fin, write, payload_key, parsed, required, dek)


def verify_signer_keyless(fin, required):
    """Authorship without a data key: signer, trailer, signature over M and
    every segment root (no chunk opened; the commit is not checked)."""
    raw, _, _, parsed = read_header(fin)
    check_signer(parsed, required)
    data = fin.read()   # bounded by the input; a test oracle, not a streamer
    alg = parsed["signer"]["alg"]
    if len(data) < TRAILER_TAIL_LEN:
        raise FormatError("truncated file (no trailer)")
    m, sig_len, trailer_len = parse_trailer_tail(data[-TRAILER_TAIL_LEN:], alg,
                                                 required.public_key)
    if trailer_len > len(data):
        raise FormatError("truncated file (trailer longer than the payload)")
    R = len(data) - trailer_len
    n = payload_geometry(R, parsed["chunk_size"])
    if m != segments_for(n):
        raise FormatError(f"trailer: m = {m}, but {n} chunks need {segments_for(n)}")
    roots, commit, signature = split_trailer(data[R:], m, sig_len)
    check_signed(parsed, required, n, roots, commit, signature)
    S = parsed["chunk_size"] + GCM_TAG_LEN
    check_roots(roots_of([data[i * S:min((i + 1) * S, R)] for i in range(n)]), roots)
    return n


def encrypt_payload(fin, write, payload_key, chunk_size, on_stored=None):
    """One pass over input of unknown length; a 1-byte look-ahead finds the end.
    on_stored(index, stored) sees every stored chunk (leaves of a signed file)."""
    check_chunk_size(chunk_size)
    buf = read_exact(fin, chunk_size)
    index = 0
    while True:
        if index >= MAX_CHUNKS:
            raise UsageError("plaintext needs more than 2^32 chunks")
        peek = read_exact(fin, 1) if len(buf) == chunk_size else b""
        stored = seal_chunk(payload_key, index, not peek, buf)
        if on_stored is not None:
            on_stored(index, stored)
        write(stored)
        if not peek:
            return index + 1
        buf = peek + read_exact(fin, chunk_size - 1)
        index += 1


def encrypt_stream(fin, write, recipients, chunk_size=DEFAULT_CHUNK_SIZE, context=None,
                   dek=None, salt=None, created="now", oaep_seeds=None,
                   extra_members=None, ascii_json=False, signer=None):
    """recipients: list of (public_key, alg).  dek/salt/oaep_seeds only for tests.
    signer: (private key, alg) for a signed file, or None.

    Returns the number of chunks written.
    """
    check_chunk_size(chunk_size)
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise UsageError("need 1 to 64 recipients")
    if context:
        try:
            validate_context(context)
        except FormatError as e:
            raise UsageError(str(e)) from None
    dek = os.urandom(DEK_LEN) if dek is None else dek
    salt = os.urandom(SALT_LEN) if salt is None else salt
    if len(dek) != DEK_LEN or len(salt) != SALT_LEN:
        raise UsageError("DEK and salt must be 32 bytes each")
    seeds = oaep_seeds or [None] * len(recipients)
    recips = [make_rsa_recipient(pub, dek, alg, seed)
              for (pub, alg), seed in zip(recipients, seeds)]
    created = utc_now_rfc3339() if created == "now" else created
    member = None
    if signer is not None:
        sign_key, sign_alg = signer
        member = {"type": "key", "key_id": spki_key_id(sign_key.public_key()),
                  "alg": sign_alg}
    obj = build_header_object(chunk_size, salt, recips, context, created, member)
    obj.update(extra_members or {})
    header_key, payload_key = derive_keys(dek, salt)
    write(frame_header(encode_header(obj, ascii_json), header_key))
    if signer is None:
        return encrypt_payload(fin, write, payload_key, chunk_size)
    acc = RootAccumulator()
    n = encrypt_payload(fin, write, payload_key, chunk_size, acc.add)
    roots = acc.finish()
    commit = commit_value(dek, salt)
    m = signed_statement(salt, chunk_size, n, commit, roots,
                         {"type": "key", "id": member["key_id"], "alg": sign_alg},
                         context or {}, created)
    write(encode_trailer(roots, commit, sign_statement(sign_key, sign_alg, m)))
    return n


# --- files ----------------------------------------------------------------------

def open_input(path):
    return sys.stdin.buffer if path == "-" else open(path, "rb")


def run_to_output(path, produce):
    """Run produce(write); for a file, write a 0600 temp file beside OUT and
    rename it only on success, so a refused input leaves no output."""
    if path == "-":
        return produce(sys.stdout.buffer.write)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".kvseal_ref.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            result = produce(out.write)
        os.replace(tmp, path)
        return result
    except BaseException:
        os.unlink(tmp)
        raise


def decrypt_file(in_path, out_path, private_keys, context=None, required=None):
    with open_input(in_path) as fin:
        if required is not None and out_path == "-" and not _is_seekable(fin):
            # FORMAT.md: a non-seekable input under a required signer releases
            # plaintext only through a temp file and rename.
            raise UsageError("--require-signer with a pipe input needs an output file")
        return run_to_output(out_path, lambda w: decrypt_stream(fin, w, private_keys,
                                                                context, required))


def verify_file(in_path, private_keys, context=None, required=None):
    with open_input(in_path) as fin:
        if not private_keys:
            return verify_signer_keyless(fin, required)
        return decrypt_stream(fin, lambda _: None, private_keys, context, required)


def encrypt_file(in_path, out_path, recipients, **kw):
    with open_input(in_path) as fin:
        return run_to_output(out_path, lambda w: encrypt_stream(fin, w, recipients, **kw))


# --- CLI ------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # argparse would exit 2, which means "invalid file" here.
        self.print_usage(sys.stderr)
        print(f"kvseal_ref: {message}", file=sys.stderr)
        sys.exit(1)


def _parse_context(pairs):
    ctx = {}
    for p in pairs or []:
        if "=" not in p:
            raise UsageError(f"--context {p!r}: expected k=v")
        k, v = p.split("=", 1)
        if k in ctx:
            raise UsageError(f"--context {k!r} given twice")
        ctx[k] = v
    return ctx


def _parse_recipient(spec, default_alg):
    """"PATH" or "ALG=PATH" (ALG one of RSA-OAEP-256, RSA-OAEP)."""
    alg, path = default_alg, spec
    head, sep, tail = spec.partition("=")
    if sep and head in ALGS:
        alg, path = head, tail
    return load_public_key(path), alg


def _read_dek_file(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) == DEK_LEN:
        return data
    try:
        return bytes.fromhex(data.decode("ascii").strip())   # 64 hex digits
    except (UnicodeDecodeError, ValueError):
        raise UsageError("--dek-file: need 32 raw bytes or 64 hex digits") from None


def cmd_encrypt(a):
    if a.alg not in ALGS:
        raise UsageError(f"--alg must be one of {', '.join(ALGS)}")
    recipients = [_parse_recipient(s, a.alg) for s in a.recipient]
    dek = _read_dek_file(a.dek_file) if a.dek_file else None
    salt = bytes.fromhex(a.salt_hex) if a.salt_hex else None
    created = None if a.no_created else (a.created or "now")
    if a.sign_alg and not a.sign:
        raise UsageError("--sign-alg needs --sign")
    signer = load_signing_key(a.sign, a.sign_alg) if a.sign else None
    encrypt_file(a.input, a.output, recipients, chunk_size=a.chunk_size,
                 context=_parse_context(a.context), dek=dek, salt=salt, created=created,
                 ascii_json=a.ascii_json, signer=signer)


def _required(a):
    return RequiredSigner.from_pem(a.require_signer) if a.require_signer else None


def cmd_decrypt(a):
    keys = [load_private_key(p) for p in a.key]
    decrypt_file(a.input, a.output, keys, _parse_context(a.context), _required(a))


def cmd_verify(a):
    keys = [load_private_key(p) for p in a.key or []]
    required = _required(a)
    if not keys and required is None:
        raise UsageError("verify needs -k KEY or --require-signer KEY")
    if not keys and a.context:
        raise UsageError("--context needs -k KEY (the header tag must be checked)")
    verify_file(a.input, keys, _parse_context(a.context), required)
    print(f"OK: {a.input}")


def cmd_inspect(a):
    with open_input(a.input) as fin:
        obj = inspect_file(fin)
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def build_parser():
    p = _Parser(prog="kvseal_ref.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("encrypt")
    e.add_argument("-r", "--recipient", action="append", required=True,
                   help="public key PEM, optionally ALG=PATH")
    e.add_argument("--alg", default="RSA-OAEP-256")
    e.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)
    e.add_argument("--context", action="append", metavar="K=V")
    e.add_argument("--dek-file", help="fixed DEK (tests only)")
    e.add_argument("--salt-hex", help="fixed salt (tests only)")
    e.add_argument("--created", help="fixed created time (tests only)")
    e.add_argument("--no-created", action="store_true")
    e.add_argument("--ascii-json", action="store_true",
                   help="write non-ASCII as \\u escapes")
    e.add_argument("--sign", metavar="PRIV.pem", help="sign with this EC or RSA key")
    e.add_argument("--sign-alg", choices=sorted(SIGN_ALGS),
                   help="default: ES256 (P-256), ES384 (P-384), PS256 (RSA)")
    e.add_argument("input")
    e.add_argument("output")
    e.set_defaults(func=cmd_encrypt)
    d = sub.add_parser("decrypt")
    d.add_argument("-k", "--key", action="append", required=True)
    d.add_argument("--context", action="append", metavar="K=V")
    d.add_argument("--require-signer", metavar="PUB.pem")
    d.add_argument("input")
    d.add_argument("output")
    d.set_defaults(func=cmd_decrypt)
    v = sub.add_parser("verify")
    v.add_argument("-k", "--key", action="append")
    v.add_argument("--context", action="append", metavar="K=V")
    v.add_argument("--require-signer", metavar="PUB.pem")
    v.add_argument("input")
    v.set_defaults(func=cmd_verify)
    i = sub.add_parser("inspect")
    i.add_argument("input")
    i.set_defaults(func=cmd_inspect)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except KvsealError as e:
        print(f"kvseal_ref: {e}", file=sys.stderr)
        return e.exit_code
    except (OSError, ValueError) as e:
        print(f"kvseal_ref: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
