#!/usr/bin/env bash
# Allocation-failure torture (issue 6): run `kvseal encrypt` and `kvseal
# decrypt` on a small file (3 chunks) with an RSA-2048 key while the Nth
# allocation fails (tests/torture/failmalloc.c, LD_PRELOAD). Every run must
# end cleanly:
#   - no signal and no hang (60 s);
#   - exit 0 with correct output (encrypt: the output decrypts to the input),
#     or exit 1..5 with exactly one line "kvseal: <command>: ..." on stderr,
#     nothing on stdout, and neither the output file nor a temp file left in
#     the output directory.
#
# Two sweeps per command:
#   self: allocations made directly by kvseal's code (the shim's "self"
#         scope: calls from the kvseal executable, which links the library
#         statically) - every N from 1 to the count of a successful run;
#   all:  every allocation in the process, OpenSSL's and libc's included
#         (tens of thousands, most of them OpenSSL decoding the PEM key). Up
#         to KVSEAL_TORTURE_RUNS (default 450) runs per command: every N of
#         the first 60, of a window where the key has been loaded and
#         kvseal's work starts, and of the last 150 (chunks, output file); a
#         stride elsewhere. The output says exactly which;
#         KVSEAL_TORTURE_RUNS=0 tests every N (about 20 minutes).
# Runs go in parallel (KVSEAL_TORTURE_JOBS, default nproc), through the
# shim's fork server (KVSEAL_FAIL_SERVER): each run is a fork of a process
# that has already been exec'd and dynamically linked, exactly where a fresh
# process would start counting, so every N is the same allocation as in a
# fresh process but the run costs a fraction of an exec.
#
# Needs: KVSEAL_BIN, KVSEAL_PYTHON; the shim from KVSEAL_FAILMALLOC or
# $KVSEAL_BUILD/failmalloc.so (else it is compiled here with cc). Skipped only
# when kvseal is built with AddressSanitizer (ASan owns malloc: an LD_PRELOAD
# allocator cannot work beside it).
set -euo pipefail

