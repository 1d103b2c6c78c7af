/* The byte-level pieces of signed files (format/signed.c): leaf and segment
 * hashes, the roots accumulator, the trailer codec and its checks, the data
 * key commitment and the statement M.
 *
 * The known answers below were computed independently, once, at authoring
 * time with Python's hashlib and hmac (HKDF written out from RFC 5869) from
 * FORMAT.md "Signed files", not with this code. The inputs: salt = 0x80..0x9f,
 * DEK = 0x00..0x1f, stored_i = (16 + i) bytes of value i. */
#include <stdlib.h>
#include <string.h>

#include "format/format.h"
#include "crypto/crypto.h"
#include "format/signed.h"
#include "testutil.h"

static void unhex(const char *hex, uint8_t *out, size_t n)
{
    ck_assert_int_eq(kvs_test_unhex(hex, out, n), (long)n);
}

static void assert_hex(const uint8_t *got, const char *hex)
{
    uint8_t want[64];
    size_t n = strlen(hex) / 2;
    unhex(hex, want, n);
    ck_assert_mem_eq(got, want, n);
}

static void salt_of(uint8_t salt[KVS_SALT_LEN])
{
    for (int i = 0; i < KVS_SALT_LEN; i++) salt[i] = (uint8_t)(0x80 + i);
}

/* stored_i: 16 + i bytes of value i. */
static void leaf_of(uint64_t i, uint8_t leaf[KVS_HASH_LEN])
{
    uint8_t stored[16 + 64];
    size_t n = 16 + (size_t)i;
    ck_assert_uint_le(n, sizeof stored);
    memset(stored, (int)(i & 0xff), n);
    ck_assert_int_eq(kvs_leaf_hash(i, stored, n, leaf), KVS_OK);
}

START_TEST(leaf_known_answers)
{
    uint8_t leaf[KVS_HASH_LEN];
    ck_assert_int_eq(kvs_leaf_hash(0, NULL, 0, leaf), KVS_OK);
    assert_hex(leaf, "0cb9a508baa0f273b79bb7397367fee0f662d869bbfc2e01b1bd8fc4e6cac1ff");
    uint8_t stored[19];
    for (int i = 0; i < 16; i++) stored[i] = (uint8_t)i;
    memcpy(stored + 16, "abc", 3);
    ck_assert_int_eq(kvs_leaf_hash(0x0102030405060708ull, stored, sizeof stored, leaf), KVS_OK);
    assert_hex(leaf, "9839348f5197df8241f646d92ff2ac925608b97f7ac5d45ba1bba00a44ef70a0");
}
END_TEST

START_TEST(segment_root_known_answers)
{
    uint8_t leaves[17][KVS_HASH_LEN], root[KVS_HASH_LEN];
    for (uint64_t i = 0; i < 17; i++) leaf_of(i, leaves[i]);
    ck_assert_int_eq(kvs_segment_root(0, (const uint8_t (*)[KVS_HASH_LEN])leaves, 16, root),
                     KVS_OK);
    assert_hex(root, "14e7de2fbf648b6d0b54b7fc7466cd4e2e921a80c5099ec4509526c4670d7e76");
    ck_assert_int_eq(kvs_segment_root(1, (const uint8_t (*)[KVS_HASH_LEN])&leaves[16], 1, root),
                     KVS_OK);
    assert_hex(root, "554f967f49fe98c76b454680c0ceb149fcb0a26f73fdc4598ed316db415ed4bf");
    ck_assert_int_eq(kvs_segment_root(0, (const uint8_t (*)[KVS_HASH_LEN])leaves, 0, root),
                     KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_segment_root(0, (const uint8_t (*)[KVS_HASH_LEN])leaves, 17, root),
                     KVS_ERR_USAGE);
    ck_assert_uint_eq(kvs_segments_for(1), 1);
    ck_assert_uint_eq(kvs_segments_for(16), 1);
    ck_assert_uint_eq(kvs_segments_for(17), 2);
    ck_assert_uint_eq(kvs_segments_for(KVS_MAX_CHUNKS), 1u << 28);
}
END_TEST

