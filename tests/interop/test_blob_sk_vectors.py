#!/usr/bin/env python3
"""The checked-in Shared Key known answers (tests/blob/sk_vectors.json, which
unit.test_blob_sharedkey checks kvseal against) are what Microsoft's SDK
computes today: regenerate them with tests/blob/sk_vectors.py and compare.
Skips (77) without Debian's python3-azure."""
import json
import os
import subprocess
import sys

SRC = os.environ.get("KVSEAL_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))


def main():
    try:
        import azure.storage.blob  # noqa: F401
    except ImportError:
        print("SKIP: python3-azure is not installed")
        return 77
    gen = subprocess.run([sys.executable, os.path.join(SRC, "tests/blob/sk_vectors.py")],
                         check=True, capture_output=True, text=True).stdout
    with open(os.path.join(SRC, "tests/blob/sk_vectors.json"), encoding="utf-8") as f:
        stored = json.load(f)
    if json.loads(gen) != stored:
        print("FAIL: tests/blob/sk_vectors.json differs from the SDK's answers")
        return 1
    print("ok: %d Shared Key vectors match the SDK" % len(stored))
    return 0


if __name__ == "__main__":
    sys.exit(main())
