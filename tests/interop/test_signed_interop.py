#!/usr/bin/python3
"""Signed files: the C CLI and the independent reference (kvseal_ref.py), both ways.

  c2r  `kvseal encrypt --sign KEY`      -> `kvseal_ref.py decrypt|verify --require-signer PUB`
  r2c  `kvseal_ref.py encrypt --sign KEY` -> `kvseal decrypt|verify --require-signer PUB`
for the signers ES256 (tests/keys/ec-p256), ES384 (ec-p384) and PS256 (rsa3072),
each the key's default alg, plaintexts of 0 and 1 bytes (one chunk), 16, 17 and
41 chunks of 4096 bytes, and PS512 (rsa3072, --sign-alg) with 17 chunks;
from a file and from a pipe (a pipe needs an output file under a required
signer, and a pipe to standard output is a usage error, exit 1); key-less
`verify --require-signer` and `verify -k` as well; another required signer
(ec-p256-b) exits 2 and writes nothing. The encoder's header `signer` member and
the trailer geometry (FORMAT.md §11-§13) are checked, and in r2c
`kvseal inspect --json` must report the reference file's signer and trailer.
Finally `kvseal` decrypts every vectors/signed file with its signer required
and gets the recorded plaintext.

  KVSEAL_BIN=... /usr/bin/python3 tests/interop/test_signed_interop.py [-v]
Last line "N passed, M failed"; exit 1 on any failure.
"""

import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest as T  # noqa: E402

R = T.Results()
WORK = None
CHUNK = 4096
TKEYS = os.path.join(T.SRC, "tests", "keys")
SIGNED = os.path.join(T.SRC, "vectors", "signed")
# alg -> (signing key, signature length, alg is the key's default)
SIGNERS = {"ES256": ("ec-p256", 64, True), "ES384": ("ec-p384", 96, True),
           "PS256": ("rsa3072", 384, True), "PS512": ("rsa3072", 384, False)}
SIZES = {"empty": 0, "1byte": 1, "16chunks": 16 * CHUNK, "17chunks": 16 * CHUNK + 1,
         "41chunks": 40 * CHUNK + 333}
# PS512 (an explicit --sign-alg) only at one size
EXTRA_SIZES = {"PS512": {"17chunks": 16 * CHUNK + 1}}


def tkey(name):
    return os.path.join(TKEYS, name + ".pem")


RECIP_PUB, RECIP = tkey("rsa2048-a.pub"), tkey("rsa2048-a")
OTHER_PUB = tkey("ec-p256-b.pub")


