#!/usr/bin/python3
"""kvctl: drive a running kvserver's admin API from shell tests.

Reads DIR/server.json, trusts DIR/ca.pem.  Secrets are read from files, never
taken on the command line (argv is visible to other users).  Prints JSON on
stdout (or one field with --field); exits 0 on success, 1 on an error answer,
2 on usage errors, 3 when the server cannot be reached.

Examples:
  kvctl.py --state-dir D wait
  kvctl.py --state-dir D clients add --client-id app1 --secret-file s.txt --permissions full
  kvctl.py --state-dir D keys create k1 --size 4096 --field key.kid
  kvctl.py --state-dir D keys disable k1 VERSION
  kvctl.py --state-dir D faults set --throttle 5 --no-retry-after
  kvctl.py --state-dir D log --op unwrapkey
"""

import argparse
import http.client
import json
import os
import shlex
import ssl
import sys
import time


class ServerError(Exception):
    """The server answered with an error status."""


def load_info(state_dir):
    with open(os.path.join(state_dir, "server.json"), encoding="utf-8") as f:
        return json.load(f)


def request(info, method, path, body=None, timeout=30):
    """One admin call; returns the decoded JSON answer."""
    ctx = ssl.create_default_context(cafile=info["ca"])
    conn = http.client.HTTPSConnection("localhost", info["port"], context=ctx, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8")
    finally:
        conn.close()
    value = json.loads(text) if text else None
    if resp.status >= 400:
        raise ServerError("%d %s" % (resp.status, text))
    return value


def read_secret(path):
    """File contents without one trailing newline (`echo x > f` is fine)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text


def cmd_wait(args):
    """Until server.json exists and the server answers /_admin/health."""
    deadline = time.monotonic() + args.timeout
    last = "server.json not found"
    while time.monotonic() < deadline:
        try:
            info = load_info(args.state_dir)
            return request(info, "GET", "/_admin/health", timeout=2)
        except (OSError, ValueError, ServerError, http.client.HTTPException) as e:
            last = str(e)
        time.sleep(0.1)
    print("kvctl: server not ready after %ss: %s" % (args.timeout, last), file=sys.stderr)
    sys.exit(3)


def cmd_info(args):
    info = load_info(args.state_dir)
    return info if not args.name else info[args.name]


def cmd_env(args):
    """Shell assignments for eval: the endpoints and the usual Azure variables."""
    info = load_info(args.state_dir)
    pairs = [("KV_PORT", info["port"]), ("KV_IMDS_PORT", info["imds_port"]),
             ("KV_CA", info["ca"]), ("KV_VAULT_URL", info["vault_url"]),
             ("KV_TENANT", info["tenant"]), ("KV_RESOURCE", info["resource"]),
             ("AZURE_AUTHORITY_HOST", info["authority"]),
             ("AZURE_TENANT_ID", info["tenant"]),
             ("IMDS_ENDPOINT", info.get("imds_endpoint", "")),
             ("IDENTITY_ENDPOINT", info.get("msi_endpoint", ""))]
    for name, value in pairs:
        print("export %s=%s" % (name, shlex.quote(str(value))))
    return None


def cmd_clients_add(args):
    body = {"client_id": args.client_id, "permissions": args.permissions, "kind": args.kind}
    if args.tenant:
        body["tenant"] = args.tenant
    if args.secret_file:
        body["secret"] = read_secret(args.secret_file)
    if args.cert_file:
        with open(args.cert_file, encoding="utf-8") as f:
            body["cert_pem"] = f.read()  # the server keeps only the CERTIFICATE blocks
    if args.federated_token_file:
        with open(args.federated_token_file, encoding="utf-8") as f:
            body["federated_token"] = f.read()
    return request(load_info(args.state_dir), "POST", "/_admin/clients", body)


def cmd_clients_list(args):
    return request(load_info(args.state_dir), "GET", "/_admin/clients")


def cmd_clients_remove(args):
    return request(load_info(args.state_dir), "DELETE", "/_admin/clients/" + args.client_id)


def cmd_msi_set(args):
    body = {"identity_header": read_secret(args.identity_header_file),
            "client_id": args.client_id, "permissions": args.permissions, "kind": args.kind,
            "app_service": not args.no_app_service, "imds": not args.no_imds}
    return request(load_info(args.state_dir), "POST", "/_admin/msi", body)


def cmd_msi_clear(args):
    return request(load_info(args.state_dir), "DELETE", "/_admin/msi")


def cmd_keys_create(args):
    if args.kty in ("EC", "EC-HSM"):
        body = {"kty": args.kty, "crv": args.crv or "P-256"}
    else:
        body = {"kty": args.kty, "key_size": args.size}
    if args.ops:
        body["key_ops"] = [op for op in args.ops.split(",") if op]
    return request(load_info(args.state_dir), "POST", "/_admin/keys/" + args.name, body,
                   timeout=120)


def cmd_keys_rotate(args):
    return request(load_info(args.state_dir), "POST", "/_admin/keys/%s/rotate" % args.name,
                   timeout=120)


def cmd_keys_list(args):
    return request(load_info(args.state_dir), "GET", "/_admin/keys")


def set_attributes(args, body):
    version = args.version or "current"
    return request(load_info(args.state_dir), "POST",
                   "/_admin/keys/%s/%s/attributes" % (args.name, version), body)


def cmd_keys_disable(args):
    return set_attributes(args, {"enabled": False})


def cmd_keys_enable(args):
    return set_attributes(args, {"enabled": True})


def cmd_keys_set(args):
    body = {}
    if args.enabled is not None:
        body["enabled"] = args.enabled == "true"
    for field in ("nbf", "exp"):
        value = getattr(args, field)
        if value is not None:
            body[field] = None if value == "none" else int(value)
    if args.ops is not None:
        body["key_ops"] = [op for op in args.ops.split(",") if op]
    return set_attributes(args, body)


def cmd_faults_set(args):
    body = json.loads(args.json) if args.json else {}
    simple = {"throttle": "throttle_per_10s", "fail": "fail_503", "fail_status": "fail_status",
              "fail_retry_after": "fail_retry_after", "stall": "stall_seconds",
              "stall_count": "stall_count", "drop": "drop_count", "drop_mode": "drop_mode",
              "challenge_resource": "challenge_resource", "challenge_tenant": "challenge_tenant",
              "challenge_authority": "challenge_authority", "challenge_style": "challenge_style",
              "token_ttl": "token_ttl", "storage_token": "storage_token"}
    for attr, field in simple.items():
        value = getattr(args, attr)
        if value is not None:
            body[field] = value
    if args.retry_after is not None:
        body["retry_after"] = (True if args.retry_after == "yes" else False if args.retry_after == "no"
                               else "date" if args.retry_after == "date" else int(args.retry_after))
    if args.ops:
        body["ops"] = [op for op in args.ops.split(",") if op]
    return request(load_info(args.state_dir), "POST", "/_admin/faults", body)


def cmd_faults_show(args):
    return request(load_info(args.state_dir), "GET", "/_admin/faults")


def cmd_log(args):
    info = load_info(args.state_dir)
    if args.action == "clear":
        return request(info, "POST", "/_admin/log/clear")
    query = []
    if args.op:
        query.append("op=" + args.op)
    if args.since is not None:
        query.append("since=%d" % args.since)
    return request(info, "GET", "/_admin/log" + ("?" + "&".join(query) if query else ""))


def cmd_reset(args):
    return request(load_info(args.state_dir), "POST", "/_admin/reset")


def cmd_tokens_clear(args):
    return request(load_info(args.state_dir), "POST", "/_admin/tokens/clear")


def cmd_raw(args):
    body = json.loads(args.body) if args.body else None
    return request(load_info(args.state_dir), args.method.upper(), args.path, body)


def build_parser():
    p = argparse.ArgumentParser(description="Admin client for kvserver.py")
    p.add_argument("--state-dir", required=True)
    p.add_argument("--field", help="print only this field of the answer (dotted path, e.g. key.kid)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("wait", help="wait until the server answers (bounded)")
    s.add_argument("--timeout", type=float, default=30)
    s.set_defaults(func=cmd_wait)

    s = sub.add_parser("info", help="print server.json or one of its fields")
    s.add_argument("name", nargs="?")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("env", help="print export lines for eval")
    s.set_defaults(func=cmd_env)

    clients = sub.add_parser("clients").add_subparsers(dest="sub", required=True)
    s = clients.add_parser("add")
    s.add_argument("--client-id", required=True)
    s.add_argument("--secret-file")
    s.add_argument("--cert-file", help="PEM with the client certificate (a key beside it is ignored)")
    s.add_argument("--federated-token-file")
    s.add_argument("--permissions", default="full",
                   help="full | get-wrap | crypto-user (= service-encryption-user) | kv-crypto-user | "
                        "reader | none | a role name ('Key Vault Crypto User', ...) | comma list of "
                        "get,list,create,rotate,wrapKey,unwrapKey,sign,verify")
    s.add_argument("--kind", choices=("rbac", "policy"), default="rbac")
    s.add_argument("--tenant")
    s.set_defaults(func=cmd_clients_add)
    s = clients.add_parser("list")
    s.set_defaults(func=cmd_clients_list)
    s = clients.add_parser("remove")
    s.add_argument("client_id")
    s.set_defaults(func=cmd_clients_remove)

    msi = sub.add_parser("msi").add_subparsers(dest="sub", required=True)
    s = msi.add_parser("set")
    s.add_argument("--identity-header-file", required=True)
    s.add_argument("--client-id", required=True)
    s.add_argument("--permissions", default="full")
    s.add_argument("--kind", choices=("rbac", "policy"), default="rbac")
    s.add_argument("--no-imds", action="store_true")
    s.add_argument("--no-app-service", action="store_true")
    s.set_defaults(func=cmd_msi_set)
    s = msi.add_parser("clear")
    s.set_defaults(func=cmd_msi_clear)

    keys = sub.add_parser("keys").add_subparsers(dest="sub", required=True)
    s = keys.add_parser("create")
    s.add_argument("name")
    s.add_argument("--kty", choices=("RSA", "RSA-HSM", "EC", "EC-HSM"), default="RSA")
    s.add_argument("--size", type=int, default=4096, help="RSA modulus bits")
    s.add_argument("--crv", choices=("P-256", "P-384"), help="EC curve (default P-256)")
    s.add_argument("--ops", help="comma list of key_ops (default: wrapKey,unwrapKey for RSA, "
                                 "sign,verify for EC)")
    s.set_defaults(func=cmd_keys_create)
    s = keys.add_parser("rotate")
    s.add_argument("name")
    s.set_defaults(func=cmd_keys_rotate)
    s = keys.add_parser("list")
    s.set_defaults(func=cmd_keys_list)
    for verb, func in (("disable", cmd_keys_disable), ("enable", cmd_keys_enable)):
        s = keys.add_parser(verb)
        s.add_argument("name")
        s.add_argument("version", nargs="?", help="default: the current version")
        s.set_defaults(func=func)
    s = keys.add_parser("set", help="change attributes of one version")
    s.add_argument("name")
    s.add_argument("version", nargs="?")
    s.add_argument("--enabled", choices=("true", "false"))
    s.add_argument("--nbf", help="epoch seconds, or 'none' to clear")
    s.add_argument("--exp", help="epoch seconds, or 'none' to clear")
    s.add_argument("--ops", help="comma list of key_ops")
    s.set_defaults(func=cmd_keys_set)

    faults = sub.add_parser("faults").add_subparsers(dest="sub", required=True)
    s = faults.add_parser("set", help="merge into the fault settings")
    s.add_argument("--json", help="raw JSON object of fault fields")
    s.add_argument("--throttle", type=int, help="requests admitted per 10 s (0 = off)")
    s.add_argument("--retry-after", help="yes | no | date | SECONDS")
    s.add_argument("--fail", type=int, help="answer the next K requests with --fail-status (-1 = all)")
    s.add_argument("--fail-status", type=int)
    s.add_argument("--fail-retry-after", type=int)
    s.add_argument("--stall", type=float, help="seconds to sleep before answering")
    s.add_argument("--stall-count", type=int)
    s.add_argument("--drop", type=int, help="drop the next K connections (-1 = all)")
    s.add_argument("--drop-mode", choices=("close", "reset"))
    s.add_argument("--challenge-resource")
    s.add_argument("--challenge-tenant")
    s.add_argument("--challenge-authority")
    s.add_argument("--challenge-style", choices=("resource", "scope", "authorization_uri"))
    s.add_argument("--token-ttl", type=int)
    s.add_argument("--storage-token", choices=("valid", "expired", "wrong_audience"))
    s.add_argument("--ops", help="comma list of ops the faults apply to")
    s.set_defaults(func=cmd_faults_set)
    s = faults.add_parser("show")
    s.set_defaults(func=cmd_faults_show)

    s = sub.add_parser("log", help="print the request log, or clear it")
    s.add_argument("action", nargs="?", choices=("show", "clear"), default="show")
    s.add_argument("--op", help="comma list of ops to keep")
    s.add_argument("--since", type=int, help="only entries with seq above this")
    s.set_defaults(func=cmd_log)

    s = sub.add_parser("reset", help="clear faults and log")
    s.set_defaults(func=cmd_reset)

    tokens = sub.add_parser("tokens").add_subparsers(dest="sub", required=True)
    s = tokens.add_parser("clear", help="forget every issued token (next vault call gets 401)")
    s.set_defaults(func=cmd_tokens_clear)

    s = sub.add_parser("raw", help="any admin call: METHOD PATH [JSON]")
    s.add_argument("method")
    s.add_argument("path")
    s.add_argument("body", nargs="?")
    s.set_defaults(func=cmd_raw)
    return p


def pick(value, dotted):
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        result = args.func(args)
    except ServerError as e:
        print("kvctl: server error: %s" % e, file=sys.stderr)
        return 1
    except (OSError, http.client.HTTPException) as e:
        print("kvctl: %s" % e, file=sys.stderr)
        return 3
    except (ValueError, KeyError, IndexError) as e:
        print("kvctl: %s" % e, file=sys.stderr)
        return 2
    if result is None:
        return 0
    if args.field:
        result = pick(result, args.field)
    print(result if isinstance(result, (str, int, float)) else json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
