#!/usr/bin/env bash
# E2E (issue 13): a prefix restore against a hostile List Blobs answer, from
# a small fake service on loopback (Azurite and the SDK refuse to store such
# names): names with '..', '.', empty or over-long parts never become paths
# outside -o DIR (each fails on its own, exit 2, nothing written), and a
# NextMarker that loops, or XML with a DOCTYPE, ends the run with exit 2
# instead of running forever.
set -u
# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"
BIN=${KVSEAL_BIN:?set KVSEAL_BIN to the kvseal binary}
PY=${KVSEAL_PYTHON:-python3}
W=$(mktemp -d)
SERVER_PID=
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$W"' EXIT

cat >"$W/server.py" <<'PYEOF'
import http.server, sys, urllib.parse
LONG = "x" * 300
NAMES = sorted(["p/../../escape.kvs", "p//abs.kvs", "p/a/./b.kvs", "p/ok.kvs",
                "p/" + LONG + ".kvs", "p/sub/../../up.kvs"])
def page(names, marker):
    blobs = "".join("<Blob><Name>%s</Name><Properties><Content-Length>10</Content-Length>"
                    "</Properties></Blob>" % n for n in names)
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults><Blobs>%s</Blobs>"
            "<NextMarker>%s</NextMarker></EnumerationResults>" % (blobs, marker)).encode()
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def answer(self, status, body=b"", code=None):
        self.send_response(status)
        if code:
            self.send_header("x-ms-error-code", code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    def do_HEAD(self):
        self.answer(404, code="BlobNotFound")
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if q.get("comp") != ["list"]:
            return self.answer(404, code="BlobNotFound")
        con = u.path.split("/")[2]
        if con == "names":
            return self.answer(200, page(NAMES, ""))
        if con == "loop":   # the same page forever
            return self.answer(200, page(["p/a.kvs"], "m1"))
        if con == "doctype":
            return self.answer(200, b'<!DOCTYPE x [<!ENTITY a "aaaa">]><EnumerationResults>'
                               b'<Blobs/></EnumerationResults>')
        return self.answer(404, code="ContainerNotFound")
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PYEOF
"$PY" "$W/server.py" >"$W/port" &
SERVER_PID=$!
for _ in $(seq 1 50); do [ -s "$W/port" ] && break; sleep 0.1; done
PORT=$(cat "$W/port")
[ -n "$PORT" ] || { echo "FAIL: the fake service did not start"; exit 1; }
export KVSEAL_ALLOWED_HOSTS="127.0.0.1:$PORT" AZURE_STORAGE_ACCOUNT=devstoreaccount1
export AZURE_STORAGE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
unset AZURE_STORAGE_SAS_TOKEN AZURE_STORAGE_CONNECTION_STRING
E="http://127.0.0.1:$PORT/devstoreaccount1"
test_key rsa2048-a "$W/k.pem"

mkdir -p "$W/a/b/out"
run timeout 60 "$BIN" decrypt -k "$W/k.pem" -o "$W/a/b/out" "$E/names/p/"
check "hostile names: exit 2 (got $RC)" test "$RC" -eq 2
check "hostile names: five refused as paths" \
    test "$(grep -c "not a safe local path" "$W/stderr")" -eq 5
check "hostile names: the safe one was tried" grep -q "ok.kvs.*no such blob" "$W/stderr"
check "hostile names: nothing written in DIR" test -z "$(ls -A "$W/a/b/out")"
check "hostile names: nothing written outside" \
    test "$(cd "$W" && find . -name '*escape*' -o -name '*up*' -o -name abs)" = ""

mkdir "$W/o2"
run timeout 60 "$BIN" decrypt -k "$W/k.pem" -o "$W/o2" "$E/loop/p/"
check "looping NextMarker: exit 2, not a hang (got $RC)" test "$RC" -eq 2
check "looping NextMarker: said" grep -q "NextMarker" "$W/stderr"
run timeout 60 "$BIN" audit "$E/loop/p/"
check "audit, looping NextMarker: exit 4 (got $RC)" test "$RC" -eq 4
run timeout 60 "$BIN" decrypt -k "$W/k.pem" -o "$W/o2" "$E/doctype/"
check "DOCTYPE in the listing: exit 2 (got $RC)" test "$RC" -eq 2
check "DOCTYPE in the listing: said" grep -q "DOCTYPE" "$W/stderr"
check "nothing written" test -z "$(ls -A "$W/o2")"

summary
