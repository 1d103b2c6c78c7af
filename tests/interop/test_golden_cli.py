#!/usr/bin/python3
"""The C CLI against the golden v1 files (vectors/golden, see vectors/README.md).

For every golden file:
  * `kvseal decrypt` with every key in `decrypt_with` (and the manifest's
    context) gives exactly the plaintext (SHA-256 and length), to a file and
    through pipes; `kvseal verify` accepts it; all keys at once, the wrong key
    first, also work;
  * every key in `wrong_keys` is refused with exit 3, one `kvseal:` line on
    stderr and no output file;
  * for files with a context: no --context also decrypts, a wrong value or a
    missing name exits 2 and writes nothing;
  * `kvseal inspect --json` agrees with the manifest (chunk size, chunk count,
    plaintext size, recipients) and with the header JSON itself.

  KVSEAL_BIN=... /usr/bin/python3 tests/interop/test_golden_cli.py [-v]
Last line "N passed, M failed"; exit 1 on any failure.
"""

import base64
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest as T  # noqa: E402

R = T.Results()
WORK = None


def header_of(path):
    with open(path, "rb") as f:
        data = f.read()
    hl = int.from_bytes(data[8:12], "big")
    return hl, json.loads(data[12:12 + hl].decode("utf-8")), len(data)


