/* kvseal bench: measure this machine, with nothing else installed.
 *
 * Reports CPU features, the OpenSSL version, AES-256-GCM throughput in memory
 * per chunk size and per thread count, the kvseal engine in memory (buffer to
 * buffer, kvs_encrypt_mem) and file to file, and RSA-4096 wrap/unwrap
 * operations per second. */
#include <cjson/cJSON.h>
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#define MIB (1024.0 * 1024.0)

typedef struct bench_opts {
    double seconds;     /* per measurement */
    uint64_t engine_mib;
    unsigned max_threads;
    const char *dir;    /* for file-to-file runs */
    int json;
} bench_opts;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- CPU ---------------------------------------------------------------- */

typedef struct cpu_info {
    char model[128];
    int aesni, pclmulqdq, avx2, vaes, vpclmulqdq, avx512f;
    long cpus;
} cpu_info;

static void read_model(char *out, size_t cap)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(out, cap, "unknown");
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(out, cap, "%s", colon + 2);
            out[strcspn(out, "\n")] = '\0';
            break;
        }
    }
    if (f) fclose(f);
}

static void detect_cpu(cpu_info *c)
{
    unsigned a = 0, b = 0, cx = 0, d = 0;
    memset(c, 0, sizeof *c);
    read_model(c->model, sizeof c->model);
    c->cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (__get_cpuid(1, &a, &b, &cx, &d)) {
        c->aesni = (cx >> 25) & 1;
        c->pclmulqdq = (cx >> 1) & 1;
    }
    if (__get_cpuid_count(7, 0, &a, &b, &cx, &d)) {
        c->avx2 = (b >> 5) & 1;
        c->avx512f = (b >> 16) & 1;
        c->vaes = (cx >> 9) & 1;
        c->vpclmulqdq = (cx >> 10) & 1;
    }
}

/* ---- AES-256-GCM in memory ---------------------------------------------- */

typedef struct gcm_job {
    size_t chunk;
    double seconds;
    double bytes; /* out */
} gcm_job;

static void *gcm_worker(void *arg)
{
    gcm_job *j = arg;
    uint8_t key[32] = {1}, iv[12] = {0}, tag[16];
    uint8_t *buf = calloc(1, j->chunk);
    EVP_CIPHER_CTX *g = EVP_CIPHER_CTX_new();
    int outl = 0;
    j->bytes = 0;
    if (buf && g && EVP_EncryptInit_ex2(g, EVP_aes_256_gcm(), key, NULL, NULL) == 1) {
        double end = now() + j->seconds;
        for (uint64_t i = 0; now() < end; i++) {
            memcpy(iv, &i, sizeof i); /* distinct nonces, as in real use */
            if (EVP_EncryptInit_ex2(g, NULL, NULL, iv, NULL) != 1 ||
                EVP_EncryptUpdate(g, buf, &outl, buf, (int)j->chunk) != 1 ||
                EVP_EncryptFinal_ex(g, buf, &outl) != 1 ||
                EVP_CIPHER_CTX_ctrl(g, EVP_CTRL_GCM_GET_TAG, sizeof tag, tag) != 1)
                break;
            j->bytes += (double)j->chunk;
        }
    }
    EVP_CIPHER_CTX_free(g);
    free(buf);
    return NULL;
}

/* Aggregate GB/s of `threads` workers sealing chunks of `chunk` bytes. */
static double gcm_rate(size_t chunk, unsigned threads, double seconds)
{
    pthread_t t[64];
    gcm_job jobs[64];
    double start = now(), total = 0;
    for (unsigned i = 0; i < threads; i++) {
        jobs[i] = (gcm_job){chunk, seconds, 0};
        pthread_create(&t[i], NULL, gcm_worker, &jobs[i]);
    }
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += jobs[i].bytes;
    }
    return total / (now() - start) / 1e9;
}

/* ---- the engine ------------------------------------------------------------ */

typedef struct engine_result {
    double enc_gbs, dec_gbs;
    kvs_status st;
    kvs_error err;
} engine_result;

/* Encrypt in_fd to mid_fd, then decrypt it to out_fd, timed. The outputs
 * are overwritten in place, not truncated: every run has the same sizes, and
 * a fresh page costs far more than the copy into it on some VMs (freed
 * memory goes back to the host), which would measure the host, not kvseal. */
