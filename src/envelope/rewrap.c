/* kvs_rewrap_path: a new recipient set and header tag over the same DEK,
 * salt and payload (include/kvseal/rewrap.h, FORMAT.md §3). */
#include "kvseal/rewrap.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"
#include "core/secmem.h"
#include "envelope/replace.h"
#include "envelope/rewrap_header.h"
#include "format/format.h"
#include "keys/unlock.h"
#include "stream/signed_file.h"
#include "kvseal/keyvault.h"

enum { FATE_KEEP = -1, FATE_DROP = -2 }; /* else: index of the new recipient put here */
enum { NEW_DUP, NEW_APPEND, NEW_PLACED };

typedef struct rewrap {
    const kvs_rewrap_options *opts;
    const uint8_t *stored;  /* old magic || header_len || JSON || tag (borrowed) */
    size_t stored_len;
    uint64_t trailer_len;   /* a signed file's trailer, kept as it is */
    kvs_header *h;
    kvs_file_keys *keys;    /* secure */
    uint8_t *dek;           /* secure */
    int *fate;              /* per old recipient */
    kvs_recipient *fresh;   /* per add provider */
    int *fresh_state;
    size_t n_fresh;
    kvs_rewrap_result res;
} rewrap;

static void rewrap_clear(rewrap *w)
{
    kvs_header_free(w->h);
    kvs_file_keys_free(w->keys);
    kvs_secure_free(w->dek, KVS_DEK_LEN);
    free(w->fate);
    free(w->fresh);
    free(w->fresh_state);
}

/* ---- which recipients stay ------------------------------------------------ */

static int is_url(const char *s)
{
    return strncasecmp(s, "https://", 8) == 0;
}

/* spec names r exactly, or is a key URL prefix of r's kid at a '/'. */
static int spec_matches(const char *spec, const kvs_recipient *r)
{
    if (!spec[0] || !r->key_id[0]) return 0;
    if (!is_url(spec)) return strcmp(spec, r->key_id) == 0;
    size_t n = strlen(spec);
    while (n > 8 && spec[n - 1] == '/') n--;
    return strncasecmp(r->key_id, spec, n) == 0 && (r->key_id[n] == '\0' || r->key_id[n] == '/');
}

static int named_for_removal(const kvs_rewrap_options *o, const kvs_recipient *r)
{
    for (size_t i = 0; o && i < o->n_remove; i++)
        if (o->remove[i] && spec_matches(o->remove[i], r)) return 1;
    return 0;
}

/* Length of "https://host/keys/name/" in a versioned kid, or 0. */
static size_t key_prefix_len(const kvs_recipient *r)
{
    if (strcmp(r->type, KVS_RECIPIENT_AZURE) != 0) return 0;
    const char *slash = strrchr(r->key_id, '/');
    return slash && is_url(r->key_id) ? (size_t)(slash - r->key_id) + 1 : 0;
}

/* Another version of the same Key Vault key. */
static int other_version(const kvs_recipient *a, const kvs_recipient *b)
{
    size_t n = key_prefix_len(a);
    return n && n == key_prefix_len(b) && strncasecmp(a->key_id, b->key_id, n) == 0 &&
           strcasecmp(a->key_id, b->key_id) != 0;
}

static int same_key(const kvs_recipient *a, const kvs_recipient *b)
{
    return strcmp(a->type, b->type) == 0 &&
           (is_url(a->key_id) ? strcasecmp(a->key_id, b->key_id) : strcmp(a->key_id, b->key_id)) == 0;
}

static kvs_status wrap_fresh(rewrap *w, kvs_provider *const *add, size_t n_add, kvs_error *err)
{
    w->n_fresh = n_add;
    w->fresh = calloc(n_add ? n_add : 1, sizeof *w->fresh);
    w->fresh_state = calloc(n_add ? n_add : 1, sizeof *w->fresh_state);
    if (!w->fresh || !w->fresh_state) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    for (size_t j = 0; j < n_add; j++) {
        kvs_status st = kvs_provider_wrap(add[j], w->dek, &w->fresh[j], err);
        if (st != KVS_OK) return st;
    }
    return KVS_OK;
}

