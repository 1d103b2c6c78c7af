#!/usr/bin/python3
"""Self-test of kvserver.py and kvctl.py.

Starts the server in a temporary directory and exercises every endpoint with
stdlib http.client + ssl + cryptography.  Prints one line per test and a final
line `N passed, M failed`; exits non-zero on any failure.
Run: /usr/bin/python3 tests/kv-server/test_kvserver_selftest.py
(the tests build on each other's state, so they always run together, in order)
"""

import base64
import datetime
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "kvserver.py")
KVCTL = os.path.join(HERE, "kvctl.py")
PYTHON = "/usr/bin/python3"
API = "api-version=7.4"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


# ---------------------------------------------------------------- helpers

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check(cond, message):
    if not cond:
        raise AssertionError(message)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.raw = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        return self.headers.get(name.lower())

    def error_code(self):
        return (self.json or {}).get("error", {}).get("code") if isinstance(self.json, dict) else None

    def inner_code(self):
        try:
            return self.json["error"]["innererror"]["code"]
        except (KeyError, TypeError):
            return None

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


def start_server(state_dir, *extra):
    proc = subprocess.Popen([PYTHON, SERVER, "--state-dir", state_dir] + list(extra),
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(state_dir, "stderr"), "w"))
    path = os.path.join(state_dir, "server.json")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                return proc, json.load(f)
        if proc.poll() is not None:
            raise RuntimeError("kvserver exited with %s" % proc.returncode)
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server.json did not appear")


class Client:
    """Tiny HTTPS client for the server under test (one connection per call)."""

    def __init__(self, info):
        self.info = info
        self.ctx = ssl.create_default_context(cafile=info["ca"])

    def call(self, method, path, body=None, headers=None, form=None, token=None,
             timeout=30, host="localhost"):
        hdrs = dict(headers or {})
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode("ascii")
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        if token:
            hdrs["Authorization"] = "Bearer " + token
        conn = http.client.HTTPSConnection(host, self.info["port"], context=self.ctx, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                            resp.read().decode("utf-8", "replace"))
        finally:
            conn.close()

    def imds(self, path, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.info["imds_port"], timeout=10)
        try:
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                            resp.read().decode("utf-8"))
        finally:
            conn.close()

    def admin(self, method, path, body=None):
        resp = self.call(method, "/_admin" + path, body=body if body is not None else None)
        check(resp.status == 200, "admin %s %s -> %r" % (method, path, resp))
        return resp.json

    def token_url_path(self):
        return "/%s/oauth2/v2.0/token" % self.info["tenant"]

    def secret_token(self, client_id, secret, scope=None):
        return self.call("POST", self.token_url_path(), form={
            "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
            "scope": scope or self.info["resource"] + "/.default"})


def make_client_cert():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kvseal-test-client")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return key, cert


def make_assertion(key, cert, client_id, aud, alg="PS256", thumb="x5t#S256", salt=32,
                   lifetime=300, nbf_offset=0, jti=None, **overrides):
    der = cert.public_bytes(serialization.Encoding.DER)
    header = {"alg": alg, "typ": "JWT"}
    if thumb == "x5t#S256":
        header["x5t#S256"] = b64url(hashlib.sha256(der).digest())
    else:
        header["x5t"] = b64url(hashlib.sha1(der).digest())
    now = int(time.time())
    claims = {"aud": aud, "iss": client_id, "sub": client_id, "jti": jti or str(uuid.uuid4()),
              "nbf": now + nbf_offset, "iat": now, "exp": now + nbf_offset + lifetime}
    claims.update(overrides)
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode())).encode("ascii")
    if alg == "PS256":
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt)
    else:
        pad = padding.PKCS1v15()
    signature = key.sign(signing_input, pad, hashes.SHA256())
    return signing_input.decode("ascii") + "." + b64url(signature)


def oaep(alg):
    h = hashes.SHA256 if alg == "RSA-OAEP-256" else hashes.SHA1
    return padding.OAEP(mgf=padding.MGF1(algorithm=h()), algorithm=h(), label=None)


def public_key_from_bundle(bundle):
    n = int.from_bytes(b64url_decode(bundle["key"]["n"]), "big")
    e = int.from_bytes(b64url_decode(bundle["key"]["e"]), "big")
    return rsa.RSAPublicNumbers(e, n).public_key()


def kvctl(state_dir, *args):
    return subprocess.run([PYTHON, KVCTL, "--state-dir", state_dir] + list(args),
                          capture_output=True, text=True, timeout=60)


# ---------------------------------------------------------------- tests

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Env:
    """Shared across tests (they run in order and build on each other)."""


E = Env()


@test
def server_json_and_files():
    info = E.info
    for field in ("port", "imds_port", "pid", "ca", "vault_url", "authority", "tenant", "resource"):
        check(field in info, "server.json lacks %s" % field)
    check(info["vault_url"] == "https://localhost:%d" % info["port"], info["vault_url"])
    check(info["tenant"] == "00000000-0000-0000-0000-00000000test", info["tenant"])
    check(info["resource"] == "https://localhost", info["resource"])
    for name in ("ca.pem", "server.pem", "server.key"):
        check(os.path.exists(os.path.join(E.dir, name)), name)
    check(os.stat(os.path.join(E.dir, "server.key")).st_mode & 0o077 == 0, "server.key mode")


