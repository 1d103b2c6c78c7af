#!/usr/bin/python3
"""sign_forge: forgeries of a signed kvseal file, made by an attacker.

The attacker holds the recipient's private key (tests/keys/rsa2048-a.pem), so
the DEK, the header key and the payload key, and may hold another signing key
(tests/keys/ec-p256-b.pem); never the genuine signer's private key
(tests/keys/ec-p256.pem, used only to make the genuine file).  Every forgery
must be refused (exit 2, no output) by `decrypt --require-signer
tests/keys/ec-p256.pub.pem`; `keyless` says whether `verify --require-signer`
without any decryption key must refuse it too (False only where nothing the
signature covers changed).

Built with kvseal_ref.py (the independent implementation), so it needs
python3-cryptography:
  /usr/bin/python3 tests/interop/sign_forge.py OUTDIR
writes genuine.kvs, genuine.plain, FORGERY.kvs for each forgery, and
manifest.json {"forgeries": [{"name", "file", "what", "keyless"}], ...}.
"""

import hashlib
import io
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import kvseal_ref as ref  # noqa: E402

KEYS = os.path.join(REPO, "tests", "keys")
RECIPIENT = os.path.join(KEYS, "rsa2048-a.pem")
RECIPIENT_PUB = os.path.join(KEYS, "rsa2048-a.pub.pem")
SIGNER = os.path.join(KEYS, "ec-p256.pem")
SIGNER_PUB = os.path.join(KEYS, "ec-p256.pub.pem")
OTHER_SIGNER = os.path.join(KEYS, "ec-p256-b.pem")
CHUNK = 4096
# 17 full chunks and 100 bytes: n = 18, m = 2 (a full segment and a partial one)
PLAIN_LEN = 17 * CHUNK + 100


def pattern(n, label):
    out = bytearray()
    seed = hashlib.sha256(label.encode()).digest()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(seed + i.to_bytes(8, "big")).digest()
        i += 1
    return bytes(out[:n])


def encrypt(plain, signer=None, chunk_size=CHUNK, context=None, recipient=RECIPIENT_PUB,
            **kw):
    out = io.BytesIO()
    ref.encrypt_stream(io.BytesIO(plain), out.write,
                       [(ref.load_public_key(recipient), "RSA-OAEP-256")], chunk_size,
                       context=context, signer=signer, **kw)
    return out.getvalue()


class Parts:
    """A signed file taken apart by a holder of the recipient key."""

    def __init__(self, data, private_key_path=RECIPIENT):
        fin = io.BytesIO(data)
        raw, len_bytes, tag, parsed = ref.read_header(fin)
        self.obj = ref.parse_header_json(raw)
        self.parsed = parsed
        self.dek, self.payload_key = ref.unlock_dek(
            parsed, raw, len_bytes, tag, [ref.load_private_key(private_key_path)])
        self.header_key = ref.derive_keys(self.dek, parsed["salt"])[0]
        self.chunk_size = parsed["chunk_size"]
        off = 44 + len(raw)
        self.prefix = data[:off]
        m, sig_len, tlen = ref.parse_trailer_tail(data[-10:], parsed["signer"]["alg"])
        self.m, self.sig_len = m, sig_len
        payload = data[off:len(data) - tlen]
        self.trailer = data[len(data) - tlen:]
        S = self.chunk_size + 16
        n = ref.payload_geometry(len(payload), self.chunk_size)
        self.chunks = [payload[i * S:(i + 1) * S] for i in range(n)]
        self.roots, self.commit, self.sig = ref.split_trailer(self.trailer, m, sig_len)

    @property
    def n(self):
        return len(self.chunks)

    def header(self, obj=None, header_key=None):
        """Header bytes re-encoded from obj and tagged with the (attacker's) key."""
        return ref.frame_header(ref.encode_header(self.obj if obj is None else obj),
                                header_key or self.header_key)

    def statement(self, roots=None, commit=None, signer=None, obj=None):
        obj = self.obj if obj is None else obj
        s = obj["signer"] if signer is None else signer
        return ref.signed_statement(self.parsed["salt"], self.chunk_size, self.n,
                                    self.commit if commit is None else commit,
                                    self.roots if roots is None else roots,
                                    {"type": s["type"], "id": s.get("key_id", s.get("kid")),
                                     "alg": s["alg"]},
                                    obj.get("context", {}), obj.get("created"))

    def payload(self, chunks=None):
        return b"".join(self.chunks if chunks is None else chunks)