/* A new recipient the file keeps anyway (or an earlier -r gave) adds nothing. */
static void mark_duplicates(rewrap *w)
{
    for (size_t j = 0; j < w->n_fresh; j++) {
        int dup = 0;
        for (size_t i = 0; i < w->h->n_recipients && !dup; i++)
            dup = w->fate[i] == FATE_KEEP && same_key(&w->h->recipients[i], &w->fresh[j]);
        for (size_t k = 0; k < j && !dup; k++)
            dup = w->fresh_state[k] != NEW_DUP && same_key(&w->fresh[k], &w->fresh[j]);
        w->fresh_state[j] = dup ? NEW_DUP : NEW_APPEND;
    }
}

/* Versionless -r: the key's older versions give way to the current one,
 * which takes the place of the first of them (recipient order is the order
 * decryption tries them). */
static void supersede(rewrap *w, kvs_provider *const *add)
{
    for (size_t j = 0; j < w->n_fresh; j++) {
        if (w->opts && w->opts->keep_old) return;
        if (!kvs_keyvault_provider_tracks_current(add[j])) continue;
        for (size_t i = 0; i < w->h->n_recipients; i++) {
            if (w->fate[i] != FATE_KEEP || !other_version(&w->h->recipients[i], &w->fresh[j]))
                continue;
            w->res.superseded++;
            if (w->fresh_state[j] == NEW_APPEND) {
                w->fate[i] = (int)j;
                w->fresh_state[j] = NEW_PLACED;
            } else {
                w->fate[i] = FATE_DROP;
            }
        }
    }
}

static kvs_status plan(rewrap *w, kvs_provider *const *add, size_t n_add, kvs_error *err)
{
    size_t n = w->h->n_recipients;
    w->fate = calloc(n, sizeof *w->fate);
    if (!w->fate) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        w->fate[i] = named_for_removal(w->opts, &w->h->recipients[i]) ? FATE_DROP : FATE_KEEP;
    kvs_status st = wrap_fresh(w, add, n_add, err);
    if (st != KVS_OK) return st;
    mark_duplicates(w);
    supersede(w, add);
    for (size_t i = 0; i < n; i++) {
        if (w->fate[i] == FATE_KEEP) w->res.kept++;
        else w->res.removed++;
    }
    for (size_t j = 0; j < w->n_fresh; j++) w->res.added += w->fresh_state[j] != NEW_DUP;
    w->res.n_recipients = w->res.kept + w->res.added;
    w->res.changed = w->res.removed > 0 || w->res.added > 0;
    if (w->res.n_recipients == 0)
        return kvs_fail(err, KVS_ERR_USAGE,
                        "refusing to remove the last recipient: the file could never be "
                        "decrypted again");
    if (w->res.n_recipients > KVS_MAX_RECIPIENTS)
        return kvs_fail(err, KVS_ERR_RESOURCE_LIMIT,
                        "the file would have %zu recipients (at most %d)", w->res.n_recipients,
                        KVS_MAX_RECIPIENTS);
    return KVS_OK;
}

/* ---- the new header ------------------------------------------------------- */

/* The old JSON with only `recipients` replaced: kept recipient objects and
 * every other member stay as they were (unknown members included). */
static kvs_status new_recipients_json(rewrap *w, cJSON *root, kvs_error *err)
{
    cJSON *old = cJSON_GetObjectItemCaseSensitive(root, "recipients");
    cJSON *arr = cJSON_CreateArray();
    if (!old || !arr) {
        cJSON_Delete(arr);
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    }
    int ok = 1;
    cJSON *item = old->child;
    for (size_t i = 0; ok && item && i < w->h->n_recipients; i++) {
        cJSON *next = item->next;
        if (w->fate[i] == FATE_KEEP)
            cJSON_AddItemToArray(arr, cJSON_DetachItemViaPointer(old, item));
        else if (w->fate[i] >= 0)
            ok = kvs_recipient_json_append(arr, &w->fresh[w->fate[i]]) == 0;
        item = next;
    }
    for (size_t j = 0; ok && j < w->n_fresh; j++)
        if (w->fresh_state[j] == NEW_APPEND) ok = kvs_recipient_json_append(arr, &w->fresh[j]) == 0;
    if (!ok || !cJSON_ReplaceItemInObjectCaseSensitive(root, "recipients", arr)) {
        if (ok) cJSON_Delete(arr);
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory building the header");
    }
    return KVS_OK;
}

