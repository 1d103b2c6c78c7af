/* Secure memory: one private anonymous mapping per block, so each block is
 * page-aligned, zero-filled by the kernel, lockable and excluded from dumps
 * without affecting neighbouring heap data. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MADV_DONTDUMP */

#include "core/secmem.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>

static _Atomic(kvs_secure_free_hook) kvs_free_hook; /* static: starts NULL */

static size_t kvs_page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

/* Mapped length for a request; 0 if it cannot be represented. A zero-byte
 * request still gets a page, so NULL always means failure. */
static size_t kvs_secure_span(size_t len)
{
    size_t page = kvs_page_size();
    if (len == 0) return page;
    if (len > SIZE_MAX - (page - 1)) return 0;
    return (len + page - 1) / page * page;
}

void *kvs_secure_alloc(size_t len)
{
    size_t span = kvs_secure_span(len);
    if (span == 0) return NULL;
    void *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    /* Best effort: RLIMIT_MEMLOCK or missing privileges must not stop us. */
    (void)mlock(p, span);
#ifdef MADV_DONTDUMP
    (void)madvise(p, span, MADV_DONTDUMP);
#endif
    return p;
}

void kvs_secure_free(void *p, size_t len)
{
    if (p == NULL) return;
    size_t span = kvs_secure_span(len);
    if (span == 0) return; /* cannot have come from kvs_secure_alloc */
    OPENSSL_cleanse(p, span);
    kvs_secure_free_hook hook = atomic_load(&kvs_free_hook);
    if (hook != NULL) hook(p, len);
    (void)munlock(p, span);
    (void)munmap(p, span);
}

void kvs_secure_set_free_hook(kvs_secure_free_hook hook)
{
    atomic_store(&kvs_free_hook, hook);
}