static void engine_run(kvs_provider *key, int in_fd, int mid_fd, int out_fd, uint64_t bytes,
                       unsigned threads, engine_result *r)
{
    kvs_encrypt_options eo = {.threads = threads};
    kvs_decrypt_options dopt = {.threads = threads};
    memset(r, 0, sizeof *r);
    lseek(in_fd, 0, SEEK_SET);
    lseek(mid_fd, 0, SEEK_SET);
    lseek(out_fd, 0, SEEK_SET);
    double t0 = now();
    r->st = kvs_encrypt_fd(in_fd, mid_fd, &eo, &key, 1, &r->err);
    double t1 = now();
    if (r->st != KVS_OK) return;
    lseek(mid_fd, 0, SEEK_SET);
    r->st = kvs_decrypt_fd(mid_fd, out_fd, &dopt, &key, 1, NULL, &r->err);
    double t2 = now();
    r->enc_gbs = (double)bytes / (t1 - t0) / 1e9;
    r->dec_gbs = (double)bytes / (t2 - t1) / 1e9;
}

/* Buffers of the in-memory engine runs, reused by every run (their pages
 * are faulted in once, by the warm-up). */
typedef struct mem_buffers {
    const uint8_t *plain;
    uint8_t *sealed, *opened;
    size_t bytes, sealed_cap;
} mem_buffers;

/* The engine without I/O: encrypt and decrypt buffer to buffer with
 * kvs_encrypt_mem / kvs_decrypt_mem, repeated for about `seconds` (at least
 * once each), timed separately. */
static void engine_mem_run(kvs_provider *key, const mem_buffers *b, unsigned threads,
                           double seconds, engine_result *r)
{
    kvs_encrypt_options eo = {.threads = threads};
    kvs_decrypt_options dopt = {.threads = threads};
    double enc_s = 0, dec_s = 0;
    unsigned runs = 0;
    memset(r, 0, sizeof *r);
    do {
        size_t sealed = 0, opened = 0;
        double t0 = now();
        r->st = kvs_encrypt_mem(b->plain, b->bytes, b->sealed, b->sealed_cap, &sealed, &eo, &key, 1, &r->err);
        double t1 = now();
        if (r->st == KVS_OK)
            r->st = kvs_decrypt_mem(b->sealed, sealed, b->opened, b->bytes, &opened, &dopt, &key, 1, NULL, &r->err);
        double t2 = now();
        if (r->st != KVS_OK) return;
        enc_s += t1 - t0;
        dec_s += t2 - t1;
        runs++;
    } while (enc_s + dec_s < seconds);
    r->enc_gbs = (double)b->bytes * runs / enc_s / 1e9;
    r->dec_gbs = (double)b->bytes * runs / dec_s / 1e9;
}

/* Test data: public randomness, RAND_bytes a gigabyte at a time. */
static int fill_random(uint8_t *buf, uint64_t len)
{
    for (uint64_t done = 0; done < len;) {
        uint64_t n = len - done < (1u << 30) ? len - done : (1u << 30);
        if (RAND_bytes(buf + done, (int)n) != 1) return -1;
        done += n;
    }
    return 0;
}

/* All of buf to fd (a fresh memfd: short writes only on EINTR). */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int open_scratch(const char *dir, const char *name)
{
    if (!dir) return memfd_create(name, MFD_CLOEXEC);
    char path[4096];
    snprintf(path, sizeof path, "%s/.kvseal-bench-%s-XXXXXX", dir, name);
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0) unlink(path);
    return fd;
}

/* ---- RSA-4096 ------------------------------------------------------------- */

typedef struct rsa_result {
    double wrap_ops, unwrap_ops;
} rsa_result;

static int rsa_bench(kvs_provider *key, double seconds, rsa_result *r)
{
    uint8_t dek[KVS_DEK_LEN] = {7}, back[KVS_DEK_LEN];
    kvs_recipient rec;
    kvs_error err = {0};
    unsigned long n = 0;
    double start = now(), end = start + seconds;
    for (; now() < end; n++)
        if (kvs_provider_wrap(key, dek, &rec, &err) != KVS_OK) return -1;
    r->wrap_ops = (double)n / (now() - start);
    start = now();
    end = start + seconds;
    for (n = 0; now() < end; n++)
        if (kvs_provider_unwrap(key, &rec, back, &err) != KVS_OK) return -1;
    r->unwrap_ops = (double)n / (now() - start);
    OPENSSL_cleanse(back, sizeof back);
    return 0;
}

