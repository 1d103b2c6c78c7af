#!/usr/bin/python3
"""Self-test of the reference implementation kvseal_ref.py (no C code involved).

Round trips, negative cases, the golden files (and that generate.py still
reproduces them), the hostile corpus (every file refused with the expected
exit code, every accept case decrypted), and the Debian NIST/pyca vectors the
README points to.  Last line: "N passed, M failed"; exit status 1 on failure.

  /usr/bin/python3 tests/interop/test_ref_selftest.py [-v]
"""

import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
GOLDEN = os.path.join(REPO, "vectors", "golden")
HOSTILE_GEN = os.path.join(REPO, "vectors", "hostile", "generate.py")
REF = os.path.join(HERE, "kvseal_ref.py")
VECTORS = "/usr/lib/python3/dist-packages/cryptography_vectors"
PY = sys.executable
sys.dont_write_bytecode = True   # keep __pycache__ out of the source tree
sys.path.insert(0, HERE)
import kvseal_ref as ref  # noqa: E402

VERBOSE = "-v" in sys.argv
RESULTS = {"passed": 0, "failed": 0}
KEY_A = os.path.join(GOLDEN, "keys", "rsa2048-a.pem")
KEY_B = os.path.join(GOLDEN, "keys", "rsa2048-b.pem")
KEY_WRONG = os.path.join(GOLDEN, "keys", "rsa2048-wrong.pem")