@test
def tls_names_and_versions():
    for host in ("localhost", "127.0.0.1"):
        ctx = ssl.create_default_context(cafile=E.info["ca"])
        with socket.create_connection(("127.0.0.1", E.info["port"]), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as s:
                check(s.version() in ("TLSv1.2", "TLSv1.3"), s.version())
    ctx = ssl.create_default_context(cafile=E.info["ca"])
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", E.info["port"]), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            check(s.version() == "TLSv1.2", s.version())


@test
def challenge_without_token():
    crid = str(uuid.uuid4())
    r = E.c.call("GET", "/keys/nosuch?" + API, headers={"x-ms-client-request-id": crid})
    check(r.status == 401, r)
    expected = 'Bearer authorization="%s/%s", resource="%s"' % (
        E.info["authority"], E.info["tenant"], E.info["resource"])
    check(r.header("www-authenticate") == expected, r.header("www-authenticate"))
    check(r.error_code() == "Unauthorized", r)
    check(r.header("x-ms-request-id"), "no x-ms-request-id")
    check(r.header("x-ms-client-request-id") == crid, "client request id not echoed")
    r = E.c.call("POST", "/keys/nosuch//wrapkey?" + API)
    check(r.status == 401 and r.header("www-authenticate"), r)
    r = E.c.call("GET", "/keys/nosuch?" + API, token="not-a-token")
    check(r.status == 401 and r.header("www-authenticate"), r)


@test
def api_versions():
    for version in ("7.4", "7.5", "7.6", "2025-07-01"):
        r = E.c.call("GET", "/keys/nosuch?api-version=" + version)
        check(r.status == 401, (version, r))
    for query in ("api-version=7.3", "api-version=2016-10-01", ""):
        r = E.c.call("GET", "/keys/nosuch?" + query)
        check(r.status == 400 and r.error_code() == "BadParameter", (query, r))


@test
def register_clients():
    E.c.admin("POST", "/clients", {"client_id": "app-full", "secret": "s3cret!", "permissions": "full"})
    E.c.admin("POST", "/clients", {"client_id": "app-getwrap", "secret": "gw", "permissions": "get-wrap"})
    E.c.admin("POST", "/clients", {"client_id": "app-none", "secret": "no", "permissions": "none"})
    E.c.admin("POST", "/clients", {"client_id": "app-policy", "secret": "po", "permissions": "none",
                                   "kind": "policy"})
    E.cert_key, E.cert = make_client_cert()
    pem = E.cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = E.cert_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()).decode()
    desc = E.c.admin("POST", "/clients", {"client_id": "app-cert", "cert_pem": key_pem + pem})
    check(desc["certificates"] == 1 and not desc["secret"], desc)
    E.c.admin("POST", "/clients", {"client_id": "app-fed", "federated_token": "eyJfed.token.text"})
    listed = E.c.admin("GET", "/clients")["clients"]
    check(len(listed) == 6 and all("s3cret" not in json.dumps(c) for c in listed), listed)


@test
def token_client_secret():
    r = E.c.secret_token("app-full", "s3cret!")
    check(r.status == 200, r)
    check(r.json["token_type"] == "Bearer" and r.json["expires_in"] == 3599, r)
    E.token = r.json["access_token"]
    check(r.header("x-ms-request-id"), "no request id")
    r = E.c.secret_token("app-full", "wrong")
    check(r.status == 401 and r.json["error"] == "invalid_client", r)
    check(r.json["error_codes"] == [7000215] and "trace_id" in r.json and "correlation_id" in r.json, r)
    r = E.c.secret_token("nobody", "x")
    check(r.status == 400 and r.json["error"] == "unauthorized_client", r)
    r = E.c.secret_token("app-full", "s3cret!", scope="https://localhost")
    check(r.status == 400 and r.json["error"] == "invalid_scope", r)
    r = E.c.call("POST", "/othertenant/oauth2/v2.0/token", form={
        "grant_type": "client_credentials", "client_id": "app-full", "client_secret": "s3cret!",
        "scope": "https://localhost/.default"})
    check(r.status == 400 and r.json["error"] == "invalid_request", r)
    r = E.c.call("POST", E.c.token_url_path(), form={"client_id": "app-full"})
    check(r.status == 400, r)


@test
def token_certificate_assertion():
    aud = "https://localhost:%d/%s/oauth2/v2.0/token" % (E.info["port"], E.info["tenant"])
    form = {"grant_type": "client_credentials", "scope": "https://localhost/.default",
            "client_assertion_type": JWT_BEARER}

    def try_assertion(assertion, client_id="app-cert"):
        f = dict(form, client_assertion=assertion)
        if client_id:
            f["client_id"] = client_id
        return E.c.call("POST", E.c.token_url_path(), form=f)

    r = try_assertion(make_assertion(E.cert_key, E.cert, "app-cert", aud))
    check(r.status == 200, ("PS256", r))
    E.cert_token = r.json["access_token"]
    r = try_assertion(make_assertion(E.cert_key, E.cert, "app-cert", aud, alg="RS256", thumb="x5t"),
                      client_id=None)
    check(r.status == 200, ("RS256/x5t without client_id", r))
    jti = str(uuid.uuid4())
    check(try_assertion(make_assertion(E.cert_key, E.cert, "app-cert", aud, jti=jti)).status == 200, "jti 1")
    r = try_assertion(make_assertion(E.cert_key, E.cert, "app-cert", aud, jti=jti))
    check(r.status == 401 and r.json["error"] == "invalid_client", ("jti replay", r))
    bad = [
        ("wrong aud", make_assertion(E.cert_key, E.cert, "app-cert", "https://login.microsoftonline.com/x/oauth2/v2.0/token")),
        ("expired", make_assertion(E.cert_key, E.cert, "app-cert", aud, nbf_offset=-400, lifetime=300)),
        ("nbf future", make_assertion(E.cert_key, E.cert, "app-cert", aud, nbf_offset=120)),
        ("too long", make_assertion(E.cert_key, E.cert, "app-cert", aud, lifetime=3600)),
        ("wrong iss", make_assertion(E.cert_key, E.cert, "app-cert", aud, iss="other")),
        ("wrong sub", make_assertion(E.cert_key, E.cert, "app-cert", aud, sub="other")),
        ("PSS max salt", make_assertion(E.cert_key, E.cert, "app-cert", aud,
                                        salt=padding.PSS.MAX_LENGTH)),
        ("other key", make_assertion(rsa.generate_private_key(public_exponent=65537, key_size=2048),
                                     E.cert, "app-cert", aud)),
        ("garbage", "not.a.jwt"),
    ]
    for label, assertion in bad:
        r = try_assertion(assertion)
        check(r.status in (400, 401) and r.json["error"] in ("invalid_client", "invalid_request"),
              (label, r))
    # alg none / HS256 are refused
    header = b64url(json.dumps({"alg": "none"}).encode())
    claims = b64url(json.dumps({"iss": "app-cert", "sub": "app-cert", "aud": aud}).encode())
    r = try_assertion(header + "." + claims + ".")
    check(r.status == 400, ("alg none", r))


@test
def token_federated():
    form = {"grant_type": "client_credentials", "scope": "https://localhost/.default",
            "client_assertion_type": JWT_BEARER, "client_id": "app-fed"}
    r = E.c.call("POST", E.c.token_url_path(), form=dict(form, client_assertion="eyJfed.token.text"))
    check(r.status == 200, r)
    E.fed_token = r.json["access_token"]
    r = E.c.call("POST", E.c.token_url_path(), form=dict(form, client_assertion="eyJother.token.text"))
    check(r.status in (400, 401) and r.json["error"] == "invalid_client", r)


