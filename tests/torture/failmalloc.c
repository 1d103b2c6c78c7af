/* failmalloc: an LD_PRELOAD shim that makes one allocation fail.
 *
 * Counted calls: malloc, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc, and anonymous mmap (kvseal's secure
 * memory). glibc routes its own internal allocations (strdup, fopen, ...)
 * through the same malloc, so those count too. Counting starts when the shim
 * is initialised (its constructor), i.e. before main() but after the dynamic
 * loader's own work.
 *
 * Environment:
 *   KVSEAL_FAIL_AT=N      the Nth counted call (1-based) fails (returns NULL,
 *                         ENOMEM / MAP_FAILED); every other call succeeds
 *   KVSEAL_FAIL_COUNT=F   at exit, write the number of counted calls to F
 *                         (counting mode; use without KVSEAL_FAIL_AT)
 *   KVSEAL_FAIL_REPORT=F  when the failure is injected, append "N\n" to F
 *                         (so a driver knows the Nth call was reached)
 *   KVSEAL_FAIL_SCOPE=self  count only calls made directly from the main
 *                         executable (kvseal links its library statically):
 *                         kvseal's own allocation sites, not OpenSSL's or
 *                         libc's internal ones. Default "all". strdup and
 *                         strndup count as one allocation in both scopes.
 *   KVSEAL_FAIL_SERVER=1  fork server: instead of running the program once,
 *                         read requests "N DIR LOG\n" from fd 3 and for each
 *                         fork a child that runs the program with
 *                         KVSEAL_FAIL_AT=N, its working directory DIR and its
 *                         stdout/stderr in LOG.stdout and LOG.stderr (absolute
 *                         paths without spaces); answer "N STATUS\n" on fd
 *                         4 (STATUS: the wait status, or -1 when the child ran
 *                         past 60 s and was killed). The child starts exactly
 *                         where a fresh process would start counting, so N
 *                         means the same allocation, but exec, the dynamic
 *                         loader and relocations are paid once, not per run
 *                         (most of a short run's cost). Used by
 *                         tests/e2e/test_alloc_torture.sh.
 * Without these variables the shim only counts. Thread-safe (atomic counter).
 * Built as failmalloc.so in the build directory (cmake/Fuzz.cmake). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <link.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* glibc's allocator entry points (exported for exactly this purpose). */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

/* The interposed functions must be exported whatever the build's default. */
#define FM_API __attribute__((visibility("default")))
#define RA __builtin_return_address(0)

static unsigned long fail_at;       /* 0: never */
static unsigned long calls;         /* counted calls so far */
static int armed;
static int scope_self;
static uintptr_t self_lo, self_hi; /* executable segments of the main program */
static char count_path[4096];
static char report_path[4096];

static unsigned long parse_ul(const char *s)
{
    unsigned long v = 0;
    if (!s) return 0;
    for (; *s >= '0' && *s <= '9'; s++) v = v * 10 + (unsigned long)(*s - '0');
    return v;
}

static void copy_env(char *dst, size_t cap, const char *name)
{
    const char *v = getenv(name);
    size_t n = v ? strlen(v) : 0;
    if (n >= cap) n = 0;
    if (n) memcpy(dst, v, n);
    dst[n] = '\0';
}

/* Write a decimal number and a newline to path (append), without stdio or
 * allocation. */
static void write_number(const char *path, unsigned long v, int append)
{
    char buf[32];
    int i = (int)sizeof buf;
    buf[--i] = '\n';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
    if (fd < 0) return;
    ssize_t w = write(fd, buf + i, sizeof buf - (size_t)i);
    (void)w;
    close(fd);
}

/* The first object dl_iterate_phdr reports is the main program. */
static int find_self(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (self_lo == 0 || lo < self_lo) self_lo = lo;
        if (hi > self_hi) self_hi = hi;
    }
    return 1; /* stop after the first object */
}

/* One line from fd into buf (without the newline); 0 at end of input. */
static int read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        if (buf[n] == '\n') break;
        n++;
    }
    buf[n] = '\0';
    return 1;
}

