/* The byte-level pieces of signed files (FORMAT.md "Signed files"): leaf
 * hashes, segment roots accumulated in order from leaves that arrive in any
 * order, the trailer's codec, the data key commitment and the statement M. */
#include "format/signed.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/error.h"
#include "crypto/crypto.h"
#include "crypto/sign.h"

#define KVS_SEGMENTS_MAX ((uint32_t)1 << 28) /* 2^32 chunks / 16 */

static const char dom_leaf[] = "kvseal/v1/leaf";
static const char dom_segment[] = "kvseal/v1/segment";
static const char dom_roots[] = "kvseal/v1/roots";
static const char dom_commit[] = "kvseal/v1/commit";
static const char dom_statement[] = "kvseal/v1/signed-file";

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)(v >> 32));
    put_u32(p + 4, (uint32_t)v);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* SHA-256 is fetched once (the chunk workers hash every stored chunk). */
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha_md;

static void sha_fetch(void)
{
    sha_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256_md(void)
{
    pthread_once(&sha_once, sha_fetch);
    return sha_md ? sha_md : EVP_sha256();
}

/* SHA-256 of a domain string, a u64 and one or two byte strings. */
static kvs_status hash_parts(const char *dom, size_t dom_len, uint64_t v, const uint8_t *a,
                             size_t a_len, uint8_t out[KVS_HASH_LEN])
{
    uint8_t num[8];
    unsigned int n = 0;
    put_u64(num, v);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) return KVS_ERR_NOMEM;
    int ok = EVP_DigestInit_ex(ctx, sha256_md(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, dom, dom_len) == 1 && EVP_DigestUpdate(ctx, num, 8) == 1 &&
             (a_len == 0 || EVP_DigestUpdate(ctx, a, a_len) == 1) &&
             EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == KVS_HASH_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? KVS_OK : KVS_ERR_CRYPTO;
}

kvs_status kvs_leaf_hash(uint64_t index, const uint8_t *stored, size_t len,
                         uint8_t leaf[KVS_HASH_LEN])
{
    if (stored == NULL && len > 0) return KVS_ERR_USAGE;
    return hash_parts(dom_leaf, sizeof dom_leaf - 1, index, stored, len, leaf);
}

uint32_t kvs_segments_for(uint64_t chunks)
{
    uint64_t m = (chunks + KVS_SEGMENT_CHUNKS - 1) / KVS_SEGMENT_CHUNKS;
    return m > UINT32_MAX ? UINT32_MAX : (uint32_t)m;
}

kvs_status kvs_segment_root(uint64_t segment, const uint8_t (*leaves)[KVS_HASH_LEN],
                            size_t n_leaves, uint8_t root[KVS_HASH_LEN])
{
    if (leaves == NULL || n_leaves < 1 || n_leaves > KVS_SEGMENT_CHUNKS) return KVS_ERR_USAGE;
    return hash_parts(dom_segment, sizeof dom_segment - 1, segment, &leaves[0][0],
                      n_leaves * KVS_HASH_LEN, root);
}

kvs_status kvs_segment_root_check(const uint8_t *roots, uint32_t m, uint64_t j,
                                  const uint8_t *computed, kvs_error *err)
{
    if (computed && j < m && CRYPTO_memcmp(computed, roots + j * KVS_HASH_LEN, KVS_HASH_LEN) == 0)
        return KVS_OK;
    uint64_t first = j * KVS_SEGMENT_CHUNKS;
    return kvs_fail(err, KVS_ERR_AUTH,
                    "authentication failed: chunks %llu to %llu do not match the signed segment root %llu",
                    (unsigned long long)first, (unsigned long long)(first + KVS_SEGMENT_CHUNKS - 1),
                    (unsigned long long)j);
}

kvs_status kvs_roots_digest(const uint8_t *roots, uint32_t m, uint8_t out[KVS_HASH_LEN])
{
    if (roots == NULL && m > 0) return KVS_ERR_USAGE;
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) return KVS_ERR_NOMEM;
    int ok = EVP_DigestInit_ex(ctx, sha256_md(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, dom_roots, sizeof dom_roots - 1) == 1 &&
             (m == 0 || EVP_DigestUpdate(ctx, roots, (size_t)m * KVS_HASH_LEN) == 1) &&
             EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == KVS_HASH_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? KVS_OK : KVS_ERR_CRYPTO;
}

/* ---- the roots accumulator ------------------------------------------------ */

/* Leaves wait in a ring of `slots` entries indexed by chunk index modulo
 * slots. The ring covers the first incomplete segment (`base`, a multiple
 * of 16) up to `window` chunks past the lowest missing leaf, which is less
 * than base + 16: slots = window + 16 always suffices. */
struct kvs_roots {
    size_t window;
    size_t slots;
    uint8_t (*leaves)[KVS_HASH_LEN];
    uint8_t *have;
    uint64_t base;    /* first chunk of segment `count` */
    uint64_t missing; /* lowest index not yet added */
    uint8_t *roots;
    uint32_t count, cap;
    int finished;
};

kvs_roots *kvs_roots_new(size_t window)
{
    if (window < 1 || window > ((size_t)1 << 24)) return NULL;
    kvs_roots *r = calloc(1, sizeof *r);
    if (r == NULL) return NULL;
    r->window = window;
    r->slots = window + KVS_SEGMENT_CHUNKS;
    r->leaves = calloc(r->slots, KVS_HASH_LEN);
    r->have = calloc(r->slots, 1);
    if (r->leaves == NULL || r->have == NULL) {
        kvs_roots_free(r);
        return NULL;
    }
    return r;
}

void kvs_roots_free(kvs_roots *r)
{
    if (r == NULL) return;
    free(r->leaves);
    free(r->have);
    free(r->roots);
    free(r);
}

static kvs_status roots_append(kvs_roots *r, const uint8_t root[KVS_HASH_LEN])
{
    if (r->count >= KVS_SEGMENTS_MAX) return KVS_ERR_LIMIT;
    if (r->count == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 64;
        if (cap > KVS_SEGMENTS_MAX) cap = KVS_SEGMENTS_MAX;
        uint8_t *grown = realloc(r->roots, (size_t)cap * KVS_HASH_LEN);
        if (grown == NULL) return KVS_ERR_NOMEM;
        r->roots = grown;
        r->cap = cap;
    }
    memcpy(r->roots + (size_t)r->count * KVS_HASH_LEN, root, KVS_HASH_LEN);
    r->count++;
    return KVS_OK;
}

/* Root of the segment at base from its first n leaves, then release them. */
static kvs_status roots_close_segment(kvs_roots *r, size_t n)
{
    uint8_t seg[KVS_SEGMENT_CHUNKS][KVS_HASH_LEN];
    for (size_t k = 0; k < n; k++) {
        size_t slot = (size_t)((r->base + k) % r->slots);
        memcpy(seg[k], r->leaves[slot], KVS_HASH_LEN);
        r->have[slot] = 0;
    }
    uint8_t root[KVS_HASH_LEN];
    kvs_status st = kvs_segment_root(r->base / KVS_SEGMENT_CHUNKS,
                                     (const uint8_t (*)[KVS_HASH_LEN])seg, n, root);
    if (st == KVS_OK) st = roots_append(r, root);
    if (st == KVS_OK) r->base += n;
    return st;
}

kvs_status kvs_roots_add(kvs_roots *r, uint64_t index, const uint8_t leaf[KVS_HASH_LEN],
                         uint32_t *complete)
{
    if (r == NULL || leaf == NULL) return KVS_ERR_USAGE;
    if (r->finished) return KVS_ERR_STATE;
    if (index >= KVS_MAX_CHUNKS) return KVS_ERR_LIMIT;
    /* Below base: that segment is closed, so the leaf came twice. */
    if (index < r->base || index >= r->missing + r->window) return KVS_ERR_INTERNAL;
    size_t slot = (size_t)(index % r->slots);
    if (r->have[slot]) return KVS_ERR_INTERNAL; /* a leaf added twice */
    memcpy(r->leaves[slot], leaf, KVS_HASH_LEN);
    r->have[slot] = 1;
    kvs_status st = KVS_OK;
    for (;;) {
        while (r->missing < r->base + r->slots && r->have[r->missing % r->slots]) r->missing++;
        if (r->missing < r->base + KVS_SEGMENT_CHUNKS) break;
        if ((st = roots_close_segment(r, KVS_SEGMENT_CHUNKS)) != KVS_OK) break;
    }
    if (complete) *complete = r->count;
    return st;
}

kvs_status kvs_roots_finish(kvs_roots *r, uint64_t chunks)
{
    if (r == NULL) return KVS_ERR_USAGE;
    if (r->finished) return KVS_ERR_STATE;
    if (chunks < 1 || chunks > KVS_MAX_CHUNKS) return KVS_ERR_USAGE;
    /* Every leaf below chunks, none at or past it. */
    if (r->missing != chunks) return KVS_ERR_INTERNAL;
    for (size_t s = 0; s < r->slots; s++) {
        uint64_t base_slot = r->base % r->slots;
        uint64_t idx = r->base + (s + r->slots - base_slot) % r->slots;
        if (r->have[s] && idx >= chunks) return KVS_ERR_INTERNAL;
    }
    kvs_status st = KVS_OK;
    if (r->base < chunks) st = roots_close_segment(r, (size_t)(chunks - r->base));
    if (st == KVS_OK && r->count != kvs_segments_for(chunks)) st = KVS_ERR_INTERNAL;
    if (st == KVS_OK) r->finished = 1;
    return st;
}

uint32_t kvs_roots_count(const kvs_roots *r)
{
    return r ? r->count : 0;
}

const uint8_t *kvs_roots_get(const kvs_roots *r, uint32_t j)
{
    if (r == NULL || j >= r->count) return NULL;
    return r->roots + (size_t)j * KVS_HASH_LEN;
}

/* ---- the trailer ----------------------------------------------------------- */

uint64_t kvs_trailer_len(uint32_t m, uint16_t sig_len)
{
    return (uint64_t)m * KVS_HASH_LEN + KVS_HASH_LEN + sig_len + KVS_TRAILER_TAIL_LEN;
}

kvs_status kvs_trailer_parse_tail(const uint8_t tail[KVS_TRAILER_TAIL_LEN], uint32_t *m,
                                  uint16_t *sig_len, kvs_error *err)
{
    if (memcmp(tail + 6, KVS_TRAILER_MAGIC, 4) != 0) /* not secret */
        return kvs_fail(err, KVS_ERR_FORMAT, "signature trailer: the file does not end with "
                                             "KVSS (end_magic)");
    uint32_t mm = get_u32(tail);
    uint16_t sl = (uint16_t)((uint16_t)tail[4] << 8 | tail[5]);
    if (sl < 1 || sl > KVS_SIG_MAX_LEN)
        return kvs_fail(err, KVS_ERR_FORMAT, "signature trailer: sig_len %u is outside 1..%d",
                        (unsigned)sl, KVS_SIG_MAX_LEN);
    if (mm < 1 || mm > KVS_SEGMENTS_MAX)
        return kvs_fail(err, KVS_ERR_FORMAT, "signature trailer: m %u is outside 1..%u",
                        (unsigned)mm, (unsigned)KVS_SEGMENTS_MAX);
    *m = mm;
    *sig_len = sl;
    return KVS_OK;
}

kvs_status kvs_trailer_parse(const uint8_t *bytes, size_t len, kvs_trailer *out, kvs_error *err)
{
    memset(out, 0, sizeof *out);
    if (bytes == NULL || len < KVS_TRAILER_TAIL_LEN)
        return kvs_fail(err, KVS_ERR_FORMAT, "signature trailer: %zu bytes is too short", len);
    uint32_t m = 0;
    uint16_t sig_len = 0;
    kvs_status st = kvs_trailer_parse_tail(bytes + len - KVS_TRAILER_TAIL_LEN, &m, &sig_len, err);
    if (st != KVS_OK) return st;
    uint64_t want = kvs_trailer_len(m, sig_len);
    if ((uint64_t)len != want)
        return kvs_fail(err, KVS_ERR_FORMAT,
                        "signature trailer: %zu bytes, but m %u and sig_len %u make %llu", len,
                        (unsigned)m, (unsigned)sig_len, (unsigned long long)want);
    size_t roots_len = (size_t)m * KVS_HASH_LEN;
    out->roots = malloc(roots_len);
    if (out->roots == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    memcpy(out->roots, bytes, roots_len);
    memcpy(out->commit, bytes + roots_len, KVS_HASH_LEN);
    memcpy(out->sig, bytes + roots_len + KVS_HASH_LEN, sig_len);
    out->m = m;
    out->sig_len = sig_len;
    return KVS_OK;
}

void kvs_trailer_clear(kvs_trailer *t)
{
    if (t == NULL) return;
    free(t->roots);
    memset(t, 0, sizeof *t);
}

kvs_status kvs_trailer_encode(const uint8_t *roots, uint32_t m, const uint8_t commit[KVS_HASH_LEN],
                              const uint8_t *sig, uint16_t sig_len, uint8_t **out, size_t *out_len,
                              kvs_error *err)
{
    *out = NULL;
    if (roots == NULL || commit == NULL || sig == NULL || m < 1 || m > KVS_SEGMENTS_MAX ||
        sig_len < 1 || sig_len > KVS_SIG_MAX_LEN)
        return kvs_fail(err, KVS_ERR_INTERNAL, "signature trailer: bad m (%u) or sig_len (%u)",
                        (unsigned)m, (unsigned)sig_len);
    size_t len = (size_t)kvs_trailer_len(m, sig_len);
    uint8_t *buf = malloc(len);
    if (buf == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    size_t roots_len = (size_t)m * KVS_HASH_LEN;
    uint8_t *p = buf;
    memcpy(p, roots, roots_len);
    p += roots_len;
    memcpy(p, commit, KVS_HASH_LEN);
    p += KVS_HASH_LEN;
    memcpy(p, sig, sig_len);
    p += sig_len;
    put_u32(p, m);
    put_u16(p + 4, sig_len);
    memcpy(p + 6, KVS_TRAILER_MAGIC, 4);
    *out = buf;
    *out_len = len;
    return KVS_OK;
}

kvs_status kvs_trailer_check(const kvs_trailer *t, const kvs_header *h, uint64_t chunks,
                             kvs_error *err)
{
    if (h->signer.type[0] == '\0')
        return kvs_fail(err, KVS_ERR_FORMAT, "the file has a signature trailer but no signer");
    uint32_t want = kvs_segments_for(chunks);
    if (chunks < 1 || t->m != want)
        return kvs_fail(err, KVS_ERR_FORMAT,
                        "signature trailer: m is %u but %llu chunks make %u segments",
                        (unsigned)t->m, (unsigned long long)chunks, (unsigned)want);
    kvs_sig_alg alg = kvs_sig_alg_parse(h->signer.alg);
    int ok;
    switch (alg) {
    case KVS_SIG_ES256: ok = t->sig_len == 64; break;
    case KVS_SIG_ES384: ok = t->sig_len == 96; break;
    case KVS_SIG_PS256:
    case KVS_SIG_PS384:
    case KVS_SIG_PS512: ok = t->sig_len >= 384 && t->sig_len <= KVS_SIG_MAX_LEN; break;
    default:
        return kvs_fail(err, KVS_ERR_FORMAT, "the signer's alg is not one kvseal knows");
    }
    if (!ok)
        return kvs_fail(err, KVS_ERR_FORMAT, "signature trailer: sig_len %u does not fit %s",
                        (unsigned)t->sig_len, kvs_sig_alg_name(alg));
    return KVS_OK;
}

kvs_status kvs_commit_derive(const uint8_t dek[32], const uint8_t salt[KVS_SALT_LEN],
                             uint8_t commit[KVS_HASH_LEN])
{
    return kvs_hkdf_sha256(dek, 32, salt, KVS_SALT_LEN, (const uint8_t *)dom_commit,
                           sizeof dom_commit - 1, commit, KVS_HASH_LEN);
}

/* ---- the statement M ---------------------------------------------------------- */

typedef struct stmt_buf {
    uint8_t *p;
    size_t len, cap;
} stmt_buf;

static int sb_put(stmt_buf *b, const void *data, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap - b->len < n) cap *= 2;
        uint8_t *grown = realloc(b->p, cap);
        if (grown == NULL) return -1;
        b->p = grown;
        b->cap = cap;
    }
    if (n > 0) memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

/* lp(x) = u16(len) || x; -2 if x is over 65535 bytes. */
static int sb_lp(stmt_buf *b, const char *s)
{
    size_t n = strlen(s);
    uint8_t len[2];
    if (n > UINT16_MAX) return -2;
    put_u16(len, (uint16_t)n);
    return sb_put(b, len, 2) == 0 && sb_put(b, s, n) == 0 ? 0 : -1;
}

static int compare_pairs(const void *a, const void *b)
{
    /* strcmp orders by unsigned byte values: "sorted by key bytes" */
    return strcmp((*(const kvs_context_pair *const *)a)->key,
                  (*(const kvs_context_pair *const *)b)->key);
}

kvs_status kvs_statement_build(const kvs_header *h, uint64_t chunks,
                               const uint8_t commit[KVS_HASH_LEN], uint32_t m,
                               const uint8_t roots_digest[KVS_HASH_LEN], uint8_t **out,
                               size_t *out_len, kvs_error *err)
{
    *out = NULL;
    if (h->signer.type[0] == '\0')
        return kvs_fail(err, KVS_ERR_INTERNAL, "a signed statement for a header without signer");
    if (h->n_context > UINT16_MAX)
        return kvs_fail(err, KVS_ERR_FORMAT, "too many context pairs to sign");
    const kvs_context_pair **sorted = NULL;
    if (h->n_context > 0) {
        sorted = malloc(h->n_context * sizeof *sorted);
        if (sorted == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < h->n_context; i++) sorted[i] = &h->context[i];
        qsort(sorted, h->n_context, sizeof *sorted, compare_pairs);
    }
    stmt_buf b = {0};
    uint8_t fixed[4 + 8];
    uint8_t zero = 0, one = 1;
    int rc = sb_put(&b, dom_statement, sizeof dom_statement - 1);
    if (rc == 0) rc = sb_put(&b, &zero, 1);
    if (rc == 0) rc = sb_put(&b, h->salt, KVS_SALT_LEN);
    put_u32(fixed, h->chunk_size);
    put_u64(fixed + 4, chunks);
    if (rc == 0) rc = sb_put(&b, fixed, 12);
    if (rc == 0) rc = sb_put(&b, commit, KVS_HASH_LEN);
    put_u32(fixed, m);
    if (rc == 0) rc = sb_put(&b, fixed, 4);
    if (rc == 0) rc = sb_put(&b, roots_digest, KVS_HASH_LEN);
    if (rc == 0) rc = sb_lp(&b, h->signer.type);
    if (rc == 0) rc = sb_lp(&b, h->signer.id);
    if (rc == 0) rc = sb_lp(&b, h->signer.alg);
    put_u16(fixed, (uint16_t)h->n_context);
    if (rc == 0) rc = sb_put(&b, fixed, 2);
    for (size_t i = 0; rc == 0 && i < h->n_context; i++) {
        rc = sb_lp(&b, sorted[i]->key);
        if (rc == 0) rc = sb_lp(&b, sorted[i]->value);
    }
    if (rc == 0 && h->created[0] != '\0') {
        rc = sb_put(&b, &one, 1);
        if (rc == 0) rc = sb_lp(&b, h->created);
    } else if (rc == 0) {
        rc = sb_put(&b, &zero, 1);
    }
    free(sorted);
    if (rc != 0) {
        free(b.p);
        if (rc == -2)
            return kvs_fail(err, KVS_ERR_FORMAT, "a signed header field is over 65535 bytes");
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    }
    *out = b.p;
    *out_len = b.len;
    return KVS_OK;
}