def record(name, ok, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    if not ok:
        print(f"FAIL {name}: {detail}")
    elif VERBOSE:
        print(f"ok   {name}")


TESTS = []


def test(fn):
    """Register fn; main() runs it, an exception is one failure."""
    TESTS.append(fn)
    return fn


def run(fn):
    try:
        fn()
        record(fn.__name__, True)
    except Exception as e:  # noqa: BLE001 - report and continue
        record(fn.__name__, False, f"{e!r}\n{traceback.format_exc(limit=3)}")


def plain(n, label="p"):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(label.encode() + i.to_bytes(8, "big")).digest()
        i += 1
    return bytes(out[:n])


_KEYS = {}


def priv(path):
    if path not in _KEYS:
        _KEYS[path] = ref.load_private_key(path)
    return _KEYS[path]


def encrypt(data, pubs=(KEY_A,), alg="RSA-OAEP-256", chunk_size=4096, **kw):
    out = io.BytesIO()
    ref.encrypt_stream(io.BytesIO(data), out.write,
                       [(ref.load_public_key(p), alg) for p in pubs], chunk_size, **kw)
    return out.getvalue()


def decrypt(data, keys=(KEY_A,), context=None):
    """(exit code, plaintext or None, message)"""
    out = []
    try:
        ref.decrypt_stream(io.BytesIO(data), out.append, [priv(k) for k in keys], context)
        return 0, b"".join(out), ""
    except ref.KvsealError as e:
        return e.exit_code, None, str(e)


def expect_refused(data, code=2, keys=(KEY_A,)):
    got, pt, msg = decrypt(data, keys)
    assert got == code, f"expected exit {code}, got {got} ({msg})"


def layout(data):
    """(payload offset, chunk_size) of a file."""
    hl = int.from_bytes(data[8:12], "big")
    return 8 + 4 + hl + 32, json.loads(data[12:12 + hl])["chunk_size"]


# --- round trips ----------------------------------------------------------------

def round_trips():
    cs = 4096
    for n in (0, 1, cs - 1, cs, cs + 1, 3 * cs, 3 * cs + 5, 7 * cs - 1):
        data = plain(n, f"rt{n}")
        blob = encrypt(data)
        off, _ = layout(blob)
        chunks = max(1, -(-n // cs))
        name = f"round_trip_{n}"
        size_ok = len(blob) == off + n + 16 * chunks
        code, pt, msg = decrypt(blob)
        record(name, size_ok and code == 0 and pt == data,
               f"size_ok={size_ok} code={code} {msg}")


@test
def round_trip_two_recipients_and_sha1():
    data = plain(10000)
    blob = encrypt(data, pubs=(KEY_A, KEY_B), alg="RSA-OAEP")
    for k in (KEY_A, KEY_B):
        code, pt, msg = decrypt(blob, keys=(k,))
        assert code == 0 and pt == data, msg
    expect_refused(blob, 3, keys=(KEY_WRONG,))


@test
def round_trip_context():
    ctx = {"tenant": "a", "città": "Zürich 🔐"}
    blob = encrypt(plain(5000), context=ctx)
    assert decrypt(blob, context=ctx)[0] == 0
    assert decrypt(blob, context={"tenant": "a"})[0] == 0
    assert decrypt(blob)[0] == 0
    assert decrypt(blob, context={"tenant": "b"})[0] == 2
    assert ref.parse_header_json(blob[12:12 + layout(blob)[0] - 44])["context"] == ctx


@test
def round_trip_default_chunk_and_bigger_chunks():
    for cs, n in ((1 << 20, (1 << 20) + 3), (1 << 16, 5 << 16)):
        data = plain(n)
        blob = encrypt(data, chunk_size=cs)
        assert decrypt(blob) == (0, data, "")


@test
def deterministic_with_fixed_dek_salt_and_seed():
    kw = dict(dek=bytes(range(32)), salt=bytes(32), created="2025-01-01T00:00:00Z",
              oaep_seeds=[bytes(32)])
    assert encrypt(plain(100), **kw) == encrypt(plain(100), **kw)


@test
def encoder_refuses_bad_parameters():
    for cs in (0, 4095, 4097, 1 << 27):
        try:
            encrypt(b"x", chunk_size=cs)
        except ref.KvsealError:
            continue
        raise AssertionError(f"chunk_size {cs} accepted")
    try:
        encrypt(b"x", context={f"k{i}": "v" for i in range(65)})
    except ref.KvsealError:
        return
    raise AssertionError("65 context members accepted")


@test
def chunk_offsets_are_computable():
    data = plain(5 * 4096 + 7)
    dek, salt = bytes(range(32)), bytes(range(32, 64))   # known, to derive the payload key
    blob = encrypt(data, dek=dek, salt=salt)
    off, cs = layout(blob)
    _, pkey = ref.derive_keys(dek, salt)
    i = 3
    stored = blob[off + i * (cs + 16): off + (i + 1) * (cs + 16)]
    assert ref.open_chunk(pkey, i, False, stored) == data[i * cs:(i + 1) * cs]


@test
def chunk_count_limit_enforced():
    blob = encrypt(plain(4 * 4096))
    saved = ref.MAX_CHUNKS
    try:
        ref.MAX_CHUNKS = 4
        assert decrypt(blob)[0] == 0
        ref.MAX_CHUNKS = 3
        assert decrypt(blob)[0] == 2
        try:
            encrypt(plain(4 * 4096))
        except ref.KvsealError:
            pass
        else:
            raise AssertionError("encoder wrote more than MAX_CHUNKS chunks")
    finally:
        ref.MAX_CHUNKS = saved


# --- negative -------------------------------------------------------------------

BLOB = encrypt(plain(3 * 4096 + 100, "neg"))


def flip(data, pos, mask=1):
    m = bytearray(data)
    m[pos] ^= mask
    return bytes(m)


@test
def neg_header_byte_flipped():
    off, _ = layout(BLOB)
    for pos in (0, 7, 9, 11, 12, 40, off - 45, off - 33, off - 1):
        got = decrypt(flip(BLOB, pos))[0]
        assert got in (2, 3), f"flip at {pos}: {got}"


@test
def neg_chunk_bit_flipped():
    off, cs = layout(BLOB)
    for pos in (off, off + cs + 15, off + cs + 16, len(BLOB) - 1, len(BLOB) - 17):
        expect_refused(flip(BLOB, pos, 0x80))


@test
def neg_truncated():
    off, cs = layout(BLOB)
    for n in (off, off + cs + 16, off + 2 * (cs + 16), off + 1, off + 15, len(BLOB) - 1,
              len(BLOB) - 16, 5, 20):
        expect_refused(BLOB[:n])


@test
def neg_appended():
    for extra in (b"\x00", bytes(16), BLOB[-116:]):
        expect_refused(BLOB + extra)


@test
def neg_swapped_chunks():
    off, cs = layout(BLOB)
    s = cs + 16
    c = [BLOB[off + i * s: off + (i + 1) * s] for i in range(4)]
    expect_refused(BLOB[:off] + c[1] + c[0] + c[2] + c[3])
    expect_refused(BLOB[:off] + c[0] + c[2] + c[1] + c[3])
    expect_refused(BLOB[:off] + c[0] + c[0] + c[1] + c[2] + c[3])


@test
def neg_wrong_key():
    expect_refused(BLOB, 3, keys=(KEY_WRONG,))


@test
def neg_empty_final_chunk_after_full_chunks():
    dek, salt = bytes(32), bytes(range(32))
    blob = encrypt(plain(4096), dek=dek, salt=salt)
    _, pkey = ref.derive_keys(dek, salt)
    off, _ = layout(blob)
    pt = ref.open_chunk(pkey, 0, True, blob[off:])
    forged = blob[:off] + ref.seal_chunk(pkey, 0, False, pt) + ref.seal_chunk(pkey, 1, True, b"")
    code, _, msg = decrypt(forged)
    assert code == 2 and "empty final chunk" in msg, msg


@test
def base64url_strict():
    assert ref.b64url_decode("AQ", "t") == b"\x01"
    for bad in ("AQ==", "AR", "A", "A+", "A/", "A Q"):
        try:
            ref.b64url_decode(bad, "t")
        except ref.FormatError:
            continue
        raise AssertionError(f"accepted {bad!r}")


# --- CLI ------------------------------------------------------------------------

def cli(*args, stdin=None):
    return subprocess.run([PY, REF, *args], input=stdin, capture_output=True)


@test
def cli_round_trip_and_refusals():
    with tempfile.TemporaryDirectory() as d:
        p, e, o = (os.path.join(d, n) for n in ("p", "e", "o"))
        with open(p, "wb") as f:
            f.write(plain(9000))
        dek = os.path.join(d, "dek")
        with open(dek, "w") as f:
            f.write("11" * 32)
        r = cli("encrypt", "-r", os.path.join(GOLDEN, "keys", "rsa2048-a.pub.pem"),
                "-r", "RSA-OAEP=" + os.path.join(GOLDEN, "keys", "rsa2048-b.pub.pem"),
                "--chunk-size", "4096", "--context", "k=v", "--dek-file", dek,
                "--salt-hex", "22" * 32, p, e)
        assert r.returncode == 0, r.stderr
        assert cli("decrypt", "-k", KEY_B, "--context", "k=v", e, o).returncode == 0
        with open(o, "rb") as f1, open(p, "rb") as f2:
            assert f1.read() == f2.read()
        head = json.loads(cli("inspect", e).stdout)
        assert head["recipients"][1]["alg"] == "RSA-OAEP" and head["context"] == {"k": "v"}
        os.unlink(o)
        r = cli("decrypt", "-k", KEY_WRONG, e, o)
        assert r.returncode == 3 and not os.path.exists(o), r
        assert len(r.stderr.decode().strip().splitlines()) == 1
        with open(e, "rb") as f:
            blob = f.read()
        with open(e, "wb") as f:
            f.write(blob[:-1])
        r = cli("decrypt", "-k", KEY_A, e, o)
        assert r.returncode == 2 and not os.path.exists(o), r
        assert not [n for n in os.listdir(d) if n.endswith(".tmp")], "temp file left"
        r = cli("decrypt", "-k", KEY_A, "-", "-", stdin=blob)
        assert r.returncode == 0 and r.stdout == plain(9000)
        assert cli("decrypt", e).returncode == 1          # usage error, not 2
        assert cli("inspect", p).returncode == 2


# --- signed files ---------------------------------------------------------------

TKEYS = os.path.join(REPO, "tests", "keys")
SIGNERS = {"ES256": "ec-p256", "ES384": "ec-p384", "PS256": "rsa3072"}
sys.path.insert(0, HERE)
import sign_forge  # noqa: E402  (the attacker; uses kvseal_ref)

_SIGN_KEYS = {}


def signing_key(name, alg=None):
    if (name, alg) not in _SIGN_KEYS:
        _SIGN_KEYS[(name, alg)] = ref.load_signing_key(os.path.join(TKEYS, name + ".pem"), alg)
    return _SIGN_KEYS[(name, alg)]


def required(name):
    return ref.RequiredSigner.from_pem(os.path.join(TKEYS, name + ".pub.pem"))


TKEY_A = sign_forge.RECIPIENT   # tests/keys/rsa2048-a.pem: the signed tests' recipient


def sencrypt(data, **kw):
    """A file for TKEY_A, chunk_size 4096 (sign_forge.encrypt)."""
    return sign_forge.encrypt(data, **kw)


def decrypt_signed(data, req, seekable=None, keys=(TKEY_A,)):
    """(exit code, plaintext or None, message); seekable False = streaming decoder."""
    out = []
    try:
        ref.decrypt_stream(io.BytesIO(data), out.append, [priv(k) for k in keys], None,
                           req, seekable)
        return 0, b"".join(out), ""
    except ref.KvsealError as e:
        return e.exit_code, None, str(e)


def verify_keyless(data, req):
    try:
        ref.verify_signer_keyless(io.BytesIO(data), req)
        return 0, ""
    except ref.KvsealError as e:
        return e.exit_code, str(e)


def signed_round_trips():
    cs = 4096
    for alg, key in SIGNERS.items():
        req = required(key)
        for chunks_label, size in (("empty", 0), ("1", 1), ("15", 15 * cs), ("16", 16 * cs),
                                   ("17", 16 * cs + 1), ("40", 39 * cs + 77)):
            name = f"signed_round_trip_{alg}_{chunks_label}"
            try:
                data = plain(size, name)
                blob = sencrypt(data, signer=signing_key(key), created=None)
                off, _ = layout(blob)
                n = max(1, -(-size // cs))
                m = -(-n // 16)
                sig_len = {"ES256": 64, "ES384": 96, "PS256": 384}[alg]
                assert len(blob) == off + size + 16 * n + 32 * m + 32 + sig_len + 10, "size"
                assert blob[-4:] == b"KVSS" and int.from_bytes(blob[-10:-6], "big") == m
                assert int.from_bytes(blob[-6:-4], "big") == sig_len
                hdr = json.loads(blob[12:off - 32])
                assert hdr["signer"] == {"type": "key", "alg": alg,
                                         "key_id": ref.spki_key_id(req.public_key)}, hdr
                for seekable in (True, False):
                    got = decrypt_signed(blob, req, seekable)
                    assert got == (0, data, ""), (seekable, got[0], got[2])
                    got = decrypt_signed(blob, None, seekable)   # trailer form only
                    assert got == (0, data, ""), ("no signer", seekable, got[0], got[2])
                assert verify_keyless(blob, req) == (0, "")
                record(name, True)
            except Exception as e:  # noqa: BLE001
                record(name, False, repr(e))


@test
def signed_unsigned_file_under_required_signer():
    blob = sencrypt(plain(5000))
    for seekable in (True, False):
        code, _, msg = decrypt_signed(blob, required("ec-p256"), seekable)
        assert code == 2 and "not signed" in msg, msg
    assert verify_keyless(blob, required("ec-p256"))[0] == 2
    assert decrypt_signed(blob, None)[0] == 0


@test
def signed_other_signer_and_wrong_kind():
    blob = sencrypt(plain(5000), signer=signing_key("ec-p256"))
    for key in ("ec-p256-b", "ec-p384", "rsa3072"):
        code, _, msg = decrypt_signed(blob, required(key))
        assert code == 2 and "not by the required" in msg, (key, msg)
        assert isinstance(_exc(lambda: ref.decrypt_stream(
            io.BytesIO(blob), lambda _: None, [priv(TKEY_A)], None, required(key))),
            ref.SignerError)
    # the signer check comes before any unwrap: a wrong recipient key still says "signer"
    code, _, msg = decrypt_signed(blob, required("ec-p256-b"), keys=(KEY_WRONG,))
    assert code == 2 and "required" in msg, msg
    # header signer is azure-keyvault: not the required local key
    p = sign_forge.Parts(blob)
    obj = dict(p.obj)
    obj["signer"] = {"type": "azure-keyvault", "alg": "ES256",
                     "kid": "https://v.vault.azure.net/keys/s/0123456789abcdef0123456789abcdef"}
    forged = p.header(obj) + p.payload() + p.trailer
    assert decrypt_signed(forged, required("ec-p256"))[0] == 2
    assert decrypt_signed(forged, None)[0] == 0          # well-formed; nothing verified


def _exc(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return e
    return None


@test
def signed_forgeries_refused():
    data, genuine = sign_forge.make_genuine()
    req = required("ec-p256")
    for seekable in (True, False):
        assert decrypt_signed(genuine, req, seekable) == (0, data, "")
    assert verify_keyless(genuine, req) == (0, "")
    fs = sign_forge.forgeries(genuine, data)
    assert len(fs) >= 40, len(fs)
    for name, blob, keyless, _ in fs:
        for seekable in (True, False):
            code, _, msg = decrypt_signed(blob, req, seekable)
            assert code == 2, (name, seekable, code, msg)
        code, msg = verify_keyless(blob, req)
        assert code == (2 if keyless else 0), (name, "keyless", code, msg)


@test
def signed_header_member_rules():
    good = {"type": "key", "alg": "ES256", "key_id": "sha256:" + "ab" * 32}
    ok = ref.validate_signer(good)
    assert ok == {"type": "key", "id": good["key_id"], "alg": "ES256"}
    assert ref.validate_signer(dict(good, extra=1))["alg"] == "ES256"
    kv = {"type": "azure-keyvault", "alg": "PS512",
          "kid": "https://v.vault.azure.net/keys/s/0123456789abcdef0123456789abcdef"}
    assert ref.validate_signer(kv)["id"] == kv["kid"]
    bad = [None, [], "key", {}, dict(good, type="rsa"), dict(good, type="KEY"),
           dict(good, alg="ES512"), dict(good, alg="RS256"), dict(good, alg="es256"),
           dict(good, alg="EdDSA"), dict(good, alg=None),
           dict(good, key_id="sha256:AB" + "ab" * 31),
           dict(good, key_id="ab" * 32), {"type": "key", "alg": "ES256"},
           {"type": "key", "key_id": good["key_id"]}, dict(kv, kid=kv["kid"].rsplit("/", 1)[0]),
           dict(kv, kid="http://v.vault.azure.net/keys/s/1"), {"alg": "ES256", "kid": kv["kid"]}]
    for b in bad:
        assert isinstance(_exc(lambda: ref.validate_signer(b)), ref.FormatError), b
    # and through a whole header: a bad signer refuses the file before any key is used
    blob = sencrypt(b"abc", signer=signing_key("ec-p256"))
    p = sign_forge.Parts(blob)
    for b in bad[:8]:
        obj = dict(p.obj, signer=b)
        assert decrypt_signed(p.header(obj) + p.payload() + p.trailer, None)[0] == 2, b


@test
def signed_trailer_form_checked_without_signer():
    """Without a required signer a decoder still checks the trailer's form."""
    data, genuine = sign_forge.make_genuine()
    fs = {name: blob for name, blob, _, _ in sign_forge.forgeries(genuine, data)}
    for name in ("trailer-stripped", "truncated-1", "truncated-in-signature", "extended-1",
                 "extended-4096", "m-0", "m-huge", "m-minus-1", "m-plus-1",
                 "m-plus-1-consistent", "sig-len-0", "sig-len-1025", "sig-len-minus-1",
                 "sig-len-63-consistent", "end-magic-kvse", "truncated-in-last-chunk"):
        for seekable in (True, False):
            code, _, msg = decrypt_signed(fs[name], None, seekable)
            assert code == 2, (name, seekable, msg)
    # an unsigned header followed by a trailer: trailing data after the final chunk
    for seekable in (True, False):
        assert decrypt_signed(fs["signer-stripped-trailer-kept"], None, seekable)[0] == 2
    # what only a verified signature catches passes a decoder that verifies none
    for name in ("roots-swapped", "signature-flipped", "commit-flipped", "context-changed"):
        assert decrypt_signed(fs[name], None)[0] == 0, name


@test
def signed_ps_sig_len_agrees_with_key():
    for bits_key, good_len in (("rsa3072", 384), ("rsa4096", 512)):
        blob = sencrypt(plain(100), signer=signing_key(bits_key, "PS384"))
        assert int.from_bytes(blob[-6:-4], "big") == good_len
        req = ref.RequiredSigner.from_pem(os.path.join(TKEYS, bits_key + ".pub.pem"))
        assert decrypt_signed(blob, req) == (0, plain(100), "")
        p = sign_forge.Parts(blob)
        for sl in (good_len - 1, good_len + 1, 64, 383):
            sig = (p.sig + bytes(max(0, sl - len(p.sig))))[:sl]
            forged = p.prefix + p.payload() + ref.encode_trailer(p.roots, p.commit, sig)
            code, _, msg = decrypt_signed(forged, req)
            assert code == 2, (bits_key, sl, msg)
            if sl < 384:   # below any RSA >= 3072 signature: refused even unverified
                assert decrypt_signed(forged, None)[0] == 2, (bits_key, sl)


@test
def signed_algs_and_keys():
    for key, alg in (("rsa3072", "PS256"), ("rsa3072", "PS384"), ("rsa3072", "PS512"),
                     ("rsa4096", "PS512"), ("ec-p256", "ES256"), ("ec-p384", "ES384")):
        blob = sencrypt(plain(5000), signer=signing_key(key, alg))
        req = ref.RequiredSigner.from_pem(os.path.join(TKEYS, key + ".pub.pem"))
        assert decrypt_signed(blob, req)[0] == 0, (key, alg)
        assert verify_keyless(blob, req)[0] == 0, (key, alg)
    for key, alg in (("ec-p256", "ES384"), ("ec-p384", "ES256"), ("ec-p256", "PS256"),
                     ("rsa3072", "ES256"), ("rsa2048-a", "PS256"), ("rsa2048-a", None)):
        e = _exc(lambda: ref.load_signing_key(os.path.join(TKEYS, key + ".pem"), alg))
        assert isinstance(e, ref.UsageError), (key, alg, e)
    e = _exc(lambda: ref.RequiredSigner.from_pem(os.path.join(TKEYS, "rsa2048-a.pub.pem")))
    assert isinstance(e, ref.UsageError), e


@test
def signed_streaming_tail_is_bounded():
    blob = sencrypt(plain(3 * 4096), signer=signing_key("ec-p256"))
    # 2 MiB of garbage after the trailer: refused without reading it all
    class Counting(io.BytesIO):
        read_total = 0

        def read(self, n=-1):
            b = super().read(n)
            Counting.read_total += len(b)
            return b
    f = Counting(blob + bytes(2 << 20))
    e = _exc(lambda: ref.decrypt_stream(f, lambda _: None, [priv(TKEY_A)], None,
                                        required("ec-p256"), False))
    assert isinstance(e, ref.FormatError), e
    assert Counting.read_total < len(blob) + 8192, Counting.read_total


@test
def signed_statement_layout():
    """M byte by byte for a small case (FORMAT.md "Signed statement")."""
    salt = bytes(range(32))
    roots = [bytes([1]) * 32, bytes([2]) * 32]
    commit = bytes([3]) * 32
    m = ref.signed_statement(salt, 4096, 17, commit, roots,
                             {"type": "key", "id": "sha256:" + "0" * 64, "alg": "ES256"},
                             {"b": "2", "a": "1", "é": ""}, "T")
    exp = (b"kvseal/v1/signed-file\x00" + salt + bytes.fromhex("00001000")
           + (17).to_bytes(8, "big") + commit + bytes.fromhex("00000002")
           + hashlib.sha256(b"kvseal/v1/roots" + roots[0] + roots[1]).digest()
           + b"\x00\x03key" + b"\x00\x47sha256:" + b"0" * 64 + b"\x00\x05ES256"
           + b"\x00\x03" + b"\x00\x01a\x00\x011" + b"\x00\x01b\x00\x012"
           + b"\x00\x02\xc3\xa9\x00\x00" + b"\x01\x00\x01T")
    assert m == exp, (m.hex(), exp.hex())
    m2 = ref.signed_statement(salt, 4096, 1, commit, roots[:1],
                              {"type": "key", "id": "x", "alg": "PS256"}, {}, None)
    assert m2.endswith(b"\x00\x05PS256\x00\x00\x00")
    leaf = ref.leaf_hash(5, b"abc")
    assert leaf == hashlib.sha256(b"kvseal/v1/leaf" + bytes(7) + b"\x05abc").digest()
    chunks = [bytes([i]) * 20 for i in range(17)]
    r = ref.roots_of(chunks)
    assert len(r) == 2
    assert r[1] == hashlib.sha256(b"kvseal/v1/segment" + (1).to_bytes(8, "big")
                                  + ref.leaf_hash(16, chunks[16])).digest()
    assert r[0] == hashlib.sha256(b"kvseal/v1/segment" + bytes(8) + b"".join(
        ref.leaf_hash(i, chunks[i]) for i in range(16))).digest()


@test
def signed_cli():
    with tempfile.TemporaryDirectory() as d:
        p, e, o = (os.path.join(d, n) for n in ("p", "e", "o"))
        data = plain(3 * 4096 + 5)
        with open(p, "wb") as f:
            f.write(data)
        pub = os.path.join(TKEYS, "ec-p256.pub.pem")
        r = cli("encrypt", "-r", os.path.join(GOLDEN, "keys", "rsa2048-a.pub.pem"),
                "--chunk-size", "4096", "--sign", os.path.join(TKEYS, "ec-p256.pem"), p, e)
        assert r.returncode == 0, r.stderr
        assert cli("decrypt", "-k", KEY_A, "--require-signer", pub, e, o).returncode == 0
        with open(o, "rb") as f:
            assert f.read() == data
        with open(e, "rb") as f:
            blob = f.read()
        # pipe in, file out: streaming decoder, temp file and rename
        os.unlink(o)
        r = cli("decrypt", "-k", KEY_A, "--require-signer", pub, "-", o, stdin=blob)
        assert r.returncode == 0, r.stderr
        # pipe in, pipe out under a required signer: usage error, nothing written
        r = cli("decrypt", "-k", KEY_A, "--require-signer", pub, "-", "-", stdin=blob)
        assert r.returncode == 1 and r.stdout == b"", r
        # without a required signer a pipe to pipe is fine
        r = cli("decrypt", "-k", KEY_A, "-", "-", stdin=blob)
        assert r.returncode == 0 and r.stdout == data, r.stderr
        r = cli("verify", "--require-signer", pub, e)
        assert r.returncode == 0 and r.stdout.strip() == f"OK: {e}".encode(), r
        assert cli("verify", "-k", KEY_A, "--require-signer", pub, e).returncode == 0
        assert cli("verify", e).returncode == 1
        other = os.path.join(TKEYS, "ec-p256-b.pub.pem")
        for args in (("decrypt", "-k", KEY_A, "--require-signer", other, e, o + "2"),
                     ("verify", "--require-signer", other, e)):
            r = cli(*args)
            assert r.returncode == 2 and len(r.stderr.decode().splitlines()) == 1, r
        assert not os.path.exists(o + "2")
        # unsigned under --require-signer: exit 2, no output
        u = os.path.join(d, "u")
        assert cli("encrypt", "-r", os.path.join(GOLDEN, "keys", "rsa2048-a.pub.pem"),
                   p, u).returncode == 0
        r = cli("decrypt", "-k", KEY_A, "--require-signer", pub, u, o + "3")
        assert r.returncode == 2 and not os.path.exists(o + "3"), r
        for args in (("--sign", os.path.join(TKEYS, "rsa2048-b.pem")),
                     ("--sign", os.path.join(TKEYS, "ec-p256.pem"), "--sign-alg", "ES384"),
                     ("--sign-alg", "ES256")):
            r = cli("encrypt", "-r", os.path.join(GOLDEN, "keys", "rsa2048-a.pub.pem"),
                    *args, p, os.path.join(d, "x"))
            assert r.returncode == 1, (args, r)
        assert not [n for n in os.listdir(d) if n.endswith(".tmp")], "temp file left"


def signed_vectors():
    """vectors/signed: the generator's --check (rebuild outside the signature,
    verify, decrypt), then an independent look at each file's trailer."""
    gen = os.path.join(REPO, "vectors", "signed", "generate.py")
    r = subprocess.run([PY, gen], capture_output=True)
    record("signed_vectors_check", r.returncode == 0,
           (r.stdout + r.stderr).decode(errors="replace")[-2000:])
    with open(os.path.join(REPO, "vectors", "signed", "manifest.json"), encoding="utf-8") as f:
        vectors = json.load(f)["vectors"]
    for v in vectors:
        name = "signed_vector_" + v["name"]
        try:
            with open(os.path.join(REPO, "vectors", "signed", v["file"]), "rb") as f:
                data = f.read()
            assert hashlib.sha256(data).hexdigest() == v["file_sha256"]
            tl = v["trailer_len"]
            assert tl == 32 * v["m"] + 32 + v["sig_len"] + 10
            assert v["m"] == -(-v["n"] // 16)
            tr = data[-tl:]
            assert [tr[32 * j:32 * j + 32].hex() for j in range(v["m"])] == v["roots_hex"]
            assert tr[32 * v["m"]:32 * v["m"] + 32].hex() == v["commit_hex"]
            assert ref.commit_value(bytes.fromhex(v["dek_hex_TEST_ONLY"]),
                                    bytes.fromhex(v["salt_hex"])).hex() == v["commit_hex"]
            req = ref.RequiredSigner.from_pem(os.path.join(REPO, v["signer_pub"]))
            assert req.key_id == v["signer_key_id"]
            out = []
            ref.decrypt_stream(io.BytesIO(data), out.append,
                               [priv(os.path.join(REPO, v["recipient_key"]))], None, req)
            got = b"".join(out)
            assert len(got) == v["plaintext_len"]
            assert hashlib.sha256(got).hexdigest() == v["plaintext_sha256"]
            record(name, True)
        except Exception as e:  # noqa: BLE001
            record(name, False, repr(e))


# --- golden files ---------------------------------------------------------------

def golden():
    with open(os.path.join(GOLDEN, "manifest.json"), encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    for c in cases:
        with open(os.path.join(GOLDEN, c["file"]), "rb") as f:
            blob = f.read()
        off, cs = layout(blob)
        size_ok = (cs == c["chunk_size"] and
                   len(blob) == off + c["plaintext_len"] + 16 * c["chunks"] and
                   hashlib.sha256(blob).hexdigest() == c["file_sha256"])
        record(f"golden_{c['name']}_layout", size_ok, "size/chunk count/hash mismatch")
        for k in c["decrypt_with"]:
            code, pt, msg = decrypt(blob, (os.path.join(GOLDEN, k["private_key"]),),
                                    c["context"] or None)
            ok = code == 0 and hashlib.sha256(pt).hexdigest() == c["plaintext_sha256"]
            if ok and c["plaintext_file"]:
                with open(os.path.join(GOLDEN, c["plaintext_file"]), "rb") as f:
                    ok = f.read() == pt
            record(f"golden_{c['name']}_{os.path.basename(k['private_key'])}", ok, msg)
        code = decrypt(blob, (os.path.join(GOLDEN, c["wrong_keys"][0]),))[0]
        record(f"golden_{c['name']}_wrong_key", code == 3, f"exit {code}")


@test
def golden_reproducible():
    r = subprocess.run([PY, os.path.join(GOLDEN, "generate.py"), "--check"],
                       capture_output=True)
    assert r.returncode == 0, r.stderr.decode()


# --- hostile corpus -------------------------------------------------------------

def tree_hash(d):
    h = hashlib.sha256()
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                h.update(name.encode() + hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def hostile():
    with tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
        for d in (d1, d2):
            r = subprocess.run([PY, HOSTILE_GEN, d], capture_output=True)
            if r.returncode:
                record("hostile_generate", False, r.stderr.decode())
                return
        record("hostile_deterministic", tree_hash(d1) == tree_hash(d2), "runs differ")
        with open(os.path.join(d1, "manifest.json"), encoding="utf-8") as f:
            refuse = json.load(f)
        with open(os.path.join(d1, "accept.json"), encoding="utf-8") as f:
            accept = json.load(f)
        record("hostile_count_at_least_200", len(refuse) >= 200, str(len(refuse)))
        for e in refuse:
            with open(os.path.join(d1, e["file"]), "rb") as f:
                code, pt, msg = decrypt(f.read(), (os.path.join(d1, e["key"]),),
                                        e.get("context"))
            want = e.get("expect_msg_substring", "")
            ok = code == e["expect_exit"] and pt is None and want in msg
            record(f"hostile_{e['file']}", ok,
                   f"expected {e['expect_exit']} {want!r}, got {code} {msg!r} ({e['why']})")
        for e in accept:
            with open(os.path.join(d1, e["file"]), "rb") as f:
                code, pt, msg = decrypt(f.read(), (os.path.join(d1, e["key"]),),
                                        e.get("context"))
            ok = code == 0 and hashlib.sha256(pt).hexdigest() == e["plaintext_sha256"]
            record(f"accept_{e['file']}", ok, f"exit {code} {msg} ({e['why']})")
        print(f"hostile corpus: {len(refuse)} refuse cases, {len(accept)} accept cases")


# --- Debian NIST / pyca vectors (the ones vectors/README.md points to) ----------

def vector_path(*parts):
    p = os.path.join(VECTORS, *parts)
    if not os.path.exists(p):
        print(f"SKIP {p} missing (apt-get install -y python3-cryptography-vectors)")
        return None
    return p


def parse_rsp(path):
    """NIST CAVS .rsp: yields dicts of one test each, with the [section] params."""
    params, cur = {}, {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                k, _, v = line.strip("[]").partition(" = ")
                params[k] = v
            elif " = " in line or line.endswith(" ="):
                k, _, v = line.partition(" =")
                cur[k.strip()] = v.strip()
            elif line == "FAIL":
                cur["FAIL"] = True
            elif not line and cur:
                yield dict(params, **cur)
                cur = {}
    if cur:
        yield dict(params, **cur)


@test
def nist_gcm_256_vectors():
    enc = vector_path("ciphers", "AES", "GCM", "gcmEncryptExtIV256.rsp")
    dec = vector_path("ciphers", "AES", "GCM", "gcmDecrypt256.rsp")
    if not (enc and dec):
        return
    n = 0
    for path, decrypting in ((enc, False), (dec, True)):
        for t in parse_rsp(path):
            if t.get("IVlen") != "96" or t.get("Taglen") != "128" or "Key" not in t:
                continue
            key, iv = bytes.fromhex(t["Key"]), bytes.fromhex(t["IV"])
            aad = bytes.fromhex(t["AAD"]) or None
            stored = bytes.fromhex(t["CT"]) + bytes.fromhex(t["Tag"])
            try:
                pt = ref.AESGCM(key).decrypt(iv, stored, aad)
            except ref.InvalidTag:
                pt = None
            if decrypting and t.get("FAIL"):
                assert pt is None
            else:
                assert pt == bytes.fromhex(t["PT"]), t
            n += 1
    assert n > 100, n


def parse_oaep_vect(path):
    """pkcs-1v2-1d2-vec/oaep-vect.txt: (n, e, message, seed, ciphertext) tuples.

    Each value is a "# Label:" line followed by lines of spaced hex."""
    blocks, label, cur = [], None, {}

    def set_label(new):
        if label == "Encryption":
            blocks.append((cur["Modulus"], cur["Public exponent"], cur["Message"],
                           cur["Seed"], cur["Encryption"]))
        return new
    with open(path) as f:
        for line in f:
            s = line.strip()
            if s.startswith("# ") and s.endswith(":"):
                label = set_label(s[2:-1].strip())
                cur[label] = ""
            elif s.startswith("#") or not s:
                label = set_label(None)
            elif label:
                cur[label] += s.replace(" ", "")
    set_label(None)
    return blocks


@test
def pyca_oaep_sha1_seeded_vectors():
    """Our seeded OAEP encoder (used for the golden files) against RFC 8017 vectors."""
    path = vector_path("asymmetric", "RSA", "pkcs-1v2-1d2-vec", "oaep-vect.txt")
    if not path:
        return
    blocks = parse_oaep_vect(path)
    assert len(blocks) >= 50, len(blocks)
    for n_hex, e_hex, m, seed, ct in blocks:
        pub = ref.rsa.RSAPublicNumbers(int(e_hex, 16), int(n_hex, 16)).public_key()
        got = ref.oaep_encrypt_with_seed(pub, "RSA-OAEP", bytes.fromhex(m), bytes.fromhex(seed))
        assert got.hex() == ct, (m, ct)


@test
def pyca_oaep_sha256_vectors():
    path = vector_path("asymmetric", "RSA", "oaep-custom", "oaep-sha256-sha256.txt")
    if not path:
        return
    fields, n = {}, 0
    with open(path) as f:
        lines = [x.strip() for x in f]
    for i, line in enumerate(lines):
        if line.startswith("# ") and line.endswith(":") and i + 1 < len(lines):
            fields[line[2:-1]] = lines[i + 1]
            if line == "# Encryption:":
                nums = ref.rsa.RSAPrivateNumbers(
                    int(fields["Prime 1"], 16), int(fields["Prime 2"], 16),
                    int(fields["Exponent"], 16), int(fields["Prime exponent 1"], 16),
                    int(fields["Prime exponent 2"], 16), int(fields["Coefficient"], 16),
                    ref.rsa.RSAPublicNumbers(int(fields["Public exponent"], 16),
                                             int(fields["Modulus"], 16)))
                key = nums.private_key()
                got = ref.unwrap_dek(key, "RSA-OAEP-256", bytes.fromhex(fields["Encryption"]))
                assert got == bytes.fromhex(fields["Message"])
                n += 1
    assert n >= 10, n


def main():
    for fn in TESTS:
        run(fn)
    round_trips()
    signed_round_trips()
    signed_vectors()
    golden()
    hostile()
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
