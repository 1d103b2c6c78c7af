/* Drives the REST blob store against a live service (Azurite in
 * e2e.test_blob_azurite): every store.h operation, its conditions and its
 * failures, with whatever credential the environment configures.
 * Usage: blob_azurite_driver full|denied-read|denied-write URL, or
 * blob_azurite_driver list PREFIX-URL PAGE-SIZE (List Blobs in pages of
 * PAGE-SIZE, each blob's name below the prefix and size printed on a line:
 * the test-only way to page through a few blobs).
 * Exit 0 on success. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob/rest_store.h"

#define NBLK 4
#define BLK_LEN (300 * 1024 + 7)

static int failures;

#define CHECK(cond, ...)                                                                    \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                 \
            fprintf(stderr, __VA_ARGS__);                                                   \
            fprintf(stderr, "\n");                                                          \
            failures++;                                                                     \
        }                                                                                   \
    } while (0)

typedef struct job {
    kvs_blob_store *s;
    const char *id;
    const uint8_t *data;
    size_t len;
    kvs_status st;
    kvs_error err;
} job;

static void *put_one(void *arg)
{
    job *j = arg;
    j->st = j->s->ops->put_block(j->s, j->id, j->data, j->len, &j->err);
    return NULL;
}

/* The configuration under test: KVSEAL_TEST_SAS_FILE and
 * KVSEAL_TEST_BLOB_CREDENTIAL stand for the CLI's options. */
static const kvs_blob_config *config(void)
{
    static kvs_blob_config cfg;
    cfg.sas_file = getenv("KVSEAL_TEST_SAS_FILE");
    cfg.credential = getenv("KVSEAL_TEST_BLOB_CREDENTIAL");
    return &cfg;
}

/* No secret in a message: neither the key nor a SAS signature. */
static void check_clean(const kvs_error *e)
{
    const char *key = getenv("AZURE_STORAGE_KEY");
    CHECK(key == NULL || strstr(e->detail, key) == NULL, "key in message");
    CHECK(strstr(e->detail, "sig=") == NULL, "SAS in message: %s", e->detail);
}

