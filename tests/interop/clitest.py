"""Shared helpers for the CLI interop tests (tests/interop/test_*_cli.py).

Standard library only: the reference implementation and the hostile-corpus
generator (which need python3-cryptography) always run as subprocesses under
KVSEAL_PYTHON, so these tests work under any python3 >= 3.8.

Environment (set by ctest, see tests/CMakeLists.txt; defaults for runs by hand):
  KVSEAL_BIN     the kvseal CLI    (default: first of build/, build-interop/ ... /kvseal)
  KVSEAL_SRC     the repository    (default: two levels above this file)
  KVSEAL_PYTHON  Debian's python3 with cryptography (default /usr/bin/python3)
  KVSEAL_TEST_JOBS  worker threads for parallel cases (default 3, clamped to 1..8)

Every test prints failures as "FAIL <case>: <detail>" and ends with the line
"N passed, M failed"; the exit status is 1 when M > 0.
"""

import concurrent.futures
import hashlib
import os
import shutil
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.environ.get("KVSEAL_SRC") or os.path.join(HERE, "..", ".."))
PYTHON = os.environ.get("KVSEAL_PYTHON") or "/usr/bin/python3"
REF = os.path.join(SRC, "tests", "interop", "kvseal_ref.py")
GOLDEN = os.path.join(SRC, "vectors", "golden")
KEYS = os.path.join(GOLDEN, "keys")
HOSTILE_GEN = os.path.join(SRC, "vectors", "hostile", "generate.py")
VERBOSE = "-v" in sys.argv[1:]


def _jobs():
    try:
        n = int(os.environ.get("KVSEAL_TEST_JOBS", "3"))
    except ValueError:
        n = 3
    return max(1, min(8, n))


JOBS = _jobs()


def find_bin():
    env = os.environ.get("KVSEAL_BIN")
    if env:
        return os.path.abspath(env)
    for d in ("build", "build-interop", "build-debug", "build-asan"):
        p = os.path.join(SRC, d, "kvseal")
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


BIN = find_bin()


def key(name):
    """Path of a golden test key: key('rsa2048-a') or key('rsa2048-a.pub')."""
    return os.path.join(KEYS, name + ".pem")


# --- results --------------------------------------------------------------------

class Results:
    """Thread-safe pass/fail counters; failures are printed as they happen."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.notes = []
        self._lock = threading.Lock()

    def ok(self, name):
        with self._lock:
            self.passed += 1
            if VERBOSE:
                print(f"ok   {name}", flush=True)

    def fail(self, name, detail):
        with self._lock:
            self.failed += 1
            print(f"FAIL {name}: {detail}", flush=True)

    def check(self, name, problems):
        """problems: list of strings; empty means the case passed."""
        if problems:
            self.fail(name, "; ".join(problems))
        else:
            self.ok(name)
        return not problems

    def note(self, text):
        with self._lock:
            self.notes.append(text)

    def finish(self):
        for n in self.notes:
            print(f"NOTE {n}")
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0


def guarded(results, name, fn, *args, **kw):
    """Run fn; an exception counts as one failure of case `name`."""
    try:
        return fn(*args, **kw)
    except Exception as e:  # noqa: BLE001 - report and continue
        results.fail(name, f"exception {e!r}\n{traceback.format_exc(limit=4)}")
        return None


def parallel(results, items, fn, jobs=None):
    """fn(item) for each (name, item) in items on a small thread pool."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs or JOBS) as pool:
        futs = [pool.submit(guarded, results, name, fn, item) for name, item in items]
        for f in futs:
            f.result()


def require_bin(results):
    if BIN is None or not os.path.isfile(BIN):
        results.fail("setup", f"kvseal binary not found (KVSEAL_BIN={os.environ.get('KVSEAL_BIN')!r}); "
                     "build it or set KVSEAL_BIN")
        sys.exit(results.finish())


# --- processes ------------------------------------------------------------------

def _arg(a):
    """Arguments as bytes, so non-ASCII reaches the child as UTF-8 whatever the locale."""
    if isinstance(a, bytes):
        return a
    return str(a).encode("utf-8", "surrogateescape")


def argv(*args):
    return [_arg(a) for a in args]


def context_args(ctx):
    out = []
    for k, v in (ctx or {}).items():
        out += ["--context", f"{k}={v}"]
    return out


