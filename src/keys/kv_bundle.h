/* Internal: reading Key Vault key bundles (GET key) -- the versioned kid,
 * the attributes (enabled, nbf, exp), key_ops and the public key as a JSON
 * Web Key (RSA n/e, EC crv/x/y) -- shared by the wrapping provider
 * (keys/keyvault.c) and the signer (keys/signer_keyvault.c). */
#ifndef KVS_KEYS_KV_BUNDLE_H
#define KVS_KEYS_KV_BUNDLE_H

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "azure/kvurl.h"
#include "kvseal/status.h"

/* A key URL a user gave (versioned or versionless); KVS_ERR_USAGE saying
 * what a Key Vault key URL looks like otherwise. */
kvs_status kvs_kvb_parse_user_url(const char *url, kvs_kv_keyref *key, kvs_error *err);

/* key_ops holds op (compared without regard to case, as the service does). */
int kvs_kvb_ops_has(const cJSON *ops, const char *op);

/* The bundle's key is enabled and inside its nbf/exp window; KVS_ERR_KEY
 * naming what (e.g. "key https://...") otherwise. */
kvs_status kvs_kvb_check_attributes(const cJSON *bundle, const char *what, kvs_error *err);

/* kid (the service's answer) is a versioned kid of the key that was asked
 * for: same host and port, same name (without regard to case, as the
 * service treats key names), and the same version if one was asked for. */
kvs_status kvs_kvb_check_kid(const char *kid, const kvs_kv_keyref *asked, const char *what,
                             kvs_kv_keyref *out, kvs_error *err);

/* kty "EC" or "EC-HSM". */
int kvs_kvb_is_ec(const char *kty);

/* An RSA public key from the JWK's n and e (no size check). */
kvs_status kvs_kvb_rsa_public(const cJSON *key, const char *what, EVP_PKEY **out,
                              kvs_error *err);

/* An EC public key from the JWK's crv ("P-256" or "P-384"), x and y
 * (big-endian, base64url or base64), through kvs_ec_public_from_xy: a
 * point that is not on the curve is refused. */
kvs_status kvs_kvb_ec_public(const cJSON *key, const char *what, EVP_PKEY **out,
                             kvs_error *err);

#endif