@test
def token_managed_identity_app_service():
    r = E.c.call("GET", "/msi/token?resource=https://localhost&api-version=2019-08-01",
                 headers={"X-IDENTITY-HEADER": "h"})
    check(r.status == 400, ("not configured", r))
    E.c.admin("POST", "/msi", {"identity_header": "hdr-123", "client_id": "msi-app", "permissions": "crypto-user"})
    r = E.c.call("GET", "/msi/token?resource=https://localhost&api-version=2019-08-01",
                 headers={"X-IDENTITY-HEADER": "hdr-123"})
    check(r.status == 200 and r.json["token_type"] == "Bearer", r)
    check(isinstance(r.json["expires_on"], str) and int(r.json["expires_on"]) > time.time(), r)
    check(r.json["client_id"] == "msi-app" and r.json["resource"] == "https://localhost", r)
    E.msi_token = r.json["access_token"]
    r = E.c.call("GET", "/msi/token?resource=https://localhost&api-version=2019-08-01",
                 headers={"X-IDENTITY-HEADER": "wrong"})
    check(r.status == 401, r)
    r = E.c.call("GET", "/msi/token?resource=https://localhost&api-version=2017-09-01",
                 headers={"X-IDENTITY-HEADER": "hdr-123"})
    check(r.status == 400, r)


@test
def token_managed_identity_imds():
    path = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Flocalhost"
    r = E.c.imds(path)
    check(r.status == 400 and "metadata" in r.json["error_description"].lower(), r)
    r = E.c.imds(path, {"Metadata": "true"})
    check(r.status == 200, r)
    for field in ("expires_in", "expires_on", "not_before"):
        check(isinstance(r.json[field], str) and r.json[field].isdigit(), (field, r))
    E.imds_token = r.json["access_token"]
    r = E.c.imds(path + "&client_id=someone-else", {"Metadata": "true"})
    check(r.status == 400 and r.json["error_description"] == "Identity not found", r)
    r = E.c.imds(path.replace("api-version=2018-02-01&", ""), {"Metadata": "true"})
    check(r.status == 400, r)


@test
def create_get_rotate_versions():
    r = E.c.call("POST", "/keys/k4096/create?" + API, token=E.token,
                 body={"kty": "RSA", "key_size": 4096, "key_ops": ["wrapKey", "unwrapKey"]})
    check(r.status == 200, r)
    E.b1 = r.json
    kid = r.json["key"]["kid"]
    name, version = kid.split("/keys/")[1].split("/")
    check(name == "k4096" and len(version) == 32 and version == version.lower(), kid)
    check(kid.startswith(E.info["vault_url"] + "/keys/"), kid)
    check(len(b64url_decode(r.json["key"]["n"])) == 512 and r.json["key"]["e"] == "AQAB", r.json["key"])
    check(r.json["attributes"]["enabled"] is True, r.json)
    r = E.c.call("GET", "/keys/k4096?" + API, token=E.token)
    check(r.status == 200 and r.json["key"]["kid"] == kid, r)
    r = E.c.call("GET", "/keys/K4096/%s?%s" % (version, API), token=E.token)
    check(r.status == 200 and r.json["key"]["kid"] == kid, ("case-insensitive name", r))
    r = E.c.call("POST", "/keys/k4096/rotate?" + API, token=E.token)
    check(r.status == 200 and r.json["key"]["kid"] != kid, r)
    E.b2 = r.json
    r = E.c.call("GET", "/keys/k4096/?" + API, token=E.token)
    check(r.json["key"]["kid"] == E.b2["key"]["kid"], "versionless is not the new current")
    E.c.admin("POST", "/keys/k4096/rotate")  # a third version, for paging
    seen, path, pages = [], "/keys/k4096/versions?%s&maxresults=2" % API, 0
    while path:
        r = E.c.call("GET", path, token=E.token)
        check(r.status == 200 and len(r.json["value"]) <= 2, r)
        seen += [v["kid"] for v in r.json["value"]]
        pages += 1
        link = r.json.get("nextLink")
        path = link[len(E.info["vault_url"]):] if link else None
    check(pages == 2 and len(set(seen)) == 3 and kid in seen, (pages, seen))
    r = E.c.call("GET", "/keys/k4096/versions?%s&maxresults=99" % API, token=E.token)
    check(r.status == 400, r)
    r = E.c.call("GET", "/keys/nosuch?" + API, token=E.token)
    check(r.status == 404 and r.error_code() == "KeyNotFound", r)
    r = E.c.call("GET", "/keys/k4096/%s?%s" % ("0" * 32, API), token=E.token)
    check(r.status == 404 and r.error_code() == "KeyNotFound", r)
    r = E.c.call("POST", "/keys/bad_name!/create?" + API, token=E.token, body={"kty": "RSA"})
    check(r.status == 400, r)
    for body in ({"kty": "EC", "crv": "P-521"}, {"kty": "oct"}, {"kty": "EC", "key_size": 2048},
                 {"kty": "EC", "key_ops": ["wrapKey"]}, {"kty": "RSA", "crv": "P-256"}):
        r = E.c.call("POST", "/keys/kx/create?" + API, token=E.token, body=body)
        check(r.status == 400 and r.error_code() == "BadParameter", (body, r))