/* ---- the command ------------------------------------------------------------ */

static const size_t gcm_chunks[] = {65536, 262144, 1048576, 4194304, 16777216};
#define N_GCM_CHUNKS (sizeof gcm_chunks / sizeof gcm_chunks[0])
#define MAX_BENCH_THREADS 16

typedef struct bench_results {
    cpu_info cpu;
    double gcm_by_chunk[N_GCM_CHUNKS];
    double gcm_by_threads[MAX_BENCH_THREADS + 1];
    engine_result mem[MAX_BENCH_THREADS + 1]; /* [0]: the untimed warm-up */
    engine_result file;
    rsa_result rsa;
    unsigned threads;
} bench_results;

enum { OPT_JSON = CLI_OPT_LONG_ONLY, OPT_SECONDS, OPT_SIZE, OPT_THREADS, OPT_DIR };

static const cli_opt options[] = {
    {"seconds", OPT_SECONDS, "S", "time per in-memory measurement (default 1)"},
    {"size", OPT_SIZE, "MiB", "data for the engine runs (default 256)"},
    {"threads", OPT_THREADS, "N", "highest thread count to measure (default: online CPUs)"},
    {"dir", OPT_DIR, "DIR", "directory for the file-to-file run (default $TMPDIR or /tmp)"},
    {"json", OPT_JSON, NULL, "machine-readable output"},
    {NULL, 0, NULL, NULL},
};

const cli_spec cli_spec_bench = {
    .name = "bench",
    .synopsis = "kvseal bench [--json] [--seconds S] [--size MiB] [--threads N] [--dir DIR]",
    .about = "Measure AES-256-GCM, the kvseal engine and RSA-4096 on this machine.",
    .opts = options,
    .notes = NULL,
};

static int parse_option(int c, const char *arg, void *ctx)
{
    bench_opts *o = ctx;
    uint64_t v = 0;
    switch (c) {
    case OPT_JSON: o->json = 1; return 0;
    case OPT_SECONDS:
        if (cli_parse_uint("bench", "--seconds", arg, 1, 600, &v)) return CLI_EXIT_USAGE;
        o->seconds = (double)v;
        return 0;
    case OPT_SIZE:
        return cli_parse_uint("bench", "--size", arg, 1, 1 << 20, &o->engine_mib) ? CLI_EXIT_USAGE : 0;
    case OPT_THREADS:
        if (cli_parse_uint("bench", "--threads", arg, 1, MAX_BENCH_THREADS, &v)) return CLI_EXIT_USAGE;
        o->max_threads = (unsigned)v;
        return 0;
    case OPT_DIR: o->dir = arg; return 0;
    default: return CLI_EXIT_USAGE;
    }
}