static int full(const char *url)
{
    kvs_blob_store *s = NULL;
    kvs_error e;
    kvs_status st = kvs_blob_store_open(url, config(), &s, &e);
    CHECK(st == KVS_OK, "open: %s", e.detail);
    if (st != KVS_OK) return 1;
    kvs_blob_props p;
    st = s->ops->properties(s, &p, &e);
    CHECK(st == KVS_ERR_IO && strstr(e.detail, "no such blob"), "missing blob: %d %s", st,
          e.detail);

    /* Stage blocks in parallel threads. */
    static uint8_t data[NBLK][BLK_LEN];
    static const char *const ids[NBLK] = {"YmxrMDAwMA==", "YmxrMDAwMQ==", "YmxrMDAwMg==",
                                          "YmxrMDAwMw=="};
    pthread_t th[NBLK];
    job jobs[NBLK];
    for (size_t b = 0; b < NBLK; b++) {
        for (size_t i = 0; i < BLK_LEN; i++) data[b][i] = (uint8_t)(i * 31 + b * 7 + (i >> 9));
        jobs[b] = (job){s, ids[b], data[b], BLK_LEN - b * 1000, KVS_OK, {0, ""}};
        CHECK(pthread_create(&th[b], NULL, put_one, &jobs[b]) == 0, "thread");
    }
    uint64_t total = 0;
    for (size_t b = 0; b < NBLK; b++) {
        pthread_join(th[b], NULL);
        CHECK(jobs[b].st == KVS_OK, "put block %zu: %s", b, jobs[b].err.detail);
        total += jobs[b].len;
    }
    /* Staged blocks are invisible. */
    st = s->ops->properties(s, &p, &e);
    CHECK(st == KVS_ERR_IO, "staged blocks visible: %d", st);

    kvs_blob_block list[NBLK];
    memset(list, 0, sizeof(list));
    for (size_t b = 0; b < NBLK; b++) snprintf(list[b].id, sizeof(list[b].id), "%s", ids[b]);
    kvs_blob_meta meta[] = {{"kvseal_version", "1"}, {"kvseal_keys", "2"}};
    kvs_blob_commit c = {list, NBLK, meta, 2, NULL, 1};
    st = s->ops->put_block_list(s, &c, &e);
    CHECK(st == KVS_OK, "commit: %s", e.detail);
    st = s->ops->put_block_list(s, &c, &e);
    CHECK(st == KVS_ERR_EXISTS, "second commit: %d %s", st, e.detail);

    st = s->ops->properties(s, &p, &e);
    CHECK(st == KVS_OK && p.size == total && p.etag[0] == '"', "properties: %s size %llu", e.detail,
          (unsigned long long)p.size);
    kvs_blob_props first = p;

    /* Ranged reads: exact bytes, across block boundaries, with If-Match. */
    uint8_t *buf = malloc(BLK_LEN * 2);
    CHECK(buf != NULL, "malloc");
    st = s->ops->read_range(s, 0, buf, 100, p.etag, &e);
    CHECK(st == KVS_OK && memcmp(buf, data[0], 100) == 0, "read head: %s", e.detail);
    st = s->ops->read_range(s, jobs[0].len - 10, buf, 30, p.etag, &e);
    CHECK(st == KVS_OK && memcmp(buf, data[0] + jobs[0].len - 10, 10) == 0 &&
              memcmp(buf + 10, data[1], 20) == 0,
          "read across blocks: %s", e.detail);
    st = s->ops->read_range(s, total - 5, buf, 5, NULL, &e);
    CHECK(st == KVS_OK && memcmp(buf, data[3] + jobs[3].len - 5, 5) == 0, "read tail: %s",
          e.detail);
    st = s->ops->read_range(s, total - 5, buf, 10, NULL, &e);
    CHECK(st == KVS_ERR_TRUNCATED, "read past end: %d %s", st, e.detail);
    st = s->ops->read_range(s, total + 10, buf, 10, NULL, &e);
    CHECK(st == KVS_ERR_TRUNCATED, "read after end: %d %s", st, e.detail);

    /* Azurite drops idle keep-alive connections after 5 s: the next read
     * must retry on a fresh connection. */
    if (getenv("KVSEAL_BLOB_IDLE_TEST")) sleep(6);
    st = s->ops->read_range(s, jobs[0].len, buf, jobs[1].len, p.etag, &e);
    CHECK(st == KVS_OK && memcmp(buf, data[1], jobs[1].len) == 0, "read block after idle: %s",
          e.detail);

    kvs_blob_block *got = NULL;
    size_t n = 0;
    st = s->ops->committed_blocks(s, &got, &n, &p, &e);
    CHECK(st == KVS_OK && n == NBLK, "committed blocks: %s n=%zu", e.detail, n);
    for (size_t b = 0; st == KVS_OK && b < n && b < NBLK; b++)
        CHECK(strcmp(got[b].id, ids[b]) == 0 && got[b].size == jobs[b].len, "block %zu", b);
    CHECK(strcmp(p.etag, first.etag) == 0 && p.size == total, "block list etag/size");

    /* Rotation in place: a new block 0, the others reused as committed. */
    static uint8_t head[4096];
    memset(head, 0xa5, sizeof(head));
    st = s->ops->put_block(s, "aGRyMDAwMQ==", head, sizeof(head), &e);
    CHECK(st == KVS_OK, "put new head: %s", e.detail);
    for (size_t b = 0; b < n && b < NBLK; b++) list[b] = got[b];
    snprintf(list[0].id, sizeof(list[0].id), "aGRyMDAwMQ==");
    list[0].committed = 0;
    kvs_blob_commit rc = {list, NBLK, meta, 1, first.etag, 0};
    st = s->ops->put_block_list(s, &rc, &e);
    CHECK(st == KVS_OK, "re-commit: %s", e.detail);
    st = s->ops->put_block_list(s, &rc, &e);
    CHECK(st == KVS_ERR_IO, "stale If-Match commit: %d %s", st, e.detail);
    st = s->ops->read_range(s, 0, buf, 10, first.etag, &e);
    CHECK(st == KVS_ERR_IO && strstr(e.detail, "changed"), "stale If-Match read: %d %s", st,
          e.detail);
    st = s->ops->properties(s, &p, &e);
    CHECK(st == KVS_OK && p.size == total - jobs[0].len + sizeof(head), "new size");
    st = s->ops->read_range(s, sizeof(head) - 2, buf, 4, p.etag, &e);
    CHECK(st == KVS_OK && buf[0] == 0xa5 && buf[1] == 0xa5 && buf[2] == data[1][0] &&
              buf[3] == data[1][1],
          "rotated content: %s", e.detail);
    check_clean(&e);
    free(got);
    free(buf);
    s->ops->free(s);
    return failures ? 1 : 0;
}

/* A refused credential: reads (and writes, for "denied-write") are
 * KVS_ERR_KEY_ACCESS with a message naming the role, without the secret. */
static int denied(const char *url, int write)
{
    kvs_blob_store *s = NULL;
    kvs_error e;
    kvs_status st = kvs_blob_store_open(url, config(), &s, &e);
    CHECK(st == KVS_OK, "open: %s", e.detail);
    if (st != KVS_OK) return 1;
    static const uint8_t blk[64];
    if (write) {
        st = s->ops->put_block(s, "eHh4eA==", blk, sizeof(blk), &e);
        CHECK(st == KVS_ERR_KEY_ACCESS && strstr(e.detail, "Contributor"), "put: %d %s", st,
              e.detail);
    } else {
        kvs_blob_props p;
        st = s->ops->properties(s, &p, &e);
        CHECK(st == KVS_ERR_KEY_ACCESS && strstr(e.detail, "Reader"), "properties: %d %s", st,
              e.detail);
    }
    check_clean(&e);
    fprintf(stderr, "message: %s\n", e.detail);
    s->ops->free(s);
    return failures ? 1 : 0;
}

static int print_blob(void *arg, const kvs_blob_entry *b)
{
    (void)arg;
    printf("%s %llu\n", b->name, (unsigned long long)b->size);
    return 0;
}

static int list(const char *url, const char *page)
{
    kvs_error e;
    memset(&e, 0, sizeof(e));
    kvs_status st = kvs_blob_rest_list(url, NULL, (unsigned)atoi(page), print_blob, NULL, &e);
    if (st != KVS_OK) fprintf(stderr, "list: %s\n", e.detail);
    return st == KVS_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "list") == 0) return list(argv[2], argv[3]);
    if (argc != 3) {
        fprintf(stderr, "usage: %s full|denied-read|denied-write URL\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "full") == 0) return full(argv[2]);
    if (strcmp(argv[1], "denied-read") == 0) return denied(argv[2], 0);
    if (strcmp(argv[1], "denied-write") == 0) return denied(argv[2], 1);
    return 2;
}
