/* Parallel fd-to-fd engine (kvs_encrypt_fd / kvs_decrypt_fd), two modes.
 *
 * Direct (regular-file input, regular-file or no output): the input's size
 * fixes every chunk's offset, length and final flag up front, so each of N
 * workers (the calling thread is one) preads, seals or opens in place, and
 * pwrites its own chunks: no hand-off between threads. Memory: N *
 * (chunk_size + 16) bytes, plus one chunk for a worker whose chunk fails to
 * open (it reads the chunk again to tell truncation from damage).
 *
 * Memory (kvs_encrypt_mem / kvs_decrypt_mem) is direct mode over caller
 * buffers: each chunk is sealed or opened straight from input to output, with
 * no copies and no buffers of the engine's own.
 *
 * Ring (pipes, terminals, sockets): the calling thread reads chunks in order
 * into a ring of slots; N workers seal or open them in place, each with its
 * own GCM context; output goes straight to its computed offset with pwrite
 * (regular files) or, through one writer thread, in order (pipes). Memory:
 * (2 * threads + 2) * (chunk_size + 16) bytes plus one chunk per decrypting
 * worker. A chunk is only known to be final once the next read shows end of
 * input, so the reader holds each chunk until it has read the one after it.
 *
 * Either way, memory does not depend on the input size. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"
#include "format/format.h"
#include "kvseal/envelope.h"
#include "stream/chunk.h"
#include "stream/dek_session.h"
#include "stream/outguard.h"

#define MAX_THREADS 64
/* Chunks written out of order are at most this far ahead of the complete
 * prefix: one per direct worker, or the ring's 2 * MAX_THREADS + 2 slots. */
#define DONE_WINDOW 256

enum slot_state { SLOT_FREE, SLOT_FILLED, SLOT_WORKING, SLOT_DONE };

typedef struct slot {
    uint8_t *buf; /* chunk_size + 16 bytes: stored chunk, opened or sealed in place */
    size_t len;   /* bytes of input held */
    uint64_t index;
    int final;
    enum slot_state state;
} slot;

typedef struct pipeline {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int encrypt;
    const uint8_t *key;
    size_t chunk_size;
    slot *slots;
    size_t n_slots;
    uint64_t next_work, next_write;
    uint64_t processed; /* chunks sealed or opened successfully */
    uint64_t fail_index; /* lowest chunk that failed; UINT64_MAX if none */
    size_t touched;     /* most bytes any buffer held: all that needs wiping
                           (wiping untouched pages would fault them in) */
    uint64_t total;  /* chunks in the file, once the reader has seen the end */
    int reader_done;
    int failed;
    kvs_error err;   /* first failure */
    int in_fd;
    int out_fd;
    int positional;  /* pwrite at computed offsets instead of the ordered writer */
    uint64_t out_base;
    uint64_t consumed; /* input bytes read (ring: reader only; direct: under mu) */
    uint64_t in_base, in_len; /* direct: where the input's chunks start, their bytes */
    const uint8_t *mem_in;     /* memory mode: the input's chunks (NULL: fds) */
    uint8_t *mem_out;          /* memory mode: where output_offset 0 is */
    pthread_t caller;  /* direct: the thread that reports progress */
    void (*progress)(uint64_t bytes_done, void *arg);
    void *progress_arg;
    /* Positional output: how far it is complete from out_base, for a signal
     * handler that cuts it back (kvs_output_cut_on_signal). */
    kvs_outguard *guard;
    uint64_t done_chunks;              /* chunks written contiguously from 0 */
    uint8_t done_flag[DONE_WINDOW];    /* chunk i written, for i ahead of done_chunks */
    uint64_t done_end[DONE_WINDOW];    /* ... and where its output ends */
} pipeline;

