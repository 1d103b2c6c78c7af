#!/usr/bin/env python3
"""Shared Key known answers from Microsoft's SDK (Debian python3-azure).

Prints JSON: for fixed requests, the string to sign and the Authorization
header that azure.storage.blob's SharedKeyCredentialPolicy computes. The
checked-in sk_vectors.json is this script's output; test_blob_sharedkey
checks kvseal's signer against it, and py.test_blob_sk_vectors regenerates
it with the SDK and compares.
"""
import json
import sys

from azure.core.pipeline import PipelineContext, PipelineRequest
from azure.core.pipeline.transport import HttpRequest
from azure.storage.blob._shared.authentication import SharedKeyCredentialPolicy

KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
       "K1SZFPTOtr/KBHBeksoGMGw==")
DATE = "Mon, 07 Dec 2026 10:00:00 GMT"
CRID = "0f8fad5b-d9cb-469f-a165-70867728950e"
COMMON = [("x-ms-version", "2021-12-02"), ("x-ms-date", DATE),
          ("x-ms-client-request-id", CRID)]

CASES = [
    ("devstoreaccount1", "HEAD", "http://127.0.0.1:10000/devstoreaccount1/backups/db/a%20b.kvs",
     COMMON),
    ("devstoreaccount1", "GET", "http://127.0.0.1:10000/devstoreaccount1/backups/x.kvs",
     COMMON + [("x-ms-range", "bytes=0-1023"), ("If-Match", '"0x8DC0000000000001"')]),
    ("myacct", "PUT",
     "https://myacct.blob.core.windows.net/c1/x.kvs?comp=block&blockid=QUFBQUFBQUI%3D",
     COMMON + [("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="), ("Content-Length", "4096")]),
    ("myacct", "PUT", "https://myacct.blob.core.windows.net/c1/dir/x.kvs?comp=blocklist",
     COMMON + [("x-ms-meta-kvseal_version", "1"), ("x-ms-meta-kvseal_keys", "2"),
               ("If-None-Match", "*"), ("Content-Type", "application/xml"),
               ("Content-Length", "120"), ("Content-MD5", "XUFAKrxLKna5cZ2REBfFkg==")]),
    ("devstoreaccount1", "GET",
     "http://127.0.0.1:10000/devstoreaccount1/backups/x.kvs"
     "?comp=blocklist&blocklisttype=committed", COMMON),
    ("devstoreaccount1", "PUT", "http://127.0.0.1:10000/devstoreaccount1/backups/x.kvs"
     "?comp=blocklist", COMMON + [("If-Match", '"0x1"'), ("Content-Length", "0")]),
]


class Capture(SharedKeyCredentialPolicy):
    def _add_authorization_header(self, request, string_to_sign):
        self.captured = string_to_sign
        super()._add_authorization_header(request, string_to_sign)


def main():
    out = []
    for account, method, url, headers in CASES:
        req = HttpRequest(method, url)
        for k, v in headers:
            req.headers[k] = v
        pol = Capture(account, KEY)
        pol.on_request(PipelineRequest(req, PipelineContext(None)))
        path_and_query = url.split("/", 3)[3]
        path, _, query = path_and_query.partition("?")
        out.append({"account": account, "key": KEY, "method": method, "path": "/" + path,
                    "query": query, "headers": [k + ": " + v for k, v in headers],
                    "string_to_sign": pol.captured,
                    "authorization": req.headers["Authorization"]})
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