class Proc:
    """Result of one child process."""

    def __init__(self, args, rc, out, err, timed_out=False):
        self.args, self.rc, self.out, self.err, self.timed_out = args, rc, out, err, timed_out

    @property
    def signaled(self):
        return self.rc is not None and self.rc < 0

    def status(self):
        if self.timed_out:
            return "timed out"
        if self.rc < 0:
            try:
                return f"killed by {signal.Signals(-self.rc).name}"
            except ValueError:
                return f"killed by signal {-self.rc}"
        return f"exit {self.rc}"

    def cmdline(self):
        return " ".join(shlex.quote(a.decode("utf-8", "replace") if isinstance(a, bytes)
                                    else str(a)) for a in self.args)

    def describe(self, limit=400):
        err = self.err.decode("utf-8", "replace").strip()
        if len(err) > limit:
            err = err[:limit] + "..."
        return f"{self.status()}; stderr: {err!r}; cmd: {self.cmdline()}"


def run(args, stdin=None, input=None, timeout=120, cwd=None):
    """Run args; stdin is None (devnull), a path, or bytes via input=."""
    args = argv(*args)
    fin = None
    try:
        if input is not None:
            kw = {"input": input}
        else:
            fin = open(stdin, "rb") if stdin else subprocess.DEVNULL
            kw = {"stdin": fin}
        try:
            cp = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                timeout=timeout, cwd=cwd, **kw)
            return Proc(args, cp.returncode, cp.stdout, cp.stderr)
        except subprocess.TimeoutExpired as e:
            return Proc(args, None, e.stdout or b"", e.stderr or b"", timed_out=True)
    finally:
        if fin not in (None, subprocess.DEVNULL):
            fin.close()


def kvseal(*args, **kw):
    return run([BIN, *args], **kw)


def ref(*args, **kw):
    return run([PYTHON, REF, *args], **kw)


def pipeline(stages, feed_path=None, timeout=180):
    """Run stages (lists of args) as a real pipeline: `cat feed | s1 | s2 ...`.

    Every stage reads a pipe and the last writes a pipe, read here.  Returns
    (list of Proc, one per stage with its own stderr, stdout bytes of the last).
    """
    if feed_path is not None:
        stages = [["cat", feed_path]] + list(stages)
    procs, errs = [], []
    prev = subprocess.DEVNULL
    try:
        for i, st in enumerate(stages):
            err = tempfile.TemporaryFile()
            errs.append(err)
            p = subprocess.Popen(argv(*st), stdin=prev, stdout=subprocess.PIPE, stderr=err)
            if prev is not subprocess.DEVNULL:
                prev.close()          # the child holds it now
            prev = p.stdout
            procs.append(p)
        out_chunks = []
        fired = threading.Event()

        def kill_all():
            fired.set()
            for p in procs:
                p.kill()
        timer = threading.Timer(timeout, kill_all)
        timer.start()
        try:
            while True:
                b = prev.read(1 << 16)
                if not b:
                    break
                out_chunks.append(b)
            prev.close()
            rcs = [p.wait() for p in procs]
        finally:
            timer.cancel()
        timed_out = fired.is_set()
        results = []
        for st, p, err, rc in zip(stages, procs, errs, rcs):
            err.seek(0)
            results.append(Proc(argv(*st), rc, b"", err.read(), timed_out=timed_out))
        if feed_path is not None:
            results = results[1:]
        return results, b"".join(out_chunks)
    finally:
        for e in errs:
            e.close()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


# --- data -----------------------------------------------------------------------

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def pattern(n, label):
    """Deterministic, incompressible-looking bytes (SHA-256 counter stream)."""
    out = bytearray()
    seed = hashlib.sha256(label.encode()).digest()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(seed + i.to_bytes(8, "big")).digest()
        i += 1
    return bytes(out[:n])


def compare_bytes(expected, got):
    """'' if equal, else a short description of the first difference."""
    if expected == got:
        return ""
    n = min(len(expected), len(got))
    first = next((i for i in range(n) if expected[i] != got[i]), n)
    return (f"plaintext differs: expected {len(expected)} bytes, got {len(got)}; "
            f"first difference at offset {first}")


def compare_files(expected_path, got_path):
    if not os.path.exists(got_path):
        return f"output {got_path} missing"
    with open(expected_path, "rb") as a, open(got_path, "rb") as b:
        return compare_bytes(a.read(), b.read())


def tempdir(prefix):
    return tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("TMPDIR") or None)


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)


def one_error_line(err):
    """'' if stderr is exactly one line starting with 'kvseal:', else why not."""
    if not err:
        return "stderr empty"
    if not err.endswith(b"\n"):
        return f"stderr does not end with a newline: {err[-80:]!r}"
    lines = err.split(b"\n")[:-1]
    if len(lines) != 1:
        return f"stderr has {len(lines)} lines: {err[:400]!r}"
    if not lines[0].startswith(b"kvseal:"):
        return f"stderr does not start with 'kvseal:': {err[:200]!r}"
    return ""