/* n, the roots digest of n chunks (hashlib). */
static const struct {
    uint64_t n;
    const char *digest;
} roots_kat[] = {
    {1, "323447e3d63739c497b826984a0e89e02dcd115f33aecc69788b9b8992856800"},
    {15, "6346aacb7c85347ca189705c4eb9dfc900b83318359a327c8209fdea73a783ca"},
    {16, "4c4f8b265bd76a8035bb3c3f41ad9fd23fa86d49fc8dd39f567a9ec3b351b505"},
    {17, "740a27031b1659562b39f4c86e2ade12014b78b5e2c97bb47bc4589a25d04209"},
    {40, "e1db6dd9bbdf32d29ba6b14e0ccf5bc729cf7d7d2961c8efffc7b9d036945e57"},
};

/* Leaves in an order that is never sorted but stays inside a window of 8:
 * each block of 8 indices reversed (the last block may be short). */
static uint64_t shuffled(uint64_t k, uint64_t n)
{
    uint64_t block = k / 8 * 8, len = n - block < 8 ? n - block : 8;
    return block + (len - 1 - (k - block));
}

START_TEST(roots_out_of_order)
{
    uint64_t n = roots_kat[_i].n;
    kvs_roots *r = kvs_roots_new(8);
    ck_assert_ptr_nonnull(r);
    uint32_t complete = 99, last = 0;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t i = shuffled(k, n);
        uint8_t leaf[KVS_HASH_LEN];
        leaf_of(i, leaf);
        ck_assert_int_eq(kvs_roots_add(r, i, leaf, &complete), KVS_OK);
        ck_assert_uint_ge(complete, last); /* in order, never backwards */
        last = complete;
        /* A segment is complete exactly when its 16 leaves are all in. */
        ck_assert_uint_le((uint64_t)complete * 16, k + 1);
    }
    ck_assert_uint_eq(complete, n / 16);
    ck_assert_int_eq(kvs_roots_finish(r, n), KVS_OK);
    uint32_t m = kvs_roots_count(r);
    ck_assert_uint_eq(m, kvs_segments_for(n));
    ck_assert_ptr_null(kvs_roots_get(r, m));
    /* Each root equals the one computed from its leaves directly. */
    uint8_t *all = malloc((size_t)m * KVS_HASH_LEN);
    ck_assert_ptr_nonnull(all);
    for (uint32_t j = 0; j < m; j++) {
        uint8_t leaves[16][KVS_HASH_LEN], root[KVS_HASH_LEN];
        size_t cnt = 0;
        for (uint64_t i = (uint64_t)j * 16; i < n && cnt < 16; i++) leaf_of(i, leaves[cnt++]);
        ck_assert_int_eq(kvs_segment_root(j, (const uint8_t (*)[KVS_HASH_LEN])leaves, cnt, root),
                         KVS_OK);
        ck_assert_mem_eq(kvs_roots_get(r, j), root, KVS_HASH_LEN);
        memcpy(all + (size_t)j * KVS_HASH_LEN, root, KVS_HASH_LEN);
    }
    uint8_t digest[KVS_HASH_LEN];
    ck_assert_int_eq(kvs_roots_digest(all, m, digest), KVS_OK);
    assert_hex(digest, roots_kat[_i].digest);
    free(all);
    /* Finished: nothing more is taken. */
    uint8_t leaf[KVS_HASH_LEN] = {0};
    ck_assert_int_eq(kvs_roots_add(r, n, leaf, NULL), KVS_ERR_STATE);
    ck_assert_int_eq(kvs_roots_finish(r, n), KVS_ERR_STATE);
    kvs_roots_free(r);
}
END_TEST