BIN=${KVSEAL_BIN:?set KVSEAL_BIN to the kvseal binary}
PY=${KVSEAL_PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/keys.sh
. "$HERE/lib/keys.sh"

if grep -q __asan_init "$BIN" 2>/dev/null || ldd "$BIN" 2>/dev/null | grep -q asan; then
    echo "skipped under ASan: an LD_PRELOAD allocator cannot replace ASan's"
    echo "0 passed, 0 failed"
    exit 0
fi

base=/dev/shm
[[ -d $base && -w $base ]] || base=${TMPDIR:-/tmp}
W=$(mktemp -d "$base/kvseal-torture.XXXXXX")
trap 'rm -rf "$W"' EXIT

SHIM=${KVSEAL_FAILMALLOC:-${KVSEAL_BUILD:+$KVSEAL_BUILD/failmalloc.so}}
if [[ -z $SHIM || ! -f $SHIM ]]; then
    SHIM=$W/failmalloc.so
    ${CC:-cc} -shared -fPIC -O2 -o "$SHIM" "$HERE/../torture/failmalloc.c"
fi

# Fixtures, made without the shim.
test_key rsa2048-a "$W/key.pem" "$W/pub.pem"
head -c 10000 /dev/urandom >"$W/plain"
"$BIN" -q encrypt -r "$W/pub.pem" --chunk-size 4K --threads 1 -o "$W/cipher.kvs" "$W/plain"
chmod a-w "$W/key.pem" "$W/pub.pem" "$W/plain" "$W/cipher.kvs"

rc=0
"$PY" - "$BIN" "$SHIM" "$W" "${KVSEAL_TORTURE_RUNS:-450}" \
    "${KVSEAL_TORTURE_JOBS:-$(nproc 2>/dev/null || echo 2)}" <<'EOF' || rc=$?
import collections, concurrent.futures as cf, fcntl, os, queue, re, shutil, subprocess, sys, time

BIN, SHIM, W, BUDGET, JOBS = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
PLAIN = open(os.path.join(W, "plain"), "rb").read()
passed = failed = 0


def fail(msg):
    global failed
    failed += 1
    print("FAIL: " + msg, file=sys.stderr, flush=True)


def args(mode, out, inp=None):
    if mode == "encrypt":
        return ["encrypt", "-r", f"{W}/pub.pem", "--chunk-size", "4K", "--threads", "1",
                "-o", out, inp or f"{W}/plain"]
    return ["decrypt", "-k", f"{W}/key.pem", "--threads", "1", "-o", out, inp or f"{W}/cipher.kvs"]


def count(mode, scope, inp=None):
    """Allocations of one run (inp: another input, e.g. a missing file)."""
    out, cnt = f"{W}/count.out", f"{W}/count"
    for p in (out, cnt):
        if os.path.exists(p):
            os.remove(p)
    env = dict(os.environ, LD_PRELOAD=SHIM, KVSEAL_FAIL_COUNT=cnt, KVSEAL_FAIL_SCOPE=scope)
    p = subprocess.run([BIN] + args(mode, out, inp), env=env, capture_output=True, timeout=120)
    if os.path.exists(out):
        os.remove(out)
    return p.returncode, int(open(cnt).read())


class Server:
    """kvseal under the shim's fork server: one run per request, with the
    output file "out" relative to the run's directory."""

    def __init__(self, mode, scope):
        req_r, self.req = os.pipe()
        self.resp, resp_w = os.pipe()
        env = dict(os.environ, LD_PRELOAD=SHIM, KVSEAL_FAIL_SCOPE=scope, KVSEAL_FAIL_SERVER="1")

        def fds_3_and_4():  # requests in, answers out; above 10 first, so neither clobbers
            hi_r, hi_w = fcntl.fcntl(req_r, fcntl.F_DUPFD, 10), fcntl.fcntl(resp_w, fcntl.F_DUPFD, 10)
            os.dup2(hi_r, 3)  # inheritable: the only descriptors besides 0-2 that survive exec
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen(
            [BIN] + args(mode, "out"), env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=False,
            preexec_fn=fds_3_and_4)
        os.close(req_r)
        os.close(resp_w)
        self.answers = os.fdopen(self.resp, "rb")

    def run(self, n, d, log):
        assert " " not in d + log
        os.write(self.req, f"{n} {d} {log}\n".encode())
        got, status = self.answers.readline().split()
        assert int(got) == n, (got, n)
        return int(status)

    def close(self):
        os.close(self.req)
        self.proc.wait(timeout=60)
        self.answers.close()


SERVERS = queue.Queue()


def one(mode, scope, n):
    """Run with allocation n failing. Returns (n, problem or None, rc, message)."""
    d = f"{W}/run.{mode}.{scope}.{n}"
    log = f"{W}/log.{mode}.{scope}.{n}"
    os.mkdir(d)
    out = f"{d}/out"
    server = SERVERS.get()
    try:
        status = server.run(n, d, log)
    finally:
        SERVERS.put(server)
    if status == -1:
        return n, "hung (no exit within 60 s)", None, ""
    rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    stdout = open(log + ".stdout", "rb").read()
    err = open(log + ".stderr", "rb").read().decode("utf-8", "replace")
    os.remove(log + ".stdout")
    os.remove(log + ".stderr")
    lines = err.splitlines()
    msg = lines[0] if lines else ""
    if rc < 0:
        return n, f"killed by signal {-rc}: {err[:300]!r}", rc, msg
    if rc == 0:
        if not os.path.isfile(out):
            return n, "exit 0 but no output", rc, msg
        if mode == "decrypt":
            if open(out, "rb").read() != PLAIN:
                return n, "exit 0 but the plaintext differs", rc, msg
            shutil.rmtree(d)
        # encrypt: outputs are checked together afterwards (one decrypt run)
        return n, None, rc, msg
    left = os.listdir(d)
    if rc > 5:
        problem = f"exit {rc} is not a documented exit code"
    elif len(lines) != 1 or not msg.startswith(f"kvseal: {mode}: "):
        problem = f"expected one 'kvseal: {mode}: ...' line, got {len(lines)}: {err[:300]!r}"
    elif msg.endswith(": success"):
        problem = f"failed (exit {rc}) with the message 'success': a status without detail: {msg!r}"
    elif stdout:
        problem = "a failed run wrote to stdout"
    elif left:
        problem = "left behind: " + " ".join(sorted(left))
    else:
        problem = None
        shutil.rmtree(d)
    return n, problem, rc, msg


def plan_all(total, keyed):
    if BUDGET == 0 or total <= BUDGET:
        return list(range(1, total + 1)), f"every N from 1 to {total}"
    head, tail = 60, 150
    lo, hi = max(head + 1, keyed - 10), min(total, keyed + 120)
    dense = set(range(1, head + 1)) | set(range(lo, hi + 1)) | set(range(max(1, total - tail + 1), total + 1))
    left = max(40, BUDGET - len(dense))
    rest = total - len(dense)
    stride = max(1, -(-rest // left))
    ns = dense | set(range(head + 1, total + 1, stride))
    return sorted(ns), (f"{len(ns)} of {total}: every N in 1..{head}, {lo}..{hi} (the key is "
                        f"loaded after ~{keyed}) and {total - tail + 1}..{total} (the chunks and "
                        f"the output file), every {stride}th N elsewhere")


for mode in ("encrypt", "decrypt"):
    for scope in ("self", "all"):
        rc, total = count(mode, scope)
        if rc != 0 or total <= 0:
            fail(f"{mode}/{scope}: a run under the counting shim failed (exit {rc}, {total} allocations)")
            continue
        passed += 1
        if scope == "self":
            ns, how = list(range(1, total + 1)), f"every N from 1 to {total}"
        else:
            _, keyed = count(mode, scope, f"{W}/does-not-exist")
            ns, how = plan_all(total, keyed)
        print(f"{mode}/{scope}: {total} allocations; testing {how}", flush=True)
        start = time.time()
        servers = [Server(mode, scope) for _ in range(JOBS)]
        for s in servers:
            SERVERS.put(s)
        with cf.ThreadPoolExecutor(JOBS) as ex:
            results = list(ex.map(lambda n: one(mode, scope, n), ns))
        for s in servers:
            SERVERS.get().close()
        bad = [(n, why) for n, why, _, _ in results if why]
        ok = [(n, rc, msg) for n, why, rc, msg in results if not why]
        # Encrypt outputs of runs that succeeded anyway: decrypt them all at once.
        if mode == "encrypt":
            vdir, names = f"{W}/verify.{scope}", []
            os.mkdir(vdir)
            for n, rc, _ in ok:
                if rc == 0:
                    src = f"{W}/run.{mode}.{scope}.{n}/out"
                    names.append((n, f"{vdir}/c{n}.kvs"))
                    os.rename(src, names[-1][1])
                    shutil.rmtree(os.path.dirname(src))
            if names:
                subprocess.run([BIN, "-q", "decrypt", "-k", f"{W}/key.pem", "-o", vdir] +
                               [p for _, p in names], capture_output=True, timeout=600)
                wrong = [n for n, p in names
                         if not os.path.isfile(p[:-4]) or open(p[:-4], "rb").read() != PLAIN]
                for n in wrong:
                    bad.append((n, "exit 0 but the output does not decrypt to the input"))
                ok = [o for o in ok if o[0] not in set(wrong)]
            shutil.rmtree(vdir)
        passed += len(ok)
        # One report per kind of problem, with the N that show it.
        kinds = collections.defaultdict(list)
        for n, why in sorted(bad):
            kinds[re.sub(r"kvseal-torture\.[A-Za-z0-9]+", "W", why)].append(n)
        for why, ns_bad in kinds.items():
            shown = ",".join(map(str, ns_bad[:8])) + (",..." if len(ns_bad) > 8 else "")
            print(f"FAIL: {mode}/{scope}: {len(ns_bad)} run(s), N={shown}: {why}",
                  file=sys.stderr, flush=True)
        failed += len(bad)
        succeeded = sum(1 for _, rc, _ in ok if rc == 0)
        print(f"{mode}/{scope}: {len(ns)} runs in {time.time() - start:.0f}s: {len(ok)} clean "
              f"({succeeded} succeeded anyway, {len(ok) - succeeded} failed cleanly), {len(bad)} bad")
        msgs = collections.Counter(
            f"exit {rc}: " + re.sub(r"[0-9a-f]{16,}", "<hex>", msg.replace(W, "$W"))
            for _, rc, msg in ok if rc != 0)
        for m, c in msgs.most_common(12):
            print(f"    {c:5d}  {m}")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
EOF
exit $rc
