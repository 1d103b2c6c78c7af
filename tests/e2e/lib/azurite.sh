# shellcheck shell=bash
# Azurite (the Blob Storage emulator, npm package pinned in tests/azurite) for
# blob tests: source this, then azurite_start; it exports
# KVSEAL_AZURITE_ENDPOINT (http://127.0.0.1:PORT/devstoreaccount1), the
# well-known dev account's Shared Key variables and KVSEAL_ALLOWED_HOSTS, and
# stops the emulator by its PID on exit. azurite_start returns 77 (skip) when
# Node.js or the package cannot be had.

KVSEAL_AZURITE_DIR=${KVSEAL_AZURITE_DIR:-"$KVSEAL_SRC/tests/azurite"}
KVSEAL_AZURITE_PID=
AZURITE_ACCOUNT=devstoreaccount1
# The emulator's published development key (not a secret).
AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

azurite_install() {
  command -v node >/dev/null 2>&1 || return 77
  [ -x "$KVSEAL_AZURITE_DIR/node_modules/.bin/azurite-blob" ] && return 0
  # A lock held while installing: parallel tests share one node_modules.
  ( flock 9
    [ -x "$KVSEAL_AZURITE_DIR/node_modules/.bin/azurite-blob" ] ||
      (cd "$KVSEAL_AZURITE_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
  ) 9>"$KVSEAL_AZURITE_DIR/.install.lock" || return 77
}

azurite_free_port() {
  "${KVSEAL_PYTHON:-python3}" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

azurite_stop() {
  if [ -n "$KVSEAL_AZURITE_PID" ]; then
    kill "$KVSEAL_AZURITE_PID" 2>/dev/null || true
    wait "$KVSEAL_AZURITE_PID" 2>/dev/null || true
    KVSEAL_AZURITE_PID=
  fi
}

# azurite_start [EXTRA ARGS]: e.g. --cert C --key K --oauth basic for HTTPS
# and bearer tokens (the endpoint is then https://).
azurite_start() {
  azurite_install || return 77
  local port tries scheme=http
  case " $* " in *" --cert "*) scheme=https ;; esac
  port=$(azurite_free_port)
  "$KVSEAL_AZURITE_DIR/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$port" \
    --inMemoryPersistence --silent --disableTelemetry --skipApiVersionCheck \
    ${KVSEAL_AZURITE_DEBUG:+--debug "$KVSEAL_AZURITE_DEBUG"} "$@" >&2 &
  KVSEAL_AZURITE_PID=$!
  trap 'azurite_stop; ${KVSEAL_AZURITE_ON_EXIT:-:}' EXIT
  for tries in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    kill -0 "$KVSEAL_AZURITE_PID" 2>/dev/null || { echo "azurite exited" >&2; return 1; }
    sleep 0.2
  done
  [ "$tries" -lt 100 ] || { echo "azurite did not start" >&2; return 1; }
  export KVSEAL_AZURITE_PORT=$port
  export KVSEAL_AZURITE_ENDPOINT="$scheme://127.0.0.1:$port/$AZURITE_ACCOUNT"
  export KVSEAL_ALLOWED_HOSTS="127.0.0.1:$port${KVSEAL_ALLOWED_HOSTS:+,$KVSEAL_ALLOWED_HOSTS}"
  export AZURITE_ACCOUNT AZURITE_KEY
}

# azurite_start_for_test [EXTRA ARGS]: azurite_start for an e2e test, the
# Azure SDK checked first. Ends the test with 77 (skip) when Node.js, the
# npm package or python3-azure is missing, and with 1 when Azurite fails.
azurite_start_for_test() {
  "${KVSEAL_PYTHON:-python3}" -c 'import azure.storage.blob' 2>/dev/null ||
    { echo "skip: no python3-azure"; exit 77; }
  local rc=0
  azurite_start "$@" || rc=$?
  [ "$rc" -eq 77 ] && { echo "skip: Azurite unavailable (Node.js or npm package)"; exit 77; }
  [ "$rc" -eq 0 ] || { echo "FAIL: Azurite did not start"; exit 1; }
}