START_TEST(roots_refusals)
{
    uint8_t leaf[KVS_HASH_LEN] = {1};
    uint32_t c = 0;
    kvs_roots *r = kvs_roots_new(8);
    ck_assert_ptr_nonnull(r);
    /* Window: 8 chunks past the lowest missing one (0). */
    ck_assert_int_eq(kvs_roots_add(r, 8, leaf, &c), KVS_ERR_INTERNAL);
    ck_assert_int_eq(kvs_roots_add(r, 7, leaf, &c), KVS_OK);
    ck_assert_int_eq(kvs_roots_add(r, 7, leaf, &c), KVS_ERR_INTERNAL); /* twice */
    for (uint64_t i = 0; i < 7; i++) ck_assert_int_eq(kvs_roots_add(r, i, leaf, &c), KVS_OK);
    /* Lowest missing is 8 now: 15 is inside the window, 16 is not. */
    ck_assert_int_eq(kvs_roots_add(r, 16, leaf, &c), KVS_ERR_INTERNAL);
    ck_assert_int_eq(kvs_roots_add(r, 15, leaf, &c), KVS_OK);
    for (uint64_t i = 8; i < 15; i++) ck_assert_int_eq(kvs_roots_add(r, i, leaf, &c), KVS_OK);
    ck_assert_uint_eq(c, 1);
    /* Segment 0 is closed: its leaves cannot come again. */
    ck_assert_int_eq(kvs_roots_add(r, 3, leaf, &c), KVS_ERR_INTERNAL);
    ck_assert_int_eq(kvs_roots_add(r, 17, leaf, &c), KVS_OK);
    /* Leaf 16 is missing: 18 chunks cannot finish, nor 17 with 17 present. */
    ck_assert_int_eq(kvs_roots_finish(r, 18), KVS_ERR_INTERNAL);
    ck_assert_int_eq(kvs_roots_finish(r, 17), KVS_ERR_INTERNAL);
    ck_assert_int_eq(kvs_roots_add(r, 16, leaf, &c), KVS_OK);
    /* A leaf past the end (17) was added: 17 chunks is refused, 18 fine. */
    ck_assert_int_eq(kvs_roots_finish(r, 17), KVS_ERR_INTERNAL);
    ck_assert_int_eq(kvs_roots_finish(r, 18), KVS_OK);
    ck_assert_uint_eq(kvs_roots_count(r), 2);
    kvs_roots_free(r);

    r = kvs_roots_new(4);
    ck_assert_int_eq(kvs_roots_finish(r, 0), KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_roots_add(r, KVS_MAX_CHUNKS, leaf, &c), KVS_ERR_LIMIT);
    kvs_roots_free(r);
    ck_assert_ptr_null(kvs_roots_new(0));
    kvs_roots_free(NULL);
}
END_TEST

/* A finished accumulator with a window of 1 (strictly in order) over many
 * segments: memory is the window and the roots, not the leaves. */
START_TEST(roots_in_order_many)
{
    kvs_roots *r = kvs_roots_new(1);
    uint8_t leaf[KVS_HASH_LEN];
    uint32_t c = 0;
    for (uint64_t i = 0; i < 16 * 300 + 5; i++) {
        memset(leaf, (int)(i * 7), sizeof leaf);
        ck_assert_int_eq(kvs_roots_add(r, i, leaf, &c), KVS_OK);
        ck_assert_uint_eq(c, (i + 1) / 16);
    }
    ck_assert_int_eq(kvs_roots_finish(r, 16 * 300 + 5), KVS_OK);
    ck_assert_uint_eq(kvs_roots_count(r), 301);
    kvs_roots_free(r);
}
END_TEST

static uint8_t *tail_of(uint8_t *buf, size_t len)
{
    return buf + len - KVS_TRAILER_TAIL_LEN;
}