@test
def wrap_unwrap():
    dek = os.urandom(32)
    kid1 = E.b1["key"]["kid"]
    v1 = kid1.rsplit("/", 1)[1]
    for alg in ("RSA-OAEP-256", "RSA-OAEP"):
        r = E.c.call("POST", "/keys/k4096/%s/wrapkey?%s" % (v1, API), token=E.token,
                     body={"alg": alg, "value": b64url(dek)})
        check(r.status == 200 and r.json["kid"] == kid1, r)
        wrapped = b64url_decode(r.json["value"])
        check(len(wrapped) == 512 and "=" not in r.json["value"], len(wrapped))
        r = E.c.call("POST", "/keys/k4096/%s/UnwrapKey?%s" % (v1, API), token=E.token,
                     body={"alg": alg, "value": b64url(wrapped)})
        check(r.status == 200 and b64url_decode(r.json["value"]) == dek, (alg, r))
    # wrap locally with the public part of version 1 (after rotation), unwrap remotely
    wrapped = public_key_from_bundle(E.b1).encrypt(dek, oaep("RSA-OAEP-256"))
    std = base64.b64encode(wrapped).decode()  # standard alphabet with padding is accepted
    r = E.c.call("POST", "/keys/k4096/%s/unwrapkey?%s" % (v1, API), token=E.token,
                 body={"alg": "RSA-OAEP-256", "value": std})
    check(r.status == 200 and b64url_decode(r.json["value"]) == dek, r)
    # versionless wrap uses the current version and says so
    r = E.c.call("POST", "/keys/k4096/wrapKey?" + API, token=E.token,
                 body={"alg": "RSA-OAEP-256", "value": b64url(dek)})
    current = E.c.call("GET", "/keys/k4096?" + API, token=E.token).json["key"]["kid"]
    check(r.status == 200 and r.json["kid"] == current, r)
    bad = [
        ("alg", "wrapkey", {"alg": "RSA1_5", "value": b64url(dek)}),
        ("alg", "wrapkey", {"alg": "A256KW", "value": b64url(dek)}),
        ("base64", "wrapkey", {"alg": "RSA-OAEP-256", "value": "***"}),
        ("too long", "wrapkey", {"alg": "RSA-OAEP-256", "value": b64url(os.urandom(447))}),
        ("length", "unwrapkey", {"alg": "RSA-OAEP-256", "value": b64url(os.urandom(100))}),
        ("garbage", "unwrapkey", {"alg": "RSA-OAEP-256", "value": b64url(os.urandom(512))}),
        ("json", "unwrapkey", b"{not json"),
    ]
    for label, op, body in bad:
        r = E.c.call("POST", "/keys/k4096/%s/%s?%s" % (v1, op, API), token=E.token, body=body)
        check(r.status == 400 and r.error_code() == "BadParameter", (label, r))
    r = E.c.call("POST", "/keys/nosuch//unwrapkey?" + API, token=E.token,
                 body={"alg": "RSA-OAEP-256", "value": b64url(os.urandom(512))})
    check(r.status == 404, r)


@test
def key_ops_disabled_and_window():
    b = E.c.admin("POST", "/keys/wraponly", {"kty": "RSA-HSM", "key_size": 2048, "key_ops": ["wrapKey"]})
    check(b["key"]["kty"] == "RSA-HSM", b)
    E.small = E.c.admin("POST", "/keys/small", {"kty": "RSA", "key_size": 2048})
    body = {"alg": "RSA-OAEP-256", "value": b64url(os.urandom(256))}
    r = E.c.call("POST", "/keys/wraponly//unwrapkey?" + API, token=E.token, body=body)
    check(r.status == 400 and "key_ops" in r.json["error"]["message"], r)
    version = E.small["key"]["kid"].rsplit("/", 1)[1]
    E.c.admin("POST", "/keys/small/%s/attributes" % version, {"enabled": False})
    r = E.c.call("POST", "/keys/small/%s/wrapkey?%s" % (version, API), token=E.token,
                 body={"alg": "RSA-OAEP-256", "value": b64url(b"x" * 32)})
    check(r.status == 403 and r.error_code() == "Forbidden" and r.inner_code() == "KeyDisabled", r)
    r = E.c.call("GET", "/keys/small?" + API, token=E.token)
    check(r.status == 403, r)
    E.c.admin("POST", "/keys/small/%s/attributes" % version,
              {"enabled": True, "exp": int(time.time()) - 10})
    r = E.c.call("POST", "/keys/small//wrapkey?" + API, token=E.token,
                 body={"alg": "RSA-OAEP-256", "value": b64url(b"x" * 32)})
    check(r.status == 400 and r.inner_code() == "KeyExpired", r)
    E.c.admin("POST", "/keys/small/current/attributes", {"exp": None, "nbf": int(time.time()) + 600})
    r = E.c.call("POST", "/keys/small//wrapkey?" + API, token=E.token,
                 body={"alg": "RSA-OAEP-256", "value": b64url(b"x" * 32)})
    check(r.status == 400 and r.inner_code() == "KeyNotYetValid", r)
    E.c.admin("POST", "/keys/small/current/attributes", {"nbf": None})
    r = E.c.call("POST", "/keys/small//wrapkey?" + API, token=E.token,
                 body={"alg": "RSA-OAEP-256", "value": b64url(b"x" * 32)})
    check(r.status == 200, r)


@test
def permissions():
    tokens = {cid: E.c.secret_token(cid, secret).json["access_token"]
              for cid, secret in (("app-getwrap", "gw"), ("app-none", "no"), ("app-policy", "po"))}
    wrap = {"alg": "RSA-OAEP-256", "value": b64url(b"k" * 32)}
    t = tokens["app-getwrap"]
    check(E.c.call("GET", "/keys/small?" + API, token=t).status == 200, "get-wrap: get")
    r = E.c.call("POST", "/keys/small//wrapkey?" + API, token=t, body=wrap)
    check(r.status == 200, ("get-wrap: wrap", r))
    wrapped = r.json["value"]
    r = E.c.call("POST", "/keys/small//unwrapkey?" + API, token=t,
                 body={"alg": "RSA-OAEP-256", "value": wrapped})
    check(r.status == 403 and r.inner_code() == "ForbiddenByRbac", ("get-wrap: unwrap", r))
    check("Microsoft.KeyVault/vaults/keys/unwrap/action" in r.json["error"]["message"], r)
    r = E.c.call("GET", "/keys/small?" + API, token=tokens["app-none"])
    check(r.status == 403 and r.inner_code() == "ForbiddenByRbac", r)
    r = E.c.call("GET", "/keys/nosuch?" + API, token=tokens["app-none"])
    check(r.status == 403, ("403 before 404", r))
    r = E.c.call("POST", "/keys/small//wrapkey?" + API, token=tokens["app-policy"], body=wrap)
    check(r.status == 403 and r.error_code() == "Forbidden" and r.inner_code() == "AccessDenied", r)
    check("wrapKey permission" in r.json["error"]["message"], r)
    # the managed identity (crypto-user) may unwrap but not create
    for token in (E.msi_token, E.imds_token):
        r = E.c.call("POST", "/keys/small//unwrapkey?" + API, token=token,
                     body={"alg": "RSA-OAEP-256", "value": wrapped})
        check(r.status == 200 and b64url_decode(r.json["value"]) == b"k" * 32, r)
    r = E.c.call("POST", "/keys/x/create?" + API, token=E.msi_token, body={"kty": "RSA"})
    check(r.status == 403, r)
    for token in (E.cert_token, E.fed_token):
        check(E.c.call("GET", "/keys/small?" + API, token=token).status == 200, "cert/fed token")