static void set_failure(pipeline *p, const kvs_error *e)
{
    pthread_mutex_lock(&p->mu);
    if (!p->failed) {
        p->failed = 1;
        p->err = *e;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Record a chunk's failure (lock held): every chunk below the lowest failed
 * one was claimed before it and runs to completion, so that lowest index
 * bounds the contiguous prefix of output that is complete. */
static void note_chunk_result(pipeline *p, uint64_t index, kvs_status st, const kvs_error *e)
{
    if (st == KVS_OK) {
        p->processed++;
        return;
    }
    if (index < p->fail_index) p->fail_index = index;
    if (!p->failed) {
        p->failed = 1;
        p->err = *e;
    }
}

static size_t stored_size(const pipeline *p)
{
    return p->chunk_size + KVS_CHUNK_TAG_LEN;
}

/* Bytes of a slot's buffer in use: sealing appends the tag to the input. */
static size_t buffer_used(const pipeline *p, const slot *s)
{
    return s->len + (p->encrypt ? KVS_CHUNK_TAG_LEN : 0);
}

/* Output bytes of a processed slot, and where they go in the output. */
static size_t output_len(const pipeline *p, const slot *s)
{
    return p->encrypt ? s->len + KVS_CHUNK_TAG_LEN : s->len - KVS_CHUNK_TAG_LEN;
}

static uint64_t output_offset(const pipeline *p, const slot *s)
{
    uint64_t per = p->encrypt ? stored_size(p) : p->chunk_size;
    return p->out_base + s->index * per;
}

/* Seal chunk s from in to out (in place when they are equal). */
static kvs_status seal_chunk(kvs_gcm *gcm, const slot *s, const uint8_t *in, uint8_t *out,
                             kvs_error *err)
{
    kvs_status st = kvs_chunk_seal(gcm, s->index, s->final, in, s->len, out);
    return st == KVS_OK ? KVS_OK : kvs_fail(err, st, "chunk encryption failed");
}

/* Ring mode: seal in place; open into the worker's scratch buffer, which
 * then trades places with the slot's (no copy), so a failed chunk can still
 * be retried with the other final flag to tell truncation from damage (a
 * pipe cannot be read again). */
static kvs_status process(pipeline *p, kvs_gcm *gcm, slot *s, uint8_t **scratch,
                          kvs_error *err)
{
    if (p->encrypt) return seal_chunk(gcm, s, s->buf, s->buf, err);
    kvs_status st = kvs_chunk_open_checked(gcm, s->index, s->final, s->buf, s->len, *scratch, err);
    uint8_t *opened = *scratch;
    *scratch = s->buf;
    s->buf = opened;
    return st;
}

static kvs_status write_slot(pipeline *p, const slot *s, kvs_error *err)
{
    size_t n = output_len(p, s);
    if (p->out_fd < 0) return KVS_OK; /* verify only */
    if (!p->positional) return kvs_write_full(p->out_fd, s->buf, n, err);
    size_t done = 0;
    uint64_t off = output_offset(p, s);
    kvs_status st = KVS_OK;
    kvs_outguard_enter(p->guard);
    while (st == KVS_OK && done < n) {
        ssize_t w = pwrite(p->out_fd, s->buf + done, n - done, (off_t)(off + done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) st = kvs_fail(err, KVS_ERR_IO, "write failed: %s", strerror(errno));
        else done += (size_t)w;
    }
    kvs_outguard_leave(p->guard);
    return st;
}

/* Positional output, lock held: chunk s is written; tell the guard how far
 * the output is now complete from its start (chunks finish out of order). */
static void note_written(pipeline *p, const slot *s)
{
    uint64_t i = s->index, end = 0;
    if (!p->guard || i < p->done_chunks || i - p->done_chunks >= DONE_WINDOW) return;
    p->done_flag[i % DONE_WINDOW] = 1;
    p->done_end[i % DONE_WINDOW] = output_offset(p, s) + output_len(p, s);
    while (p->done_flag[p->done_chunks % DONE_WINDOW]) {
        p->done_flag[p->done_chunks % DONE_WINDOW] = 0;
        end = p->done_end[p->done_chunks % DONE_WINDOW];
        p->done_chunks++;
    }
    if (end) kvs_outguard_complete(p->guard, end);
}

/* Next slot a worker may take, or NULL when the work is over. */
static slot *claim_work(pipeline *p)
{
    for (;;) {
        if (p->failed || (p->reader_done && p->next_work >= p->total)) return NULL;
        slot *s = &p->slots[p->next_work % p->n_slots];
        if (s->state == SLOT_FILLED && s->index == p->next_work) {
            s->state = SLOT_WORKING;
            p->next_work++;
            return s;
        }
        pthread_cond_wait(&p->cv, &p->mu);
    }
}

static void *worker_main(void *arg)
{
    pipeline *p = arg;
    kvs_gcm *gcm = kvs_gcm_new(p->key);
    uint8_t *scratch = p->encrypt ? NULL : malloc(stored_size(p));
    kvs_error err = {0};
    if (!gcm || (!p->encrypt && !scratch)) {
        kvs_fail(&err, KVS_ERR_NOMEM, "out of memory");
        set_failure(p, &err);
        kvs_gcm_free(gcm);
        free(scratch);
        return NULL;
    }
    pthread_mutex_lock(&p->mu);
    slot *s;
    while ((s = claim_work(p)) != NULL) {
        pthread_mutex_unlock(&p->mu);
        kvs_status st = process(p, gcm, s, &scratch, &err);
        if (st == KVS_OK && p->positional) st = write_slot(p, s, &err);
        if (st != KVS_OK) OPENSSL_cleanse(s->buf, buffer_used(p, s));
        pthread_mutex_lock(&p->mu);
        note_chunk_result(p, s->index, st, &err);
        if (st == KVS_OK && p->positional) note_written(p, s);
        s->state = p->positional ? SLOT_FREE : SLOT_DONE;
        pthread_cond_broadcast(&p->cv);
    }
    size_t wipe = p->touched;
    pthread_mutex_unlock(&p->mu);
    if (scratch) OPENSSL_cleanse(scratch, wipe);
    free(scratch);
    kvs_gcm_free(gcm);
    return NULL;
}

/* Ordered writer for pipes: chunk i is written only after chunks < i. */
static void *writer_main(void *arg)
{
    pipeline *p = arg;
    kvs_error err = {0};
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->failed || (p->reader_done && p->next_write >= p->total)) break;
        slot *s = &p->slots[p->next_write % p->n_slots];
        if (s->state != SLOT_DONE || s->index != p->next_write) {
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        kvs_status st = write_slot(p, s, &err);
        if (!p->encrypt) OPENSSL_cleanse(s->buf, output_len(p, s));
        pthread_mutex_lock(&p->mu);
        if (st != KVS_OK && !p->failed) {
            p->failed = 1;
            p->err = err;
        }
        s->state = SLOT_FREE;
        p->next_write++;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Wait until slot for chunk i is free; NULL if the pipeline failed. */
static slot *acquire_slot(pipeline *p, uint64_t i)
{
    slot *s = &p->slots[i % p->n_slots];
    pthread_mutex_lock(&p->mu);
    while (!p->failed && s->state != SLOT_FREE) pthread_cond_wait(&p->cv, &p->mu);
    int failed = p->failed;
    pthread_mutex_unlock(&p->mu);
    return failed ? NULL : s;
}

static void publish(pipeline *p, slot *s, uint64_t i, int final)
{
    pthread_mutex_lock(&p->mu);
    s->index = i;
    s->final = final;
    s->state = SLOT_FILLED;
    if (final) {
        p->total = i + 1;
        p->reader_done = 1;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* FORMAT.md §6: at most 2^32 chunks. Too many to seal is a limit; too many
 * in a file is a malformed file. */
static kvs_status too_many_chunks(const pipeline *p, kvs_error *err)
{
    return kvs_fail(err, p->encrypt ? KVS_ERR_LIMIT : KVS_ERR_FORMAT, "more than 2^32 chunks");
}

/* Decrypt-side rules for the last stored chunk (FORMAT.md §6). */
static kvs_status check_final_size(const pipeline *p, size_t len, uint64_t i, kvs_error *err)
{
    if (p->encrypt) return KVS_OK;
    if (len == 0 && i == 0)
        return kvs_fail(err, KVS_ERR_TRUNCATED, "truncated file: it ends before its first chunk");
    if (len < KVS_CHUNK_TAG_LEN)
        return kvs_fail(err, KVS_ERR_TRUNCATED,
                        "truncated file: chunk %llu is shorter than its 16-byte tag",
                        (unsigned long long)i);
    if (len == KVS_CHUNK_TAG_LEN && i > 0)
        return kvs_fail(err, KVS_ERR_FORMAT, "malformed payload: empty final chunk after %llu chunks",
                        (unsigned long long)i);
    return KVS_OK;
}

/* A malformed last chunk i is reported only once chunks before it opened,
 * so the first failure in file order wins, as in the streaming decryptor
 * (a full chunk followed by junk is trailing data, not a short chunk). */
static void fail_in_order(pipeline *p, uint64_t i, const kvs_error *e)
{
    pthread_mutex_lock(&p->mu);
    while (!p->failed && p->processed < i) pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    set_failure(p, e);
}

/* Read one unit into s, noting how much of a buffer now needs wiping, and
 * tell the caller's progress callback (outside the lock: it may be slow). */
static kvs_status read_slot(pipeline *p, slot *s, size_t unit, kvs_error *err)
{
    kvs_status st = kvs_read_full(p->in_fd, s->buf, unit, &s->len, err);
    pthread_mutex_lock(&p->mu);
    if (buffer_used(p, s) > p->touched) p->touched = buffer_used(p, s);
    pthread_mutex_unlock(&p->mu);
    p->consumed += s->len;
    if (st == KVS_OK && s->len > 0 && p->progress) p->progress(p->consumed, p->progress_arg);
    return st;
}

/* Bytes of input per chunk: plaintext when sealing, stored chunks when opening. */
static size_t input_unit(const pipeline *p)
{
    return p->encrypt ? p->chunk_size : stored_size(p);
}

static kvs_status read_chunks(pipeline *p)
{
    kvs_error err = {0};
    size_t unit = input_unit(p);
    slot *cur = acquire_slot(p, 0);
    if (!cur) return KVS_ERR_STATE;
    kvs_status st = read_slot(p, cur, unit, &err);
    for (uint64_t i = 0; st == KVS_OK; i++) {
        if (cur->len < unit) { /* short read: end of input, this chunk is final */
            st = check_final_size(p, cur->len, i, &err);
            if (st == KVS_OK) publish(p, cur, i, 1);
            else fail_in_order(p, i, &err);
            return st;
        }
        if (i + 1 >= KVS_MAX_CHUNKS) {
            st = too_many_chunks(p, &err);
            break;
        }
        slot *next = acquire_slot(p, i + 1);
        if (!next) return KVS_ERR_STATE;
        st = read_slot(p, next, unit, &err);
        if (st != KVS_OK) break;
        publish(p, cur, i, next->len == 0);
        if (next->len == 0) break; /* a full chunk was the last */
        cur = next;
    }
    if (st != KVS_OK) set_failure(p, &err);
    return st;
}

/* ---- direct mode ------------------------------------------------------- */

/* Next chunk index for a direct worker, or -1 when the work is over. */
static int64_t claim_direct(pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    int64_t i = (p->failed || p->next_work >= p->total) ? -1 : (int64_t)p->next_work++;
    pthread_mutex_unlock(&p->mu);
    return i;
}

/* Place chunk i in s (index, length, final flag); returns its input offset. */
static uint64_t place_chunk(const pipeline *p, slot *s, uint64_t i)
{
    uint64_t off = i * input_unit(p);
    uint64_t left = p->in_len - off;
    s->index = i;
    s->final = i + 1 == p->total;
    s->len = left < input_unit(p) ? (size_t)left : input_unit(p);
    return off;
}

/* Memory mode: seal or open chunk s straight from the input to the output. */
static kvs_status memory_chunk(pipeline *p, kvs_gcm *gcm, const slot *s, uint64_t off,
                               kvs_error *err)
{
    const uint8_t *in = p->mem_in + off;
    uint8_t *out = p->mem_out + output_offset(p, s);
    if (p->encrypt) return seal_chunk(gcm, s, in, out, err);
    return kvs_chunk_open_checked(gcm, s->index, s->final, in, s->len, out, err);
}

/* Direct decryption opens in place, so each worker needs one buffer and the
 * plaintext is written from where it was read. Only a chunk that fails is
 * read again, into a second buffer allocated then, so that
 * kvs_chunk_open_checked can tell truncation from damage. */
static kvs_status open_in_place(pipeline *p, kvs_gcm *gcm, slot *s, uint64_t at,
                                uint8_t **scratch, kvs_error *err)
{
    if (kvs_chunk_open(gcm, s->index, s->final, s->buf, s->len, s->buf) == KVS_OK) return KVS_OK;
    if (!*scratch && !(*scratch = malloc(stored_size(p))))
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    kvs_status st = kvs_pread_full(p->in_fd, s->buf, s->len, at, err);
    if (st == KVS_OK) st = kvs_chunk_open_checked(gcm, s->index, s->final, s->buf, s->len, *scratch, err);
    if (st != KVS_OK) return st;
    /* The chunk failed once and opened on the second read. */
    OPENSSL_cleanse(*scratch, s->len - KVS_CHUNK_TAG_LEN);
    return kvs_fail(err, KVS_ERR_IO, "the input file changed while it was read");
}

/* Read, seal or open, and write chunk i, whose place the input size fixes.
 * A malformed last stored chunk is reported in file order, as in ring mode. */
static kvs_status direct_chunk(pipeline *p, kvs_gcm *gcm, slot *s, uint8_t **scratch,
                               uint64_t i, kvs_error *err)
{
    uint64_t off = place_chunk(p, s, i);
    if (s->final && check_final_size(p, s->len, i, err) != KVS_OK) {
        fail_in_order(p, i, err);
        return err->status;
    }
    if (p->mem_in) return memory_chunk(p, gcm, s, off, err);
    uint64_t at = p->in_base + off;
    kvs_status st = kvs_pread_full(p->in_fd, s->buf, s->len, at, err);
    if (st == KVS_ERR_TRUNCATED)
        st = kvs_fail(err, KVS_ERR_IO, "the input file changed size while it was read");
    if (st != KVS_OK) return st;
    st = p->encrypt ? seal_chunk(gcm, s, s->buf, s->buf, err)
                    : open_in_place(p, gcm, s, at, scratch, err);
    if (st == KVS_OK) st = write_slot(p, s, err);
    return st;
}

static void report_progress(pipeline *p)
{
    if (!p->progress || !pthread_equal(pthread_self(), p->caller)) return;
    pthread_mutex_lock(&p->mu);
    uint64_t done = p->consumed;
    pthread_mutex_unlock(&p->mu);
    p->progress(done, p->progress_arg);
}

/* One direct worker: its own GCM context and, over fds, its chunk buffer
 * (and, once a chunk fails to open, a scratch buffer), wiped as far as they
 * were used. The calling thread runs one too. */
static void *direct_worker(void *arg)
{
    pipeline *p = arg;
    kvs_error err = {0};
    slot s = {.buf = p->mem_in ? NULL : malloc(stored_size(p))};
    uint8_t *scratch = NULL;
    kvs_gcm *gcm = kvs_gcm_new(p->key);
    size_t wipe = 0;
    kvs_status st = (!gcm || (!p->mem_in && !s.buf))
                        ? kvs_fail(&err, KVS_ERR_NOMEM, "out of memory")
                        : KVS_OK;
    for (int64_t i; st == KVS_OK && (i = claim_direct(p)) >= 0;) {
        st = direct_chunk(p, gcm, &s, &scratch, (uint64_t)i, &err);
        if (buffer_used(p, &s) > wipe) wipe = buffer_used(p, &s);
        pthread_mutex_lock(&p->mu);
        note_chunk_result(p, (uint64_t)i, st, &err);
        if (st == KVS_OK) note_written(p, &s);
        if (st == KVS_OK) p->consumed += s.len;
        pthread_cond_broadcast(&p->cv); /* a worker in fail_in_order waits for this */
        pthread_mutex_unlock(&p->mu);
        if (st == KVS_OK) report_progress(p);
    }
    if (st != KVS_OK) set_failure(p, &err); /* e.g. out of memory before any chunk */
    if (s.buf) OPENSSL_cleanse(s.buf, wipe);
    if (scratch) OPENSSL_cleanse(scratch, wipe);
    free(s.buf);
    free(scratch);
    kvs_gcm_free(gcm);
    return NULL;
}

/* Direct and memory modes: every chunk of a payload of len bytes is known up
 * front; an empty payload still has its (empty) final chunk. */
static kvs_status plan_chunks(pipeline *p, uint64_t len, kvs_error *err)
{
    p->in_len = len;
    p->total = len == 0 ? 1 : (len + input_unit(p) - 1) / input_unit(p);
    return p->total > KVS_MAX_CHUNKS ? too_many_chunks(p, err) : KVS_OK;
}

/* Direct mode needs a regular input with something after in_base; an empty
 * size (also what /proc files report) goes through the ring, which reads to
 * the real end. The chunk count comes from the size (FORMAT.md §6). */
static int plan_direct(pipeline *p, int in_fd, kvs_error *err, kvs_status *st)
{
    struct stat sb;
    off_t pos = lseek(in_fd, 0, SEEK_CUR);
    if ((p->out_fd >= 0 && !p->positional) || pos < 0 || fstat(in_fd, &sb) != 0 ||
        !S_ISREG(sb.st_mode) || sb.st_size <= pos)
        return 0;
    p->in_base = (uint64_t)pos;
    *st = plan_chunks(p, (uint64_t)(sb.st_size - pos), err);
    return 1;
}

/* Run N direct workers, the calling thread being one, then leave in_fd just
 * past what was read, as a sequential read would. */
static kvs_status run_direct(pipeline *p, unsigned threads, kvs_error *err)
{
    pthread_t workers[MAX_THREADS];
    unsigned started = 0;
    kvs_status st = KVS_OK;
    if (threads > p->total) threads = (unsigned)p->total; /* small files: fewer threads */
    p->caller = pthread_self();
    while (started + 1 < threads) {
        if (pthread_create(&workers[started], NULL, direct_worker, p) != 0) break;
        started++; /* fewer threads than asked only costs speed */
    }
    direct_worker(p);
    for (unsigned i = 0; i < started; i++) pthread_join(workers[i], NULL);
    if (p->failed) st = kvs_error_copy(err, &p->err);
    if (st == KVS_OK && !p->mem_in &&
        lseek(p->in_fd, (off_t)(p->in_base + p->in_len), SEEK_SET) < 0)
        st = kvs_fail(err, KVS_ERR_IO, "seek failed: %s", strerror(errno));
    return st;
}

/* ---- setup ---------------------------------------------------------------- */

static int is_positional(int fd, uint64_t *base)
{
    struct stat sb;
    int flags = fcntl(fd, F_GETFL);
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || flags < 0 || (flags & O_APPEND))
        return 0;
    off_t pos = lseek(fd, 0, SEEK_CUR);
    if (pos < 0) return 0;
    *base = (uint64_t)pos;
    return 1;
}

/* A 64 KiB pipe costs ~16 wakeups per 1 MiB chunk; a pipe as large as one
 * stored chunk (at most 1 MiB, the unprivileged limit) cut context switches
 * about 5x in the pipe benchmark. Best effort: other fds are left alone. */
static void enlarge_pipe(int fd, size_t chunk_bytes)
{
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISFIFO(sb.st_mode)) return;
    size_t want = chunk_bytes < (1u << 20) ? chunk_bytes : (1u << 20);
    (void)fcntl(fd, F_SETPIPE_SZ, (int)want);
}

/* Workers: as requested, else one per online CPU less the CPUs the ring's
 * own threads keep busy copying (busy_threads: the reader, and the writer
 * for pipe output). On 2 CPUs, pipe input with 2 workers instead of 1 took
 * 1.60 s instead of 1.07 s for 2 GiB (median of 5): the reader, the upstream
 * writer and the workers preempted each other while holding the pipe lock. */
static unsigned thread_count(unsigned requested, unsigned busy_threads)
{
    long n = requested ? (long)requested : sysconf(_SC_NPROCESSORS_ONLN) - (long)busy_threads;
    if (n < 1) n = 1;
    return n > MAX_THREADS ? MAX_THREADS : (unsigned)n;
}

static kvs_status alloc_slots(pipeline *p, unsigned threads, kvs_error *err)
{
    p->n_slots = 2 * (size_t)threads + 2;
    p->slots = calloc(p->n_slots, sizeof(slot));
    if (!p->slots) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < p->n_slots; i++)
        if (!(p->slots[i].buf = malloc(stored_size(p))))
            return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    return KVS_OK;
}

static void free_slots(pipeline *p)
{
    for (size_t i = 0; p->slots && i < p->n_slots; i++) {
        if (p->slots[i].buf) OPENSSL_cleanse(p->slots[i].buf, p->touched);
        free(p->slots[i].buf);
    }
    free(p->slots);
}

/* After a failure, cut a regular-file output back to its complete prefix:
 * chunks written past a failed one would leave verified data after a hole.
 * Best effort: the failure is what gets reported. */
static void keep_complete_prefix(pipeline *p)
{
    if (!p->failed || !p->positional || p->out_fd < 0) return;
    uint64_t chunks = p->fail_index < p->next_work ? p->fail_index : p->next_work;
    uint64_t per = p->encrypt ? stored_size(p) : p->chunk_size;
    if (ftruncate(p->out_fd, (off_t)(p->out_base + chunks * per)) == 0)
        (void)lseek(p->out_fd, 0, SEEK_END);
}

/* Run the pipeline over in_fd (positioned at the first chunk). */
static kvs_status run(pipeline *p, int in_fd, unsigned requested_threads, kvs_error *err)
{
    pthread_t workers[MAX_THREADS], writer;
    unsigned started = 0;
    int writer_started = 0;
    kvs_status st = KVS_OK;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->in_fd = in_fd;
    p->fail_index = UINT64_MAX;
    if (p->positional && p->out_fd >= 0) p->guard = kvs_outguard_open(p->out_fd, p->out_base);
    if (plan_direct(p, in_fd, err, &st)) {
        if (st == KVS_OK) st = run_direct(p, thread_count(requested_threads, 0), err);
        keep_complete_prefix(p);
        kvs_outguard_close(p->guard);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        return st;
    }
    unsigned threads = thread_count(requested_threads, p->positional ? 1 : 2);
    st = alloc_slots(p, threads, err);
    while (st == KVS_OK && started < threads) {
        if (pthread_create(&workers[started], NULL, worker_main, p) != 0)
            st = kvs_fail(err, KVS_ERR_NOMEM, "cannot start worker threads");
        else
            started++; /* only started threads are joined */
    }
    if (st == KVS_OK && !p->positional) {
        writer_started = pthread_create(&writer, NULL, writer_main, p) == 0;
        if (!writer_started) st = kvs_fail(err, KVS_ERR_NOMEM, "cannot start the writer thread");
    }
    if (st == KVS_OK) {
        enlarge_pipe(in_fd, stored_size(p));
        enlarge_pipe(p->out_fd, stored_size(p));
        read_chunks(p);
    } else {
        set_failure(p, err);
    }
    for (unsigned i = 0; i < started; i++) pthread_join(workers[i], NULL);
    if (writer_started) pthread_join(writer, NULL);
    if (p->failed) st = kvs_error_copy(err, &p->err);
    keep_complete_prefix(p);
    kvs_outguard_close(p->guard);
    free_slots(p);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    return st;
}

/* A regular input file that changes size while it is read would be sealed
 * as a torn copy; report it (as tar does) so the caller keeps no such file. */
static kvs_status check_input_unchanged(int fd, const struct stat *before, off_t start,
                                        uint64_t consumed, kvs_error *err)
{
    struct stat after;
    if (!S_ISREG(before->st_mode) || start < 0) return KVS_OK;
    if (fstat(fd, &after) != 0 || after.st_size != before->st_size ||
        consumed != (uint64_t)(before->st_size - start))
        return kvs_fail(err, KVS_ERR_IO, "the input file changed size while it was read");
    return KVS_OK;
}

kvs_status kvs_encrypt_fd(int in_fd, int out_fd, const kvs_encrypt_options *opts,
                          kvs_provider *const *recipients, size_t n_recipients, kvs_error *err)
{
    struct stat in_stat;
    off_t in_start = lseek(in_fd, 0, SEEK_CUR);
    if (fstat(in_fd, &in_stat) != 0) memset(&in_stat, 0, sizeof in_stat);
    kvs_sealed_header sh;
    pipeline p;
    memset(&p, 0, sizeof p);
    kvs_status st = kvs_seal_header(opts, recipients, n_recipients, &sh, err);
    if (st != KVS_OK) return st;
    p.encrypt = 1;
    p.key = sh.keys->payload_key;
    p.progress = opts ? opts->progress : NULL;
    p.progress_arg = opts ? opts->progress_arg : NULL;
    p.chunk_size = sh.chunk_size;
    p.out_fd = out_fd;
    p.positional = is_positional(out_fd, &p.out_base);
    st = kvs_write_full(out_fd, sh.bytes, sh.len, err);
    p.out_base += sh.len;
    if (st == KVS_OK) st = run(&p, in_fd, opts ? opts->threads : 0, err);
    if (st == KVS_OK) st = check_input_unchanged(in_fd, &in_stat, in_start, p.consumed, err);
    if (st == KVS_OK && p.positional && lseek(out_fd, 0, SEEK_END) < 0)
        st = kvs_fail(err, KVS_ERR_IO, "seek failed: %s", strerror(errno));
    if (opts && opts->dek_session) /* the bytes count against the shared DEK */
        kvs_dek_session_add_bytes(opts->dek_session, sh.dek_generation, p.consumed);
    kvs_sealed_header_clear(&sh);
    return st;
}

kvs_status kvs_decrypt_fd(int in_fd, int out_fd, const kvs_decrypt_options *opts,
                          kvs_provider *const *keys, size_t n_keys, kvs_header **header_out,
                          kvs_error *err)
{
    kvs_opened_header oh;
    pipeline p;
    memset(&p, 0, sizeof p);
    if (header_out) *header_out = NULL;
    kvs_status st = kvs_open_header_fd(in_fd, opts, keys, n_keys, &oh, err);
    if (st != KVS_OK) return st;
    p.key = oh.keys->payload_key;
    p.chunk_size = oh.header->chunk_size;
    p.progress = opts ? opts->progress : NULL;
    p.progress_arg = opts ? opts->progress_arg : NULL;
    p.out_fd = out_fd;
    p.positional = out_fd < 0 || is_positional(out_fd, &p.out_base);
    st = run(&p, in_fd, opts ? opts->threads : 0, err);
    if (st == KVS_OK && out_fd >= 0 && p.positional && lseek(out_fd, 0, SEEK_END) < 0)
        st = kvs_fail(err, KVS_ERR_IO, "seek failed: %s", strerror(errno));
    if (st == KVS_OK && header_out) {
        *header_out = oh.header;
        oh.header = NULL;
    }
    kvs_opened_header_clear(&oh);
    return st;
}

/* ---- memory mode ---------------------------------------------------------- */

/* Direct mode over in (the caller planned its chunks and set p->mem_out). */
static kvs_status run_memory(pipeline *p, const uint8_t *in, unsigned requested, kvs_error *err)
{
    p->mem_in = in;
    p->in_fd = -1;
    p->fail_index = UINT64_MAX;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    kvs_status st = run_direct(p, thread_count(requested, 0), err);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    return st;
}

size_t kvs_encrypt_mem_bound(size_t plain_len, uint32_t chunk_size)
{
    size_t chunk = chunk_size ? chunk_size : KVS_CHUNK_DEFAULT;
    size_t tags = (plain_len / chunk + 1) * KVS_CHUNK_TAG_LEN;
    size_t header = KVS_PREFIX_LEN + KVS_HEADER_MAX + KVS_TAG_LEN;
    if (plain_len > SIZE_MAX - tags - header) return SIZE_MAX;
    return header + plain_len + tags;
}

kvs_status kvs_encrypt_mem(const void *in, size_t in_len, void *out, size_t out_cap,
                           size_t *out_len, const kvs_encrypt_options *opts,
                           kvs_provider *const *recipients, size_t n_recipients, kvs_error *err)
{
    *out_len = 0;
    if ((!in && in_len > 0) || !out) return kvs_fail(err, KVS_ERR_USAGE, "no input or output buffer");
    kvs_sealed_header sh;
    pipeline p;
    memset(&p, 0, sizeof p);
    kvs_status st = kvs_seal_header(opts, recipients, n_recipients, &sh, err);
    if (st != KVS_OK) return st;
    p.encrypt = 1;
    p.key = sh.keys->payload_key;
    p.chunk_size = sh.chunk_size;
    p.mem_out = (uint8_t *)out + sh.len;
    p.progress = opts ? opts->progress : NULL;
    p.progress_arg = opts ? opts->progress_arg : NULL;
    st = plan_chunks(&p, in_len, err);
    uint64_t tags = p.total * KVS_CHUNK_TAG_LEN;
    if (st == KVS_OK &&
        (out_cap < sh.len || out_cap - sh.len < in_len || out_cap - sh.len - in_len < tags))
        st = kvs_fail(err, KVS_ERR_USAGE, "output buffer too small: %llu bytes needed",
                      (unsigned long long)in_len + sh.len + tags);
    if (st == KVS_OK) {
        memcpy(out, sh.bytes, sh.len);
        st = run_memory(&p, in, opts ? opts->threads : 0, err);
    }
    if (st == KVS_OK) *out_len = sh.len + in_len + (size_t)tags;
    if (st == KVS_OK && opts && opts->dek_session)
        kvs_dek_session_add_bytes(opts->dek_session, sh.dek_generation, in_len);
    kvs_sealed_header_clear(&sh);
    return st;
}

/* Plaintext bytes a payload's chunks can give: for a last chunk shorter
 * than its tag (refused when reached) only the full chunks before it. This
 * bounds what the workers write, so it sizes and wipes the output. */
static size_t plaintext_span(size_t payload, size_t chunk_size)
{
    size_t stored = chunk_size + KVS_CHUNK_TAG_LEN;
    size_t rest = payload % stored;
    return payload / stored * chunk_size + (rest > KVS_CHUNK_TAG_LEN ? rest - KVS_CHUNK_TAG_LEN : 0);
}

kvs_status kvs_decrypt_mem(const void *in, size_t in_len, void *out, size_t out_cap,
                           size_t *out_len, const kvs_decrypt_options *opts,
                           kvs_provider *const *keys, size_t n_keys, kvs_header **header_out,
                           kvs_error *err)
{
    const uint8_t *bytes = in;
    size_t hlen = 0;
    *out_len = 0;
    if (header_out) *header_out = NULL;
    if ((!in && in_len > 0) || !out) return kvs_fail(err, KVS_ERR_USAGE, "no input or output buffer");
    kvs_status st = kvs_stored_header_size(bytes, in_len, &hlen, err);
    if (st == KVS_OK && in_len < hlen) st = kvs_header_cut_short(err);
    if (st != KVS_OK) return st;
    kvs_opened_header oh;
    st = kvs_open_header(bytes, hlen, opts, keys, n_keys, &oh, err);
    if (st != KVS_OK) return st;
    pipeline p;
    memset(&p, 0, sizeof p);
    p.key = oh.keys->payload_key;
    p.chunk_size = oh.header->chunk_size;
    p.mem_out = out;
    p.progress = opts ? opts->progress : NULL;
    p.progress_arg = opts ? opts->progress_arg : NULL;
    size_t plain = plaintext_span(in_len - hlen, p.chunk_size);
    int fits = out_cap >= plain;
    st = plan_chunks(&p, in_len - hlen, err);
    if (st == KVS_OK && !fits)
        st = kvs_fail(err, KVS_ERR_USAGE, "output buffer too small: %llu bytes needed",
                      (unsigned long long)plain);
    if (st == KVS_OK) st = run_memory(&p, bytes + hlen, opts ? opts->threads : 0, err);
    if (st != KVS_OK && fits) OPENSSL_cleanse(out, plain); /* nothing unverified, nothing partial */
    if (st == KVS_OK) *out_len = plain;
    if (st == KVS_OK && header_out) {
        *header_out = oh.header;
        oh.header = NULL;
    }
    kvs_opened_header_clear(&oh);
    return st;
}
