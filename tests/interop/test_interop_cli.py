#!/usr/bin/python3
"""Interoperability of the C CLI with the independent reference (kvseal_ref.py).

Both directions, byte-exact plaintext:
  c2r  `kvseal encrypt`        -> `kvseal_ref.py decrypt`
  r2c  `kvseal_ref.py encrypt` -> `kvseal decrypt`
over
  * sizes 0, 1, C-1, C, C+1, 3C+5 for chunk sizes 4096, 65536 and 1 MiB, and
    5 MiB + 7 at the default chunk size (no --chunk-size);
  * one recipient, three mixed recipients (RSA 2048/3072/4096; in r2c the
    3072-bit one is RSA-OAEP with SHA-1, the reference's ALG=PATH option),
    each decrypting alone, and two recipients A,B decrypting with only B or
    only A; the wrong key exits 3;
  * a context with non-ASCII names and values (an empty value, a value with
    '='); a mismatching --context exits 2;
  * files (IN/OUT operands) and pipes (`cat plain | enc | tee ct | dec`, every
    stage reading and writing a pipe).
Whatever `kvseal encrypt` accepts must be readable: --context arguments
that are not UTF-8 must exit 1 or yield a file the reference decrypts.
The encoder's header is also checked (chunk_size, recipients, key_ids, alg,
context, file-size arithmetic of FORMAT.md §6), and `kvseal inspect --json`
of every reference file must agree with it.

  KVSEAL_BIN=... /usr/bin/python3 tests/interop/test_interop_cli.py [-v]
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
MIB = 1 << 20
DEFAULT_CHUNK = MIB
CONTEXT = {"app": "payroll", "città": "Zürich", "名前": "テスト", "emoji 🔐": "ключ ✓",
           "empty": "", "eq": "a=b=c", "with space": "x y"}
# chunk size as given to the C CLI: suffix and plain-byte forms
C_CHUNK_ARG = {4096: "4K", 65536: "65536", MIB: "1M"}
KEY_IDS = {}   # key name -> key_id, from the golden manifest


def load_key_ids():
    with open(os.path.join(T.GOLDEN, "manifest.json"), encoding="utf-8") as f:
        for case in json.load(f)["cases"]:
            for r in case["recipients"]:
                if r["type"] == "rsa":
                    KEY_IDS[os.path.basename(r["private_key"])[:-4]] = r["key_id"]


# --- building command lines ---------------------------------------------------------

def enc_cmd(c, pipe):
    """Encrypt argv without operands/output for file mode, complete for pipes."""
    if c["dir"] == "c2r":
        args = [T.BIN, "encrypt"]
        for name, _alg in c["recips"]:
            args += ["-r", T.key(name + ".pub")]
        if c["chunk"]:
            args += ["--chunk-size", C_CHUNK_ARG[c["chunk"]]]
        args += T.context_args(c["ctx"])
        return args
    args = [T.PYTHON, T.REF, "encrypt"]
    for name, alg in c["recips"]:
        pub = T.key(name + ".pub")
        args += ["-r", f"{alg}={pub}" if alg else pub]
    if c.get("ref_alg"):
        args += ["--alg", c["ref_alg"]]
    if c["chunk"]:
        args += ["--chunk-size", str(c["chunk"])]
    args += T.context_args(c["ctx"])
    if pipe:
        args += ["-", "-"]
    return args


def dec_cmd(c, keys, ctx, pipe):
    """Decrypt argv with the *other* implementation."""
    if c["dir"] == "c2r":
        args = [T.PYTHON, T.REF, "decrypt"]
    else:
        args = [T.BIN, "decrypt"]
    for k in keys:
        args += ["-k", T.key(k)]
    args += T.context_args(ctx)
    if pipe and c["dir"] == "c2r":
        args += ["-", "-"]
    return args


def encoder(c):
    return "kvseal" if c["dir"] == "c2r" else "kvseal_ref"


def decoder(c):
    return "kvseal_ref" if c["dir"] == "c2r" else "kvseal"


# --- checks -------------------------------------------------------------------------

def check_header(c, ct, size):
    """The encoder's file: header members and the size arithmetic of FORMAT.md §6."""
    probs = []
    with open(ct, "rb") as f:
        data = f.read()
    if data[:8] != b"KVSEAL\x00\x01":
        return [f"bad magic {data[:8]!r}"]
    hl = int.from_bytes(data[8:12], "big")
    try:
        hdr = json.loads(data[12:12 + hl].decode("utf-8"))
    except ValueError as e:
        return [f"header is not JSON: {e}"]
    chunk = c["chunk"] or DEFAULT_CHUNK
    if hdr.get("chunk_size") != chunk:
        probs.append(f"chunk_size {hdr.get('chunk_size')}, expected {chunk}")
    n = max(1, -(-size // chunk))
    want_len = 44 + hl + size + 16 * n
    if len(data) != want_len:
        probs.append(f"file size {len(data)}, expected {want_len} "
                     f"(header {hl}, {size} bytes, {n} chunks)")
    recips = hdr.get("recipients") or []
    if len(recips) != len(c["recips"]):
        probs.append(f"{len(recips)} recipients, expected {len(c['recips'])}")
    for i, (r, (name, alg)) in enumerate(zip(recips, c["recips"])):
        want_alg = alg or c.get("ref_alg") or "RSA-OAEP-256"
        if r.get("type") != "rsa" or r.get("key_id") != KEY_IDS.get(name):
            probs.append(f"recipient {i}: type {r.get('type')!r} key_id {r.get('key_id')!r}, "
                         f"expected rsa {KEY_IDS.get(name)} ({name})")
        if r.get("alg") != want_alg:
            probs.append(f"recipient {i}: alg {r.get('alg')!r}, expected {want_alg}")
    if hdr.get("context", {}) != c["ctx"]:
        probs.append(f"context {hdr.get('context')!r}, expected {c['ctx']!r}")
    if c["dir"] == "r2c":
        # kvseal inspect --json must read the reference's file the same way.
        p = T.kvseal("inspect", "--json", ct)
        if p.rc != 0:
            probs.append(f"kvseal inspect --json: {p.describe()}")
        else:
            j = json.loads(p.out.decode("utf-8"))
            got = (j.get("chunk_size"), j.get("chunks"), j.get("plaintext_size"),
                   j.get("context"), [r.get("key_id") for r in j.get("recipients", [])],
                   [r.get("alg") for r in j.get("recipients", [])])
            want = (chunk, n, size, c["ctx"], [r.get("key_id") for r in recips],
                    [r.get("alg") for r in recips])
            if got != want:
                probs.append(f"kvseal inspect --json says {got!r}, expected {want!r}")
    return probs


def decrypt_file_mode(c, ct, keys, ctx, out):
    args = dec_cmd(c, keys, ctx, pipe=False)
    if c["dir"] == "c2r":
        return T.run(args + [ct, out])
    return T.run(args + ["-o", out, ct])


def run_case(c):
    name = c["name"]
    d = os.path.join(WORK, name.replace("/", "_"))
    os.makedirs(d)
    try:
        _run_case(c, name, d)
    finally:
        T.rmtree(d)


def _run_case(c, name, d):
    plain_path, ct = os.path.join(d, "plain"), os.path.join(d, "ct.kvs")
    plain = T.pattern(c["size"], name)
    with open(plain_path, "wb") as f:
        f.write(plain)
    pipe = c["io"] == "pipe"
    dec_keys = list(c["dec_keys"])

    # 1. encrypt (and, for pipes, decrypt with the first key in the same pipeline)
    if pipe:
        first = dec_keys.pop(0)
        procs, out = T.pipeline([enc_cmd(c, True), ["tee", ct],
                                 dec_cmd(c, [first], c["ctx"], True)], feed_path=plain_path)
        enc, tee, dec = procs
        probs = []
        if enc.rc != 0:
            probs.append(f"{encoder(c)} encrypt: {enc.describe()}")
        if tee.rc != 0:
            probs.append(f"tee: {tee.describe()}")
        if not R.check(f"{name}/encrypt", probs):
            return
        probs = []
        if dec.rc != 0:
            probs.append(f"{decoder(c)} decrypt -k {first}: {dec.describe()}")
        elif (why := T.compare_bytes(plain, out)):
            probs.append(f"{decoder(c)} decrypt -k {first}: {why}")
        R.check(f"{name}/decrypt[{first}]", probs)
    else:
        args = enc_cmd(c, False)
        args += ["-o", ct, plain_path] if c["dir"] == "c2r" else [plain_path, ct]
        p = T.run(args)
        probs = [] if p.rc == 0 else [f"{encoder(c)} encrypt: {p.describe()}"]
        if p.rc == 0 and p.err:
            probs.append(f"{encoder(c)} encrypt wrote to stderr: {p.err[:200]!r}")
        if not R.check(f"{name}/encrypt", probs):
            return

    # 2. header of the encoder's file
    R.check(f"{name}/header", check_header(c, ct, c["size"]))

    # 3. decrypt with each remaining key alone
    for k in dec_keys:
        probs = []
        if pipe:
            procs, out = T.pipeline([dec_cmd(c, [k], c["ctx"], True)], feed_path=ct)
            p = procs[0]
            if p.rc != 0:
                probs.append(f"{decoder(c)} decrypt -k {k}: {p.describe()}")
            elif (why := T.compare_bytes(plain, out)):
                probs.append(f"{decoder(c)} decrypt -k {k}: {why}")
        else:
            out_path = os.path.join(d, f"out-{k}")
            p = decrypt_file_mode(c, ct, [k], c["ctx"], out_path)
            if p.rc != 0:
                probs.append(f"{decoder(c)} decrypt -k {k}: {p.describe()}")
            elif (why := T.compare_files(plain_path, out_path)):
                probs.append(f"{decoder(c)} decrypt -k {k}: {why}")
            if os.path.exists(out_path):
                os.unlink(out_path)
        R.check(f"{name}/decrypt[{k}]", probs)

    # 4. refusals by the decoder: the wrong key (3), a context mismatch (2)
    refusals = []
    if c.get("wrong"):
        refusals.append(("wrong-key", ["rsa2048-wrong"], c["ctx"], 3))
    if c["ctx"]:
        k0 = next(k for k in c["ctx"] if c["ctx"][k])
        refusals.append(("context-mismatch", c["dec_keys"][:1],
                         dict(c["ctx"], **{k0: c["ctx"][k0] + "!"}), 2))
        refusals.append(("context-missing-name", c["dec_keys"][:1], {"città ": "Zürich"}, 2))
    for tag, keys, ctx, want in refusals:
        out_path = os.path.join(d, f"out-{tag}")
        p = decrypt_file_mode(c, ct, keys, ctx, out_path)
        probs = []
        if p.rc != want:
            probs.append(f"{decoder(c)} decrypt: expected exit {want}, got {p.describe()}")
        if os.path.exists(out_path):
            probs.append("output file written although refused")
        R.check(f"{name}/refuse-{tag}", probs)


# --- what kvseal encrypt accepts, the reference must read ---------------------------

BAD_CONTEXT_ARGS = {
    # argv bytes that are not UTF-8: FORMAT.md §1/§4.1 want UTF-8 headers
    "context-value-invalid-utf8-ff": b"k=\xff",
    "context-name-invalid-utf8-c3": b"\xc3=v",
    "context-value-encoded-surrogate": b"k=\xed\xa0\x80",
}


def bad_context_case(item):
    label, arg = item
    name = f"c2r/encoder-input/{label}"
    d = os.path.join(WORK, name.replace("/", "_"))
    os.makedirs(d)
    try:
        plain, ct = os.path.join(d, "plain"), os.path.join(d, "ct.kvs")
        with open(plain, "wb") as f:
            f.write(b"hello")
        p = T.run([T.BIN, "encrypt", "-r", T.key("rsa2048-a.pub"), "--context", arg,
                   "-o", ct, plain])
        probs = []
        if p.rc == 0:
            # Accepted: then it must have written a valid file.
            v = T.ref("decrypt", "-k", T.key("rsa2048-a"), ct, os.path.join(d, "out"))
            if v.rc != 0:
                probs.append(f"kvseal encrypt --context {arg!r} exited 0 but wrote a file the "
                             f"reference refuses: {v.describe()}")
            w = T.kvseal("decrypt", "-k", T.key("rsa2048-a"), "-o", os.path.join(d, "out2"), ct)
            if w.rc != 0:
                probs.append(f"... and kvseal cannot decrypt it either: {w.describe()}")
        elif p.rc != 1:
            probs.append(f"expected exit 1 (usage) or a valid file, got {p.describe()}")
        elif os.path.exists(ct):
            probs.append("exit 1 but an output file was written")
        R.check(name, probs)
    finally:
        T.rmtree(d)


# --- the matrix -----------------------------------------------------------------------

def cases():
    out = []

    def add(label, io, direction, size, chunk, recips, dec_keys, ctx=None, **kw):
        c = {"name": f"{direction}/{io}/{label}", "dir": direction, "io": io, "size": size,
             "chunk": chunk, "recips": recips, "dec_keys": dec_keys, "ctx": ctx or {}}
        c.update(kw)
        out.append(c)

    one = [("rsa2048-a", None)]
    for direction in ("c2r", "r2c"):
        for io in ("file", "pipe"):
            for chunk in (4096, 65536, MIB):
                for label, size in (("empty", 0), ("1-byte", 1), ("chunk-1", chunk - 1),
                                    ("chunk", chunk), ("chunk+1", chunk + 1),
                                    ("3chunks+5", 3 * chunk + 5)):
                    add(f"cs{chunk}/{label}", io, direction, size, chunk, one, ["rsa2048-a"])
            add("default-chunk/5MiB+7", io, direction, 5 * MIB + 7, None, one, ["rsa2048-a"])
            # three mixed recipients; the reference writes the 3072-bit one with SHA-1
            sha1 = "RSA-OAEP" if direction == "r2c" else None
            add("3-recipients", io, direction, 3 * 4096 + 100, 4096,
                [("rsa2048-a", None), ("rsa3072-c", sha1), ("rsa4096-d", None)],
                ["rsa4096-d", "rsa3072-c", "rsa2048-a"], wrong=True)
            add("recipients-AB/only-B", io, direction, 10000, 4096,
                [("rsa2048-a", None), ("rsa2048-b", None)], ["rsa2048-b"], wrong=True)
            add("recipients-AB/only-A", io, direction, 10000, 65536,
                [("rsa2048-a", None), ("rsa2048-b", None)], ["rsa2048-a"])
            add("context-non-ascii", io, direction, 5000, 4096,
                [("rsa2048-b", None)], ["rsa2048-b"], ctx=CONTEXT)
            if direction == "r2c":
                add("all-sha1-2-recipients", io, direction, 4097, 4096,
                    [("rsa2048-b", None), ("rsa3072-c", None)], ["rsa3072-c", "rsa2048-b"],
                    ref_alg="RSA-OAEP", wrong=True)
    return out


def main():
    global WORK
    T.require_bin(R)
    load_key_ids()
    WORK = T.tempdir("kvseal-interop-cli.")
    try:
        # biggest first, so the pool stays busy to the end
        todo = sorted(cases(), key=lambda c: -c["size"])
        T.parallel(R, [(c["name"], c) for c in todo], run_case)
        T.parallel(R, [(f"c2r/encoder-input/{k}", (k, v)) for k, v in BAD_CONTEXT_ARGS.items()],
                   bad_context_case)
    finally:
        T.rmtree(WORK)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