def sign_call(name, version, alg, value, token=None):
    body = {"alg": alg, "value": value if isinstance(value, str) else b64url(value)}
    return E.c.call("POST", "/keys/%s/%s/sign?%s" % (name, version, API),
                    token=token or E.token, body=body)


def ec_public(bundle):
    key = bundle["key"]
    curve = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1}[key["crv"]]
    return ec.EllipticCurvePublicNumbers(int.from_bytes(b64url_decode(key["x"]), "big"),
                                         int.from_bytes(b64url_decode(key["y"]), "big"),
                                         curve()).public_key()


def verify_es(bundle, hash_cls, digest, sig):
    half = len(sig) // 2
    der = encode_dss_signature(int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big"))
    ec_public(bundle).verify(der, digest, ec.ECDSA(Prehashed(hash_cls())))


def verify_ps(bundle, hash_cls, digest, sig):
    pss = padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=hash_cls.digest_size)
    public_key_from_bundle(bundle).verify(sig, digest, pss, Prehashed(hash_cls()))


@test
def ec_keys_and_sign():
    # EC keys: admin and vault create; GET carries crv and fixed-width x, y
    E.ec256 = E.c.admin("POST", "/keys/sig256", {"kty": "EC", "crv": "P-256"})
    check(E.ec256["key"]["kty"] == "EC" and E.ec256["key"]["crv"] == "P-256", E.ec256)
    check(sorted(E.ec256["key"]["key_ops"]) == ["sign", "verify"], E.ec256)
    check("n" not in E.ec256["key"] and "e" not in E.ec256["key"], E.ec256)
    r = E.c.call("POST", "/keys/sig384/create?" + API, token=E.token,
                 body={"kty": "EC-HSM", "crv": "P-384", "key_ops": ["sign", "verify"]})
    check(r.status == 200 and r.json["key"]["kty"] == "EC-HSM", r)
    E.ec384 = r.json
    for b, width in ((E.ec256, 32), (E.ec384, 48)):
        got = E.c.call("GET", "/keys/%s?%s" % (b["key"]["kid"].split("/")[-2], API), token=E.token)
        check(got.status == 200 and got.json["key"] == b["key"], got)
        check(len(b64url_decode(b["key"]["x"])) == width == len(b64url_decode(b["key"]["y"])), b)
        ec_public(b)  # a point on the curve
    v256 = E.ec256["key"]["kid"].rsplit("/", 1)[1]
    v384 = E.ec384["key"]["kid"].rsplit("/", 1)[1]
    # ES256 / ES384: raw r || s that verifies over the digest
    d32, d48 = hashlib.sha256(b"statement").digest(), hashlib.sha384(b"statement").digest()
    r = sign_call("sig256", v256, "ES256", d32)
    check(r.status == 200 and r.json["kid"] == E.ec256["key"]["kid"] and "=" not in r.json["value"], r)
    sig = b64url_decode(r.json["value"])
    check(len(sig) == 64, len(sig))
    verify_es(E.ec256, hashes.SHA256, d32, sig)
    try:
        verify_es(E.ec256, hashes.SHA256, hashlib.sha256(b"other").digest(), sig)
        raise AssertionError("signature verified over another digest")
    except InvalidSignature:
        pass
    r = sign_call("SIG384", v384, "ES384", base64.b64encode(d48).decode())  # standard alphabet
    check(r.status == 200 and len(b64url_decode(r.json["value"])) == 96, r)
    verify_es(E.ec384, hashes.SHA384, d48, b64url_decode(r.json["value"]))
    # versionless sign uses the current version and says so; case-insensitive op segment
    r = E.c.call("POST", "/keys/sig256/Sign?" + API, token=E.token, body={"alg": "ES256", "value": b64url(d32)})
    check(r.status == 200 and r.json["kid"] == E.ec256["key"]["kid"], r)
    # RSA signing key (key_ops incl. sign): PS256/384/512 with salt = hash length
    E.rsasig = E.c.admin("POST", "/keys/rsasig", {"kty": "RSA", "key_size": 3072,
                                                  "key_ops": ["sign", "verify"]})
    vr = E.rsasig["key"]["kid"].rsplit("/", 1)[1]
    for alg, h in (("PS256", hashes.SHA256), ("PS384", hashes.SHA384), ("PS512", hashes.SHA512)):
        digest = hashlib.new(h.name, b"statement").digest()
        r = sign_call("rsasig", vr, alg, digest)
        check(r.status == 200 and len(b64url_decode(r.json["value"])) == 384, (alg, r))
        verify_ps(E.rsasig, h, digest, b64url_decode(r.json["value"]))
    # refusals, as the service: wrong digest length, alg not fitting the key, bad alg or value
    bad = [("sig256", v256, "ES256", d48), ("sig256", v256, "ES384", d48), ("sig256", v256, "PS256", d32),
           ("sig384", v384, "ES256", d32), ("rsasig", vr, "ES256", d32), ("rsasig", vr, "PS256", d48),
           ("rsasig", vr, "RS256", d32), ("sig256", v256, "ES256K", d32), ("sig256", v256, "ES256", "***"),
           ("sig256", v256, "ES256", d32[:31])]
    for name, version, alg, value in bad:
        r = sign_call(name, version, alg, value)
        check(r.status == 400 and r.error_code() == "BadParameter", (name, alg, r))
    # a key without sign in key_ops (the admin default for RSA: wrapKey, unwrapKey)
    wrapkey = E.c.admin("POST", "/keys/wrapdefault", {"kty": "RSA", "key_size": 2048})
    check(sorted(wrapkey["key"]["key_ops"]) == ["unwrapKey", "wrapKey"], wrapkey)
    r = sign_call("wrapdefault", "", "PS256", d32)
    check(r.status == 400 and r.inner_code() == "KeyOperationForbidden", r)
    # the vault's own create keeps Key Vault's default key_ops (all six for RSA)
    r = E.c.call("POST", "/keys/alldefault/create?" + API, token=E.token, body={"kty": "RSA"})
    check(r.status == 200 and "sign" in r.json["key"]["key_ops"] and "wrapKey" in r.json["key"]["key_ops"], r)
    # an EC key does not wrap
    r = E.c.call("POST", "/keys/sig256//wrapkey?" + API, token=E.token,
                 body={"alg": "RSA-OAEP-256", "value": b64url(b"x" * 32)})
    check(r.status == 400, r)
    # disabled: 403 KeyDisabled; missing: 404
    E.c.admin("POST", "/keys/sig384/%s/attributes" % v384, {"enabled": False})
    r = sign_call("sig384", v384, "ES384", d48)
    check(r.status == 403 and r.inner_code() == "KeyDisabled", r)
    E.c.admin("POST", "/keys/sig384/%s/attributes" % v384, {"enabled": True})
    r = sign_call("nosuch", "", "ES256", d32)
    check(r.status == 404, r)
    # rotate keeps the curve
    r = E.c.call("POST", "/keys/sig256/rotate?" + API, token=E.token)
    check(r.status == 200 and r.json["key"]["crv"] == "P-256" and r.json["key"]["kid"] != E.ec256["key"]["kid"], r)
    r = sign_call("sig256", v256, "ES256", d32)  # the old version still signs
    check(r.status == 200 and r.json["kid"] == E.ec256["key"]["kid"], r)
    log = E.c.admin("GET", "/log?op=sign")
    check(log and all(e["op"] == "sign" for e in log) and log[-1]["alg"] == "ES256"
          and log[-1]["kid"] == E.ec256["key"]["kid"], log[-1:])


