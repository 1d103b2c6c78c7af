/* Create a new file's header, or open an existing one (FORMAT.md §3, §7). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/secmem.h"
#include "keys/signer.h"
#include "keys/unlock.h"
#include "stream/chunk.h"
#include "stream/dek_session.h"
#include "stream/io_fd.h"

static kvs_status check_chunk_size(uint32_t n, kvs_error *err)
{
    if (n < KVS_CHUNK_MIN || n > KVS_CHUNK_MAX || (n & (n - 1)) != 0)
        return kvs_fail(err, KVS_ERR_USAGE,
                        "chunk size must be a power of two from 4096 to 67108864");
    return KVS_OK;
}

static void set_created(kvs_header *h)
{
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(h->created, sizeof h->created, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static kvs_status wrap_for_all(kvs_header *h, const uint8_t *dek,
                               kvs_provider *const *recipients, size_t n, kvs_error *err)
{
    h->recipients = calloc(n, sizeof(kvs_recipient));
    if (!h->recipients) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        kvs_status st = kvs_provider_wrap(recipients[i], dek, &h->recipients[i], err);
        if (st != KVS_OK) return st;
        h->n_recipients = i + 1;
    }
    return KVS_OK;
}

/* Fill h (fresh DEK wrapped for every recipient, or the session's shared
 * DEK and recipients; always a fresh salt), derive keys into out. */
static kvs_status build_header(kvs_dek_session *session, kvs_provider *const *recipients,
                               size_t n, kvs_header *h, kvs_sealed_header *out, kvs_error *err)
{
    uint8_t *dek = kvs_secure_alloc(KVS_DEK_LEN);
    if (!dek) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    kvs_status st = session ? KVS_OK : kvs_random_secret(dek, KVS_DEK_LEN);
    if (st == KVS_OK) st = kvs_random_public(h->salt, KVS_SALT_LEN);
    if (st != KVS_OK) st = kvs_fail(err, st, "the random generator failed");
    if (st == KVS_OK && session)
        st = kvs_dek_session_issue(session, dek, &h->recipients, &h->n_recipients,
                                   &out->dek_generation, err);
    else if (st == KVS_OK)
        st = wrap_for_all(h, dek, recipients, n, err);
    if (st == KVS_OK && kvs_derive_file_keys(dek, h->salt, out->keys) != KVS_OK)
        st = kvs_fail(err, KVS_ERR_CRYPTO, "deriving the file keys failed");
    kvs_secure_free(dek, KVS_DEK_LEN);
    return st;
}

static kvs_status encode_and_tag(const kvs_header *h, kvs_sealed_header *out, kvs_error *err)
{
    uint8_t *body = NULL;
    size_t body_len = 0;
    kvs_status st = kvs_header_encode(h, &body, &body_len, err);
    if (st != KVS_OK) return st;
    out->bytes = realloc(body, body_len + KVS_TAG_LEN);
    if (!out->bytes) {
        free(body);
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    }
    out->len = body_len + KVS_TAG_LEN;
    st = kvs_header_tag(out->keys, out->bytes, body_len, out->bytes + body_len);
    return st == KVS_OK ? KVS_OK : kvs_fail(err, st, "computing the header tag failed");
}

kvs_status kvs_seal_header(const kvs_encrypt_options *opts, kvs_provider *const *recipients,
                           size_t n, kvs_sealed_header *out, kvs_error *err)
{
    memset(out, 0, sizeof *out);
    kvs_dek_session *session = opts ? opts->dek_session : NULL;
    if (!session && (n < 1 || n > KVS_MAX_RECIPIENTS))
        return kvs_fail(err, KVS_ERR_USAGE, "between 1 and %d recipients are required",
                        KVS_MAX_RECIPIENTS);
    uint32_t chunk = opts && opts->chunk_size ? opts->chunk_size : KVS_CHUNK_DEFAULT;
    kvs_status st = check_chunk_size(chunk, err);
    if (st != KVS_OK) return st;
    kvs_header *h = kvs_header_new();
    out->keys = kvs_file_keys_new();
    if (!h || !out->keys) st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    if (st == KVS_OK) {
        h->chunk_size = chunk;
        if (!opts || !opts->omit_created) set_created(h);
        if (opts) st = kvs_header_set_context(h, opts->context, opts->n_context, err);
    }
    if (st == KVS_OK && opts && opts->signer) h->signer = opts->signer->ident;
    if (st == KVS_OK) st = build_header(session, recipients, n, h, out, err);
    if (st == KVS_OK) st = encode_and_tag(h, out, err);
    out->header = h;
    out->chunk_size = chunk;
    if (st != KVS_OK) kvs_sealed_header_clear(out);
    return st;
}

