/* An in-memory kvs_blob_store (src/blob/store.h) for unit tests: one block
 * blob that behaves as Blob Storage does (staged blocks invisible until a
 * block list commits them, conditional commits, an ETag that changes on
 * every commit, ranged reads past the end refused), with fault injection
 * and counters. Thread-safe, like the real store. */
#ifndef KVS_TEST_FAKE_STORE_H
#define KVS_TEST_FAKE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "blob/store.h"

typedef struct fake_store fake_store;

/* What the tests count; read with fake_store_counters. */
typedef struct fake_store_counters {
    uint64_t bytes_read;      /* by read_range */
    uint64_t bytes_uploaded;  /* by put_block */
    unsigned properties, read_range, put_block, put_block_list, committed_blocks;
    unsigned max_put_in_flight; /* most put_block calls running at once */
    unsigned max_read_in_flight; /* most read_range calls running at once */
} fake_store_counters;

/* A new, empty store (no blob yet). Free it with fake_store_base(f)->ops->free. */
fake_store *fake_store_new(void);
kvs_blob_store *fake_store_base(fake_store *f);

/* Make the blob exactly these bytes (one committed block), new ETag. */
void fake_store_set_blob(fake_store *f, const uint8_t *bytes, size_t len);
/* A copy of the committed blob (malloc'd, caller frees; NULL and *len 0 if
 * there is none). */
uint8_t *fake_store_blob(fake_store *f, size_t *len);
int fake_store_exists(fake_store *f);
/* Blocks staged and not (yet) committed. */
size_t fake_store_staged(fake_store *f);
/* The value of committed metadata name, or NULL (valid until the next commit). */
const char *fake_store_meta(fake_store *f, const char *name);
void fake_store_counters_get(fake_store *f, fake_store_counters *out);
void fake_store_counters_reset(fake_store *f);

/* Faults. The nth put_block call from now (1 = the next) fails with
 * KVS_ERR_UNAVAILABLE; 0 disables. */
void fake_store_fail_put_block(fake_store *f, unsigned nth);
/* The same, but the nth put_block fails as the REST store maps a 400
 * Md5Mismatch: KVS_ERR_IO (not retryable). */
void fake_store_fail_put_block_md5(fake_store *f, unsigned nth);
/* After nth more read_range calls succeed, the blob is replaced by a copy
 * with a new ETag (as if another writer committed it); 0 disables. */
void fake_store_change_after_reads(fake_store *f, unsigned nth);
/* Flip one byte of the committed blob in place, keeping its ETag (damage). */
void fake_store_corrupt(fake_store *f, uint64_t offset);
/* Cut the committed blob to len bytes, keeping its ETag (damage). */
void fake_store_truncate(fake_store *f, uint64_t len);
/* Each put_block (read_range) sleeps this long first, to make calls overlap. */
void fake_store_put_delay_us(fake_store *f, unsigned us);
void fake_store_read_delay_us(fake_store *f, unsigned us);

#endif
