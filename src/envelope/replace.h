/* Internal: replace a kvseal file's header in place, atomically
 * (kvs_rewrap_path). */
#ifndef KVS_ENVELOPE_REPLACE_H
#define KVS_ENVELOPE_REPLACE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "kvseal/status.h"

/* Write hdr, then the bytes of in_fd from payload_off to its end, into a new
 * temp file beside path that has sb's owner and mode; fsync it; make sure
 * in_fd did not change meanwhile (sb: its state when it was read); rename it
 * over path; fsync the directory. On failure path is untouched and the temp
 * file removed. temp_path (optional) learns the temp file's path, then NULL
 * (kvs_rewrap_options); it is not called when the temp file is unnamed
 * (O_TMPFILE), which nothing can leave behind. */
typedef struct kvs_temp_notify {
    void (*fn)(const char *path, void *arg);
    void *arg;
} kvs_temp_notify;

kvs_status kvs_replace_file_header(const char *path, int in_fd, const struct stat *sb,
                                   const uint8_t *hdr, size_t hdr_len, uint64_t payload_off,
                                   const kvs_temp_notify *temp_path, kvs_error *err);

#endif
