/* Changing a file's recipients without re-encrypting it (FORMAT.md §3).
 *
 * kvs_rewrap_path unwraps the file's data key with the first of `keys` that
 * opens it (keys in the order given, each against the recipients in header
 * order, as decryption does), builds the new recipient set, and replaces the
 * header: same DEK, salt, chunk_size, context and created, a new header tag,
 * and the stored chunks copied unchanged after it.
 *
 * The new set: the file's recipients, each kept verbatim (unknown members
 * and unknown recipient types included) unless removed, plus one new
 * recipient per `add` provider that the file does not already have (same
 * type and key id). A recipient is removed when a `remove` entry equals its
 * key id (`sha256:<hex>` or a versioned kid), or is a Key Vault key URL
 * prefix of its kid at a '/' boundary ("https://v.vault.azure.net/keys/k"
 * removes every version of k). An `add` provider made from a versionless Key
 * Vault URL (kvs_keyvault_provider_tracks_current) also replaces the file's
 * recipients of other versions of the same key, in place, so files move
 * forward after a rotation; keep_old keeps them. Removing every recipient is
 * refused (KVS_ERR_USAGE), as are more than 64 (KVS_ERR_RESOURCE_LIMIT).
 *
 * The file is replaced atomically: a temp file beside it (mode and owner of
 * the original, set before any data), the new header, the payload copied
 * with copy_file_range (read/write where that is unsupported), fsync,
 * rename over the original, fsync of the directory. A crash at any point
 * leaves either the old or the new file, never a mix (where the file
 * system has no O_TMPFILE, a stray `.NAME.kvseal-tmp-XXXXXX` may remain
 * after a crash and can be deleted; see temp_path for signals). A symbolic link
 * is followed and the file it names is replaced; a file with several hard
 * links is refused (the replacement would split them). A file whose
 * recipient set would not change is left untouched. Secrets live in locked
 * memory and are wiped. */
#ifndef KVSEAL_REWRAP_H
#define KVSEAL_REWRAP_H

#include <stddef.h>

#include "kvseal/keys.h"
#include "kvseal/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvs_rewrap_options {
    const char *const *remove; /* key ids, kids or Key Vault key URL prefixes */
    size_t n_remove;
    int keep_old;              /* keep older versions of keys added versionless */
    /* Optional: called with the temp file's path once it exists, and with
     * NULL once it is renamed or removed, so a caller's signal handler can
     * remove it (a stray temp file otherwise stays after SIGINT). Not
     * called where the temp file is unnamed (O_TMPFILE, see
     * kvs_atomic_open): it has no path and vanishes with the process. */
    void (*temp_path)(const char *path, void *arg);
    void *temp_path_arg;
} kvs_rewrap_options;

typedef struct kvs_rewrap_result {
    int changed;            /* 0: nothing to do, the file was not touched */
    int unlocked_recipient; /* old recipient whose key opened the file */
    size_t kept;            /* old recipients kept */
    size_t added;           /* new recipients */
    size_t removed;         /* old recipients removed (named or superseded) */
    size_t superseded;      /* ... of them, older versions of an added key */
    size_t n_recipients;    /* in the file now */
} kvs_rewrap_result;

/* opts and result may be NULL. */
KVS_API KVS_MUST_USE KVS_NONNULL(1) kvs_status
kvs_rewrap_path(const char *path, const kvs_rewrap_options *opts, kvs_provider *const *keys,
                size_t n_keys, kvs_provider *const *add, size_t n_add, kvs_rewrap_result *result,
                kvs_error *err);

#ifdef __cplusplus
}
#endif
#endif
