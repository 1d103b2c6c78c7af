#!/usr/bin/python3
"""Forged signed files: kvseal refuses every one under --require-signer.

tests/interop/sign_forge.py (run under KVSEAL_PYTHON: it needs
python3-cryptography) plays an attacker who holds the recipient key
tests/keys/rsa2048-a.pem -- hence the DEK, header key and payload key -- and
another signing key (tests/keys/ec-p256-b.pem), but not the genuine signer's
(tests/keys/ec-p256.pem). It writes a genuine 18-chunk ES256 file and about 45
forgeries of it: unsigned, signer stripped (trailer kept or removed), trailer
stripped, truncated in the trailer and in the last chunk, extended, roots
swapped or flipped, a chunk re-encrypted by the DEK holder (roots kept; roots
recomputed; re-signed by another key), the final chunk replaced, signed by
another key (header naming it, or naming the required key), context, created
or signer alg changed and re-tagged, m and sig_len out of bounds or off by one,
wrong end_magic, commit flipped, and the header rewrapped to another DEK.

For each forgery:
  kvseal decrypt -k rsa2048-a.pem --require-signer ec-p256.pub.pem -o OUT IN
from the file and from a pipe must exit 2, create no OUT (nor a temp file
beside it), print nothing on standard output and exactly one line on standard
error; `kvseal verify -k rsa2048-a.pem --require-signer PUB IN` must exit 2; and
`kvseal verify --require-signer PUB IN` with no decryption key must exit 2 for
every forgery the signature and roots reveal. Only `rewrapped-other-dek`
(header rewrapped to another DEK: everything signed intact) is invisible
without the DEK: key-less verify accepts it (exit 0; the payload's authorship
is genuine), and any decoder that unwraps refuses it through the commitment.
The genuine file passes every one of these commands (exit 0, exact plaintext),
which shows the harness itself works.

  KVSEAL_BIN=... /usr/bin/python3 tests/interop/test_sign_forgeries.py [-v]
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
FORGE = os.path.join(T.SRC, "tests", "interop", "sign_forge.py")
KEY = os.path.join(T.SRC, "tests", "keys", "rsa2048-a.pem")
PUB = os.path.join(T.SRC, "tests", "keys", "ec-p256.pub.pem")
# every forgery kind the issue lists must be among those generated
REQUIRED_KINDS = [
    "unsigned", "signer-stripped-no-trailer", "signer-stripped-trailer-kept",
    "trailer-stripped", "truncated-in-signature", "truncated-in-last-chunk", "extended-1",
    "roots-swapped", "chunk-altered-roots-kept", "chunk-altered-roots-recomputed",
    "signed-by-other-key-claimed", "signature-by-other-key", "m-0", "m-huge", "m-minus-1",
    "m-plus-1", "sig-len-0", "sig-len-1025", "sig-len-minus-1", "sig-len-plus-1",
    "end-magic-kvse", "commit-flipped", "rewrapped-other-dek",
]


def refused_cleanly(p, out_dir, out, what):
    """Problems with a refusal: exit 2, no output file or temp, nothing on stdout,
    one line on stderr."""
    probs = []
    if p.rc != 2:
        probs.append(f"{what}: expected exit 2, {p.describe()}")
    if out is not None and os.path.exists(out):
        probs.append(f"{what}: output file created")
    if out_dir is not None and os.listdir(out_dir):
        probs.append(f"{what}: left {sorted(os.listdir(out_dir))} in the output directory")
    if p.out:
        probs.append(f"{what}: {len(p.out)} bytes on standard output")
    if p.rc == 2 and (why := T.one_error_line(p.err)):
        probs.append(f"{what}: {why}")
    return probs


def decrypt(src, out, pipe):
    if pipe:
        with open(src, "rb") as f:
            data = f.read()
        return T.kvseal("decrypt", "-k", KEY, "--require-signer", PUB, "-o", out, "-",
                        input=data)
    return T.kvseal("decrypt", "-k", KEY, "--require-signer", PUB, "-o", out, src)


def forgery_case(f):
    name = f["name"]
    src = os.path.join(WORK, f["file"])
    probs = []
    for label, pipe in (("file", False), ("pipe", True)):
        out_dir = os.path.join(WORK, "out", f"{name}-{label}")
        os.makedirs(out_dir)
        out = os.path.join(out_dir, "plain")
        p = decrypt(src, out, pipe)
        probs += refused_cleanly(p, out_dir, out, f"decrypt ({label})")
    p = T.kvseal("verify", "-k", KEY, "--require-signer", PUB, src)
    probs += refused_cleanly(p, None, None, "verify -k")
    p = T.kvseal("verify", "--require-signer", PUB, src)
    if f["keyless"]:
        probs += refused_cleanly(p, None, None, "verify (no key)")
    elif p.rc != 0:
        probs.append(f"verify (no key): nothing the signature covers changed, expected "
                     f"exit 0, {p.describe()}")
    R.check(f"forgery/{name}", [f"[{f['what']}] {x}" for x in probs])


def genuine_case(man):
    src = os.path.join(WORK, man["genuine"])
    plain = os.path.join(WORK, man["plaintext"])
    probs = []
    for label, pipe in (("file", False), ("pipe", True)):
        out = os.path.join(WORK, "out", f"genuine-{label}")
        p = decrypt(src, out, pipe)
        if p.rc != 0:
            probs.append(f"decrypt ({label}): {p.describe()}")
        elif (why := T.compare_files(plain, out)):
            probs.append(f"decrypt ({label}): {why}")
    for extra in ((), ("-k", KEY)):
        p = T.kvseal("verify", *extra, "--require-signer", PUB, src)
        if p.rc != 0:
            probs.append(f"verify {' '.join(extra)}: {p.describe()}")
    R.check("genuine", probs)


def main():
    global WORK
    T.require_bin(R)
    WORK = T.tempdir("kvseal-sign-forgeries.")
    try:
        p = T.run([T.PYTHON, FORGE, WORK], timeout=300)
        if p.rc != 0:
            R.fail("setup", f"sign_forge.py: {p.describe()}")
            return R.finish()
        with open(os.path.join(WORK, "manifest.json"), encoding="utf-8") as f:
            man = json.load(f)
        names = [f["name"] for f in man["forgeries"]]
        missing = [k for k in REQUIRED_KINDS if k not in names]
        R.check("forgery-list", [f"missing forgeries: {missing}"] if missing else [])
        os.makedirs(os.path.join(WORK, "out"))
        genuine_case(man)
        T.parallel(R, [(f"forgery/{f['name']}", f) for f in man["forgeries"]], forgery_case)
    finally:
        T.rmtree(WORK)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