def tail(m, sig_len, magic=ref.END_MAGIC):
    return ref.u32(m) + ref.u16(sig_len) + magic


def forgeries(genuine, plain):
    """[(name, bytes, keyless, what)] for a genuine ES256 file of >= 17 chunks."""
    p = Parts(genuine)
    assert p.m >= 2 and p.n >= 17, (p.m, p.n)
    other_key, _ = ref.load_signing_key(OTHER_SIGNER, "ES256")
    other_id = ref.spki_key_id(other_key.public_key())
    out = []

    def add(name, data, keyless, what):
        assert data != genuine, name
        out.append((name, data, keyless, what))

    tr_body = p.trailer[:-10]
    # --- signer and trailer removed or absent -----------------------------------
    add("unsigned", encrypt(plain), True,
        "an unsigned file of the same plaintext for the same recipient")
    stripped = dict(p.obj)
    del stripped["signer"]
    add("signer-stripped-no-trailer", p.header(stripped) + p.payload(), True,
        "signer member removed, header re-tagged with the DEK, trailer removed")
    add("signer-stripped-trailer-kept", p.header(stripped) + p.payload() + p.trailer, True,
        "signer member removed, header re-tagged with the DEK, trailer kept")
    add("trailer-stripped", p.prefix + p.payload(), True,
        "trailer removed, header keeps the signer")
    add("trailer-and-last-chunk-stripped", p.prefix + p.payload(p.chunks[:-1]), True,
        "last chunk and trailer removed")
    # --- truncated / extended ---------------------------------------------------
    whole = genuine
    add("truncated-1", whole[:-1], True, "last byte (of end_magic) cut")
    add("truncated-10", whole[:-10], True, "m, sig_len and end_magic cut")
    add("truncated-in-signature", whole[:-(10 + p.sig_len // 2)], True,
        "cut in the middle of the signature")
    add("truncated-in-roots", whole[:-(10 + p.sig_len + 32 + 16)], True,
        "cut in the middle of the last root")
    add("truncated-in-last-chunk", p.prefix + p.payload()[:-7], True,
        "cut 7 bytes before the end of the final chunk (trailer gone)")
    add("truncated-in-last-chunk-trailer-kept",
        p.prefix + p.payload()[:-7] + p.trailer, True,
        "7 bytes cut out of the final chunk, trailer kept")
    add("extended-1", whole + b"\x00", True, "one byte after end_magic")
    add("extended-4096", whole + pattern(4096, "ext"), True, "4096 bytes after end_magic")
    add("extended-trailer-twice", whole + p.trailer, True,
        "the trailer appended again (the last 10 bytes are a valid tail)")
    # --- roots ------------------------------------------------------------------
    swapped = [p.roots[1], p.roots[0]] + p.roots[2:]
    add("roots-swapped", p.prefix + p.payload()
        + ref.encode_trailer(swapped, p.commit, p.sig), True, "root_0 and root_1 swapped")
    bad_root = list(p.roots)
    bad_root[-1] = bytes([bad_root[-1][0] ^ 1]) + bad_root[-1][1:]
    add("root-flipped", p.prefix + p.payload() + ref.encode_trailer(bad_root, p.commit, p.sig),
        True, "one bit of the last root flipped")
    # --- chunk content changed by the DEK holder -------------------------------
    k = 3
    fake = bytearray(plain[k * p.chunk_size:(k + 1) * p.chunk_size])
    fake[:16] = b"ATTACKER WAS HER"
    altered = list(p.chunks)
    altered[k] = ref.seal_chunk(p.payload_key, k, False, bytes(fake))
    assert ref.open_chunk(p.payload_key, k, False, altered[k]) is not None
    add("chunk-altered-roots-kept", p.prefix + p.payload(altered) + p.trailer, True,
        "chunk 3 re-encrypted by the DEK holder (valid GCM tag), roots and signature kept")
    new_roots = ref.roots_of(altered)
    add("chunk-altered-roots-recomputed",
        p.prefix + p.payload(altered) + ref.encode_trailer(new_roots, p.commit, p.sig), True,
        "chunk 3 re-encrypted, roots recomputed, old signature kept")
    m_other = p.statement(roots=new_roots)
    add("chunk-altered-signed-by-other-key",
        p.prefix + p.payload(altered)
        + ref.encode_trailer(new_roots, p.commit, ref.sign_statement(other_key, "ES256", m_other)),
        True, "chunk 3 re-encrypted, roots recomputed, M signed by ec-p256-b, "
              "header still names ec-p256")
    last = p.n - 1
    fake_last = b"attacker's final chunk"
    altered_last = p.chunks[:-1] + [ref.seal_chunk(p.payload_key, last, True, fake_last)]
    add("final-chunk-replaced", p.prefix + p.payload(altered_last) + p.trailer, True,
        "final chunk replaced (shorter, valid tag), trailer kept")
    # --- another signer -----------------------------------------------------------
    add("signed-by-other-key-claimed",
        encrypt(plain, signer=(other_key, "ES256")), True,
        "a whole file signed by ec-p256-b, whose header names ec-p256-b")
    resigned = dict(p.obj)
    resigned["signer"] = {"type": "key", "key_id": other_id, "alg": "ES256"}
    add("resigned-by-other-key-claimed",
        p.header(resigned) + p.payload()
        + ref.encode_trailer(p.roots, p.commit, ref.sign_statement(
            other_key, "ES256", p.statement(obj=resigned))), True,
        "genuine payload; header names ec-p256-b and is re-tagged; M re-signed by ec-p256-b")
    add("signature-by-other-key",
        p.prefix + p.payload()
        + ref.encode_trailer(p.roots, p.commit,
                             ref.sign_statement(other_key, "ES256", p.statement())), True,
        "header names ec-p256; a valid signature over the same M by ec-p256-b")
    sig_bad = bytes([p.sig[0] ^ 0x80]) + p.sig[1:]
    add("signature-flipped",
        p.prefix + p.payload() + ref.encode_trailer(p.roots, p.commit, sig_bad), True,
        "one bit of r flipped")
    # --- header members covered by M, changed by the DEK holder -----------------
    ctx = dict(p.obj)
    ctx["context"] = dict(p.obj.get("context", {}), tenant="attacker")
    add("context-changed", p.header(ctx) + p.payload() + p.trailer, True,
        "a context pair added, header re-tagged, trailer kept")
    cre = dict(p.obj)
    cre["created"] = "2030-01-01T00:00:00Z"
    add("created-changed", p.header(cre) + p.payload() + p.trailer, True,
        "created changed, header re-tagged, trailer kept")
    alg = dict(p.obj)
    alg["signer"] = dict(p.obj["signer"], alg="ES384")
    add("signer-alg-es384", p.header(alg) + p.payload() + p.trailer, True,
        "signer alg changed to ES384 (does not fit a P-256 key), header re-tagged")
    # --- trailer form ---------------------------------------------------------------
    body = p.prefix + p.payload()
    for name, m in (("m-0", 0), ("m-huge", 0xFFFFFFFF), ("m-minus-1", p.m - 1),
                    ("m-plus-1", p.m + 1)):
        add(name, body + tr_body + tail(m, p.sig_len), True, f"m field = {m}")
    extra_root = ref.encode_trailer(p.roots + [p.roots[-1]], p.commit, p.sig)
    add("m-plus-1-consistent", body + extra_root, True,
        "one more root and m = m + 1: a well-formed trailer with m != ceil(n/16)")
    add("m-minus-1-consistent", body + ref.encode_trailer(p.roots[:-1], p.commit, p.sig), True,
        "last root dropped and m = m - 1")
    for name, sl in (("sig-len-0", 0), ("sig-len-1025", 1025), ("sig-len-minus-1", p.sig_len - 1),
                     ("sig-len-plus-1", p.sig_len + 1), ("sig-len-65535", 0xFFFF)):
        add(name, body + tr_body + tail(p.m, sl), True, f"sig_len field = {sl}")
    add("sig-len-63-consistent",
        body + ref.encode_trailer(p.roots, p.commit, p.sig[:-1]), True,
        "signature cut to 63 bytes and sig_len = 63 (ES256 needs 64)")
    add("sig-len-65-consistent",
        body + ref.encode_trailer(p.roots, p.commit, p.sig + b"\x00"), True,
        "a zero byte appended to the signature and sig_len = 65")
    for name, magic in (("end-magic-kvss-lower", b"KVSs"), ("end-magic-zero", b"\0\0\0\0"),
                        ("end-magic-kvse", b"KVSE")):
        add(name, body + tr_body + tail(p.m, p.sig_len, magic), True,
            f"end_magic = {magic!r}")
    # --- commit -----------------------------------------------------------------
    bad_commit = bytes([p.commit[0] ^ 1]) + p.commit[1:]
    add("commit-flipped", body + ref.encode_trailer(p.roots, bad_commit, p.sig), True,
        "one bit of commit flipped (M covers commit: the signature fails)")
    # A new DEK for the same salt: the DEK holder rewraps the header with another
    # data key (a new recipient wrap, re-tagged). Everything the signature covers
    # is intact, so a key-less verifier accepts it (authorship of the payload is
    # still proven); a decoder with the DEK refuses it through the commit (and
    # the chunks do not open under the new payload key).
    other_dek = hashlib.sha256(b"attacker dek").digest()
    rewrapped = dict(p.obj)
    rewrapped["recipients"] = [ref.make_rsa_recipient(ref.load_public_key(RECIPIENT_PUB), other_dek)]
    other_header_key = ref.derive_keys(other_dek, p.parsed["salt"])[0]
    add("rewrapped-other-dek", p.header(rewrapped, other_header_key) + p.payload() + p.trailer, False,
        "header rewrapped to another DEK (same salt, signer, context); payload and trailer "
        "kept: only the DEK shows it (commit)")
    return out


def make_genuine():
    plain = pattern(PLAIN_LEN, "sign-forge plaintext")
    signer = ref.load_signing_key(SIGNER, "ES256")
    return plain, encrypt(plain, signer=signer, context={"app": "backup"},
                          created="2026-12-07T00:00:00Z")


def main(argv):
    if len(argv) != 2:
        print("usage: sign_forge.py OUTDIR", file=sys.stderr)
        return 1
    outdir = argv[1]
    os.makedirs(outdir, exist_ok=True)
    plain, genuine = make_genuine()
    with open(os.path.join(outdir, "genuine.kvs"), "wb") as f:
        f.write(genuine)
    with open(os.path.join(outdir, "genuine.plain"), "wb") as f:
        f.write(plain)
    items = []
    for name, data, keyless, what in forgeries(genuine, plain):
        with open(os.path.join(outdir, name + ".kvs"), "wb") as f:
            f.write(data)
        items.append({"name": name, "file": name + ".kvs", "what": what, "keyless": keyless})
    with open(os.path.join(outdir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump({"genuine": "genuine.kvs", "plaintext": "genuine.plain",
                   "recipient": RECIPIENT, "signer_pub": SIGNER_PUB,
                   "forgeries": items}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
