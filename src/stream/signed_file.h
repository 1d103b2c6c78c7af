/* Internal: signed files at the stream layer (FORMAT.md "Signed files"):
 * the trailer a sealing transfer appends, and what opening checks of it: a
 * trailer read first from a seekable input, or found at the end of a
 * stream, against the header, the data key commitment, the required
 * signer's signature and the segment roots. */
#ifndef KVS_STREAM_SIGNED_FILE_H
#define KVS_STREAM_SIGNED_FILE_H

#include <openssl/evp.h>

#include "format/format.h"
#include "format/signed.h"
#include "kvseal/sign.h"
#include "stream/io.h"

/* Sealing: the engine's tail_len / tail callbacks (arg: kvs_sign_job). */
typedef struct kvs_sign_job {
    kvs_signer *signer;
    const kvs_header *header;
    const kvs_file_keys *keys;
    kvs_roots *roots;
} kvs_sign_job;

uint64_t kvs_sign_job_tail_len(void *arg, uint64_t chunks);
kvs_status kvs_sign_job_tail(void *arg, uint64_t chunks, uint8_t **bytes, size_t *len,
                             kvs_error *err);

/* Opening. */
typedef struct kvs_signed_check {
    const kvs_header *header;
    const uint8_t *commit; /* from the DEK; NULL when no key is at hand */
    EVP_PKEY *pub;         /* the required signer's key (borrowed); NULL: no signature check */
    kvs_roots *roots;      /* computed by the engine (a stream), or NULL */
    kvs_trailer trailer;
    int have_trailer;
    uint64_t chunks;
    uint64_t payload_end;  /* source offset where the trailer starts */
} kvs_signed_check;

/* Seekable input of known size: read the trailer from its end and check it
 * (form, size, commitment, signature as c says). Sets trailer, chunks and
 * payload_end. */
kvs_status kvs_signed_read_trailer(kvs_source *in, kvs_signed_check *c, kvs_error *err);

/* The engine's tail_check for a stream (arg: kvs_signed_check): the trailer
 * it found, checked as above, and the computed roots against it. */
kvs_status kvs_signed_tail_check(void *arg, uint64_t chunks, const uint8_t *found,
                                 size_t found_len, kvs_error *err);

void kvs_signed_check_clear(kvs_signed_check *c);

/* A stream's final region (FORMAT.md §15: a stored chunk that does not open
 * as non-final and the rest of the input): at most a stored chunk of unit
 * bytes and the longest trailer index + 1 chunks can have, for the chunk
 * `index` that starts it. */
uint64_t kvs_signed_final_region_max(size_t unit, uint64_t index);

/* Split the region's have bytes from the end by the trailer's own length
 * fields: the final chunk is the first *final_len bytes, the trailer the
 * rest. Too short (KVS_ERR_TRUNCATED), a trailer that cannot fit
 * (KVS_ERR_FORMAT) or more than one chunk before it (KVS_ERR_AUTH: the
 * first chunk is damaged) is refused. */
kvs_status kvs_signed_split_final(const uint8_t *region, size_t have, uint64_t index, size_t unit,
                                  size_t *final_len, kvs_error *err);

/* The file's size without its trailer, from the trailer's last 10 bytes
 * (for inspect, audit, rewrap and range geometry). */
kvs_status kvs_signed_payload_end(const kvs_header *h, uint64_t file_size,
                                  const uint8_t tail[KVS_TRAILER_TAIL_LEN], uint64_t *payload_end,
                                  uint32_t *m, uint16_t *sig_len, kvs_error *err);

#endif
