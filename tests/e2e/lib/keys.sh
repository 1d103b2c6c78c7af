# shellcheck shell=bash
# The checked-in test keys (tests/keys/README.md) for the e2e scripts
# (sourced by checks.sh and kv_harness.sh): copying a fixed key is instant,
# `kvseal keygen` costs seconds under the sanitizers. Scripts whose point is
# key generation still run keygen.
TEST_KEYS=${KVSEAL_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}/tests/keys
TEST_KEY_PASSPHRASE_FILE=$TEST_KEYS/rsa2048-enc.pass

# test_key NAME PRIV [PUB]: copy tests/keys/NAME.pem to PRIV (mode 0600, as
# keygen writes it) and its public half to PUB. A copy, so a script may
# chmod or damage it without touching the checked-in file.
test_key() {
    install -m 600 "$TEST_KEYS/$1.pem" "$2" || return 1
    [[ -z ${3:-} ]] || install -m 644 "$TEST_KEYS/$1.pub.pem" "$3"
}