kvs_status kvs_open_header(const uint8_t *bytes, size_t len, const kvs_decrypt_options *opts,
                           kvs_provider *const *keys, size_t n_keys, kvs_unlock_when when,
                           kvs_opened_header *out, kvs_error *err)
{
    size_t size = 0;
    memset(out, 0, sizeof *out);
    out->recipient = -1;
    kvs_status st = kvs_stored_header_size(bytes, len, &size, err);
    if (st != KVS_OK) return st;
    if (len != size) return kvs_fail(err, KVS_ERR_INTERNAL, "header buffer has the wrong size");
    st = kvs_header_parse(bytes + KVS_PREFIX_LEN, len - KVS_PREFIX_LEN - KVS_TAG_LEN, &out->header, err);
    if (st != KVS_OK) return st;
    /* A required signer is checked before any key is used: an unsigned or
     * otherwise signed file costs no unwrap. */
    if (opts && opts->require_signer)
        st = kvs_signer_check_resolve(opts->require_signer, out->header, &out->signer_pub, err);
    out->keys = kvs_file_keys_new();
    if (st == KVS_OK && !out->keys) st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    if (st == KVS_OK && n_keys == 0)
        st = kvs_fail(err, KVS_ERR_NO_RECIPIENT, "no key was given to decrypt with");
    if (st == KVS_OK)
        st = kvs_unlock_header_ex(out->header, bytes, len - KVS_TAG_LEN,
                                  bytes + len - KVS_TAG_LEN, keys, n_keys, out->keys, NULL,
                                  &out->recipient, when, err,
                                  opts ? opts->unlock_notes : NULL);
    if (st == KVS_OK) out->header->unlocked_recipient = out->recipient;
    /* Context is authenticated by the tag, so it is compared only after it. */
    if (st == KVS_OK && opts)
        st = kvs_header_check_context(out->header, opts->required_context,
                                      opts->n_required_context, err);
    if (st != KVS_OK) kvs_opened_header_clear(out);
    return st;
}

static kvs_status read_source(void *ctx, uint8_t *buf, size_t len, size_t *got, kvs_error *err)
{
    kvs_source *in = ctx;
    return in->ops->read(in, buf, len, got, err);
}

kvs_status kvs_open_header_source(kvs_source *in, const kvs_decrypt_options *opts,
                                  kvs_provider *const *keys, size_t n_keys, kvs_unlock_when when,
                                  kvs_opened_header *out, kvs_error *err)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    out->recipient = -1;
    kvs_status st = kvs_header_read_stored_from(read_source, in, &bytes, &len, err);
    if (st != KVS_OK) return st;
    st = kvs_open_header(bytes, len, opts, keys, n_keys, when, out, err);
    free(bytes);
    return st;
}

kvs_status kvs_open_header_fd(int fd, const kvs_decrypt_options *opts,
                              kvs_provider *const *keys, size_t n_keys, kvs_unlock_when when,
                              kvs_opened_header *out, kvs_error *err)
{
    kvs_fd_source in;
    kvs_fd_source_init(&in, fd, 0);
    return kvs_open_header_source(&in.base, opts, keys, n_keys, when, out, err);
}

void kvs_sealed_header_clear(kvs_sealed_header *s)
{
    free(s->bytes);
    kvs_header_free(s->header);
    kvs_file_keys_free(s->keys);
    memset(s, 0, sizeof *s);
}

void kvs_opened_header_clear(kvs_opened_header *o)
{
    kvs_header_free(o->header);
    kvs_file_keys_free(o->keys);
    EVP_PKEY_free(o->signer_pub);
    memset(o, 0, sizeof *o);
    o->recipient = -1;
}
