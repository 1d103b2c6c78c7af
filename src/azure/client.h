/* The shared Key Vault client: one per process and configuration.
 *
 * Holds the HTTPS connections (azure/http_pool.h), the credential
 * (azure/cred.h), the authentication challenge per vault host
 * (azure/chal_cache.h), access tokens per (authority, tenant, scope)
 * (azure/token_cache.h), public keys per key version (azure/key_cache.h)
 * and one object of the layer above (the provider's DEK cache). Providers on several threads may
 * share it: each part has its own lock, none is held across a request.
 * Vault requests run concurrently (up to 16 per client, each on its own
 * connection), paced together when the vault throttles (azure/pacer.h). A
 * vault that did not answer (network failure or 5xx after every retry) is
 * skipped for 60 s (azure/breaker.h), so a run with many files moves on to
 * other recipients quickly. */
#ifndef KVS_AZURE_CLIENT_H
#define KVS_AZURE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "azure/kvurl.h"
#include "kvseal/keys.h"
#include "kvseal/keyvault.h"

typedef struct kvs_kv_client kvs_kv_client;

/* The client for cfg's effective settings (cfg members, else environment,
 * else defaults), made on first use and shared; release when done. */
kvs_status kvs_kv_client_acquire(const kvs_keyvault_config *cfg, kvs_kv_client **out,
                                 kvs_error *err);
void kvs_kv_client_release(kvs_kv_client *c);

/* KVS_OK if tokens may go to the key's host; else fail_status with a message
 * that names the host and KVSEAL_ALLOWED_HOSTS. No request is made. */
kvs_status kvs_kv_client_check_host(kvs_kv_client *c, const kvs_kv_keyref *key,
                                    kvs_kv_hostinfo *info, kvs_status fail_status,
                                    kvs_error *err);

typedef enum kvs_kv_op {
    KVS_KV_OP_GET,
    KVS_KV_OP_WRAP,
    KVS_KV_OP_UNWRAP,
    KVS_KV_OP_SIGN /* POST {kid}/sign: a digest in, a signature out */
} kvs_kv_op;

/* One vault operation on key (GET key, or POST wrapkey/unwrapkey/sign with a
 * JSON body that may hold a secret), with the challenge flow, cached tokens and
 * retries, bounded by the retry budget (the throttle budget once throttled).
 * A vault still throttling when that ran out is marked down like a dead one
 * (KVS_ERR_UNAVAILABLE). On KVS_OK *json is the parsed 200 body: free it
 * with kvs_json_free_wiped. */
kvs_status kvs_kv_client_call(kvs_kv_client *c, kvs_kv_op op, const kvs_kv_keyref *key,
                              const char *body, size_t body_len, cJSON **json,
                              kvs_error *err);

/* What a failed call's last answer said (0 / "" when there was none). */
typedef struct kvs_kv_call_info {
    long http_status;
    char inner[64]; /* innererror.code, e.g. "KeyDisabled" */
} kvs_kv_call_info;

/* kvs_kv_client_call that also reports the answer's status and inner code. */
kvs_status kvs_kv_client_call_ex(kvs_kv_client *c, kvs_kv_op op, const kvs_kv_keyref *key,
                                 const char *body, size_t body_len, cJSON **json,
                                 kvs_kv_call_info *info, kvs_error *err);

/* kvs_kv_client_call_ex bounded by hard_deadline_ms as well (kvs_mono_ms;
 * 0 = none): a file's time budget that throttling does not extend. A call
 * that starts after it fails at once with KVS_ERR_UNAVAILABLE. */
kvs_status kvs_kv_client_call_until(kvs_kv_client *c, kvs_kv_op op, const kvs_kv_keyref *key,
                                    const char *body, size_t body_len, cJSON **json,
                                    kvs_kv_call_info *info, int64_t hard_deadline_ms,
                                    kvs_error *err);

/* Public-key cache by versioned kid. get returns a new reference or NULL. */
EVP_PKEY *kvs_kv_client_key_get(kvs_kv_client *c, const char *kid);
void kvs_kv_client_key_put(kvs_kv_client *c, const char *kid, EVP_PKEY *pkey);

/* The one object the layer above keeps per client (src/keys keeps its DEK
 * cache here, so providers sharing a client share unwrapped keys, and
 * providers with other settings do not): made by make on first use, freed
 * with free_fn when the client goes; every call returns the same object
 * (make and free_fn of later calls are ignored). NULL if make returned NULL.
 * Thread-safe. */
void *kvs_kv_client_attachment(kvs_kv_client *c, void *(*make)(void), void (*free_fn)(void *));

#endif