@test
def sign_roles():
    E.c.admin("POST", "/clients", {"client_id": "app-signer", "secret": "si",
                                   "permissions": "Key Vault Crypto User"})
    E.c.admin("POST", "/clients", {"client_id": "app-seu", "secret": "se",
                                   "permissions": "Key Vault Crypto Service Encryption User"})
    E.c.admin("POST", "/clients", {"client_id": "app-legacy", "secret": "lg", "permissions": "crypto-user"})
    E.c.admin("POST", "/clients", {"client_id": "app-reader", "secret": "rd", "permissions": "reader"})
    E.c.admin("POST", "/clients", {"client_id": "app-pol-nosign", "secret": "pn", "kind": "policy",
                                   "permissions": "get,wrapKey,unwrapKey"})
    tok = {cid: E.c.secret_token(cid, sec).json["access_token"]
           for cid, sec in (("app-signer", "si"), ("app-seu", "se"), ("app-legacy", "lg"),
                            ("app-reader", "rd"), ("app-pol-nosign", "pn"))}
    d32 = hashlib.sha256(b"roles").digest()
    v256 = E.ec256["key"]["kid"].rsplit("/", 1)[1]
    r = sign_call("sig256", v256, "ES256", d32, token=tok["app-signer"])
    check(r.status == 200, ("Crypto User signs", r))
    # the Crypto User also wraps and unwraps
    r = E.c.call("POST", "/keys/small//wrapkey?" + API, token=tok["app-signer"],
                 body={"alg": "RSA-OAEP-256", "value": b64url(b"k" * 32)})
    check(r.status == 200, ("Crypto User wraps", r))
    for cid in ("app-seu", "app-legacy", "app-reader"):
        r = sign_call("sig256", v256, "ES256", d32, token=tok[cid])
        check(r.status == 403 and r.error_code() == "Forbidden" and r.inner_code() == "ForbiddenByRbac", (cid, r))
        msg = r.json["error"]["message"]
        check("Microsoft.KeyVault/vaults/keys/sign/action" in msg and "Key Vault Crypto User" in msg, msg)
        check(E.c.call("GET", "/keys/sig256?" + API, token=tok[cid]).status == 200, (cid, "get"))
    r = sign_call("sig256", v256, "ES256", d32, token=tok["app-seu"])
    check("Key Vault Crypto Service Encryption User" in r.json["error"]["message"], r)
    # Service Encryption User still wraps and unwraps (existing behaviour)
    r = E.c.call("POST", "/keys/small//wrapkey?" + API, token=tok["app-seu"],
                 body={"alg": "RSA-OAEP-256", "value": b64url(b"k" * 32)})
    check(r.status == 200, r)
    r = E.c.call("POST", "/keys/small//unwrapkey?" + API, token=tok["app-seu"],
                 body={"alg": "RSA-OAEP-256", "value": r.json["value"]})
    check(r.status == 200, r)
    r = sign_call("sig256", v256, "ES256", d32, token=tok["app-pol-nosign"])
    check(r.status == 403 and r.inner_code() == "AccessDenied" and "keys sign permission" in
          r.json["error"]["message"], r)
    # 403 comes before 404 and before the body checks
    r = sign_call("nosuch", "", "bogus", "***", token=tok["app-seu"])
    check(r.status == 403, r)
    desc = [c for c in E.c.admin("GET", "/clients")["clients"] if c["client_id"] == "app-signer"][0]
    check(desc["role"] == "Key Vault Crypto User" and "sign" in desc["permissions"], desc)


@test
def sign_faults():
    d32 = hashlib.sha256(b"faults").digest()
    v256 = E.ec256["key"]["kid"].rsplit("/", 1)[1]
    E.c.admin("POST", "/faults", {"ops": ["sign"], "fail_503": 1, "fail_status": 500})
    check(E.c.call("GET", "/keys/sig256?" + API, token=E.token).status == 200, "ops filter")
    r = sign_call("sig256", v256, "ES256", d32)
    check(r.status == 500 and r.header("retry-after") is None, r)
    check(sign_call("sig256", v256, "ES256", d32).status == 200, "after the 500")
    E.c.admin("POST", "/faults", {"throttle_per_10s": 1, "retry_after": False})
    check(sign_call("sig256", v256, "ES256", d32).status == 200, "first admitted")
    r = sign_call("sig256", v256, "ES256", d32)
    check(r.status == 429 and r.error_code() == "Throttled" and r.header("retry-after") is None, r)
    E.c.admin("POST", "/faults", {"throttle_per_10s": 1, "retry_after": 3})
    check(sign_call("sig256", v256, "ES256", d32).status == 200, "first admitted")
    r = sign_call("sig256", v256, "ES256", d32)
    check(r.status == 429 and r.header("retry-after") == "3", r)
    E.c.admin("POST", "/faults", {"throttle_per_10s": 0, "drop_count": 1})
    try:
        r = sign_call("sig256", v256, "ES256", d32)
        raise AssertionError("got a response: %r" % r)
    except (http.client.RemoteDisconnected, ConnectionError, ssl.SSLError,
            http.client.IncompleteRead, http.client.BadStatusLine):
        pass
    check(sign_call("sig256", v256, "ES256", d32).status == 200, "after the drop")
    faults = [e["fault"] for e in E.c.admin("GET", "/log?op=sign")[-8:]]
    check(faults == ["fail", None, None, "throttle", None, "throttle", "drop", None], faults)
    E.c.admin("POST", "/reset")


