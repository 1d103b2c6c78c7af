#!/usr/bin/python3
"""kvserver: a local Azure Key Vault + Entra ID test server.

Speaks the protocol facts of shared/design/KEYVAULT.md over TLS on loopback so
that kvseal's C client can be tested without Azure.  Stdlib + `cryptography`
only (Debian's python3-cryptography); run it with /usr/bin/python3.
See README.md beside this file for the contract.
"""

import argparse
import base64
import collections
import datetime
import email.utils
import hmac
import http.server
import ipaddress
import json
import math
import os
import re
import secrets
import signal
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import uuid
import warnings

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_TENANT = "00000000-0000-0000-0000-00000000test"
DEFAULT_RESOURCE = "https://localhost"
VAULT_API_VERSIONS = ("7.4", "7.5", "7.6", "2025-07-01")
MSI_API_VERSION = "2019-08-01"
IMDS_MIN_API_VERSION = "2018-02-01"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

MAX_BODY = 1 << 20           # bigger bodies get 413 and a closed connection
DRAIN_MAX = 16 << 20         # a 413'd body up to this size is read first (see discard)
LOG_MAX = 20000              # request log entries kept (oldest dropped)
HANDSHAKE_TIMEOUT = 10       # seconds a client may take for the TLS handshake
IDLE_TIMEOUT = 60            # seconds an idle keep-alive connection is kept
MAX_ASSERTION_LIFETIME = 600  # Entra refuses client assertions valid > 10 min
THROTTLE_WINDOW = 10.0       # Key Vault counts requests per 10 s

KEY_NAME_RE = re.compile(r"^[0-9A-Za-z-]{1,127}$")
B64_RE = re.compile(r"^[A-Za-z0-9+/_-]*$")
KEY_SIZES = (2048, 3072, 4096)
KNOWN_KEY_OPS = ("encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey",
                 "import", "export")
RSA_KTYS = ("RSA", "RSA-HSM")
EC_KTYS = ("EC", "EC-HSM")
# crv -> (cryptography curve, coordinate bytes, the one ES alg of the curve)
EC_CURVES = {"P-256": (ec.SECP256R1, 32, "ES256"), "P-384": (ec.SECP384R1, 48, "ES384")}
# Key Vault's defaults when a create names no key_ops (the vault's own create route)
DEFAULT_KEY_OPS = ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]
DEFAULT_EC_KEY_OPS = ["sign", "verify"]
# The admin API's and --create-key's default for RSA: a wrapping key only, as
# kvseal's docs create them (kvseal refuses a recipient key that may also sign).
ADMIN_RSA_KEY_OPS = ["wrapKey", "unwrapKey"]

# Permissions a principal may hold (access-policy names; RBAC maps onto them).
PERMISSIONS = ("get", "list", "create", "rotate", "wrapKey", "unwrapKey", "sign", "verify")
ROLE_CRYPTO_USER = "Key Vault Crypto User"
ROLE_SERVICE_ENCRYPTION_USER = "Key Vault Crypto Service Encryption User"
ROLE_READER = "Key Vault Reader"
PERMISSION_PRESETS = {
    "full": set(PERMISSIONS),
    "get-wrap": {"get", "wrapKey"},
    # "Key Vault Crypto Service Encryption User": the least kvseal needs to wrap
    # and unwrap (the historical name of this preset; no sign).
    "crypto-user": {"get", "list", "wrapKey", "unwrapKey"},
    "service-encryption-user": {"get", "list", "wrapKey", "unwrapKey"},
    # "Key Vault Crypto User": every cryptographic operation, sign included.
    "kv-crypto-user": {"get", "list", "wrapKey", "unwrapKey", "sign", "verify"},
    # "Key Vault Reader": read keys (the public part for local verification).
    "reader": {"get", "list"},
    "none": set(),
}
# The Azure built-in role each preset stands for (named in 403 messages).
PRESET_ROLES = {
    "crypto-user": ROLE_SERVICE_ENCRYPTION_USER,
    "service-encryption-user": ROLE_SERVICE_ENCRYPTION_USER,
    "kv-crypto-user": ROLE_CRYPTO_USER,
    "reader": ROLE_READER,
}
# The role names themselves are presets too ("permissions": "Key Vault Crypto User").
for _preset, _role in list(PRESET_ROLES.items()):
    PERMISSION_PRESETS.setdefault(_role, PERMISSION_PRESETS[_preset])
    PRESET_ROLES.setdefault(_role, _role)
# The least built-in role granting each permission (403 messages name it).
LEAST_ROLE = {
    "get": ROLE_READER, "list": ROLE_READER,
    "wrapKey": ROLE_SERVICE_ENCRYPTION_USER, "unwrapKey": ROLE_SERVICE_ENCRYPTION_USER,
    "sign": ROLE_CRYPTO_USER, "verify": ROLE_CRYPTO_USER,
    "create": "Key Vault Crypto Officer", "rotate": "Key Vault Crypto Officer",
}

# vault op -> (permission needed, RBAC data action named in 403 messages)
VAULT_OPS = {
    "get": ("get", "Microsoft.KeyVault/vaults/keys/read"),
    "versions": ("list", "Microsoft.KeyVault/vaults/keys/read"),
    "create": ("create", "Microsoft.KeyVault/vaults/keys/create/action"),
    "rotate": ("rotate", "Microsoft.KeyVault/vaults/keys/rotate/action"),
    "wrapkey": ("wrapKey", "Microsoft.KeyVault/vaults/keys/wrap/action"),
    "unwrapkey": ("unwrapKey", "Microsoft.KeyVault/vaults/keys/unwrap/action"),
    "sign": ("sign", "Microsoft.KeyVault/vaults/keys/sign/action"),
}
ALL_OPS = tuple(VAULT_OPS) + ("token", "msi", "imds", "unknown")

# alg -> (hash used by OAEP for both the digest and MGF1)
WRAP_ALGS = {"RSA-OAEP-256": hashes.SHA256, "RSA-OAEP": hashes.SHA1}
# sign alg -> (hash, key family); PS*: RSASSA-PSS, MGF1 same hash, salt = hash length
SIGN_ALGS = {"ES256": (hashes.SHA256, "EC"), "ES384": (hashes.SHA384, "EC"),
             "PS256": (hashes.SHA256, "RSA"), "PS384": (hashes.SHA384, "RSA"),
             "PS512": (hashes.SHA512, "RSA")}


# ---------------------------------------------------------------- encoding

def b64url(data):
    """Key Vault emits base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode_lenient(text):
    """Decode base64 or base64url, padding optional (the service's own examples
    mix alphabets).  Raises ValueError on anything else."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    body = text.rstrip("=")
    if len(text) - len(body) > 2 or not B64_RE.match(body) or len(body) % 4 == 1:
        raise ValueError("not base64")
    body = body.replace("-", "+").replace("_", "/")
    return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)


def int_bytes(value):
    """Big-endian unsigned, no leading zero byte."""
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def now_ts():
    return int(time.time())


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------- errors

class HttpError(Exception):
    """An answer other than success; raised anywhere, sent by the dispatcher."""

    def __init__(self, status, body, headers=None, close=False):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or []
        self.close = close


def kv_error(status, code, message, inner=None, headers=None):
    """Key Vault's error body."""
    err = {"code": code, "message": message}
    if inner:
        err["innererror"] = {"code": inner}
    return HttpError(status, {"error": err}, headers)


def bad_parameter(message, inner=None):
    return kv_error(400, "BadParameter", message, inner)


def oauth_error(status, error, description):
    """The plain OAuth error shape that IMDS and App Service use."""
    return HttpError(status, {"error": error, "error_description": description})


class EntraError(Exception):
    """An Entra token-endpoint error; the handler adds trace/correlation ids."""

    def __init__(self, status, error, aadsts, description):
        super().__init__(description)
        self.status, self.error = status, error
        self.aadsts, self.description = aadsts, description


# ---------------------------------------------------------------- certificates

def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san_entry(text):
    try:
        return x509.IPAddress(ipaddress.ip_address(text))
    except ValueError:
        return x509.DNSName(text)


def generate_pki(state_dir, sans, key_type, expired):
    """Write a fresh CA (ca.pem) and a server certificate signed by it
    (server.pem, server.key).  EC P-256 is the default: it generates instantly."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("kvserver test CA %s" % secrets.token_hex(4))
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True,
            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256()))

    if key_type == "rsa":
        server_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        server_key = ec.generate_private_key(ec.SECP256R1())
    if expired:
        not_before, not_after = now - datetime.timedelta(days=2), now - datetime.timedelta(days=1)
    else:
        not_before, not_after = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=30)
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(sans[0])).issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([_san_entry(s) for s in sans]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False,
            key_encipherment=(key_type == "rsa"), data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256()))

    paths = {n: os.path.join(state_dir, n) for n in ("ca.pem", "server.pem", "server.key")}
    _write_file(paths["ca.pem"], ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write_file(paths["server.pem"], server_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write_file(paths["server.key"], server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()), 0o600)
    return paths


def _write_file(path, data, mode):
    """Atomic write (temp file + rename), so readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def parse_certificates(pem_text):
    """All CERTIFICATE blocks of a PEM text (a private key beside them, as in
    AZURE_CLIENT_CERTIFICATE_PATH files, is ignored and never stored)."""
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----",
                        pem_text, re.S)
    certs = [x509.load_pem_x509_certificate(b.encode("ascii")) for b in blocks]
    if not certs:
        raise ValueError("no PEM certificate found")
    for cert in certs:
        if not isinstance(cert.public_key(), rsa.RSAPublicKey):
            raise ValueError("client certificates must hold RSA keys (PS256/RS256)")
    return certs


