/* Azure Key Vault and Managed HSM key providers.
 *
 * Encryption (kvs_keyvault_provider_new) fetches the key's public part once per
 * key version (GET key), checks it, and wraps the DEK locally with RSA-OAEP-256
 * (or through the service's wrapkey when remote_wrap is set). The recipient
 * records the versioned kid the service returned. Decryption calls the
 * service's unwrapkey with exactly that version and alg.
 *
 * Providers built with equal configurations share one client per process: its
 * HTTPS connections (one reused per host), the authentication challenge per
 * vault host, access tokens per (authority, scope, tenant) until shortly before
 * they expire, public keys per key version and unwrapped DEKs by wrapped value.
 * So decrypting many files costs one unwrap per distinct wrapped key. Tokens
 * and DEKs live in locked, wiped memory and never appear in error text.
 *
 * Security: a bearer token is only ever sent to a Key Vault / Managed HSM host
 * of the configured Azure cloud (public by default, or China or US
 * Government: `cloud`) or to a host the user allowed explicitly (allowed_hosts / KVSEAL_ALLOWED_HOSTS), and only after the
 * host's authentication challenge names a resource that matches the host.
 * A key URL or kid naming any other host is refused before any request.
 *
 * Thread safety: providers may be used from several threads; up to 16 calls
 * per client reach the network concurrently, each on its own connection, and
 * concurrent unwraps of one wrapped key make one request. Blocking: a call
 * may take up to the retry budget (default 60 s) when the service fails, and
 * up to the throttle budget (default 900 s) while it throttles; throttled
 * requests of all threads are paced together. A vault that did not answer,
 * or still throttled at the end of the throttle budget, is skipped (fails at
 * once with KVS_ERR_UNAVAILABLE) for 60 s, so decryption moves on to other
 * recipients quickly. Decrypting one file tries at most
 * KVSEAL_MAX_REMOTE_RECIPIENTS (default 4) Key Vault recipients, all within
 * KVSEAL_FILE_BUDGET_SECONDS (default 120 s). */
#ifndef KVSEAL_KEYVAULT_H
#define KVSEAL_KEYVAULT_H

#include "kvseal/keys.h"
#include "kvseal/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every member may be left zero/NULL: the environment variable named in its
 * comment is used, then the documented default. Strings are copied. */
typedef struct kvs_keyvault_config {
    /* PEM bundle of extra trusted CAs, added to the system store (which stays
     * the default) for the hosts in allowed_hosts only; every other host is
     * verified against the system store alone. KVSEAL_CA_FILE. */
    const char *ca_file;
    /* Comma-separated "host" (port 443 only) or "host:port" entries
     * ("[::1]:8443" for IPv6) allowed besides the known clouds' vault and
     * Managed HSM hosts.
     * For these hosts a challenge resource equal to the host is also accepted
     * (the loopback test server). KVSEAL_ALLOWED_HOSTS. */
    const char *allowed_hosts;
    /* "auto" (or NULL), "env-secret", "env-cert", "workload",
     * "managed-identity", "cli". KVSEAL_CREDENTIAL. */
    const char *credential;
    /* Entra ID authority, e.g. "https://login.microsoftonline.com".
     * AZURE_AUTHORITY_HOST; default: the sign-in host of `cloud` below.
     * Never derived from a file or a vault's answer. */
    const char *authority_host;
    /* Non-zero: wrap with the service's wrapkey instead of locally. */
    int remote_wrap;
    /* Seconds. KVSEAL_CONNECT_TIMEOUT (default 10), KVSEAL_HTTP_TIMEOUT (one
     * request, default 30), KVSEAL_RETRY_MAX_SECONDS (total time one operation
     * may spend including retries and back-off, default 60). */
    unsigned connect_timeout;
    unsigned request_timeout;
    unsigned retry_max_seconds;
    /* Seconds one operation may take in total once the vault throttles it
     * (429): throttling paces a big job rather than failing it.
     * KVSEAL_THROTTLE_MAX_SECONDS (default 900). */
    unsigned throttle_max_seconds;
    /* The Azure cloud: "public" (default), "china" or "usgov". Key Vault and
     * Managed HSM hosts of any other cloud are refused before any request,
     * so a file cannot send a credential to another cloud's sign-in host.
     * KVSEAL_CLOUD. */
    const char *cloud;
} kvs_keyvault_config;

