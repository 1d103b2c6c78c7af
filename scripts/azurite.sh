#!/usr/bin/env bash
# Run the pinned Azurite blob emulator on a free loopback port until Ctrl-C
# (for trying kvseal by hand): prints the endpoint and the variables to set.
set -euo pipefail
KVSEAL_SRC=$(cd "$(dirname "$0")/.." && pwd)
export KVSEAL_SRC
# shellcheck source=../tests/e2e/lib/azurite.sh
. "$KVSEAL_SRC/tests/e2e/lib/azurite.sh"
azurite_start
echo "endpoint: $KVSEAL_AZURITE_ENDPOINT"
echo "export KVSEAL_ALLOWED_HOSTS=$KVSEAL_ALLOWED_HOSTS AZURE_STORAGE_ACCOUNT=$AZURITE_ACCOUNT AZURE_STORAGE_KEY=<the well-known key>"
wait "$KVSEAL_AZURITE_PID"
