#!/usr/bin/python3
"""blob_sdk: Microsoft's Azure SDK (Debian's python3-azure) as the other side
of kvseal's Blob Storage tests: it creates containers and SAS tokens, uploads
and downloads blobs exactly as any other Azure client would, independently of
kvseal's REST code.

Reads AZURITE_ACCOUNT, AZURITE_KEY and KVSEAL_AZURITE_ENDPOINT (exported by
tests/e2e/lib/azurite.sh). Usage:
  blob_sdk.py container NAME
  blob_sdk.py sas CONTAINER rw|ro          print a container SAS (no '?')
  blob_sdk.py upload CONTAINER BLOB FILE [--blocks N,N,...] [--flip OFFSET]
        single-shot upload_blob, or stage_block of the given sizes (the last
        one repeated to the end) then commit_block_list; --flip XORs one byte
  blob_sdk.py download CONTAINER BLOB FILE
  blob_sdk.py exists CONTAINER BLOB        print yes or no
  blob_sdk.py blocks CONTAINER BLOB        print the committed block count
  blob_sdk.py uncommitted CONTAINER BLOB   print the uncommitted block count
  blob_sdk.py meta CONTAINER BLOB          print the blob's metadata as JSON
"""

import argparse
import base64
import datetime
import json
import os
import sys

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import (BlobBlock, BlobServiceClient, ContainerSasPermissions,
                                generate_container_sas)


def service():
    return BlobServiceClient(os.environ["KVSEAL_AZURITE_ENDPOINT"],
                             credential={"account_name": os.environ["AZURITE_ACCOUNT"],
                                         "account_key": os.environ["AZURITE_KEY"]})


def blob(container, name):
    return service().get_blob_client(container, name)


def cmd_container(a):
    service().create_container(a.container)


def cmd_sas(a):
    now = datetime.datetime.now(datetime.timezone.utc)
    rw = a.mode == "rw"
    perm = ContainerSasPermissions(read=True, write=rw, create=rw)
    print(generate_container_sas(os.environ["AZURITE_ACCOUNT"], a.container,
                                 account_key=os.environ["AZURITE_KEY"], permission=perm,
                                 start=now - datetime.timedelta(hours=1),
                                 expiry=now + datetime.timedelta(hours=1)))


def cmd_upload(a):
    with open(a.file, "rb") as f:
        data = bytearray(f.read())
    if a.flip is not None:
        data[a.flip] ^= 0x01
    b = blob(a.container, a.blob)
    if not a.blocks:
        b.upload_blob(bytes(data), overwrite=True)
        return
    sizes = [int(s) for s in a.blocks.split(",")]
    ids, pos, i = [], 0, 0
    while pos < len(data) or not ids:
        n = sizes[min(i, len(sizes) - 1)]
        bid = base64.b64encode(b"sdk-%08d" % i).decode()
        b.stage_block(bid, bytes(data[pos:pos + n]))
        ids.append(BlobBlock(block_id=bid))
        pos += n
        i += 1
    b.commit_block_list(ids)


def cmd_download(a):
    with open(a.file, "wb") as f:
        f.write(blob(a.container, a.blob).download_blob().readall())


def cmd_exists(a):
    print("yes" if blob(a.container, a.blob).exists() else "no")


def block_lists(a):
    try:
        return blob(a.container, a.blob).get_block_list("all")
    except ResourceNotFoundError:
        return [], []


def cmd_blocks(a):
    print(len(block_lists(a)[0]))


def cmd_uncommitted(a):
    print(len(block_lists(a)[1]))


def cmd_meta(a):
    print(json.dumps(blob(a.container, a.blob).get_blob_properties().metadata, sort_keys=True))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("container")
    s.add_argument("container")
    s.set_defaults(fn=cmd_container)
    s = sub.add_parser("sas")
    s.add_argument("container")
    s.add_argument("mode", choices=("rw", "ro"))
    s.set_defaults(fn=cmd_sas)
    s = sub.add_parser("upload")
    s.add_argument("container")
    s.add_argument("blob")
    s.add_argument("file")
    s.add_argument("--blocks")
    s.add_argument("--flip", type=int)
    s.set_defaults(fn=cmd_upload)
    s = sub.add_parser("download")
    s.add_argument("container")
    s.add_argument("blob")
    s.add_argument("file")
    s.set_defaults(fn=cmd_download)
    for name, fn in (("exists", cmd_exists), ("blocks", cmd_blocks),
                     ("uncommitted", cmd_uncommitted), ("meta", cmd_meta)):
        s = sub.add_parser(name)
        s.add_argument("container")
        s.add_argument("blob")
        s.set_defaults(fn=fn)
    a = p.parse_args()
    return a.fn(a) or 0


if __name__ == "__main__":
    sys.exit(main())
