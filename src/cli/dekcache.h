/* Unwrapped data keys of a local key, kept for the run of a restore
 * (src/cli/dekcache.c). */
#ifndef KVS_CLI_DEKCACHE_H
#define KVS_CLI_DEKCACHE_H

#include "cli/cli.h"

/* A provider that forwards to inner (which it then owns and frees) and
 * remembers up to capacity unwrapped data keys, by wrapped key, in secure
 * memory. So the restore's workers can unwrap the data keys of the files
 * ahead, in parallel, and the decryption of each file finds its key; a
 * wrapped key that several files share (--share-dek) is unwrapped once.
 * Concurrent unwraps of the same wrapped key wait for the first one.
 * Failures are not remembered: the decryption meets them again and reports
 * them. inner must allow concurrent unwraps (the local RSA provider does).
 * Returns NULL when out of memory (inner is then not taken). */
kvs_provider *cli_dek_cache_new(kvs_provider *inner, size_t capacity);

#endif