@test
def token_audience_expiry_tenant():
    r = E.c.secret_token("app-full", "s3cret!", scope="https://vault.azure.net/.default")
    check(r.status == 200, r)
    r = E.c.call("GET", "/keys/small?" + API, token=r.json["access_token"])
    check(r.status == 401 and "audience" in r.json["error"]["message"] and r.header("www-authenticate"), r)
    E.c.admin("POST", "/faults", {"token_ttl": 1})
    short = E.c.secret_token("app-full", "s3cret!").json
    check(short["expires_in"] == 1, short)
    time.sleep(1.2)
    r = E.c.call("GET", "/keys/small?" + API, token=short["access_token"])
    check(r.status == 401, ("expired", r))
    E.c.admin("POST", "/faults", {"challenge_resource": "https://vault.azure.net",
                                  "challenge_style": "scope", "token_ttl": 3599})
    r = E.c.call("GET", "/keys/small?" + API)
    check(r.header("www-authenticate").endswith('scope="https://vault.azure.net/.default"'), r.headers)
    r = E.c.call("GET", "/keys/small?" + API, token=E.token)
    check(r.status == 401, ("audience follows challenge_resource", r))
    E.c.admin("POST", "/reset")
    check(E.c.call("GET", "/keys/small?" + API, token=E.token).status == 200, "after reset")
    E.c.admin("POST", "/tokens/clear")
    check(E.c.call("GET", "/keys/small?" + API, token=E.token).status == 401, "tokens cleared")
    E.token = E.c.secret_token("app-full", "s3cret!").json["access_token"]


@test
def throttling():
    E.c.admin("POST", "/faults", {"throttle_per_10s": 3})
    statuses = [E.c.call("GET", "/keys/small?" + API, token=E.token) for _ in range(5)]
    check([r.status for r in statuses] == [200, 200, 200, 429, 429], statuses)
    r = statuses[3]
    check(r.error_code() == "Throttled" and 1 <= int(r.header("retry-after")) <= 10, r.headers)
    E.c.admin("POST", "/faults", {"throttle_per_10s": 1, "retry_after": False})
    rs = [E.c.call("GET", "/keys/small?" + API, token=E.token) for _ in range(2)]
    check(rs[1].status == 429 and rs[1].header("retry-after") is None, rs[1].headers)
    E.c.admin("POST", "/faults", {"throttle_per_10s": 1, "retry_after": "date"})
    rs = [E.c.call("GET", "/keys/small?" + API, token=E.token) for _ in range(2)]
    check(rs[1].status == 429 and rs[1].header("retry-after").endswith("GMT"), rs[1].headers)
    E.c.admin("POST", "/faults", {"throttle_per_10s": 0})
    check(E.c.call("GET", "/keys/small?" + API, token=E.token).status == 200, "throttle off")


@test
def injected_503():
    E.c.admin("POST", "/faults", {"fail_503": 2})
    rs = [E.c.call("GET", "/keys/small?" + API, token=E.token).status for _ in range(3)]
    check(rs == [503, 503, 200], rs)
    E.c.admin("POST", "/faults", {"fail_503": 1, "fail_status": 500, "ops": ["unwrapkey"]})
    check(E.c.call("GET", "/keys/small?" + API, token=E.token).status == 200, "ops filter")
    r = E.c.call("POST", "/keys/small//unwrapkey?" + API, token=E.token,
                 body={"alg": "RSA-OAEP-256", "value": b64url(os.urandom(256))})
    check(r.status == 500, r)
    E.c.admin("POST", "/reset")


@test
def stall():
    E.c.admin("POST", "/faults", {"stall_seconds": 1.0})
    t0 = time.monotonic()
    r = E.c.call("GET", "/keys/small?" + API, token=E.token)
    check(r.status == 200 and time.monotonic() - t0 >= 0.95, "no stall")
    E.c.admin("POST", "/faults", {"stall_seconds": 2.0, "stall_count": 1})
    try:
        E.c.call("GET", "/keys/small?" + API, token=E.token, timeout=0.5)
        raise AssertionError("client did not time out")
    except (socket.timeout, TimeoutError):
        pass
    t0 = time.monotonic()
    check(E.c.call("GET", "/keys/small?" + API, token=E.token).status == 200, "after stall")
    check(time.monotonic() - t0 < 0.9, "stall count not consumed")


@test
def dropped_connections():
    for mode in ("close", "reset"):
        E.c.admin("POST", "/faults", {"drop_count": 1, "drop_mode": mode})
        try:
            r = E.c.call("POST", "/keys/small//wrapkey?" + API, token=E.token,
                         body={"alg": "RSA-OAEP-256", "value": b64url(b"x" * 32)})
            raise AssertionError("got a response: %r" % r)
        except (http.client.RemoteDisconnected, ConnectionError, ssl.SSLError,
                http.client.IncompleteRead, http.client.BadStatusLine):
            pass
        check(E.c.call("GET", "/keys/small?" + API, token=E.token).status == 200, "after drop")


@test
def request_log():
    E.c.admin("POST", "/log/clear")
    crid = str(uuid.uuid4())
    E.c.call("GET", "/keys/small?" + API, token=E.token, headers={"x-ms-client-request-id": crid})
    E.c.call("GET", "/keys/small?" + API)
    E.c.secret_token("app-full", "s3cret!")
    E.c.admin("POST", "/faults", {"drop_count": 1})
    try:
        E.c.call("GET", "/keys/small?" + API, token=E.token)
    except (http.client.HTTPException, ConnectionError, ssl.SSLError):
        pass
    log = E.c.admin("GET", "/log")
    check([e["op"] for e in log] == ["get", "get", "token", "get"], [e["op"] for e in log])
    first, second, tok, dropped = log
    check(first["authorization"] is True and first["status"] == 200
          and first["client_request_id"] == crid and first["client_id"] == "app-full", first)
    check(second["authorization"] is False and second["status"] == 401, second)
    check(tok["grant"] == "client_secret" and tok["status"] == 200 and tok["method"] == "POST", tok)
    check(dropped["status"] is None and dropped["fault"] == "drop", dropped)
    text = json.dumps(log)
    check(E.token not in text and "s3cret" not in text, "secrets in the log")
    only = E.c.admin("GET", "/log?op=token")
    check(len(only) == 1, only)
    check(E.c.admin("GET", "/log?since=%d" % log[-1]["seq"]) == [], "since")


