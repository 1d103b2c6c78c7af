/* Internal: regular-file outputs that the engine writes out of order
 * (pwrite at computed offsets), registered so that a signal handler can
 * cut each back to its complete contiguous prefix before the process ends
 * (kvs_output_cut_on_signal). Lock-free and async-signal-safe. */
#ifndef KVS_STREAM_OUTGUARD_H
#define KVS_STREAM_OUTGUARD_H

#include <stdint.h>

typedef struct kvs_outguard kvs_outguard;

/* Register fd, complete up to file offset end. NULL when every slot is
 * taken (then that output is simply not cut on a signal). */
kvs_outguard *kvs_outguard_open(int fd, uint64_t end);
/* Around every write to the output: enter never returns once a handler
 * has started cutting (the process is about to end), so no write lands
 * after the cut. */
void kvs_outguard_enter(kvs_outguard *g);
void kvs_outguard_leave(kvs_outguard *g);
/* The output is now complete up to end (only grows). */
void kvs_outguard_complete(kvs_outguard *g, uint64_t end);
/* Unregister before the fd is closed. NULL is a no-op. */
void kvs_outguard_close(kvs_outguard *g);

#endif