# ---------------------------------------------------------------- state

class Principal:
    """A registered application (client) or the managed identity."""

    def __init__(self, client_id, permissions, kind, tenant, role=None):
        self.client_id = client_id
        self.permissions = permissions
        self.role = role  # the built-in role a preset stands for, or None
        self.kind = kind
        self.tenant = tenant
        self.secret = None
        self.certs = []
        self.federated_token = None
        self.object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "kvserver:" + client_id))

    def describe(self):
        return {"client_id": self.client_id, "kind": self.kind, "tenant": self.tenant,
                "permissions": sorted(self.permissions), "role": self.role, "secret": self.secret is not None,
                "certificates": len(self.certs),
                "federated_token": self.federated_token is not None}


class KeyVersion:
    """One version of a key; the private key never leaves this process."""

    def __init__(self, name, kty, size, key_ops, private_key, attributes, tags, crv=None):
        self.name = name
        self.version = uuid.uuid4().hex
        self.kty = kty
        self.size = size      # RSA modulus bits; None for EC
        self.crv = crv        # EC curve name ("P-256", "P-384"); None for RSA
        self.key_ops = list(key_ops)
        self.private_key = private_key
        self.public_numbers = private_key.public_key().public_numbers()
        self.enabled = attributes.get("enabled", True)
        self.nbf = attributes.get("nbf")
        self.exp = attributes.get("exp")
        self.created = self.updated = now_ts()
        self.tags = dict(tags)

    def is_ec(self):
        return self.kty in EC_KTYS

    def kid(self, base):
        return "%s/keys/%s/%s" % (base, self.name, self.version)

    def attributes(self):
        attrs = {"enabled": self.enabled}
        if self.nbf is not None:
            attrs["nbf"] = self.nbf
        if self.exp is not None:
            attrs["exp"] = self.exp
        attrs.update(created=self.created, updated=self.updated,
                     recoveryLevel="Recoverable+Purgeable", recoverableDays=90,
                     exportable=False)
        return attrs

    def bundle(self, base):
        key = {"kid": self.kid(base), "kty": self.kty, "key_ops": list(self.key_ops)}
        if self.is_ec():
            width = EC_CURVES[self.crv][1]  # coordinates are fixed-width big-endian
            key.update(crv=self.crv, x=b64url(self.public_numbers.x.to_bytes(width, "big")),
                       y=b64url(self.public_numbers.y.to_bytes(width, "big")))
        else:
            key.update(n=b64url(int_bytes(self.public_numbers.n)),
                       e=b64url(int_bytes(self.public_numbers.e)))
        out = {"key": key, "attributes": self.attributes()}
        if self.tags:
            out["tags"] = dict(self.tags)
        return out


class TokenRecord:
    def __init__(self, client_id, tenant, audience, expires, source):
        self.client_id, self.tenant, self.audience = client_id, tenant, audience
        self.expires, self.source = expires, source


STORAGE_AUDIENCE = "https://storage.azure.com"


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


STORAGE_TOKEN_KINDS = ("valid", "expired", "wrong_audience")


def storage_jwt(client_id, tenant, now, exp, kind="valid"):
    """A token for the storage scope shaped as Azurite's --oauth basic wants
    it (aud, a v1 iss, iat, nbf, exp); Azurite does not check the signature,
    so random bytes stand for one. Vault tokens stay opaque. kind (the
    storage_token fault): "expired" dates the JWT an hour back (exp 10 minutes
    ago) while the token response still promises its full lifetime, as a
    revoked token or a skewed clock would look; "wrong_audience" names
    another resource (https://management.azure.com)."""
    header = {"typ": "JWT", "alg": "RS256"}
    aud = STORAGE_AUDIENCE
    if kind == "expired":
        now, exp = now - 3600, now - 600
    elif kind == "wrong_audience":
        aud = "https://management.azure.com"
    claims = {"aud": aud, "iss": "https://sts.windows.net/%s/" % tenant,
              "iat": int(now), "nbf": int(now), "exp": int(exp), "appid": client_id,
              "tid": tenant, "oid": str(uuid.uuid4()), "jti": secrets.token_hex(8)}
    return ".".join([_b64url(json.dumps(header).encode()), _b64url(json.dumps(claims).encode()),
                     _b64url(secrets.token_bytes(32))])


def normalize_audience(aud):
    """https://vault.azure.net and https://vault.azure.net/ name one resource."""
    return aud[:-1] if aud.endswith("/") else aud