/* magic || header_len || JSON || tag for text, checked as a decoder would. */
static kvs_status seal_text(rewrap *w, const char *text, uint8_t **out, size_t *out_len,
                            kvs_error *err)
{
    size_t len = strlen(text);
    if (len < KVS_HEADER_MIN || len > KVS_HEADER_MAX)
        return kvs_fail(err, KVS_ERR_RESOURCE_LIMIT,
                        "the new header would be %zu bytes (at most %u)", len, KVS_HEADER_MAX);
    kvs_header *check = NULL;
    kvs_error why;
    kvs_error_clear(&why);
    kvs_status st = kvs_header_parse((const uint8_t *)text, len, &check, &why);
    kvs_header_free(check);
    if (st != KVS_OK)
        return kvs_fail(err, KVS_ERR_INTERNAL, "the new header is invalid (%s)",
                        kvs_error_message(&why));
    uint8_t *b = malloc(KVS_PREFIX_LEN + len + KVS_TAG_LEN);
    if (!b) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    memcpy(b, w->stored, KVS_MAGIC_LEN);
    for (int i = 0; i < 4; i++) b[KVS_MAGIC_LEN + i] = (uint8_t)(len >> (24 - 8 * i));
    memcpy(b + KVS_PREFIX_LEN, text, len);
    st = kvs_header_tag(w->keys, b, KVS_PREFIX_LEN + len, b + KVS_PREFIX_LEN + len);
    if (st != KVS_OK) {
        free(b);
        return kvs_fail(err, st, "computing the header tag failed");
    }
    *out = b;
    *out_len = KVS_PREFIX_LEN + len + KVS_TAG_LEN;
    return KVS_OK;
}

static kvs_status build_header(rewrap *w, uint8_t **out, size_t *out_len, kvs_error *err)
{
    size_t json_len = w->stored_len - KVS_PREFIX_LEN - KVS_TAG_LEN;
    cJSON *root = cJSON_ParseWithLength((const char *)w->stored + KVS_PREFIX_LEN, json_len);
    if (!root) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory reading the header");
    kvs_status st = new_recipients_json(w, root, err);
    char *text = st == KVS_OK ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (st == KVS_OK && !text) st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    if (st == KVS_OK) st = seal_text(w, text, out, out_len, err);
    free(text);
    return st;
}

/* ---- the file ------------------------------------------------------------- */