START_TEST(trailer_roundtrip)
{
    uint8_t roots[2 * KVS_HASH_LEN], commit[KVS_HASH_LEN], sig[64];
    for (size_t i = 0; i < sizeof roots; i++) roots[i] = (uint8_t)i;
    memset(commit, 0xc0, sizeof commit);
    memset(sig, 0x5a, sizeof sig);
    uint8_t *enc = NULL;
    size_t len = 0;
    kvs_error err = {0};
    ck_assert_int_eq(kvs_trailer_encode(roots, 2, commit, sig, 64, &enc, &len, &err), KVS_OK);
    ck_assert_uint_eq(len, kvs_trailer_len(2, 64));
    ck_assert_uint_eq(len, 64 + 32 + 64 + 10);
    /* The fixed tail: u32 m, u16 sig_len, "KVSS". */
    static const uint8_t tail[10] = {0, 0, 0, 2, 0, 64, 'K', 'V', 'S', 'S'};
    ck_assert_mem_eq(tail_of(enc, len), tail, 10);
    ck_assert_mem_eq(enc, roots, sizeof roots);
    ck_assert_mem_eq(enc + 64, commit, 32);
    ck_assert_mem_eq(enc + 96, sig, 64);
    uint32_t m = 0;
    uint16_t sl = 0;
    ck_assert_int_eq(kvs_trailer_parse_tail(tail_of(enc, len), &m, &sl, &err), KVS_OK);
    ck_assert_uint_eq(m, 2);
    ck_assert_uint_eq(sl, 64);
    kvs_trailer t;
    ck_assert_int_eq(kvs_trailer_parse(enc, len, &t, &err), KVS_OK);
    ck_assert_uint_eq(t.m, 2);
    ck_assert_uint_eq(t.sig_len, 64);
    ck_assert_mem_eq(t.roots, roots, sizeof roots);
    ck_assert_mem_eq(t.commit, commit, 32);
    ck_assert_mem_eq(t.sig, sig, 64);
    kvs_trailer_clear(&t);
    ck_assert_ptr_null(t.roots);
    free(enc);
    /* Encoding refuses what no decoder accepts. */
    ck_assert_int_eq(kvs_trailer_encode(roots, 0, commit, sig, 64, &enc, &len, &err),
                     KVS_ERR_INTERNAL);
    ck_assert_int_eq(kvs_trailer_encode(roots, 1, commit, sig, 0, &enc, &len, &err),
                     KVS_ERR_INTERNAL);
    ck_assert_int_eq(kvs_trailer_encode(roots, 1, commit, sig, 1025, &enc, &len, &err),
                     KVS_ERR_INTERNAL);
    ck_assert_ptr_null(enc);
}
END_TEST

/* A trailer of m roots and sig_len bytes of signature, then the tail edited. */
static uint8_t *make_trailer(uint32_t m, uint16_t sig_len, size_t *len)
{
    static uint8_t roots[4 * KVS_HASH_LEN], sig[1024], commit[KVS_HASH_LEN];
    uint8_t *enc = NULL;
    ck_assert_int_eq(kvs_trailer_encode(roots, m, commit, sig, sig_len, &enc, len, NULL), KVS_OK);
    return enc;
}