/* Wait for child, at most 60 s; its wait status, or -1 if it was killed. */
static int reap(pid_t child)
{
    struct timespec tick = {0, 2000000}; /* 2 ms */
    for (long waited = 0; waited < 30000; waited++) {
        int st = 0;
        pid_t r = waitpid(child, &st, WNOHANG);
        if (r == child) return st;
        if (r < 0 && errno != EINTR) return -1;
        nanosleep(&tick, NULL);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return -1;
}

/* The fork server (KVSEAL_FAIL_SERVER): returns only in a child, which then
 * runs the program; the server itself exits when fd 3 reaches its end. */
static void serve(void)
{
    char line[4200];
    while (read_line(3, line, sizeof line)) {
        char *dir = strchr(line, ' '), *log = dir ? strchr(dir + 1, ' ') : NULL;
        if (!log) _exit(2);
        *dir++ = '\0';
        *log++ = '\0';
        unsigned long n = parse_ul(line);
        pid_t child = fork();
        if (child == 0) {
            char path[4300];
            int out, err;
            if (chdir(dir) != 0) _exit(125);
            snprintf(path, sizeof path, "%s.stdout", log);
            out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            snprintf(path, sizeof path, "%s.stderr", log);
            err = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(125);
            close(out);
            close(err);
            close(3);
            close(4);
            fail_at = n;
            return;
        }
        char answer[64];
        int len = snprintf(answer, sizeof answer, "%lu %d\n", n, child < 0 ? -1 : reap(child));
        if (write(4, answer, (size_t)len) != len) _exit(2);
    }
    _exit(0);
}

__attribute__((constructor)) static void failmalloc_init(void)
{
    const char *scope = getenv("KVSEAL_FAIL_SCOPE");
    scope_self = scope && strcmp(scope, "self") == 0;
    if (scope_self) dl_iterate_phdr(find_self, NULL);
    fail_at = parse_ul(getenv("KVSEAL_FAIL_AT"));
    copy_env(count_path, sizeof count_path, "KVSEAL_FAIL_COUNT");
    copy_env(report_path, sizeof report_path, "KVSEAL_FAIL_REPORT");
    /* Unarmed while serving: the server's own calls neither count nor fail. */
    if (getenv("KVSEAL_FAIL_SERVER")) serve();
    __atomic_store_n(&calls, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&armed, 1, __ATOMIC_SEQ_CST);
}

__attribute__((destructor)) static void failmalloc_fini(void)
{
    if (count_path[0]) write_number(count_path, __atomic_load_n(&calls, __ATOMIC_SEQ_CST), 0);
}

/* Count one call from return address ra; non-zero if this one must fail. */
static int should_fail(const void *ra)
{
    if (!__atomic_load_n(&armed, __ATOMIC_RELAXED)) return 0;
    if (scope_self && ((uintptr_t)ra < self_lo || (uintptr_t)ra >= self_hi)) return 0;
    unsigned long n = __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
    if (fail_at == 0 || n != fail_at) return 0;
    if (report_path[0]) write_number(report_path, n, 1);
    return 1;
}

FM_API void *malloc(size_t n)
{
    if (should_fail(RA)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_malloc(n);
}

FM_API void *calloc(size_t a, size_t b)
{
    if (should_fail(RA)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_calloc(a, b);
}

FM_API void *realloc(void *p, size_t n)
{
    if (should_fail(RA)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, n);
}

FM_API void *reallocarray(void *p, size_t a, size_t b)
{
    size_t n;
    if (__builtin_mul_overflow(a, b, &n) || should_fail(RA)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, n);
}

static void *fm_memalign(const void *ra, size_t align, size_t n)
{
    if (should_fail(ra)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_memalign(align, n);
}

FM_API void *memalign(size_t align, size_t n)
{
    return fm_memalign(RA, align, n);
}

FM_API void *aligned_alloc(size_t align, size_t n)
{
    return fm_memalign(RA, align, n);
}

FM_API void *valloc(size_t n)
{
    return fm_memalign(RA, (size_t)sysconf(_SC_PAGESIZE), n);
}

FM_API int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
    void *p = fm_memalign(RA, align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

/* glibc's strdup would call malloc from inside libc, invisible to the
 * "self" scope: count the call itself instead (once, in either scope). */
FM_API char *strdup(const char *s)
{
    if (should_fail(RA)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t n = strlen(s) + 1;
    char *p = __libc_malloc(n);
    if (p) memcpy(p, s, n);
    else errno = ENOMEM;
    return p;
}

FM_API char *strndup(const char *s, size_t max)
{
    if (should_fail(RA)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t n = strnlen(s, max);
    char *p = __libc_malloc(n + 1);
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

FM_API void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if ((flags & MAP_ANONYMOUS) && should_fail(RA)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

FM_API void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
    __attribute__((alias("mmap")));