def check_signed_file(ct, size, alg):
    """The encoder's file: signer member and size arithmetic with the trailer."""
    with open(ct, "rb") as f:
        data = f.read()
    if data[:8] != b"KVSEAL\x00\x01":
        return [f"bad magic {data[:8]!r}"]
    hl = int.from_bytes(data[8:12], "big")
    try:
        hdr = json.loads(data[12:12 + hl].decode("utf-8"))
    except ValueError as e:
        return [f"header is not JSON: {e}"]
    probs = []
    signer = hdr.get("signer")
    want_id = spki_id(SIGNERS[alg][0])
    if not isinstance(signer, dict) or signer.get("type") != "key" or \
            signer.get("alg") != alg or signer.get("key_id") != want_id:
        probs.append(f"signer {signer!r}, expected type key, alg {alg}, key_id {want_id}")
    n = max(1, -(-size // CHUNK))
    m = -(-n // 16)
    sig_len = SIGNERS[alg][1]
    want = 44 + hl + size + 16 * n + 32 * m + 32 + sig_len + 10
    if len(data) != want:
        probs.append(f"file size {len(data)}, expected {want} (n {n}, m {m}, sig_len {sig_len})")
    tail = data[-10:]
    if tail[6:] != b"KVSS" or int.from_bytes(tail[:4], "big") != m or \
            int.from_bytes(tail[4:6], "big") != sig_len:
        probs.append(f"trailer tail {tail.hex()}, expected m {m} sig_len {sig_len} KVSS")
    return probs


_IDS = {}


def spki_id(name):
    """key_id of a test key, by the reference (`inspect` of a tiny signed file
    would do too; openssl is simpler): sha256 of the DER SubjectPublicKeyInfo."""
    if name not in _IDS:
        p = T.run(["openssl", "pkey", "-pubin", "-in", tkey(name + ".pub"), "-outform", "DER"])
        if p.rc != 0:
            raise RuntimeError(f"openssl pkey: {p.describe()}")
        _IDS[name] = "sha256:" + T.sha256(p.out)
    return _IDS[name]


def encrypt(direction, alg, plain_path, ct):
    """--sign-alg only where the alg is not the key's default, so the defaults
    (ES256 for P-256, ES384 for P-384, PS256 for RSA) are tested too."""
    name, _, default = SIGNERS[alg]
    key = tkey(name)
    alg_args = [] if default else ["--sign-alg", alg]
    if direction == "c2r":
        return T.kvseal("encrypt", "-r", RECIP_PUB, "--chunk-size", "4K", "--sign", key,
                        *alg_args, "-o", ct, plain_path)
    return T.ref("encrypt", "-r", RECIP_PUB, "--chunk-size", str(CHUNK), "--sign", key,
                 *alg_args, plain_path, ct)


def run_case(item):
    name, direction, alg, size = item
    d = os.path.join(WORK, name.replace("/", "_"))
    os.makedirs(d)
    try:
        _run_case(name, direction, alg, size, d)
    finally:
        T.rmtree(d)


def expect_ok(probs, what, p):
    if p.rc != 0:
        probs.append(f"{what}: {p.describe()}")
        return False
    return True


def _run_case(name, direction, alg, size, d):
    plain_path, ct = os.path.join(d, "plain"), os.path.join(d, "ct.kvs")
    plain = T.pattern(size, name)
    with open(plain_path, "wb") as f:
        f.write(plain)
    pub = tkey(SIGNERS[alg][0] + ".pub")
    p = encrypt(direction, alg, plain_path, ct)
    if not R.check(f"{name}/encrypt", [] if p.rc == 0 else [f"encrypt: {p.describe()}"]):
        return
    R.check(f"{name}/format", check_signed_file(ct, size, alg))

    dec = "kvseal_ref" if direction == "c2r" else "kvseal"

    with open(ct, "rb") as f:
        ct_bytes = f.read()

    def decrypt(out, required=pub, pipe=False):
        """From the file, or (pipe) from a real pipe on standard input."""
        inp = "-" if pipe else ct
        feed = ct_bytes if pipe else None
        if direction == "c2r":
            return T.ref("decrypt", "-k", RECIP, "--require-signer", required, inp, out,
                         input=feed)
        args = ["decrypt", "-k", RECIP, "--require-signer", required]
        if out != "-":
            args += ["-o", out]
        return T.kvseal(*args, inp, input=feed)

    def verify(*extra):
        if direction == "c2r":
            return T.ref("verify", *extra, "--require-signer", pub, ct)
        return T.kvseal("verify", *extra, "--require-signer", pub, ct)

    # decrypt from a file, then from a pipe into a file
    for label, pipe in (("file", False), ("pipe", True)):
        out = os.path.join(d, f"out-{label}")
        probs = []
        p = decrypt(out, pipe=pipe)
        if expect_ok(probs, f"{dec} decrypt --require-signer ({label})", p):
            why = T.compare_files(plain_path, out)
            if why:
                probs.append(why)
        R.check(f"{name}/decrypt-{label}", probs)

    # a pipe to standard output under a required signer: usage error, nothing out
    p = decrypt("-", pipe=True)
    probs = []
    if p.rc != 1:
        probs.append(f"pipe to stdout under --require-signer: expected exit 1, {p.describe()}")
    if p.out:
        probs.append(f"{len(p.out)} bytes on standard output")
    R.check(f"{name}/pipe-to-pipe-refused", probs)

    # verify: key-less and with the recipient key
    for label, extra in (("keyless", ()), ("with-key", ("-k", RECIP))):
        probs = []
        expect_ok(probs, f"{dec} verify {label}", verify(*extra))
        R.check(f"{name}/verify-{label}", probs)

    # another required signer: exit 2, no output, one line
    out = os.path.join(d, "out-other")
    p = decrypt(out, required=OTHER_PUB)
    probs = []
    if p.rc != 2:
        probs.append(f"another required signer: expected exit 2, {p.describe()}")
    if os.path.exists(out):
        probs.append("output written under the wrong signer")
    if direction == "r2c" and (why := T.one_error_line(p.err)):
        probs.append(why)
    R.check(f"{name}/other-signer-refused", probs)

    # kvseal inspect --json reads the reference's signer and trailer
    if direction == "r2c":
        R.check(f"{name}/inspect", check_inspect(ct, alg, size))


def check_inspect(ct, alg, size):
    p = T.kvseal("inspect", "--json", ct)
    if p.rc != 0:
        return [f"kvseal inspect --json: {p.describe()}"]
    try:
        j = json.loads(p.out.decode("utf-8"))
    except ValueError as e:
        return [f"inspect --json is not JSON: {e}"]
    s = j.get("signer") or {}
    n = max(1, -(-size // CHUNK))
    m = -(-n // 16)
    sig_len = SIGNERS[alg][1]
    got = (s.get("type"), s.get("id"), s.get("alg"), (s.get("trailer") or {}).get("segments"),
           (s.get("trailer") or {}).get("sig_len"), j.get("chunks"), j.get("plaintext_size"))
    want = ("key", spki_id(SIGNERS[alg][0]), alg, m, sig_len, n, size)
    return [] if got == want else [f"inspect --json says {got!r}, expected {want!r}"]


# --- vectors/signed -------------------------------------------------------------------

def vector_case(v):
    name = f"vector/{v['name']}"
    d = os.path.join(WORK, name.replace("/", "_"))
    os.makedirs(d)
    try:
        src = os.path.join(SIGNED, v["file"])
        pub = os.path.join(T.SRC, v["signer_pub"])
        key = os.path.join(T.SRC, v["recipient_key"])
        probs = []
        if T.sha256_file(src) != v["file_sha256"]:
            probs.append("committed file does not match its manifest SHA-256")
        with open(src, "rb") as f:
            data = f.read()
        for label, pipe in (("file", False), ("pipe", True)):
            out = os.path.join(d, "out-" + label)
            p = T.kvseal("decrypt", "-k", key, "--require-signer", pub, "-o", out,
                         "-" if pipe else src, input=data if pipe else None)
            if expect_ok(probs, f"kvseal decrypt ({label})", p):
                if T.sha256_file(out) != v["plaintext_sha256"] or \
                        os.path.getsize(out) != v["plaintext_len"]:
                    probs.append(f"{label}: plaintext differs from the manifest")
        p = T.kvseal("verify", "--require-signer", pub, src)
        expect_ok(probs, "kvseal verify (keyless)", p)
        p = T.kvseal("decrypt", "-k", key, "--require-signer", OTHER_PUB,
                     "-o", os.path.join(d, "other"), src)
        if p.rc != 2 or os.path.exists(os.path.join(d, "other")):
            probs.append(f"another required signer: expected exit 2 and no output, {p.describe()}")
        # without a required signer the file decrypts too (trailer form only)
        p = T.kvseal("decrypt", "-k", key, "-o", os.path.join(d, "plain-nosig"), src)
        if expect_ok(probs, "kvseal decrypt without --require-signer", p) and \
                T.sha256_file(os.path.join(d, "plain-nosig")) != v["plaintext_sha256"]:
            probs.append("decrypt without --require-signer: plaintext differs")
        R.check(name, probs)
    finally:
        T.rmtree(d)


def cases():
    out = []
    for direction in ("c2r", "r2c"):
        for alg in SIGNERS:
            for label, size in EXTRA_SIZES.get(alg, SIZES).items():
                out.append((f"{direction}/{alg}/{label}", direction, alg, size))
    return out


def main():
    global WORK
    T.require_bin(R)
    WORK = T.tempdir("kvseal-signed-interop.")
    try:
        T.parallel(R, [(c[0], c) for c in cases()], run_case)
        with open(os.path.join(SIGNED, "manifest.json"), encoding="utf-8") as f:
            vectors = json.load(f)["vectors"]
        if len(vectors) < 12:
            R.fail("vectors", f"only {len(vectors)} signed vectors in the manifest")
        T.parallel(R, [(f"vector/{v['name']}", v) for v in vectors], vector_case)
    finally:
        T.rmtree(WORK)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