START_TEST(trailer_malformed)
{
    kvs_error err = {0};
    kvs_trailer t;
    uint32_t m = 0;
    uint16_t sl = 0;
    size_t len = 0;
    uint8_t *enc = make_trailer(1, 64, &len);
    uint8_t *tl = tail_of(enc, len);

    tl[9] = 'T'; /* end_magic */
    ck_assert_int_eq(kvs_trailer_parse_tail(tl, &m, &sl, &err), KVS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.detail, "end_magic"));
    ck_assert_int_eq(kvs_trailer_parse(enc, len, &t, &err), KVS_ERR_FORMAT);
    ck_assert_ptr_null(t.roots);
    tl[9] = 'S';
    tl[4] = 0, tl[5] = 0; /* sig_len 0 */
    ck_assert_int_eq(kvs_trailer_parse_tail(tl, &m, &sl, &err), KVS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.detail, "sig_len"));
    tl[4] = 0x04, tl[5] = 0x01; /* 1025 */
    ck_assert_int_eq(kvs_trailer_parse_tail(tl, &m, &sl, &err), KVS_ERR_FORMAT);
    tl[4] = 0xff, tl[5] = 0xff;
    ck_assert_int_eq(kvs_trailer_parse_tail(tl, &m, &sl, &err), KVS_ERR_FORMAT);
    tl[4] = 0x04, tl[5] = 0x00; /* 1024: the tail is fine, the length is not */
    ck_assert_int_eq(kvs_trailer_parse_tail(tl, &m, &sl, &err), KVS_OK);
    ck_assert_uint_eq(sl, 1024);
    ck_assert_int_eq(kvs_trailer_parse(enc, len, &t, &err), KVS_ERR_FORMAT);
    tl[4] = 0, tl[5] = 64;
    memset(tl, 0, 4); /* m 0 */
    ck_assert_int_eq(kvs_trailer_parse_tail(tl, &m, &sl, &err), KVS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.detail, "m 0"));
    tl[0] = 0x10, tl[3] = 1; /* m = 2^28 + 1: more segments than 2^32 chunks make */
    ck_assert_int_eq(kvs_trailer_parse_tail(tl, &m, &sl, &err), KVS_ERR_FORMAT);
    tl[0] = 0xff, tl[1] = 0xff, tl[2] = 0xff, tl[3] = 0xff;
    ck_assert_int_eq(kvs_trailer_parse(enc, len, &t, &err), KVS_ERR_FORMAT);
    tl[0] = 0, tl[1] = 0, tl[2] = 0, tl[3] = 2; /* m 2: one root short */
    ck_assert_int_eq(kvs_trailer_parse(enc, len, &t, &err), KVS_ERR_FORMAT);
    tl[3] = 1;
    ck_assert_int_eq(kvs_trailer_parse(enc, len, &t, &err), KVS_OK);
    kvs_trailer_clear(&t);
    /* One byte more or less in front: the length no longer agrees. */
    uint8_t *longer = malloc(len + 1);
    longer[0] = 0;
    memcpy(longer + 1, enc, len);
    ck_assert_int_eq(kvs_trailer_parse(longer, len + 1, &t, &err), KVS_ERR_FORMAT);
    ck_assert_int_eq(kvs_trailer_parse(enc + 1, len - 1, &t, &err), KVS_ERR_FORMAT);
    /* Shorter than the tail itself. */
    ck_assert_int_eq(kvs_trailer_parse(enc + len - 9, 9, &t, &err), KVS_ERR_FORMAT);
    ck_assert_int_eq(kvs_trailer_parse(enc, 0, &t, &err), KVS_ERR_FORMAT);
    free(longer);
    free(enc);
}
END_TEST

static kvs_header *signed_header(const char *alg)
{
    kvs_header *h = kvs_header_new();
    ck_assert_ptr_nonnull(h);
    h->chunk_size = 4096;
    salt_of(h->salt);
    snprintf(h->signer.type, sizeof h->signer.type, "%s", KVS_SIGNER_KEY);
    memset(h->signer.id, 0, sizeof h->signer.id);
    memcpy(h->signer.id, "sha256:", 7);
    for (int i = 0; i < 32; i++) memcpy(h->signer.id + 7 + 2 * i, "ab", 2);
    snprintf(h->signer.alg, sizeof h->signer.alg, "%s", alg);
    return h;
}