class App:
    """All server state.  One lock guards it; slow crypto runs outside it."""

    def __init__(self, args, port, imds_port):
        self.lock = threading.Lock()
        self.port, self.imds_port = port, imds_port
        self.tenant = args.tenant
        self.resource = args.resource
        self.authority = "https://localhost:%d" % port
        self.vault_url = "https://localhost:%d" % port
        self.verbose = args.verbose
        self.log_file = open(args.log_file, "a", encoding="utf-8") if args.log_file else None
        self.clients = {}
        self.msi = None          # dict: identity_header, principal, app_service, imds
        self.keys = {}           # lower-case name -> list of KeyVersion (oldest first)
        self.tokens = {}
        self.jtis = {}           # (client_id, jti) -> exp
        self.log = collections.deque(maxlen=LOG_MAX)
        self.seq = 0
        self.reset_faults()

    # -- faults
    def default_faults(self):
        return {
            "throttle_per_10s": 0, "retry_after": True,
            "fail_503": 0, "fail_status": 503, "fail_retry_after": None,
            "stall_seconds": 0.0, "stall_count": 0,
            "drop_count": 0, "drop_mode": "close",
            "challenge_resource": self.resource, "challenge_tenant": self.tenant,
            "challenge_authority": self.authority, "challenge_style": "resource",
            "token_ttl": 3599, "storage_token": "valid", "ops": list(VAULT_OPS),
        }

    def reset_faults(self):
        self.faults = self.default_faults()
        self.window = collections.deque()

    # -- request log
    def record(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.log.append(entry)
            if self.log_file:
                self.log_file.write(json.dumps(entry) + "\n")
                self.log_file.flush()

    # -- principals and tokens
    def principal(self, client_id):
        if client_id in self.clients:
            return self.clients[client_id]
        if self.msi and self.msi["principal"].client_id == client_id:
            return self.msi["principal"]
        return None

    def known_tenants(self):
        tenants = {self.tenant, self.faults["challenge_tenant"]}
        tenants.update(p.tenant for p in self.clients.values())
        return tenants

    def issue_token(self, client_id, tenant, audience, source):
        with self.lock:
            ttl = self.faults["token_ttl"]
            now = time.time()
            if len(self.tokens) > 10000:  # keep memory bounded in long runs
                self.tokens = {t: r for t, r in self.tokens.items() if r.expires > now}
            if normalize_audience(audience) == STORAGE_AUDIENCE:
                token = storage_jwt(client_id, tenant, now, now + ttl,
                                    self.faults["storage_token"])
            else:
                token = secrets.token_urlsafe(32)
            self.tokens[token] = TokenRecord(client_id, tenant, audience, now + ttl, source)
        return token, ttl, int(now + ttl)

    def remember_jti(self, client_id, jti, exp):
        """False if this jti was already used (and is not yet expired)."""
        with self.lock:
            now = time.time()
            if len(self.jtis) > 10000:
                self.jtis = {k: e for k, e in self.jtis.items() if e > now}
            key = (client_id, jti)
            if key in self.jtis and self.jtis[key] > now:
                return False
            self.jtis[key] = exp
            return True

    # -- keys
    def find_key(self, name, version):
        """The named version, or the current one when version is empty."""
        with self.lock:
            versions = self.keys.get(name.lower())
            if not versions:
                return None
            if not version:
                return versions[-1]
            for kv in versions:
                if kv.version == version.lower():
                    return kv
        return None

    def add_key_version(self, kv):
        with self.lock:
            versions = self.keys.setdefault(kv.name.lower(), [])
            if versions:
                kv.name = versions[0].name  # names are case-insensitive; keep the first spelling
            versions.append(kv)

    def key_versions(self, name):
        with self.lock:
            return list(self.keys.get(name.lower(), []))


# ---------------------------------------------------------------- key creation

def validate_key_request(body, via_admin=False):
    """Check a create-key body; returns (kty, size, crv, key_ops, attributes, tags)
    (size None for EC, crv None for RSA)."""
    if not isinstance(body, dict):
        raise bad_parameter("The request body must be a JSON object.")
    kty = body.get("kty")
    if kty is None:
        raise bad_parameter("Property 'kty' is required.")
    if kty not in RSA_KTYS + EC_KTYS:
        raise bad_parameter("Key type '%s' is not supported by this test vault "
                            "(RSA, RSA-HSM, EC, EC-HSM)." % (kty,))
    size = crv = None
    if kty in EC_KTYS:
        crv = body.get("crv", "P-256")
        if crv not in EC_CURVES:
            raise bad_parameter("Curve '%s' is not supported by this test vault (P-256, P-384)."
                                % (crv,))
        if "key_size" in body:
            raise bad_parameter("Property 'key_size' is for RSA keys; EC keys take 'crv'.")
        default_ops = DEFAULT_EC_KEY_OPS
    else:
        size = body.get("key_size", 2048)
        if not isinstance(size, int) or isinstance(size, bool) or size not in KEY_SIZES:
            raise bad_parameter("Property 'key_size' must be one of 2048, 3072, 4096.")
        if body.get("public_exponent", 65537) != 65537:
            raise bad_parameter("Only public_exponent 65537 is supported.")
        if "crv" in body:
            raise bad_parameter("Property 'crv' is for EC keys.")
        default_ops = ADMIN_RSA_KEY_OPS if via_admin else DEFAULT_KEY_OPS
    key_ops = body.get("key_ops", default_ops)
    if (not isinstance(key_ops, list)
            or any(op not in KNOWN_KEY_OPS for op in key_ops)):
        raise bad_parameter("Property 'key_ops' holds an unknown operation.")
    if kty in EC_KTYS and any(op in ("encrypt", "decrypt", "wrapKey", "unwrapKey") for op in key_ops):
        raise bad_parameter("Operation %s is not supported by an EC key."
                            % next(op for op in key_ops
                                   if op in ("encrypt", "decrypt", "wrapKey", "unwrapKey")))
    attributes = validate_attributes(body.get("attributes", {}))
    tags = body.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise bad_parameter("Property 'tags' must map strings to strings.")
    return kty, size, crv, key_ops, attributes, tags


def validate_attributes(attrs):
    """enabled: bool; nbf/exp: epoch seconds or null (null clears)."""
    if not isinstance(attrs, dict):
        raise bad_parameter("Property 'attributes' must be an object.")
    out = {}
    if "enabled" in attrs:
        if not isinstance(attrs["enabled"], bool):
            raise bad_parameter("Attribute 'enabled' must be a boolean.")
        out["enabled"] = attrs["enabled"]
    for field in ("nbf", "exp"):
        if field in attrs:
            value = attrs[field]
            if value is not None and not is_number(value):
                raise bad_parameter("Attribute '%s' must be epoch seconds." % field)
            out[field] = None if value is None else int(value)
    return out


class KeyPool:
    """Pre-generated RSA keys (--key-pool DIR: rsa<SIZE>-*.pem), each handed
    out at most once per server run, so key versions stay distinct; when a
    size runs out, keys are generated.  Generating costs a second or more of
    CPU per 4096-bit key, which the test suite would pay at every create and
    rotate."""

    def __init__(self):
        self.lock = threading.Lock()
        self.paths = {size: [] for size in KEY_SIZES}

    def load(self, directory):
        if not directory or not os.path.isdir(directory):
            return
        for entry in sorted(os.listdir(directory)):
            m = re.match(r"rsa(\d+)-[^/]*\.pem$", entry)
            if m and int(m.group(1)) in self.paths:
                self.paths[int(m.group(1))].append(os.path.join(directory, entry))

    def take(self, size):
        with self.lock:
            path = self.paths[size].pop(0) if self.paths[size] else None
        if path is None:
            return rsa.generate_private_key(public_exponent=65537, key_size=size)
        with open(path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != size:
            raise SystemExit("kvserver: %s is not an RSA-%d key" % (path, size))
        return key


KEY_POOL = KeyPool()
DEFAULT_KEY_POOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "keys", "pool")


def new_key_version(name, kty, size, key_ops, attributes, tags, crv=None):
    """Takes a pooled key or generates one (slow for 4096 bits), so never
    called under the lock.  EC keys (crv set) are generated: that is instant."""
    if kty in EC_KTYS:
        private_key = ec.generate_private_key(EC_CURVES[crv][0]())
        return KeyVersion(name, kty, None, key_ops, private_key, attributes, tags, crv=crv)
    private_key = KEY_POOL.take(size)
    return KeyVersion(name, kty, size, key_ops, private_key, attributes, tags)


# ---------------------------------------------------------------- HTTP handling

class RequestContext:
    def __init__(self, handler):
        self.request_id = str(uuid.uuid4())
        headers = getattr(handler, "headers", None)
        self.client_request_id = None
        self.entra_client_request_id = None
        if headers is not None:
            self.client_request_id = headers.get("x-ms-client-request-id")
            self.entra_client_request_id = headers.get("client-request-id")
        self.log = True
        self.entry = {
            "ts": time.time(), "method": getattr(handler, "command", None),
            "path": None, "query": None, "status": None,
            "authorization": bool(headers is not None and headers.get("Authorization")),
            "client_request_id": self.client_request_id or self.entra_client_request_id,
            "op": "unknown", "request_id": self.request_id, "fault": None,
            "listener": "tls" if getattr(handler.server, "is_tls", False) else "http",
            "tls_version": None,
        }


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # never answer in header-less HTTP/0.9
    server_version = "kvserver/1.0"
    sys_version = ""
    timeout = IDLE_TIMEOUT

    # -- plumbing

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            sys.stderr.write("kvserver: %s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def send_error(self, code, message=None, explain=None):
        """http.server calls this for malformed requests: answer JSON, not HTML."""
        self.close_connection = True
        ctx = RequestContext(self)
        # on a keep-alive connection self.headers may still be the previous request's
        ctx.client_request_id = ctx.entra_client_request_id = None
        ctx.entry.update(method=None, path=None, op="malformed", client_request_id=None,
                         authorization=False)
        try:
            self.respond(ctx, code, {"error": {"code": "BadRequest",
                                               "message": message or "Malformed request"}})
        except OSError:
            pass
        self.server.app.record(ctx.entry)

    def respond(self, ctx, status, body, headers=()):
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", ctx.request_id)
        if ctx.client_request_id:
            self.send_header("x-ms-client-request-id", ctx.client_request_id)
        if ctx.entra_client_request_id:
            self.send_header("client-request-id", ctx.entra_client_request_id)
        self.send_header("Cache-Control", "no-store, no-cache")
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        ctx.entry["status"] = status

    def read_body(self):
        """The request body (Content-Length or chunked), at most MAX_BODY bytes."""
        te = self.headers.get("Transfer-Encoding")
        if te and te.strip().lower() != "identity":
            if te.strip().lower() != "chunked":
                self.close_connection = True
                raise kv_error(400, "BadRequest", "Unsupported Transfer-Encoding.")
            return self.read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.strip().isdigit():
            self.close_connection = True
            raise kv_error(400, "BadRequest", "Invalid Content-Length.")
        n = int(length)
        if n > MAX_BODY:
            self.close_connection = True  # the unread body would poison the connection
            self.discard(n)
            raise kv_error(413, "RequestEntityTooLarge", "The request body is too large.")
        data = self.rfile.read(n)
        if len(data) != n:
            raise ConnectionError("short body")
        return data

    def discard(self, n):
        """Read and drop a too-large body (up to DRAIN_MAX), so that a client
        still sending it gets to read our 413 instead of a reset."""
        if n > DRAIN_MAX:
            return
        while n > 0:
            chunk = self.rfile.read(min(n, 65536))
            if not chunk:
                return
            n -= len(chunk)

    def read_chunked(self):
        data = b""
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise kv_error(400, "BadRequest", "Malformed chunked body.")
            if size < 0 or len(data) + size > MAX_BODY:
                self.close_connection = True
                raise kv_error(413, "RequestEntityTooLarge", "The request body is too large.")
            if size == 0:
                break
            data += self.rfile.read(size)
            self.rfile.readline(1024)
        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return data

    def json_body(self, body, required=True):
        if not body:
            if required:
                raise bad_parameter("The request body is missing.")
            return {}
        try:
            value = json.loads(body.decode("utf-8"))
        except (ValueError, RecursionError):
            raise bad_parameter("The request body is not valid JSON.")
        if not isinstance(value, dict):
            raise bad_parameter("The request body must be a JSON object.")
        return value

    # -- dispatch

    def dispatch(self):
        app = self.server.app
        ctx = RequestContext(self)
        try:
            if isinstance(self.connection, ssl.SSLSocket):
                ctx.entry["tls_version"] = self.connection.version()
            self.route(ctx)
        except HttpError as e:
            if e.close:
                self.close_connection = True
            self.safe_respond(ctx, e.status, e.body, e.headers)
        except (ConnectionError, ssl.SSLError, socket.timeout) as e:
            self.close_connection = True  # the client went away; nothing to answer
            ctx.entry["error"] = type(e).__name__
        except Exception as e:  # never let garbage input kill a thread silently
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            ctx.entry["error"] = type(e).__name__
            self.safe_respond(ctx, 500, {"error": {
                "code": "InternalServerError",
                "message": "kvserver internal error: %s" % type(e).__name__}})
        finally:
            if ctx.log:
                app.record(ctx.entry)

    def safe_respond(self, ctx, status, body, headers=()):
        try:
            self.respond(ctx, status, body, headers)
        except (OSError, ValueError):
            self.close_connection = True

    def route(self, ctx):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        params = {k: v[0] for k, v in query.items()}
        ctx.entry.update(path=path, query=url.query)
        body = self.read_body()
        segs = [urllib.parse.unquote(s) for s in path.split("/")[1:]]
        low = path.lower().rstrip("/")

        if not self.server.is_tls:
            if low == "/metadata/identity/oauth2/token":
                return self.handle_imds(ctx, params)
            if low == "/msi/token":
                return self.handle_msi(ctx, params)
            raise oauth_error(404, "not_found", "No such endpoint on the IMDS port.")

        if segs and segs[0] == "_admin":
            ctx.log = False  # test control traffic must not show in the request log
            return self.handle_admin(ctx, segs[1:], params, body)
        if low == "/msi/token":
            return self.handle_msi(ctx, params)
        if len(segs) == 4 and [s.lower() for s in segs[1:]] == ["oauth2", "v2.0", "token"]:
            return self.handle_entra(ctx, segs[0], body)
        if segs and segs[0].lower() == "keys":
            return self.handle_vault(ctx, segs[1:], params, body)
        raise kv_error(404, "NotFound", "No such endpoint on this test vault.")

    # -- faults

    def apply_faults(self, ctx):
        """Drop, stall, fail or throttle as configured.  True when the
        connection was dropped (the caller must not answer)."""
        app = self.server.app
        with app.lock:
            f = app.faults
            if ctx.entry["op"] not in f["ops"]:
                return False
            if _take(f, "drop_count"):
                mode = f["drop_mode"]
                ctx.entry["fault"] = "drop"
            else:
                mode = None
                stall = f["stall_seconds"] if f["stall_seconds"] > 0 and _take(f, "stall_count") else 0
                fail = f["fail_status"] if _take(f, "fail_503") else None
                fail_retry_after = f["fail_retry_after"]
                throttle_retry = None if fail else self.throttle_check(f, app)
        if mode:
            self.drop_connection(mode)
            return True
        if stall:
            ctx.entry["fault"] = "stall"
            time.sleep(stall)
        if fail:
            ctx.entry["fault"] = "fail"
            headers = [] if fail_retry_after is None else [("Retry-After", str(fail_retry_after))]
            raise kv_error(fail, "ServiceUnavailable",
                           "The service is temporarily unavailable (injected fault).",
                           headers=headers)
        if throttle_retry is not None:
            ctx.entry["fault"] = "throttle"
            headers = [] if throttle_retry is False else [("Retry-After", throttle_retry)]
            raise kv_error(429, "Throttled",
                           "Request was not processed because too many requests were "
                           "received. Reason: VaultRequestTypeLimitReached",
                           headers=headers)
        return False

    @staticmethod
    def throttle_check(f, app):
        """Sliding 10 s window over admitted requests.  Returns None (admit),
        False (throttle, no Retry-After) or the Retry-After value."""
        limit = f["throttle_per_10s"]
        if not limit:
            return None
        now = time.monotonic()
        while app.window and app.window[0] <= now - THROTTLE_WINDOW:
            app.window.popleft()
        if len(app.window) < limit:
            app.window.append(now)
            return None
        mode = f["retry_after"]
        if mode is False:
            return False
        wait = max(1, math.ceil(app.window[0] + THROTTLE_WINDOW - now))
        if mode == "date":
            return email.utils.formatdate(time.time() + wait, usegmt=True)
        if is_number(mode):
            return str(int(mode))  # a fixed value set by the test
        return str(wait)  # True: seconds until the window admits again

    def drop_connection(self, mode):
        """Give up on the connection without any response (and without a TLS
        close_notify): FIN for "close", RST for "reset"."""
        self.close_connection = True
        try:
            if mode == "reset":
                # linger 0: the close() after this handler returns sends RST
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- vault

    def handle_vault(self, ctx, segs, params, body):
        op, name, version, route_error = parse_vault_route(self.command, segs)
        ctx.entry["op"] = op
        if self.apply_faults(ctx):
            return
        api_version = self.check_api_version(params)
        principal = self.authenticate(ctx)
        if route_error:
            raise route_error
        self.authorize(principal, op, name)
        app = self.server.app
        if op == "get":
            kv = self.usable_key(name, version, "get", check_window=False)
            result = kv.bundle(app.vault_url)
            ctx.entry["kid"] = result["key"]["kid"]
        elif op == "versions":
            result = self.list_versions(name, params, api_version)
        elif op == "create":
            result = self.create_key(name, self.json_body(body), via_admin=False)
            ctx.entry["kid"] = result["key"]["kid"]
        elif op == "rotate":
            result = self.rotate_key(name)
            ctx.entry["kid"] = result["key"]["kid"]
        elif op == "sign":
            result = self.sign(ctx, name, version, body)
        else:
            result = self.wrap_or_unwrap(ctx, op, name, version, body)
        self.respond(ctx, 200, result, [("x-ms-keyvault-service-version", "1.9.0.0"),
                                        ("x-ms-keyvault-region", "local")])

    def check_api_version(self, params):
        version = params.get("api-version")
        if version is None:
            raise bad_parameter("The 'api-version' query parameter is missing.")
        if version not in VAULT_API_VERSIONS:
            raise bad_parameter(
                "The specified version (%s) is not recognized. Consider using the "
                "latest supported version (%s)." % (version, VAULT_API_VERSIONS[-1]))
        return version

    def challenge_headers(self):
        f = self.server.app.faults
        authorization = "%s/%s" % (f["challenge_authority"].rstrip("/"), f["challenge_tenant"])
        style = f["challenge_style"]
        if style == "scope":
            value = 'Bearer authorization="%s", scope="%s/.default"' % (
                authorization, normalize_audience(f["challenge_resource"]))
        elif style == "authorization_uri":
            value = 'Bearer authorization_uri="%s", resource="%s"' % (
                authorization, f["challenge_resource"])
        else:
            value = 'Bearer authorization="%s", resource="%s"' % (
                authorization, f["challenge_resource"])
        return [("WWW-Authenticate", value)]

    def unauthorized(self, message):
        with self.server.app.lock:
            headers = self.challenge_headers()
        return kv_error(401, "Unauthorized", message, headers=headers)

    def authenticate(self, ctx):
        """The token's record, or a 401 carrying the challenge."""
        app = self.server.app
        value = self.headers.get("Authorization")
        if not value:
            raise self.unauthorized("AKV10000: Request is missing a Bearer or PoP token.")
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise self.unauthorized("AKV10000: Request is missing a Bearer or PoP token.")
        with app.lock:
            record = app.tokens.get(token.strip())
            resource = app.faults["challenge_resource"]
            tenant = app.faults["challenge_tenant"]
        if record is None:
            raise self.unauthorized("AKV10001: The bearer token is not valid (unknown to this vault).")
        ctx.entry["client_id"] = record.client_id
        if record.expires <= time.time():
            raise self.unauthorized("AKV10022: Token is expired.")
        if record.tenant != tenant:
            raise self.unauthorized(
                "AKV10032: Invalid issuer. Expected one of https://sts.windows.net/%s/, "
                "found https://sts.windows.net/%s/." % (tenant, record.tenant))
        if normalize_audience(record.audience) != normalize_audience(resource):
            raise self.unauthorized("AKV10022: Invalid audience. Expected %s, found: %s."
                                    % (resource, record.audience))
        return record

    def authorize(self, token, op, name):
        app = self.server.app
        with app.lock:
            principal = app.principal(token.client_id)
            perms = set(principal.permissions) if principal else set()
            kind = principal.kind if principal else "rbac"
            oid = principal.object_id if principal else "unknown"
            role = principal.role if principal else None
        perm, action = VAULT_OPS[op]
        if kind == "rbac" and perm == "list":
            perm = "get"  # one RBAC data action (keys/read) covers get and list
        if perm in perms:
            return
        caller = "appid=%s;oid=%s;iss=https://sts.windows.net/%s/" % (
            token.client_id, oid, token.tenant)
        if kind == "policy":
            raise kv_error(403, "Forbidden", (
                "The user, group or application '%s' does not have keys %s permission on "
                "key vault 'kvseal-test;location=local'. For help resolving this issue, "
                "please see https://go.microsoft.com/fwlink/?linkid=2125287")
                % (caller, perm), inner="AccessDenied")
        raise kv_error(403, "Forbidden", (
            "Caller is not authorized to perform action on resource.\r\n"
            "If role assignments, deny assignments or role definitions were changed "
            "recently, please observe propagation time.\r\n"
            "Caller: %s\r\nAction: '%s'\r\n"
            "Resource: '/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/"
            "kvseal-test/providers/microsoft.keyvault/vaults/kvseal-test/keys/%s'\r\n"
            "Assignment: (not found)\r\nDenyAssignmentId: null\r\n"
            "DecisionReason: null \r\nVault: kvseal-test;location=local\r\n"
            "(kvserver) Role assigned: %s; the action needs a role such as '%s'.\r\n")
            % (caller, action, (name or "").lower(),
               "'%s' (does not grant %s)" % (role, action) if role else "none matching",
               LEAST_ROLE[perm]), inner="ForbiddenByRbac")

    def usable_key(self, name, version, operation, check_window=True):
        """The key version, after the 404 / disabled / nbf-exp checks."""
        kv = self.server.app.find_key(name, version)
        if kv is None:
            ident = name if not version else "%s/%s" % (name, version)
            raise kv_error(404, "KeyNotFound", (
                "A key with (name/id) %s was not found in this key vault. If you recently "
                "deleted this key you may be able to recover it using the correct recovery "
                "command. For help resolving this issue, please see "
                "https://go.microsoft.com/fwlink/?linkid=2125182") % ident)
        if not kv.enabled:
            raise kv_error(403, "Forbidden",
                           "Operation %s is not allowed on a disabled key." % operation,
                           inner="KeyDisabled")
        if check_window:
            now = time.time()
            if kv.nbf is not None and now < kv.nbf:
                raise bad_parameter("Operation %s is not allowed on a key that is not yet "
                                    "valid (nbf)." % operation, inner="KeyNotYetValid")
            if kv.exp is not None and now >= kv.exp:
                raise bad_parameter("Operation %s is not allowed on an expired key."
                                    % operation, inner="KeyExpired")
        return kv

    def list_versions(self, name, params, api_version):
        app = self.server.app
        versions = app.key_versions(name)
        if not versions:
            self.usable_key(name, "", "list")  # raises the 404
        try:
            maxresults = int(params.get("maxresults", "25"))
        except ValueError:
            raise bad_parameter("Invalid value for 'maxresults'.")
        if not 1 <= maxresults <= 25:
            raise bad_parameter("'maxresults' must be between 1 and 25.")
        start = decode_skiptoken(params.get("$skiptoken"))
        page = versions[start:start + maxresults]
        result = {"value": [{"kid": kv.kid(app.vault_url), "attributes": kv.attributes()}
                            for kv in page],
                  "nextLink": None}
        if start + maxresults < len(versions):
            result["nextLink"] = "%s/keys/%s/versions?api-version=%s&$skiptoken=%s&maxresults=%d" % (
                app.vault_url, urllib.parse.quote(versions[0].name), api_version,
                encode_skiptoken(start + maxresults), maxresults)
        return result

    def create_key(self, name, body, via_admin):
        if not KEY_NAME_RE.match(name or ""):
            raise bad_parameter("The key name '%s' is invalid: use 1-127 of 0-9, a-z, A-Z, -." % name)
        kty, size, crv, key_ops, attributes, tags = validate_key_request(body, via_admin)
        kv = new_key_version(name, kty, size, key_ops, attributes, tags, crv=crv)
        self.server.app.add_key_version(kv)
        return kv.bundle(self.server.app.vault_url)

    def rotate_key(self, name):
        current = self.server.app.find_key(name, "")
        if current is None:
            self.usable_key(name, "", "rotate")  # raises the 404
        kv = new_key_version(current.name, current.kty, current.size, current.key_ops,
                             {}, current.tags, crv=current.crv)
        self.server.app.add_key_version(kv)
        return kv.bundle(self.server.app.vault_url)

    def wrap_or_unwrap(self, ctx, op, name, version, body):
        request = self.json_body(body)
        alg = request.get("alg")
        ctx.entry["alg"] = alg if isinstance(alg, str) else None
        if alg == "RSA1_5":
            raise bad_parameter("Algorithm RSA1_5 is refused by this test vault (legacy; use RSA-OAEP-256).")
        if alg not in WRAP_ALGS:
            raise bad_parameter("Invalid algorithm '%s': use RSA-OAEP-256 or RSA-OAEP." % (alg,))
        try:
            value = b64decode_lenient(request.get("value"))
        except ValueError:
            raise bad_parameter("Property 'value' is not valid base64url.")
        key_op = "wrapKey" if op == "wrapkey" else "unwrapKey"
        kv = self.usable_key(name, version, key_op)
        ctx.entry["kid"] = kv.kid(self.server.app.vault_url)
        if key_op not in kv.key_ops:
            raise bad_parameter("Operation %s is not allowed on this key (key_ops)." % key_op,
                                inner="KeyOperationForbidden")
        if kv.is_ec():
            raise bad_parameter("Algorithm %s is not supported by an EC key." % alg)
        hash_cls = WRAP_ALGS[alg]
        oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hash_cls()), algorithm=hash_cls(), label=None)
        modulus = kv.size // 8
        if op == "wrapkey":
            limit = modulus - 2 * hash_cls.digest_size - 2
            if not 1 <= len(value) <= limit:
                raise bad_parameter("The value to wrap must be 1 to %d bytes for %s with this key; got %d."
                                    % (limit, alg, len(value)))
            out = kv.private_key.public_key().encrypt(value, oaep)
        else:
            if len(value) != modulus:
                raise bad_parameter("The wrapped value must be %d bytes for this key; got %d."
                                    % (modulus, len(value)))
            try:
                out = kv.private_key.decrypt(value, oaep)
            except ValueError:
                raise bad_parameter("The value could not be unwrapped with this key and algorithm.")
        return {"kid": kv.kid(self.server.app.vault_url), "value": b64url(out)}

    def sign(self, ctx, name, version, body):
        """POST /keys/{name}/{version}/sign: {"alg","value": b64url digest} ->
        {"kid","value": b64url signature}; ES*: raw r || s, PS*: salt = hash length."""
        request = self.json_body(body)
        alg = request.get("alg")
        ctx.entry["alg"] = alg if isinstance(alg, str) else None
        if alg not in SIGN_ALGS:
            raise bad_parameter("Invalid algorithm '%s': this test vault signs with %s."
                                % (alg, ", ".join(SIGN_ALGS)))
        try:
            digest = b64decode_lenient(request.get("value"))
        except ValueError:
            raise bad_parameter("Property 'value' is not valid base64url.")
        kv = self.usable_key(name, version, "sign")
        ctx.entry["kid"] = kv.kid(self.server.app.vault_url)
        if "sign" not in kv.key_ops:
            raise bad_parameter("Operation sign is not allowed on this key (key_ops).",
                                inner="KeyOperationForbidden")
        hash_cls, family = SIGN_ALGS[alg]
        if kv.is_ec():
            if family != "EC" or EC_CURVES[kv.crv][2] != alg:
                raise bad_parameter("Algorithm %s does not fit this key (%s %s)."
                                    % (alg, kv.kty, kv.crv))
        elif family != "RSA":
            raise bad_parameter("Algorithm %s does not fit this key (%s)." % (alg, kv.kty))
        if len(digest) != hash_cls.digest_size:
            raise bad_parameter("The digest must be %d bytes for %s; got %d."
                                % (hash_cls.digest_size, alg, len(digest)))
        prehashed = Prehashed(hash_cls())
        if kv.is_ec():
            der = kv.private_key.sign(digest, ec.ECDSA(prehashed))
            r, s = decode_dss_signature(der)
            width = EC_CURVES[kv.crv][1]
            sig = r.to_bytes(width, "big") + s.to_bytes(width, "big")
        else:
            pss = padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=hash_cls.digest_size)
            sig = kv.private_key.sign(digest, pss, prehashed)
        return {"kid": kv.kid(self.server.app.vault_url), "value": b64url(sig)}

    # -- Entra token endpoint

    def handle_entra(self, ctx, tenant, body):
        ctx.entry["op"] = "token"
        if self.apply_faults(ctx):
            return
        try:
            result = self.entra_token(ctx, tenant, body)
        except EntraError as e:
            ctx.entry["error_code"] = "AADSTS%d" % e.aadsts
            self.respond(ctx, e.status, self.entra_error_body(ctx, e))
            return
        self.respond(ctx, 200, result, [("Pragma", "no-cache")])

    def entra_error_body(self, ctx, e):
        correlation = ctx.entra_client_request_id or ctx.client_request_id or str(uuid.uuid4())
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        return {"error": e.error,
                "error_description": "AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s"
                % (e.aadsts, e.description, ctx.request_id, correlation, stamp),
                "error_codes": [e.aadsts], "timestamp": stamp,
                "trace_id": ctx.request_id, "correlation_id": correlation,
                "error_uri": "%s/error?code=%d" % (self.server.app.authority, e.aadsts)}

    def entra_token(self, ctx, tenant, body):
        app = self.server.app
        if self.command != "POST":
            raise EntraError(405, "invalid_request", 900561,
                             "The endpoint only accepts POST requests.")
        try:
            form = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise EntraError(400, "invalid_request", 900144, "The request body is not valid form data.")
        form = {k: v[0] for k, v in form.items()}
        grant = form.get("grant_type")
        if not grant:
            raise EntraError(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: 'grant_type'.")
        if grant != "client_credentials":
            raise EntraError(400, "unsupported_grant_type", 70003,
                             "The app requested an unsupported grant type '%s'." % grant)
        with app.lock:
            known = tenant in app.known_tenants()
        if not known:
            raise EntraError(400, "invalid_request", 90002, "Tenant '%s' not found." % tenant)
        audience = scope_audience(form.get("scope"))
        ctx.entry["scope"] = form.get("scope")

        if form.get("client_assertion"):
            if form.get("client_assertion_type") != JWT_BEARER:
                raise EntraError(400, "invalid_request", 50027,
                                 "client_assertion_type must be '%s'." % JWT_BEARER)
            principal, source = self.check_assertion(ctx, tenant, form)
        elif form.get("client_secret"):
            principal = self.entra_client(tenant, form.get("client_id"))
            if principal.secret is None or not hmac.compare_digest(
                    principal.secret.encode("utf-8"), form["client_secret"].encode("utf-8")):
                raise EntraError(401, "invalid_client", 7000215,
                                 "Invalid client secret provided. Ensure the secret being sent "
                                 "in the request is the client secret value, not the client "
                                 "secret ID, for a secret added to app '%s'." % principal.client_id)
            source = "client_secret"
        else:
            raise EntraError(401, "invalid_client", 7000218,
                             "The request body must contain the following parameter: "
                             "'client_assertion' or 'client_secret'.")
        ctx.entry.update(client_id=principal.client_id, grant=source)
        token, ttl, _ = app.issue_token(principal.client_id, tenant, audience, source)
        return {"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl,
                "access_token": token}

    def entra_client(self, tenant, client_id):
        if not client_id:
            raise EntraError(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: 'client_id'.")
        with self.server.app.lock:
            principal = self.server.app.clients.get(client_id)
        if principal is None or principal.tenant != tenant:
            raise EntraError(400, "unauthorized_client", 700016,
                             "Application with identifier '%s' was not found in the directory "
                             "'%s'." % (client_id, tenant))
        return principal

    def check_assertion(self, ctx, tenant, form):
        """A workload-identity assertion (registered federated token text) or a
        certificate-signed JWT.  Returns (principal, source)."""
        assertion = form["client_assertion"]
        jwt = None
        try:
            jwt = parse_jwt(assertion)
        except ValueError:
            pass
        client_id = form.get("client_id") or (jwt and jwt[1].get("iss"))
        if not isinstance(client_id, str):
            raise EntraError(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
        principal = self.entra_client(tenant, client_id)
        fed = principal.federated_token
        if fed is not None and hmac.compare_digest(fed.strip().encode("utf-8"),
                                                   assertion.strip().encode("utf-8")):
            return principal, "federated"
        if not principal.certs:
            if fed is not None:
                raise EntraError(400, "invalid_client", 70021,
                                 "No matching federated identity record found for presented assertion.")
            raise EntraError(401, "invalid_client", 700027,
                             "Client assertion contains an invalid signature. [Reason - The key "
                             "was not found.]")
        if jwt is None:
            raise EntraError(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
        self.verify_certificate_assertion(ctx, tenant, principal, jwt)
        return principal, "client_certificate"

    def verify_certificate_assertion(self, ctx, tenant, principal, jwt):
        header, claims, signing_input, signature = jwt
        alg = header.get("alg")
        ctx.entry["alg"] = alg if isinstance(alg, str) else None
        if alg not in ("PS256", "RS256"):
            raise EntraError(400, "invalid_request", 5002738,
                             "Invalid JWT token. '%s' is not a supported signature algorithm." % (alg,))
        cert = find_assertion_cert(principal.certs, header)
        now = time.time()
        if cert.not_valid_before.replace(tzinfo=datetime.timezone.utc).timestamp() > now or \
                cert.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp() < now:
            raise EntraError(401, "invalid_client", 700027,
                             "Client assertion contains an invalid signature. [Reason - The "
                             "certificate is not within its validity period.]")
        try:
            if alg == "PS256":
                # RFC 7518: PSS salt length equals the hash length (32), strictly.
                pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            else:
                pad = padding.PKCS1v15()
            cert.public_key().verify(signature, signing_input, pad, hashes.SHA256())
        except InvalidSignature:
            raise EntraError(401, "invalid_client", 700027,
                             "Client assertion contains an invalid signature. [Reason - The "
                             "provided signature value did not match the expected signature value.]")
        self.check_assertion_claims(tenant, principal, claims, now)

    def check_assertion_claims(self, tenant, principal, claims, now):
        cid = principal.client_id
        if claims.get("iss") != cid or claims.get("sub") != cid:
            raise EntraError(401, "invalid_client", 700021,
                             "Client assertion application identifier doesn't match "
                             "'client_id' parameter (iss and sub must both be '%s')." % cid)
        if claims.get("aud") not in self.accepted_assertion_audiences(tenant):
            raise EntraError(401, "invalid_client", 50013,
                             "Assertion audience claim does not match the token endpoint "
                             "'%s'." % self.accepted_assertion_audiences(tenant)[0])
        exp, nbf, jti = claims.get("exp"), claims.get("nbf"), claims.get("jti")
        if not is_number(exp) or (nbf is not None and not is_number(nbf)):
            raise EntraError(400, "invalid_request", 50027,
                             "JWT token is invalid or malformed (exp/nbf must be numbers).")
        if exp <= now or (nbf is not None and nbf > now):
            raise EntraError(400, "invalid_client", 700024,
                             "Client assertion is not within its valid time range. "
                             "Current time: %d, assertion valid from %s, expiry time of "
                             "assertion %d." % (now, nbf, exp))
        if exp - (nbf if nbf is not None else now) > MAX_ASSERTION_LIFETIME:
            raise EntraError(400, "invalid_client", 700024,
                             "Client assertion lifetime exceeds the allowed maximum of 10 minutes.")
        if not isinstance(jti, str) or not jti:
            raise EntraError(400, "invalid_request", 50027,
                             "JWT token is invalid or malformed (jti is required).")
        if not self.server.app.remember_jti(cid, jti, exp):
            raise EntraError(401, "invalid_client", 700023,
                             "Client assertion jti '%s' was already used." % jti)

    def accepted_assertion_audiences(self, tenant):
        """The token URL; the client may have reached us by either loopback name."""
        port = self.server.app.port
        hosts = ["localhost:%d" % port, "127.0.0.1:%d" % port]
        host_header = self.headers.get("Host")
        if host_header and host_header not in hosts:
            hosts.append(host_header)
        return ["https://%s/%s/oauth2/v2.0/token" % (h, tenant) for h in hosts]

    # -- managed identity

    def msi_config(self, flag):
        with self.server.app.lock:
            msi = self.server.app.msi
            return msi if msi and msi[flag] else None

    def handle_msi(self, ctx, params):
        """App Service / Functions / Container Apps form (IDENTITY_ENDPOINT)."""
        ctx.entry["op"] = "msi"
        if self.apply_faults(ctx):
            return
        if self.command != "GET":
            raise oauth_error(405, "invalid_request", "Only GET is supported.")
        if params.get("api-version") != MSI_API_VERSION:
            raise oauth_error(400, "invalid_request",
                              "api-version must be %s." % MSI_API_VERSION)
        msi = self.msi_config("app_service")
        if msi is None:
            raise oauth_error(400, "invalid_request", "No managed identity is configured.")
        given = self.headers.get("X-IDENTITY-HEADER") or ""
        ctx.entry["identity_header"] = bool(given)
        if not hmac.compare_digest(given.encode("utf-8", "replace"),
                                   msi["identity_header"].encode("utf-8")):
            raise oauth_error(401, "unauthorized", "Missing or wrong X-IDENTITY-HEADER.")
        resource = self.msi_resource(msi, params)
        token, _, expires_on = self.issue_msi_token(ctx, msi, resource, "msi")
        self.respond(ctx, 200, {"access_token": token, "expires_on": str(expires_on),
                                "resource": resource, "token_type": "Bearer",
                                "client_id": msi["principal"].client_id})

    def handle_imds(self, ctx, params):
        """Azure VM IMDS form, on the plain-HTTP listener."""
        ctx.entry["op"] = "imds"
        if self.apply_faults(ctx):
            return
        if self.command != "GET":
            raise oauth_error(405, "invalid_request", "Only GET is supported.")
        if (self.headers.get("Metadata") or "").lower() != "true":
            raise oauth_error(400, "invalid_request", "Required metadata header not specified")
        version = params.get("api-version")
        if not version:
            raise oauth_error(400, "invalid_request", "Required query variable 'api-version' is missing")
        if not re.match(r"^\d{4}-\d{2}-\d{2}$", version) or version < IMDS_MIN_API_VERSION:
            raise oauth_error(400, "invalid_request", "Invalid api-version '%s'" % version)
        msi = self.msi_config("imds")
        if msi is None:
            raise oauth_error(400, "invalid_request", "Identity not found")
        resource = self.msi_resource(msi, params)
        token, ttl, expires_on = self.issue_msi_token(ctx, msi, resource, "imds")
        self.respond(ctx, 200, {"access_token": token, "refresh_token": "",
                                "expires_in": str(ttl), "ext_expires_in": str(ttl),
                                "expires_on": str(expires_on),
                                "not_before": str(expires_on - ttl),
                                "resource": resource, "token_type": "Bearer",
                                "client_id": msi["principal"].client_id})

    @staticmethod
    def msi_resource(msi, params):
        resource = params.get("resource")
        if not resource:
            raise oauth_error(400, "invalid_request", "Required query variable 'resource' is missing")
        wanted = params.get("client_id")
        if wanted and wanted != msi["principal"].client_id:
            raise oauth_error(400, "invalid_request", "Identity not found")
        return resource

    def issue_msi_token(self, ctx, msi, resource, source):
        principal = msi["principal"]
        ctx.entry.update(client_id=principal.client_id, resource=resource)
        with self.server.app.lock:
            tenant = self.server.app.faults["challenge_tenant"]
        return self.server.app.issue_token(principal.client_id, tenant, resource, source)

    # -- admin API

    def handle_admin(self, ctx, segs, params, body):
        while segs and segs[-1] == "":
            segs = segs[:-1]
        method = self.command
        handler = ADMIN_ROUTES.get((method, tuple(segs[:1])))
        if handler is None:
            raise kv_error(404, "NotFound", "No such admin endpoint: %s %s" % (method, self.path))
        result = handler(self, segs[1:], params, body)
        self.respond(ctx, 200, result)

    def admin_health(self, rest, params, body):
        return {"ok": True, "pid": os.getpid()}

    def admin_add_client(self, rest, params, body):
        req = self.json_body(body)
        client_id = req.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            raise bad_parameter("client_id is required.")
        principal = make_principal(req, client_id, self.server.app.tenant)
        if isinstance(req.get("secret"), str):
            principal.secret = req["secret"]
        if req.get("cert_pem"):
            try:
                principal.certs = parse_certificates(req["cert_pem"])
            except (ValueError, TypeError) as e:
                raise bad_parameter("cert_pem: %s" % e)
        if isinstance(req.get("federated_token"), str):
            principal.federated_token = req["federated_token"]
        with self.server.app.lock:
            self.server.app.clients[client_id] = principal
        return principal.describe()

    def admin_list_clients(self, rest, params, body):
        with self.server.app.lock:
            return {"clients": [p.describe() for p in self.server.app.clients.values()]}

    def admin_delete_client(self, rest, params, body):
        with self.server.app.lock:
            removed = self.server.app.clients.pop(rest[0], None) if rest else None
        return {"removed": removed is not None}

    def admin_set_msi(self, rest, params, body):
        req = self.json_body(body)
        if req.get("enabled") is False:
            return self.admin_delete_msi(rest, params, body)
        header, client_id = req.get("identity_header"), req.get("client_id")
        if not isinstance(header, str) or not header or not isinstance(client_id, str) or not client_id:
            raise bad_parameter("identity_header and client_id are required.")
        principal = make_principal(req, client_id, self.server.app.tenant)
        msi = {"identity_header": header, "principal": principal,
               "app_service": req.get("app_service", True) is not False,
               "imds": req.get("imds", True) is not False}
        with self.server.app.lock:
            self.server.app.msi = msi
        return self.admin_get_msi(rest, params, body)

    def admin_get_msi(self, rest, params, body):
        with self.server.app.lock:
            msi = self.server.app.msi
            if msi is None:
                return {"configured": False}
            return {"configured": True, "app_service": msi["app_service"], "imds": msi["imds"],
                    **msi["principal"].describe()}

    def admin_delete_msi(self, rest, params, body):
        with self.server.app.lock:
            self.server.app.msi = None
        return {"configured": False}

    def admin_list_keys(self, rest, params, body):
        app = self.server.app
        with app.lock:
            keys = [{"name": vs[0].name,
                     "versions": [{"version": kv.version, "kid": kv.kid(app.vault_url),
                                   "kty": kv.kty, "key_size": kv.size, "crv": kv.crv,
                                   "key_ops": kv.key_ops,
                                   "attributes": kv.attributes()} for kv in vs]}
                    for vs in app.keys.values()]
        return {"keys": keys}

    def admin_keys_post(self, rest, params, body):
        """/_admin/keys/{name} (create), {name}/rotate, {name}/[{version}/]attributes."""
        if len(rest) == 1:
            return self.create_key(rest[0], self.json_body(body, required=False) or {"kty": "RSA"},
                                   via_admin=True)
        if len(rest) == 2 and rest[1] == "rotate":
            return self.rotate_key(rest[0])
        if len(rest) in (2, 3) and rest[-1] == "attributes":
            version = rest[1] if len(rest) == 3 and rest[1] != "current" else ""
            return self.admin_set_attributes(rest[0], version, self.json_body(body))
        raise kv_error(404, "NotFound", "No such admin endpoint.")

    def admin_set_attributes(self, name, version, req):
        kv = self.server.app.find_key(name, version)
        if kv is None:
            raise kv_error(404, "KeyNotFound", "A key with (name/id) %s/%s was not found." % (name, version))
        attrs = validate_attributes(req)
        key_ops = req.get("key_ops")
        if key_ops is not None and (not isinstance(key_ops, list)
                                    or any(op not in KNOWN_KEY_OPS for op in key_ops)):
            raise bad_parameter("key_ops holds an unknown operation.")
        with self.server.app.lock:
            for field, value in attrs.items():
                setattr(kv, field, value)
            if key_ops is not None:
                kv.key_ops = list(key_ops)
            kv.updated = now_ts()
        return kv.bundle(self.server.app.vault_url)

    def admin_get_faults(self, rest, params, body):
        with self.server.app.lock:
            return dict(self.server.app.faults)

    def admin_set_faults(self, rest, params, body):
        req = self.json_body(body, required=False)
        app = self.server.app
        with app.lock:
            updated = validate_faults(req, app.faults)
            if "stall_seconds" in req and "stall_count" not in req:
                updated["stall_count"] = 1
            if "throttle_per_10s" in req:
                app.window.clear()
            app.faults.update(updated)
            return dict(app.faults)

    def admin_get_log(self, rest, params, body):
        with self.server.app.lock:
            entries = list(self.server.app.log)
        if "op" in params:
            wanted = set(params["op"].split(","))
            entries = [e for e in entries if e.get("op") in wanted]
        if "since" in params:
            try:
                since = int(params["since"])
            except ValueError:
                raise bad_parameter("since must be an integer.")
            entries = [e for e in entries if e["seq"] > since]
        return entries

    def admin_post_log(self, rest, params, body):
        if rest != ["clear"]:
            raise kv_error(404, "NotFound", "No such admin endpoint.")
        with self.server.app.lock:
            self.server.app.log.clear()
        return {"cleared": True}

    def admin_tokens(self, rest, params, body):
        if rest != ["clear"]:
            raise kv_error(404, "NotFound", "No such admin endpoint.")
        with self.server.app.lock:
            count = len(self.server.app.tokens)
            self.server.app.tokens.clear()
        return {"cleared": count}

    def admin_reset(self, rest, params, body):
        with self.server.app.lock:
            self.server.app.reset_faults()
            self.server.app.log.clear()
            return {"faults": dict(self.server.app.faults)}


ADMIN_ROUTES = {
    ("GET", ("health",)): Handler.admin_health,
    ("POST", ("clients",)): Handler.admin_add_client,
    ("GET", ("clients",)): Handler.admin_list_clients,
    ("DELETE", ("clients",)): Handler.admin_delete_client,
    ("POST", ("msi",)): Handler.admin_set_msi,
    ("GET", ("msi",)): Handler.admin_get_msi,
    ("DELETE", ("msi",)): Handler.admin_delete_msi,
    ("GET", ("keys",)): Handler.admin_list_keys,
    ("POST", ("keys",)): Handler.admin_keys_post,
    ("GET", ("faults",)): Handler.admin_get_faults,
    ("POST", ("faults",)): Handler.admin_set_faults,
    ("GET", ("log",)): Handler.admin_get_log,
    ("POST", ("log",)): Handler.admin_post_log,
    ("POST", ("tokens",)): Handler.admin_tokens,
    ("POST", ("reset",)): Handler.admin_reset,
}


# ---------------------------------------------------------------- helpers

def _take(faults, field):
    """Consume one from a fault counter: K > 0 counts down, -1 means always."""
    count = faults[field]
    if count == -1:
        return True
    if count > 0:
        faults[field] = count - 1
        return True
    return False


def parse_vault_route(method, segs):
    """(op, name, version, error-to-raise-after-auth) for /keys/... segments."""
    segs = list(segs)
    while len(segs) > 1 and segs[-1] == "":
        segs.pop()
    low = [s.lower() for s in segs]
    unknown = ("unknown", segs[0] if segs else "", "",
               kv_error(400, "BadParameter", "Operation not supported by this test vault."))
    if not segs or not segs[0]:
        return unknown
    name = segs[0]
    if method == "GET":
        if len(segs) == 1:
            return "get", name, "", None
        if len(segs) == 2 and low[1] == "versions":
            return "versions", name, "", None
        if len(segs) == 2:
            return "get", name, segs[1], None
    elif method == "POST":
        if len(segs) == 2 and low[1] in ("create", "rotate"):
            return low[1], name, "", None
        if len(segs) == 2 and low[1] in ("wrapkey", "unwrapkey", "sign"):
            return low[1], name, "", None
        if len(segs) == 3 and low[2] in ("wrapkey", "unwrapkey", "sign"):
            return low[2], name, segs[1], None
    else:
        return ("unknown", name, "",
                kv_error(405, "MethodNotAllowed", "Method %s is not supported." % method))
    return unknown


def encode_skiptoken(offset):
    return b64url(("kvserver:%d" % offset).encode("ascii"))


def decode_skiptoken(token):
    if token is None:
        return 0
    try:
        text = b64decode_lenient(token).decode("ascii")
        prefix, _, number = text.partition(":")
        if prefix != "kvserver" or not number.isdigit():
            raise ValueError(text)
        return int(number)
    except (ValueError, UnicodeDecodeError):
        raise bad_parameter("Invalid $skiptoken.")


def scope_audience(scope):
    """client_credentials needs exactly one '<resource>/.default' scope."""
    if not scope:
        raise EntraError(400, "invalid_request", 900144,
                         "The request body must contain the following parameter: 'scope'.")
    parts = scope.split()
    if len(parts) != 1 or not parts[0].endswith("/.default") or len(parts[0]) <= len("/.default"):
        raise EntraError(400, "invalid_scope", 1002012,
                         "The provided value for scope %s is not valid. Client credential flows "
                         "must have a scope value with /.default suffixed to the resource "
                         "identifier (application ID URI)." % scope)
    return parts[0][:-len("/.default")]


def parse_jwt(text):
    """(header, claims, signing_input, signature) of a compact JWS; ValueError if malformed."""
    parts = text.strip().split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    try:
        header = json.loads(b64decode_lenient(parts[0]).decode("utf-8"))
        claims = json.loads(b64decode_lenient(parts[1]).decode("utf-8"))
        signature = b64decode_lenient(parts[2])
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ValueError(str(e))
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("header and claims must be objects")
    return header, claims, (parts[0] + "." + parts[1]).encode("ascii"), signature


def find_assertion_cert(certs, header):
    """The registered certificate named by x5t#S256 (SHA-256) or x5t (SHA-1)."""
    for field, algo in (("x5t#S256", hashes.SHA256()), ("x5t", hashes.SHA1())):
        value = header.get(field)
        if value is None:
            continue
        try:
            thumb = b64decode_lenient(value)
        except ValueError:
            break
        for cert in certs:
            if hmac.compare_digest(cert.fingerprint(algo), thumb):
                return cert
        break
    raise EntraError(401, "invalid_client", 700027,
                     "Client assertion contains an invalid signature. [Reason - The key was "
                     "not found (x5t#S256 / x5t names no registered certificate).]")


def make_principal(req, client_id, default_tenant):
    kind = req.get("kind", "rbac")
    if kind not in ("rbac", "policy"):
        raise bad_parameter("kind must be 'rbac' or 'policy'.")
    tenant = req.get("tenant", default_tenant)
    if not isinstance(tenant, str) or not tenant:
        raise bad_parameter("tenant must be a string.")
    value = req.get("permissions", "full")
    role = PRESET_ROLES.get(value) if isinstance(value, str) else None
    return Principal(client_id, parse_permissions(value), kind, tenant, role)


def parse_permissions(value):
    """A preset name, a comma-separated list or a JSON list of permissions."""
    if isinstance(value, str) and value in PERMISSION_PRESETS:
        return set(PERMISSION_PRESETS[value])
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise bad_parameter("permissions must be a preset name or a list.")
    canonical = {p.lower(): p for p in PERMISSIONS}
    out = set()
    for item in items:
        item = item.strip() if isinstance(item, str) else item
        if item == "":
            continue
        if not isinstance(item, str) or item.lower() not in canonical:
            raise bad_parameter("Unknown permission %r (presets: %s; permissions: %s)."
                                % (item, ", ".join(PERMISSION_PRESETS), ", ".join(PERMISSIONS)))
        out.add(canonical[item.lower()])
    return out


def validate_faults(req, current):
    """Type-check a faults update; unknown fields are errors (catches typos)."""
    out = {}
    for field, value in req.items():
        if field not in current:
            raise bad_parameter("Unknown fault field '%s'." % field)
        if field in ("fail_503", "stall_count", "drop_count", "throttle_per_10s"):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= -1
            ok = ok and not (field == "throttle_per_10s" and value < 0)
        elif field == "fail_status":
            ok = isinstance(value, int) and 400 <= value <= 599
        elif field == "fail_retry_after":
            ok = value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)
        elif field == "retry_after":
            ok = isinstance(value, bool) or value == "date" or (is_number(value) and value >= 0)
        elif field == "stall_seconds":
            ok = is_number(value) and 0 <= value <= 3600
        elif field == "drop_mode":
            ok = value in ("close", "reset")
        elif field == "challenge_style":
            ok = value in ("resource", "scope", "authorization_uri")
        elif field in ("challenge_resource", "challenge_tenant", "challenge_authority"):
            ok = isinstance(value, str) and value != ""
        elif field == "storage_token":
            ok = value in STORAGE_TOKEN_KINDS
        elif field == "token_ttl":
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        elif field == "ops":
            ok = isinstance(value, list) and all(v in ALL_OPS for v in value)
        else:
            ok = False
        if not ok:
            raise bad_parameter("Invalid value for fault field '%s': %r" % (field, value))
        out[field] = value
    return out


# ---------------------------------------------------------------- servers

class PlainServer(http.server.ThreadingHTTPServer):
    """Plain-HTTP listener (IMDS form)."""
    daemon_threads = True
    block_on_close = False
    is_tls = False

    def handle_error(self, request, client_address):
        if self.app.verbose:
            super().handle_error(request, client_address)


class TLSServer(PlainServer):
    """HTTPS listener; the TLS handshake runs in the connection's own thread so
    a slow or broken client cannot block accept()."""
    is_tls = True

    def __init__(self, address, handler, ssl_context):
        super().__init__(address, handler)
        self.ssl_context = ssl_context

    def finish_request(self, request, client_address):
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            conn = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.app.record({"ts": time.time(), "op": "tls", "method": None, "path": None,
                             "query": None, "status": None, "authorization": False,
                             "client_request_id": None, "listener": "tls",
                             "error": "%s: %s" % (type(e).__name__, e)})
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            try:
                conn.close()
            except OSError:
                pass


def make_ssl_context(cert, key, args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if args.tls_only_1_1:
        # OpenSSL 3 needs security level 0 for TLS 1.1 (SHA-1 handshake signatures).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            ctx.minimum_version = ssl.TLSVersion.TLSv1_1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    else:
        versions = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
        ctx.minimum_version = versions[args.tls_min]
        ctx.maximum_version = versions[args.tls_max]
    return ctx


def parse_args(argv):
    p = argparse.ArgumentParser(description="Local Azure Key Vault + Entra ID test server.")
    p.add_argument("--state-dir", required=True, help="where ca.pem, server.* and server.json go")
    p.add_argument("--port", type=int, default=0, help="TLS port (0 = ephemeral)")
    p.add_argument("--imds-port", type=int, default=0, help="plain-HTTP IMDS port (0 = ephemeral)")
    p.add_argument("--tls-min", choices=("1.2", "1.3"), default="1.2")
    p.add_argument("--tls-max", choices=("1.2", "1.3"), default="1.3")
    p.add_argument("--tls-only-1.1", dest="tls_only_1_1", action="store_true",
                   help="speak only TLS 1.1 (clients must refuse this server)")
    p.add_argument("--tenant", default=DEFAULT_TENANT)
    p.add_argument("--resource", default=DEFAULT_RESOURCE,
                   help="resource named in the challenge; tokens must carry it as audience")
    p.add_argument("--server-key-type", choices=("ec", "rsa"), default="ec")
    p.add_argument("--cert-san", action="append", default=None,
                   help="subject alternative names (repeatable; default localhost, 127.0.0.1, ::1)")
    p.add_argument("--cert-expired", action="store_true", help="serve an expired certificate")
    p.add_argument("--create-key", action="append", default=[], metavar="NAME[:SIZE]",
                   help="create an RSA key before server.json is written (repeatable)")
    p.add_argument("--key-pool", default=DEFAULT_KEY_POOL, metavar="DIR",
                   help="pre-generated keys rsa<SIZE>-*.pem to use before generating any, "
                        "each once (default: tests/keys/pool; '' = always generate)")
    p.add_argument("--log-file", help="also append request-log entries here (JSON lines)")
    p.add_argument("--watch-parent", action="store_true", help="exit when the parent process exits")
    p.add_argument("-v", "--verbose", action="store_true", help="access log on stderr")
    args = p.parse_args(argv)
    if not args.tls_only_1_1 and args.tls_min > args.tls_max:
        p.error("--tls-min is above --tls-max")
    return args


def write_server_json(app, args, ca_path):
    info = {
        "port": app.port, "imds_port": app.imds_port, "pid": os.getpid(), "ca": ca_path,
        "vault_url": app.vault_url, "authority": app.authority,
        "tenant": app.tenant, "resource": app.resource,
        # extensions (not in the original contract)
        "token_url": "%s/%s/oauth2/v2.0/token" % (app.authority, app.tenant),
        "msi_endpoint": "https://localhost:%d/msi/token" % app.port,
        "msi_endpoint_http": "http://127.0.0.1:%d/msi/token" % app.imds_port,
        "imds_endpoint": "http://127.0.0.1:%d" % app.imds_port,
        "admin_url": "https://localhost:%d/_admin" % app.port,
        "tls": "1.1-only" if args.tls_only_1_1 else "%s-%s" % (args.tls_min, args.tls_max),
    }
    path = os.path.join(args.state_dir, "server.json")
    _write_file(path, (json.dumps(info, indent=2) + "\n").encode("utf-8"), 0o644)
    return path


def create_startup_keys(app, specs):
    for spec in specs:
        name, _, size = spec.partition(":")
        if not KEY_NAME_RE.match(name) or (size and int(size) not in KEY_SIZES):
            raise SystemExit("kvserver: bad --create-key %r" % spec)
        app.add_key_version(new_key_version(name, "RSA", int(size or 2048),
                                            ADMIN_RSA_KEY_OPS, {}, {}))


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    state_dir = os.path.abspath(args.state_dir)
    args.state_dir = state_dir
    os.makedirs(state_dir, exist_ok=True)
    json_path = os.path.join(state_dir, "server.json")
    if os.path.exists(json_path):
        os.unlink(json_path)  # a stale file must not look like a live server

    sans = args.cert_san or ["localhost", "127.0.0.1", "::1"]
    paths = generate_pki(state_dir, sans, args.server_key_type, args.cert_expired)
    tls = TLSServer(("127.0.0.1", args.port), Handler,
                    make_ssl_context(paths["server.pem"], paths["server.key"], args))
    plain = PlainServer(("127.0.0.1", args.imds_port), Handler)
    app = App(args, tls.server_address[1], plain.server_address[1])
    tls.app = plain.app = app
    KEY_POOL.load(args.key_pool)
    create_startup_keys(app, args.create_key)

    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
               for s in (tls, plain)]
    for t in threads:
        t.start()
    write_server_json(app, args, paths["ca.pem"])
    parent = os.getppid()
    while not stop.wait(0.5):
        if args.watch_parent and os.getppid() != parent:
            break
    for s in (tls, plain):
        s.shutdown()
        s.server_close()
    try:
        os.unlink(json_path)
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
