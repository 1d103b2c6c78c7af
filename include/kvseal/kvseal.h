/* kvseal: client-side envelope encryption of large files (umbrella header).
 *
 * Initialisation: none is needed, and there is no global cleanup. The
 * library installs no process-wide hooks: it never calls cJSON_InitHooks
 * (an application's own cJSON use is unaffected), installs no signal
 * handler and no atexit handler, and never calls OPENSSL_cleanup (OpenSSL 3
 * initialises itself). libcurl's curl_global_init(CURL_GLOBAL_DEFAULT) runs
 * once, under pthread_once, when the first Key Vault provider is made;
 * kvseal never calls curl_global_cleanup. libcurl 7.84 and later make
 * curl_global_init thread-safe (Debian 12 ships 7.88.1), so an application
 * may use libcurl itself, from any thread; it must not call
 * curl_global_cleanup while Key Vault providers exist. Key Vault requests set
 * CURLOPT_NOSIGNAL. Writing to a pipe whose reader has gone raises SIGPIPE as
 * any write does: applications that write to pipes usually ignore it.
 *
 * Thread safety (one statement for the whole API):
 *  - Functions that take no object (kvs_encrypt_path, kvs_decrypt_fd, ...)
 *    may run concurrently from any number of threads; their only shared state
 *    is internal and locked (the Key Vault client registry, caches and
 *    counters).
 *  - An object (kvs_encryptor, kvs_decryptor, kvs_header, kvs_atomic_file,
 *    kvs_error) is used by one thread at a time; different objects may be
 *    used concurrently. A kvs_header that no thread modifies may be read by
 *    several threads.
 *  - kvs_dek_session is thread-safe, and calls its providers under its lock.
 *  - Providers: the library calls a provider from the thread that called the
 *    library function it was passed to. The built-in providers are
 *    thread-safe: a local RSA provider is read-only after it is made, and Key
 *    Vault providers share a locked client. A provider made with
 *    kvs_provider_new is called concurrently only if the application passes
 *    it to concurrent calls; then it must be thread-safe itself.
 *  - kvs_provider_free, like every _free, must not race with any use of
 *    the object.
 *
 * Ownership: every pointer a function returns through an out parameter is
 * owned by the caller and freed with the matching _free (kvs_header_free for
 * header_out, kvs_provider_free, kvs_encryptor_free, ...). Strings returned
 * by kvs_strerror, kvs_version and kvs_error_message are static or owned by
 * the kvs_error passed in; kvs_provider_identify's by the provider.
 * Arguments are borrowed for the call only, except where a header says what
 * must outlive an object (the keys given to kvs_decryptor_new, the providers
 * of a kvs_dek_session). Every kvs_error *err may be NULL. Annotations:
 * kvseal/export.h. */
#ifndef KVSEAL_H
#define KVSEAL_H

#include "kvseal/blob.h"
#include "kvseal/envelope.h"
#include "kvseal/export.h"
#include "kvseal/keyvault.h"
#include "kvseal/header.h"
#include "kvseal/keys.h"
#include "kvseal/rewrap.h"
#include "kvseal/secmem.h"
#include "kvseal/sign.h"
#include "kvseal/status.h"
#include "kvseal/stream.h"
#include "kvseal/version.h"

#endif