START_TEST(trailer_check_rules)
{
    kvs_error err = {0};
    kvs_trailer t;
    memset(&t, 0, sizeof t);
    kvs_header *h = signed_header("ES256");
    t.m = 2;
    t.sig_len = 64;
    ck_assert_int_eq(kvs_trailer_check(&t, h, 17, &err), KVS_OK);
    ck_assert_int_eq(kvs_trailer_check(&t, h, 32, &err), KVS_OK);
    ck_assert_int_eq(kvs_trailer_check(&t, h, 16, &err), KVS_ERR_FORMAT); /* m must be 1 */
    ck_assert_int_eq(kvs_trailer_check(&t, h, 33, &err), KVS_ERR_FORMAT); /* m must be 3 */
    ck_assert_int_eq(kvs_trailer_check(&t, h, 0, &err), KVS_ERR_FORMAT);
    t.sig_len = 96;
    ck_assert_int_eq(kvs_trailer_check(&t, h, 17, &err), KVS_ERR_FORMAT);
    snprintf(h->signer.alg, sizeof h->signer.alg, "ES384");
    ck_assert_int_eq(kvs_trailer_check(&t, h, 17, &err), KVS_OK);
    t.sig_len = 64;
    ck_assert_int_eq(kvs_trailer_check(&t, h, 17, &err), KVS_ERR_FORMAT);
    const char *ps[] = {"PS256", "PS384", "PS512"};
    for (int i = 0; i < 3; i++) {
        snprintf(h->signer.alg, sizeof h->signer.alg, "%s", ps[i]);
        t.sig_len = 383;
        ck_assert_int_eq(kvs_trailer_check(&t, h, 17, &err), KVS_ERR_FORMAT);
        t.sig_len = 384;
        ck_assert_int_eq(kvs_trailer_check(&t, h, 17, &err), KVS_OK);
        t.sig_len = 1024;
        ck_assert_int_eq(kvs_trailer_check(&t, h, 17, &err), KVS_OK);
        t.sig_len = 64;
        ck_assert_int_eq(kvs_trailer_check(&t, h, 17, &err), KVS_ERR_FORMAT);
    }
    snprintf(h->signer.alg, sizeof h->signer.alg, "RS256");
    ck_assert_int_eq(kvs_trailer_check(&t, h, 17, &err), KVS_ERR_FORMAT);
    h->signer.type[0] = '\0'; /* an unsigned header has no trailer */
    ck_assert_int_eq(kvs_trailer_check(&t, h, 17, &err), KVS_ERR_FORMAT);
    kvs_header_free(h);
}
END_TEST

START_TEST(commit_known_answer)
{
    uint8_t dek[32], salt[KVS_SALT_LEN], commit[KVS_HASH_LEN];
    for (int i = 0; i < 32; i++) dek[i] = (uint8_t)i;
    salt_of(salt);
    ck_assert_int_eq(kvs_commit_derive(dek, salt, commit), KVS_OK);
    assert_hex(commit, "3521f09c9c9ceac02a6f99e8f294412263948f076779d75272a63e47429aa98c");
    /* Every file's keys carry it. */
    kvs_file_keys *k = kvs_file_keys_new();
    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(kvs_derive_file_keys(dek, salt, k), KVS_OK);
    ck_assert_mem_eq(k->commit, commit, KVS_HASH_LEN);
    ck_assert_int_ne(memcmp(k->payload_key, commit, 32), 0); /* not secret */
    kvs_file_keys_free(k);
}
END_TEST

static void statement_inputs(uint8_t commit[KVS_HASH_LEN], uint8_t rd[KVS_HASH_LEN])
{
    unhex("3521f09c9c9ceac02a6f99e8f294412263948f076779d75272a63e47429aa98c", commit, 32);
    unhex("740a27031b1659562b39f4c86e2ade12014b78b5e2c97bb47bc4589a25d04209", rd, 32);
}

