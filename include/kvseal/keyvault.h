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
 * of a known Azure cloud (public, China, US Government) or to a host the user
 * allowed explicitly (allowed_hosts / KVSEAL_ALLOWED_HOSTS), and only after the
 * host's authentication challenge names a resource that matches the host.
 * A key URL or kid naming any other host is refused before any request.
 *
 * Thread safety: providers may be used from several threads; calls that reach
 * the network are serialised per client. Blocking: a call may take up to the
 * configured retry budget (default 60 s) when the service throttles or fails. */
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
     * the default). KVSEAL_CA_FILE. */
    const char *ca_file;
    /* Comma-separated "host" (any port) or "host:port" entries ("[::1]:8443"
     * for IPv6) allowed besides the known clouds' vault and Managed HSM hosts.
     * For these hosts a challenge resource equal to the host is also accepted
     * (the loopback test server). KVSEAL_ALLOWED_HOSTS. */
    const char *allowed_hosts;
    /* "auto" (or NULL), "env-secret", "env-cert", "workload",
     * "managed-identity", "cli". KVSEAL_CREDENTIAL. */
    const char *credential;
    /* Entra ID authority, e.g. "https://login.microsoftonline.com".
     * AZURE_AUTHORITY_HOST; default: the vault's cloud. */
    const char *authority_host;
    /* Non-zero: wrap with the service's wrapkey instead of locally. */
    int remote_wrap;
    /* Seconds. KVSEAL_CONNECT_TIMEOUT (default 10), KVSEAL_HTTP_TIMEOUT (one
     * request, default 30), KVSEAL_RETRY_MAX_SECONDS (total time one operation
     * may spend including retries and back-off, default 60). */
    unsigned connect_timeout;
    unsigned request_timeout;
    unsigned retry_max_seconds;
} kvs_keyvault_config;

/* Provider for one key: key_url is https://{host}/keys/{name}[/{version}]
 * (without a version: the current version, resolved now). Fetches and checks
 * the key (RSA or RSA-HSM, 2048/3072/4096 bits, key_ops with wrapKey and
 * unwrapKey, enabled, inside nbf/exp) before returning. It wraps, and
 * unwraps recipients of the same key. cfg may be NULL. */
KVS_API kvs_status kvs_keyvault_provider_new(const char *key_url,
                                             const kvs_keyvault_config *cfg,
                                             kvs_provider **out, kvs_error *err);

/* Decryption provider for any azure-keyvault recipient with a well-formed,
 * versioned kid. restrict_url (may be NULL) limits it to one key
 * (https://{host}/keys/{name}) or one key version. A recipient whose host is
 * not allowed is refused by unwrap with a clear error and no request; the
 * unwrapped value must be exactly 32 bytes. It cannot wrap. */
KVS_API kvs_status kvs_keyvault_any_provider_new(const kvs_keyvault_config *cfg,
                                                 const char *restrict_url,
                                                 kvs_provider **out, kvs_error *err);

/* Non-zero if p was made by one of the two constructors above. */
KVS_API int kvs_keyvault_is_provider(const kvs_provider *p);

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
    unsigned long dek_cache_hits; /* unwraps answered from the DEK cache */
} kvs_keyvault_counts;

KVS_API void kvs_keyvault_stats(kvs_keyvault_counts *out);
KVS_API void kvs_keyvault_stats_reset(void);

#ifdef __cplusplus
}
#endif
#endif