/* The file a path names (links followed), opened, regular, one link. */
static kvs_status open_target(const char *path, char **real, int *fd, struct stat *sb,
                              kvs_error *err)
{
    *real = realpath(path, NULL);
    if (!*real) return kvs_fail(err, KVS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    /* O_NONBLOCK: opening a FIFO planted at the path must not wait for a
     * writer; the check below refuses it. */
    *fd = open(*real, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (*fd < 0 || fstat(*fd, sb) != 0)
        return kvs_fail(err, KVS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (!S_ISREG(sb->st_mode)) return kvs_fail(err, KVS_ERR_USAGE, "%s is not a regular file", path);
    if (sb->st_nlink > 1)
        return kvs_fail(err, KVS_ERR_USAGE,
                        "%s has %lu hard links: rewrapping replaces the file and would split "
                        "them", path, (unsigned long)sb->st_nlink);
    return KVS_OK;
}

/* Validate and unlock the old header of a file of file_size bytes; keep
 * the DEK. */
static kvs_status unlock(rewrap *w, uint64_t file_size, const uint8_t *tail,
                         kvs_provider *const *keys, size_t n_keys, kvs_error *err)
{
    uint64_t pt = 0, chunks = 0;
    size_t size = 0;
    kvs_status st = kvs_stored_header_size(w->stored, w->stored_len, &size, err);
    if (st == KVS_OK && size != w->stored_len)
        st = kvs_fail(err, KVS_ERR_FORMAT, "the stored header is %zu bytes, its prefix says %zu",
                      w->stored_len, size);
    size_t json_len = w->stored_len - KVS_PREFIX_LEN - KVS_TAG_LEN;
    if (st == KVS_OK) st = kvs_header_parse(w->stored + KVS_PREFIX_LEN, json_len, &w->h, err);
    if (st != KVS_OK) return st;
    /* A truncated or extended file stays broken: say so rather than rewrap
     * it. A signed file's trailer is kept as it is (it signs no recipient),
     * so its signature stays valid. */
    uint64_t payload_end = file_size;
    uint32_t m = 0;
    uint16_t sig_len = 0;
    if (w->h->signer.type[0]) {
        st = tail ? kvs_signed_payload_end(w->h, file_size, tail, &payload_end, &m, &sig_len, err)
                  : kvs_fail(err, KVS_ERR_TRUNCATED, "truncated file: it ends before its trailer");
        if (st != KVS_OK) return st;
    }
    st = kvs_header_payload_geometry(w->h, payload_end, &pt, &chunks);
    if (st != KVS_OK)
        return kvs_fail(err, st, "%s: the file's size does not fit its header",
                        kvs_strerror(st));
    if (w->h->signer.type[0] && m != kvs_segments_for(chunks))
        return kvs_fail(err, KVS_ERR_FORMAT, "malformed trailer: %u segments for %llu chunks", m,
                        (unsigned long long)chunks);
    w->trailer_len = file_size - payload_end;
    w->keys = kvs_file_keys_new();
    w->dek = kvs_secure_alloc(KVS_DEK_LEN);
    if (!w->keys || !w->dek) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    if (n_keys == 0) return kvs_fail(err, KVS_ERR_NO_RECIPIENT, "no key was given to unwrap with");
    return kvs_unlock_header(w->h, w->stored, w->stored_len - KVS_TAG_LEN,
                             w->stored + w->stored_len - KVS_TAG_LEN, keys, n_keys, w->keys,
                             w->dek, &w->res.unlocked_recipient, err);
}

kvs_status kvs_rewrap_header(const uint8_t *stored, size_t stored_len, uint64_t file_size,
                             const uint8_t *tail, const kvs_rewrap_options *opts, kvs_provider *const *keys,
                             size_t n_keys, kvs_provider *const *add, size_t n_add,
                             uint8_t **new_hdr, size_t *new_len, uint64_t *trailer_len,
                             kvs_rewrap_result *result, kvs_error *err)
{
    rewrap w;
    memset(&w, 0, sizeof w);
    w.opts = opts;
    w.stored = stored;
    w.stored_len = stored_len;
    w.res.unlocked_recipient = -1;
    *new_hdr = NULL;
    *new_len = 0;
    kvs_status st = unlock(&w, file_size, tail, keys, n_keys, err);
    *trailer_len = w.trailer_len;
    if (st == KVS_OK) st = plan(&w, add, n_add, err);
    if (st == KVS_OK && w.res.changed) st = build_header(&w, new_hdr, new_len, err);
    if (result) *result = w.res;
    rewrap_clear(&w);
    return st;
}

kvs_status kvs_rewrap_path(const char *path, const kvs_rewrap_options *opts,
                           kvs_provider *const *keys, size_t n_keys, kvs_provider *const *add,
                           size_t n_add, kvs_rewrap_result *result, kvs_error *err)
{
    kvs_rewrap_result res;
    struct stat sb;
    char *real = NULL;
    int fd = -1;
    uint8_t *stored = NULL, *hdr = NULL;
    size_t stored_len = 0, hdr_len = 0;
    memset(&res, 0, sizeof res);
    res.unlocked_recipient = -1;
    if (!path) return kvs_fail(err, KVS_ERR_USAGE, "rewrap: no path");
    kvs_status st = open_target(path, &real, &fd, &sb, err);
    uint8_t tail[KVS_TRAILER_TAIL_LEN];
    uint64_t trailer_len = 0; /* the trailer stays as it is */
    int have_tail = sb.st_size >= (off_t)sizeof tail;
    if (st == KVS_OK) st = kvs_header_read_stored(fd, &stored, &stored_len, err);
    if (st == KVS_OK && have_tail)
        st = kvs_pread_full(fd, tail, sizeof tail, (uint64_t)sb.st_size - sizeof tail, err);
    if (st == KVS_OK)
        st = kvs_rewrap_header(stored, stored_len, (uint64_t)sb.st_size, have_tail ? tail : NULL, opts,
                               keys, n_keys, add, n_add, &hdr, &hdr_len, &trailer_len, &res, err);
    if (st == KVS_OK && hdr) {
        kvs_temp_notify notify = {opts ? opts->temp_path : NULL, opts ? opts->temp_path_arg : NULL};
        st = kvs_replace_file_header(real, fd, &sb, hdr, hdr_len, stored_len, &notify, err);
    }
    if (result) *result = res;
    free(hdr);
    free(stored);
    if (fd >= 0) close(fd);
    free(real);
    return st;
}
