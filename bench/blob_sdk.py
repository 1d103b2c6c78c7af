"""Microsoft's Python SDK (azure.storage.blob) as the reference client of
bench/blob.sh: one call per process, so that GNU time measures the same
thing for it as for kvseal (the whole process: start-up, imports, transfer).

    python3 bench/blob_sdk.py create-container URL
    python3 bench/blob_sdk.py upload   URL FILE [--md5]
    python3 bench/blob_sdk.py download URL FILE [--md5]
    python3 bench/blob_sdk.py delete   URL

URL is a path-style blob (or container) URL on Azurite; the account and key
come from AZURITE_ACCOUNT / AZURITE_KEY. upload and download use
max_concurrency=4; --md5 sets validate_content=True (an MD5 per request,
which the service checks on upload, as kvseal's Content-MD5 per block).
upload and download print the transfer alone (wall seconds, CPU seconds of
this process) on stdout, without start-up and imports.
"""
import os
import resource
import sys
import time

from azure.storage.blob import BlobClient, ContainerClient


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main(argv):
    op, url = argv[1], argv[2]
    cred = {"account_name": os.environ["AZURITE_ACCOUNT"], "account_key": os.environ["AZURITE_KEY"]}
    if op == "create-container":
        ContainerClient.from_container_url(url, credential=cred).create_container()
        return 0
    blob = BlobClient.from_blob_url(url, credential=cred)
    if op == "delete":
        blob.delete_blob()
        return 0
    path = argv[3]
    md5 = "--md5" in argv[4:]
    t0, c0 = time.monotonic(), cpu_seconds()
    if op == "upload":
        with open(path, "rb") as f:
            blob.upload_blob(f, length=os.fstat(f.fileno()).st_size, overwrite=True,
                             max_concurrency=4, validate_content=md5)
    elif op == "download":
        with open(path, "wb") as f:
            blob.download_blob(max_concurrency=4, validate_content=md5).readinto(f)
    else:
        raise SystemExit("unknown operation " + op)
    print("%.6f %.6f" % (time.monotonic() - t0, cpu_seconds() - c0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