/* Returns 0 to run, -1 after --help, else an exit code. */
static int parse_opts(int argc, char **argv, bench_opts *o)
{
    int rc = cli_parse(&cli_spec_bench, argc, argv, parse_option, o);
    if (rc == CLI_EXIT_OK) return -1; /* --help */
    if (rc > 0) return rc;
    if (optind != argc) return cli_error("bench", CLI_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    return 0;
}

static int make_key(char *dir, size_t cap, kvs_provider **key)
{
    kvs_error err = {0};
    char path[4200];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, cap, "%s/kvseal-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return cli_error("bench", CLI_EXIT_IO, "cannot create a temp dir: %s", strerror(errno));
    snprintf(path, sizeof path, "%s/rsa4096.pem", dir);
    kvs_status st = kvs_rsa_keygen(4096, path, NULL, &err);
    if (st == KVS_OK) st = kvs_rsa_provider_from_pem(path, NULL, NULL, key, &err);
    unlink(path);
    rmdir(dir);
    return st == KVS_OK ? 0 : cli_error_status("bench", NULL, &err);
}

static int run_engines(const bench_opts *o, kvs_provider *key, bench_results *r)
{
    uint64_t bytes = o->engine_mib << 20;
    const char *dir = o->dir ? o->dir : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    uint8_t *plain = malloc(bytes);
    mem_buffers b = {plain, NULL, malloc(bytes), bytes, kvs_encrypt_mem_bound(bytes, 0)};
    b.sealed = malloc(b.sealed_cap);
    int in = open_scratch(NULL, "in");
    int rc = (!plain || !b.sealed || !b.opened || in < 0 ||
              fill_random(plain, bytes) != 0 || write_all(in, plain, bytes) != 0 ||
              lseek(in, 0, SEEK_SET) != 0)
                 ? cli_error("bench", CLI_EXIT_IO, "cannot prepare %llu MiB in memory",
                             (unsigned long long)o->engine_mib)
                 : 0;
    if (rc == 0) { /* untimed: gives the outputs their pages */
        engine_mem_run(key, &b, r->threads, 0, &r->mem[0]);
        if (r->mem[0].st != KVS_OK) rc = cli_error_status("bench", "in memory", &r->mem[0].err);
    }
    for (unsigned t = 1; rc == 0 && t <= r->threads; t++) {
        engine_mem_run(key, &b, t, o->seconds, &r->mem[t]);
        if (r->mem[t].st != KVS_OK) rc = cli_error_status("bench", "in memory", &r->mem[t].err);
    }
    free(plain);
    free(b.sealed);
    free(b.opened);
    int fmid = open_scratch(dir, "mid"), fout = open_scratch(dir, "out");
    if (rc == 0 && (fmid < 0 || fout < 0)) rc = cli_error("bench", CLI_EXIT_IO, "cannot create files in %s", dir);
    if (rc == 0) {
        engine_run(key, in, fmid, fout, bytes, 0, &r->file);
        if (r->file.st != KVS_OK) rc = cli_error_status("bench", dir, &r->file.err);
    }
    if (in >= 0) close(in);
    if (fmid >= 0) close(fmid);
    if (fout >= 0) close(fout);
    return rc;
}

static void print_table(const bench_opts *o, const bench_results *r)
{
    const cpu_info *c = &r->cpu;
    printf("CPU:      %s (%ld online)\n", c->model, c->cpus);
    printf("Features: AES-NI %s, PCLMULQDQ %s, AVX2 %s, VAES %s, VPCLMULQDQ %s, AVX-512F %s\n",
           c->aesni ? "yes" : "no", c->pclmulqdq ? "yes" : "no", c->avx2 ? "yes" : "no",
           c->vaes ? "yes" : "no", c->vpclmulqdq ? "yes" : "no", c->avx512f ? "yes" : "no");
    printf("OpenSSL:  %s\n\n", OpenSSL_version(OPENSSL_VERSION));
    printf("AES-256-GCM in memory, 1 thread:\n");
    for (size_t i = 0; i < N_GCM_CHUNKS; i++)
        printf("  chunk %6zu KiB  %7.2f GB/s\n", gcm_chunks[i] >> 10, r->gcm_by_chunk[i]);
    printf("AES-256-GCM in memory, 1 MiB chunks:\n");
    for (unsigned t = 1; t <= r->threads; t++)
        printf("  %2u thread%s     %7.2f GB/s\n", t, t > 1 ? "s" : " ", r->gcm_by_threads[t]);
    printf("kvseal engine in memory, buffer to buffer (%llu MiB, default chunk):\n", (unsigned long long)o->engine_mib);
    for (unsigned t = 1; t <= r->threads; t++)
        printf("  %2u thread%s     encrypt %6.2f GB/s  decrypt %6.2f GB/s\n", t, t > 1 ? "s" : " ",
               r->mem[t].enc_gbs, r->mem[t].dec_gbs);
    printf("kvseal engine file to file (%s, all threads):\n", o->dir ? o->dir : "temp dir");
    printf("                 encrypt %6.2f GB/s  decrypt %6.2f GB/s\n", r->file.enc_gbs, r->file.dec_gbs);
    printf("RSA-4096 (local key): wrap %.0f ops/s, unwrap %.0f ops/s\n", r->rsa.wrap_ops, r->rsa.unwrap_ops);
}

static void add_engine(cJSON *arr, unsigned threads, const engine_result *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "threads", threads);
    cJSON_AddNumberToObject(o, "encrypt_gbps", e->enc_gbs);
    cJSON_AddNumberToObject(o, "decrypt_gbps", e->dec_gbs);
    cJSON_AddItemToArray(arr, o);
}