/* Provider for one key: key_url is https://{host}/keys/{name}[/{version}]
 * (without a version: the current version, resolved now). Fetches and checks
 * the key (RSA or RSA-HSM, 2048/3072/4096 bits, key_ops with wrapKey and
 * unwrapKey, enabled, inside nbf/exp) before returning. It wraps, and
 * unwraps recipients of the same key. cfg may be NULL. */
KVS_API KVS_MUST_USE KVS_NONNULL(1, 3) kvs_status
kvs_keyvault_provider_new(const char *key_url, const kvs_keyvault_config *cfg, kvs_provider **out,
                          kvs_error *err);

/* Decryption provider for any azure-keyvault recipient with a well-formed,
 * versioned kid. restrict_url (may be NULL) limits it to one key
 * (https://{host}/keys/{name}) or one key version. A recipient whose host is
 * not allowed is refused by unwrap with a clear error and no request; the
 * unwrapped value must be exactly 32 bytes. It cannot wrap. */
KVS_API KVS_MUST_USE KVS_NONNULL(3) kvs_status
kvs_keyvault_any_provider_new(const kvs_keyvault_config *cfg, const char *restrict_url,
                              kvs_provider **out, kvs_error *err);

/* Non-zero if p was made by one of the two constructors above. */
KVS_API int kvs_keyvault_is_provider(const kvs_provider *p);

/* Non-zero if p was made by kvs_keyvault_provider_new from a versionless key
 * URL: it wraps with whatever version is current (kvs_rewrap_path then
 * replaces the file's recipients of older versions of that key). */
KVS_API int kvs_keyvault_provider_tracks_current(const kvs_provider *p);

/* State of one key version in its vault, for audits. Times are epoch
 * seconds, 0 when the service did not say. */
typedef struct kvs_keyvault_version_info {
    char kid[KVS_MAX_KEY_ID_LEN + 1];         /* the version asked about */
    char current_kid[KVS_MAX_KEY_ID_LEN + 1]; /* the key's current version; "" when
                                                 the vault would not say (the current
                                                 version is disabled) */
    int is_current;     /* kid is the current version */
    int enabled;        /* the version's `enabled` attribute (0 if disabled) */
    int usable;         /* enabled and inside its nbf/exp window now */
    int64_t created, updated, nbf, exp;
    char kty[16];       /* "RSA", "RSA-HSM"; "" if unknown (disabled) */
} kvs_keyvault_version_info;

/* GET the key (versionless: its current version) and, for a versioned
 * key_url naming another version, that version too. A disabled version
 * (403 KeyDisabled) is reported as enabled = 0, not as a failure; a missing
 * key or version is KVS_ERR_KEY. Uses the shared client of cfg (may be NULL). */
KVS_API KVS_MUST_USE KVS_NONNULL(1, 3) kvs_status
kvs_keyvault_key_info(const char *key_url, const kvs_keyvault_config *cfg,
                      kvs_keyvault_version_info *info, kvs_error *err);

/* Whether the host policy lets requests (and tokens) go to key_url's host
 * and port: KVS_OK if so; KVS_ERR_KEY_ACCESS with a message naming the host
 * if not; KVS_ERR_USAGE for a malformed URL, or a configuration error. Makes
 * no request and resolves no name: `audit` asks this before it contacts a
 * host that a file (untrusted) names. cfg may be NULL. */
KVS_API kvs_status kvs_keyvault_host_allowed(const char *key_url,
                                             const kvs_keyvault_config *cfg, kvs_error *err);

/* Process-wide counters of Key Vault work, for reporting. */
typedef struct kvs_keyvault_counts {
    unsigned long get_key;        /* GET key operations that succeeded */
    unsigned long wrap;           /* wrapkey operations that succeeded */
    unsigned long unwrap;         /* unwrapkey operations that succeeded */
    unsigned long token;          /* access tokens obtained from a credential */
    unsigned long http_requests;  /* every request sent to a vault, including
                                     challenge round trips and retries */
    unsigned long challenges;     /* 401 authentication challenges received */
    unsigned long retries;        /* requests repeated after throttling, 5xx or
                                     a network failure */
    unsigned long dek_cache_hits; /* unwraps the DEK cache saved (a key that
                                     kvs_unlock_fd fetched ahead counts from
                                     its second use on) */
} kvs_keyvault_counts;

KVS_API KVS_NONNULL(1) void kvs_keyvault_stats(kvs_keyvault_counts *out);
KVS_API void kvs_keyvault_stats_reset(void);

#ifdef __cplusplus
}
#endif
#endif