def b64len(text):
    return len(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def outdir(name):
    d = os.path.join(WORK, name.replace("/", "_"))
    os.makedirs(d, exist_ok=True)
    return d


def check_decrypt(case, path, kpath, ctx, tag):
    name = f"{case['name']}/decrypt/{tag}"
    d = outdir(name)
    out = os.path.join(d, "out")
    p = T.kvseal("decrypt", "-k", kpath, *T.context_args(ctx), "-o", out, path)
    probs = []
    if p.rc != 0:
        probs.append(f"expected exit 0, got {p.describe()}")
    elif not os.path.exists(out):
        probs.append("exit 0 but no output file")
    else:
        got = T.sha256_file(out)
        size = os.path.getsize(out)
        if got != case["plaintext_sha256"] or size != case["plaintext_len"]:
            probs.append(f"plaintext sha256 {got} ({size} bytes), expected "
                         f"{case['plaintext_sha256']} ({case['plaintext_len']} bytes)")
        if p.err:
            probs.append(f"unexpected stderr on success: {p.err[:200]!r}")
        if p.out:
            probs.append(f"unexpected stdout with -o: {p.out[:100]!r}")
    R.check(name, probs)
    T.rmtree(d)


def check_decrypt_pipe(case, path, kpath, ctx, tag):
    name = f"{case['name']}/decrypt-pipe/{tag}"
    procs, out = T.pipeline([[T.BIN, "decrypt", "-k", kpath, *T.context_args(ctx)]],
                            feed_path=path)
    p = procs[0]
    probs = []
    if p.rc != 0:
        probs.append(f"expected exit 0, got {p.describe()}")
    elif T.sha256(out) != case["plaintext_sha256"] or len(out) != case["plaintext_len"]:
        probs.append(f"stdout sha256 {T.sha256(out)} ({len(out)} bytes), expected "
                     f"{case['plaintext_sha256']} ({case['plaintext_len']} bytes)")
    R.check(name, probs)


def check_verify(case, path, kpath, ctx, tag, want=0):
    name = f"{case['name']}/verify/{tag}"
    p = T.kvseal("verify", "-k", kpath, *T.context_args(ctx), path)
    probs = []
    if p.rc != want:
        probs.append(f"expected exit {want}, got {p.describe()}")
    elif want != 0 and (why := T.one_error_line(p.err)):
        probs.append(why)
    R.check(name, probs)


def check_refused(case, path, keys, ctx, tag, want):
    """decrypt must exit `want`, print one kvseal: line, leave the dir empty."""
    name = f"{case['name']}/refuse/{tag}"
    d = outdir(name)
    out = os.path.join(d, "out")
    args = []
    for k in keys:
        args += ["-k", k]
    p = T.kvseal("decrypt", *args, *T.context_args(ctx), "-o", out, path)
    probs = []
    if p.rc != want:
        probs.append(f"expected exit {want}, got {p.describe()}")
    why = T.one_error_line(p.err)
    if why:
        probs.append(why)
    dek = case["dek_hex_TEST_ONLY"].encode()
    if dek in p.err.lower() or dek in p.out.lower():
        probs.append("the DEK (hex) appears in the output")
    left = os.listdir(d)
    if left:
        probs.append(f"files left in the output directory: {left}")
    R.check(name, probs)
    T.rmtree(d)


def check_inspect(case, path):
    name = f"{case['name']}/inspect-json"
    p = T.kvseal("inspect", "--json", path)
    if p.rc != 0:
        R.fail(name, f"expected exit 0, got {p.describe()}")
        return
    try:
        j = json.loads(p.out.decode("utf-8"))
    except ValueError as e:
        R.fail(name, f"stdout is not JSON ({e}): {p.out[:300]!r}")
        return
    hl, hdr, fsize = header_of(path)
    probs = []

    def eq(what, got, want):
        if got != want:
            probs.append(f"{what}: inspect says {got!r}, expected {want!r}")

    eq("chunk_size", j.get("chunk_size"), case["chunk_size"])
    eq("chunks", j.get("chunks"), case["chunks"])
    eq("plaintext_size", j.get("plaintext_size"), case["plaintext_len"])
    eq("len(recipients)", len(j.get("recipients") or []), len(case["recipients"]))
    eq("context", j.get("context"), case["context"] or {})
    eq("format_version", j.get("format_version"), 1)
    eq("suite", j.get("suite"), hdr["suite"])
    eq("created", j.get("created"), hdr.get("created"))
    eq("header_len", j.get("header_len"), hl)
    eq("payload_offset", j.get("payload_offset"), 44 + hl)
    eq("file_size", j.get("file_size"), fsize)
    eq("header_authenticated", j.get("header_authenticated"), False)
    if "error" in j:
        probs.append(f"unexpected error member: {j['error']!r}")
    for i, (got, man, raw) in enumerate(zip(j.get("recipients") or [], case["recipients"],
                                            hdr["recipients"])):
        eq(f"recipient {i} index", got.get("index"), i)
        eq(f"recipient {i} type", got.get("type"), man["type"])
        eq(f"recipient {i} alg", got.get("alg"), man["alg"])
        if man["type"] == "rsa":
            eq(f"recipient {i} key_id", got.get("key_id"), man["key_id"])
        else:
            eq(f"recipient {i} kid", got.get("kid"), raw.get("kid"))
        eq(f"recipient {i} wrapped_key_len", got.get("wrapped_key_len"),
           b64len(raw["wrapped_key"]))
    R.check(name, probs)


def golden_case(case):
    path = os.path.join(T.GOLDEN, case["file"])
    name = case["name"]
    if T.sha256_file(path) != case["file_sha256"]:
        R.fail(f"{name}/file-sha256", "golden file differs from manifest file_sha256 "
               "(the committed vectors changed?)")
    else:
        R.ok(f"{name}/file-sha256")
    ctx = case.get("context") or {}
    keys = [os.path.join(T.GOLDEN, d["private_key"]) for d in case["decrypt_with"]]
    for d, k in zip(case["decrypt_with"], keys):
        tag = os.path.basename(k)
        check_decrypt(case, path, k, ctx, tag)
        check_decrypt_pipe(case, path, k, ctx, tag)
        check_verify(case, path, k, ctx, tag)
    wrongs = [os.path.join(T.GOLDEN, w) for w in case["wrong_keys"]]
    # All keys at once, a wrong one first: keys are tried in order.
    name_all = f"{name}/decrypt/wrong-key-first-then-all"
    d = outdir(name_all)
    out = os.path.join(d, "out")
    args = []
    for k in wrongs + keys:
        args += ["-k", k]
    p = T.kvseal("decrypt", *args, *T.context_args(ctx), "-o", out, path)
    probs = []
    if p.rc != 0:
        probs.append(f"expected exit 0, got {p.describe()}")
    elif T.sha256_file(out) != case["plaintext_sha256"]:
        probs.append("wrong plaintext")
    R.check(name_all, probs)
    T.rmtree(d)
    for w in wrongs:
        check_refused(case, path, [w], ctx, f"wrong-key {os.path.basename(w)}", 3)
        check_verify(case, path, w, ctx, f"wrong-key {os.path.basename(w)}", want=3)
    if name == "keyvault-and-rsa":
        # rsa3072-c is the "Key Vault" key: a local PEM must not unwrap an
        # azure-keyvault recipient (and no host may be contacted).
        check_refused(case, path, [T.key("rsa3072-c")], ctx, "kv-key-as-local-pem", 3)
    if ctx:
        check_decrypt(case, path, keys[0], {}, "no-context-given")
        k0 = next(iter(ctx))
        check_refused(case, path, keys[:1], {k0: ctx[k0] + "x"}, "context-wrong-value", 2)
        check_refused(case, path, keys[:1], {k0: ctx[k0][:-1]}, "context-value-prefix", 2)
        check_refused(case, path, keys[:1], dict(ctx, **{"absent": "v"}),
                      "context-extra-name", 2)
    check_inspect(case, path)


def main():
    global WORK
    T.require_bin(R)
    with open(os.path.join(T.GOLDEN, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    WORK = T.tempdir("kvseal-golden-cli.")
    try:
        T.parallel(R, [(c["name"], c) for c in manifest["cases"]], golden_case)
    finally:
        T.rmtree(WORK)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