START_TEST(statement_known_answers)
{
    uint8_t commit[KVS_HASH_LEN], rd[KVS_HASH_LEN], digest[KVS_HASH_LEN];
    uint8_t *m = NULL;
    size_t len = 0;
    kvs_error err = {0};
    statement_inputs(commit, rd);
    /* A local key, three context pairs given out of byte order, created. */
    kvs_header *h = signed_header("ES256");
    kvs_context_pair pairs[] = {{"host", "db1"}, {"app", "x"}, {"Zed", "z"}};
    ck_assert_int_eq(kvs_header_set_context(h, pairs, 3, &err), KVS_OK);
    snprintf(h->created, sizeof h->created, "2026-12-07T00:00:00Z");
    ck_assert_int_eq(kvs_statement_build(h, 17, commit, 2, rd, &m, &len, &err), KVS_OK);
    ck_assert_uint_eq(len, 271);
    ck_assert_int_eq(kvs_sha256(m, len, digest), KVS_OK);
    assert_hex(digest, "750685de10ea7abd90f6eb19383b1e55081ee3cbe220905be0b2889ea3a284ab");
    free(m);

    /* A Key Vault key, no context, no created: the whole M. */
    snprintf(h->signer.type, sizeof h->signer.type, "%s", KVS_SIGNER_KEYVAULT);
    snprintf(h->signer.id, sizeof h->signer.id, "https://v.vault.azure.net/keys/sign-1/0123abcd");
    snprintf(h->signer.alg, sizeof h->signer.alg, "PS256");
    ck_assert_int_eq(kvs_header_set_context(h, NULL, 0, &err), KVS_OK);
    h->created[0] = '\0';
    ck_assert_int_eq(kvs_statement_build(h, 17, commit, 2, rd, &m, &len, &err), KVS_OK);
    static const char want[] =
        "6b767365616c2f76312f7369676e65642d66696c6500808182838485868788898a8b8c8d8e8f9091"
        "92939495969798999a9b9c9d9e9f0000100000000000000000113521f09c9c9ceac02a6f99e8f294"
        "412263948f076779d75272a63e47429aa98c00000002740a27031b1659562b39f4c86e2ade12014b"
        "78b5e2c97bb47bc4589a25d04209000e617a7572652d6b65797661756c74002e68747470733a2f2f"
        "762e7661756c742e617a7572652e6e65742f6b6579732f7369676e2d312f30313233616263640005"
        "5053323536000000";
    uint8_t expect[208];
    unhex(want, expect, sizeof expect);
    ck_assert_uint_eq(len, sizeof expect);
    ck_assert_mem_eq(m, expect, sizeof expect);
    free(m);
    kvs_header_free(h);
}
END_TEST

START_TEST(statement_refusals)
{
    uint8_t commit[KVS_HASH_LEN], rd[KVS_HASH_LEN];
    uint8_t *m = NULL;
    size_t len = 0;
    kvs_error err = {0};
    statement_inputs(commit, rd);
    kvs_header *h = signed_header("ES256");
    /* A field lp() cannot carry (not reachable through the parser, which
     * bounds context at 1024 bytes, but the encoder must not wrap). */
    char *big = malloc(70000);
    memset(big, 'v', 69999);
    big[69999] = '\0';
    h->context = calloc(1, sizeof *h->context);
    h->context[0].key = strdup("k");
    h->context[0].value = big;
    h->n_context = 1;
    ck_assert_int_eq(kvs_statement_build(h, 17, commit, 2, rd, &m, &len, &err), KVS_ERR_FORMAT);
    ck_assert_ptr_null(m);
    /* No signer: nothing to sign. */
    h->signer.type[0] = '\0';
    ck_assert_int_eq(kvs_statement_build(h, 17, commit, 2, rd, &m, &len, &err),
                     KVS_ERR_INTERNAL);
    kvs_header_free(h);
}
END_TEST

static Suite *signed_format_suite(void)
{
    Suite *s = suite_create("signed_format");
    TCase *tc = tcase_create("signed");
    tcase_add_test(tc, leaf_known_answers);
    tcase_add_test(tc, segment_root_known_answers);
    tcase_add_loop_test(tc, roots_out_of_order, 0,
                        (int)(sizeof roots_kat / sizeof roots_kat[0]));
    tcase_add_test(tc, roots_refusals);
    tcase_add_test(tc, roots_in_order_many);
    tcase_add_test(tc, trailer_roundtrip);
    tcase_add_test(tc, trailer_malformed);
    tcase_add_test(tc, trailer_check_rules);
    tcase_add_test(tc, commit_known_answer);
    tcase_add_test(tc, statement_known_answers);
    tcase_add_test(tc, statement_refusals);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(signed_format_suite());
}