@test
def robustness():
    # malformed HTTP, garbage bytes, odd bodies: the server answers JSON and stays up
    ctx = ssl.create_default_context(cafile=E.info["ca"])
    for payload in (b"GARBAGE\r\n\r\n", b"\x00\xff" * 100 + b"\r\n\r\n",
                    b"POST /keys/a/create HTTP/1.1\r\nContent-Length: zz\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", E.info["port"]), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(payload)
                data = s.recv(4096)
                check(data.startswith(b"HTTP/1.") and b" 400 " in data.split(b"\r\n")[0], data[:100])
    with socket.create_connection(("127.0.0.1", E.info["port"]), timeout=5) as raw:
        raw.sendall(b"plain http to a TLS port\r\n\r\n")  # handshake failure, logged as op "tls"
        try:
            raw.recv(100)
        except ConnectionResetError:
            pass
    r = E.c.call("POST", "/keys/small//wrapkey?" + API, token=E.token, body=b"[1,2,3]")
    check(r.status == 400, r)
    r = E.c.call("POST", "/keys/small//wrapkey?" + API, token=E.token, body=b"[" * 100000 + b"]" * 100000)
    check(r.status == 400, r)
    r = E.c.call("POST", "/keys/small//wrapkey?" + API, token=E.token, body=b"x" * (2 << 20))
    check(r.status == 413, r)
    r = E.c.call("DELETE", "/keys/small?" + API, token=E.token)
    check(r.status == 405, r)
    r = E.c.call("POST", "/_admin/faults", body={"no_such_fault": 1})
    check(r.status == 400, r)
    r = E.c.call("POST", E.c.token_url_path(), body=b"\xff\xfe\x00")
    check(r.status == 400, r)
    check(E.c.call("GET", "/keys/small?" + API, token=E.token).status == 200, "alive")
    check(any(e["op"] == "tls" for e in E.c.admin("GET", "/log")), "tls failure not logged")


@test
def kvctl_cli():
    d = E.dir
    secret_file = os.path.join(d, "secret.txt")
    with open(secret_file, "w") as f:
        f.write("from-file\n")
    r = kvctl(d, "wait", "--timeout", "10")
    check(r.returncode == 0, r.stderr)
    r = kvctl(d, "clients", "add", "--client-id", "shell-app", "--secret-file", secret_file,
              "--permissions", "get,wrapKey,unwrapKey", "--kind", "policy")
    check(r.returncode == 0 and "from-file" not in r.stdout, (r.stdout, r.stderr))
    check(E.c.secret_token("shell-app", "from-file").status == 200, "secret from file")
    r = kvctl(d, "--field", "key.kid", "keys", "create", "shellkey", "--size", "2048")
    check(r.returncode == 0 and "/keys/shellkey/" in r.stdout, (r.stdout, r.stderr))
    version = r.stdout.strip().rsplit("/", 1)[1]
    r = kvctl(d, "keys", "disable", "shellkey", version)
    check(r.returncode == 0 and json.loads(r.stdout)["attributes"]["enabled"] is False, r.stdout)
    r = kvctl(d, "faults", "set", "--throttle", "7", "--retry-after", "no")
    check(r.returncode == 0 and json.loads(r.stdout)["throttle_per_10s"] == 7, r.stdout)
    r = kvctl(d, "reset")
    check(r.returncode == 0, r.stderr)
    E.c.call("GET", "/keys/shellkey?" + API)
    r = kvctl(d, "log")
    check(r.returncode == 0 and json.loads(r.stdout)[0]["path"] == "/keys/shellkey", r.stdout)
    r = kvctl(d, "--field", "port", "info")
    check(r.stdout.strip() == str(E.info["port"]), r.stdout)
    r = kvctl(d, "keys", "disable", "nosuchkey", "0" * 32)
    check(r.returncode == 1, (r.returncode, r.stderr))
    r = kvctl(d, "env")
    check("export AZURE_AUTHORITY_HOST=" in r.stdout, r.stdout)


@test
def tls_1_1_only_server():
    d = tempfile.mkdtemp(prefix="kvserver-tls11-")
    proc, info = start_server(d, "--tls-only-1.1")
    try:
        # a default client (TLS >= 1.2, security level >= 1) must refuse
        ctx = ssl.create_default_context(cafile=info["ca"])
        try:
            with socket.create_connection(("127.0.0.1", info["port"]), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                    raise AssertionError("handshake succeeded with %s" % s.version())
        except ssl.SSLError:
            pass
        # a deliberately weakened client shows the server really speaks TLS 1.1
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            weak = ssl.create_default_context(cafile=info["ca"])
            weak.minimum_version = weak.maximum_version = ssl.TLSVersion.TLSv1_1
            weak.set_ciphers("DEFAULT:@SECLEVEL=0")
        with socket.create_connection(("127.0.0.1", info["port"]), timeout=5) as raw:
            with weak.wrap_socket(raw, server_hostname="localhost") as s:
                check(s.version() == "TLSv1.1", s.version())
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(d, ignore_errors=True)


@test
def sigterm_exits_cleanly():
    E.proc.send_signal(signal.SIGTERM)
    rc = E.proc.wait(10)
    check(rc == 0, "exit code %s" % rc)
    check(not os.path.exists(os.path.join(E.dir, "server.json")), "server.json left behind")


def main():
    t0 = time.monotonic()
    E.dir = tempfile.mkdtemp(prefix="kvserver-selftest-")
    E.proc, E.info = start_server(E.dir)
    E.c = Client(E.info)
    passed = failed = 0
    try:
        for fn in TESTS:
            start = time.monotonic()
            try:
                fn()
                passed += 1
                print("ok   %-36s %.2fs" % (fn.__name__, time.monotonic() - start), flush=True)
            except Exception:
                failed += 1
                print("FAIL %s" % fn.__name__, flush=True)
                traceback.print_exc(file=sys.stdout)
    finally:
        if E.proc.poll() is None:
            E.proc.kill()
            E.proc.wait()
    if failed:
        print("total %.1fs; server state and stderr kept in %s" % (time.monotonic() - t0, E.dir))
    else:
        shutil.rmtree(E.dir, ignore_errors=True)
        print("total %.1fs" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