static void print_json(const bench_opts *o, const bench_results *r)
{
    cJSON *root = cJSON_CreateObject(), *cpu = cJSON_AddObjectToObject(root, "cpu");
    cJSON_AddStringToObject(cpu, "model", r->cpu.model);
    cJSON_AddNumberToObject(cpu, "online", (double)r->cpu.cpus);
    cJSON_AddBoolToObject(cpu, "aesni", r->cpu.aesni);
    cJSON_AddBoolToObject(cpu, "pclmulqdq", r->cpu.pclmulqdq);
    cJSON_AddBoolToObject(cpu, "avx2", r->cpu.avx2);
    cJSON_AddBoolToObject(cpu, "vaes", r->cpu.vaes);
    cJSON_AddBoolToObject(cpu, "vpclmulqdq", r->cpu.vpclmulqdq);
    cJSON_AddBoolToObject(cpu, "avx512f", r->cpu.avx512f);
    cJSON_AddStringToObject(root, "openssl", OpenSSL_version(OPENSSL_VERSION));
    cJSON_AddStringToObject(root, "kvseal", KVSEAL_VERSION_STRING);
    cJSON *g = cJSON_AddArrayToObject(root, "gcm_by_chunk");
    for (size_t i = 0; i < N_GCM_CHUNKS; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "chunk", (double)gcm_chunks[i]);
        cJSON_AddNumberToObject(e, "gbps", r->gcm_by_chunk[i]);
        cJSON_AddItemToArray(g, e);
    }
    cJSON *gt = cJSON_AddArrayToObject(root, "gcm_by_threads");
    for (unsigned t = 1; t <= r->threads; t++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "threads", t);
        cJSON_AddNumberToObject(e, "gbps", r->gcm_by_threads[t]);
        cJSON_AddItemToArray(gt, e);
    }
    cJSON_AddNumberToObject(root, "engine_bytes", (double)(o->engine_mib << 20));
    cJSON *em = cJSON_AddArrayToObject(root, "engine_memory");
    for (unsigned t = 1; t <= r->threads; t++) add_engine(em, t, &r->mem[t]);
    cJSON *ef = cJSON_AddArrayToObject(root, "engine_file");
    add_engine(ef, r->threads, &r->file);
    cJSON *rsa = cJSON_AddObjectToObject(root, "rsa4096");
    cJSON_AddNumberToObject(rsa, "wrap_ops", r->rsa.wrap_ops);
    cJSON_AddNumberToObject(rsa, "unwrap_ops", r->rsa.unwrap_ops);
    char *text = cJSON_Print(root);
    if (text) puts(text);
    free(text);
    cJSON_Delete(root);
}

int cli_cmd_bench(int argc, char **argv)
{
    bench_opts o = {1.0, 256, 0, NULL, 0};
    bench_results *r = calloc(1, sizeof *r);
    kvs_provider *key = NULL;
    char dir[4096];
    int rc = r ? parse_opts(argc, argv, &o) : cli_error("bench", CLI_EXIT_INTERNAL, "out of memory");
    if (rc < 0) {
        free(r);
        return CLI_EXIT_OK; /* --help */
    }
    if (rc == 0) {
        detect_cpu(&r->cpu);
        long cpus = r->cpu.cpus < 1 ? 1 : r->cpu.cpus;
        r->threads = o.max_threads ? o.max_threads : (unsigned)(cpus > MAX_BENCH_THREADS ? MAX_BENCH_THREADS : cpus);
        if (!o.json) cli_info("bench", "measuring (about %.0f s)...", o.seconds * (double)(N_GCM_CHUNKS + r->threads + 2) + 10);
        for (size_t i = 0; i < N_GCM_CHUNKS; i++) r->gcm_by_chunk[i] = gcm_rate(gcm_chunks[i], 1, o.seconds);
        for (unsigned t = 1; t <= r->threads; t++) r->gcm_by_threads[t] = gcm_rate(1 << 20, t, o.seconds);
        rc = make_key(dir, sizeof dir, &key);
    }
    if (rc == 0) rc = run_engines(&o, key, r);
    if (rc == 0 && rsa_bench(key, o.seconds, &r->rsa) != 0)
        rc = cli_error("bench", CLI_EXIT_INTERNAL, "RSA benchmark failed");
    if (rc == 0) {
        if (o.json) print_json(&o, r);
        else print_table(&o, r);
    }
    kvs_provider_free(key);
    free(r);
    return rc;
}
