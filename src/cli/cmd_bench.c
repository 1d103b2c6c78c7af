/* kvseal bench: measure this machine, with nothing else installed.
 *
 * Reports CPU features, the OpenSSL version, AES-256-GCM throughput in memory
 * per chunk size and per thread count, the kvseal engine in memory (buffer to
 * buffer, kvs_encrypt_mem) and file to file, RSA-4096 wrap/unwrap
 * operations per second, and signed files against unsigned ones (in memory
 * and file to file, with an ephemeral EC P-256 key): the ratio, signatures
 * per file, key-less verification time, ECDSA and SHA-256 alone. */
#include <cjson/cJSON.h>
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
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
    double enc_s, dec_s;        /* seconds, summed over the runs */
    uint64_t files, signatures; /* files encrypted; signatures the signer made for them */
    kvs_status st;
    kvs_error err;
} engine_result;

/* GB/s from the summed times (0 if nothing ran). */
static void engine_rates(uint64_t bytes, engine_result *r)
{
    if (r->files == 0 || r->enc_s <= 0 || r->dec_s <= 0) return;
    r->enc_gbs = (double)bytes * (double)r->files / r->enc_s / 1e9;
    r->dec_gbs = (double)bytes * (double)r->files / r->dec_s / 1e9;
}

/* The signed runs: a signer and the check of the same (ephemeral) key. */
typedef struct bench_signing {
    kvs_signer *signer;
    kvs_signer_check *check;
} bench_signing;

/* Encrypt in_fd to mid_fd, then decrypt it to out_fd (signed and with the
 * signer required when sg is set), their times added to r. The outputs
 * are overwritten in place, not truncated: every run has the same sizes, and
 * a fresh page costs far more than the copy into it on some VMs (freed
 * memory goes back to the host), which would measure the host, not kvseal. */
static void engine_run(kvs_provider *key, const bench_signing *sg, int in_fd, int mid_fd, int out_fd,
                       unsigned threads, engine_result *r)
{
    kvs_encrypt_options eo = {.threads = threads, .signer = sg ? sg->signer : NULL};
    kvs_decrypt_options dopt = {.threads = threads, .require_signer = sg ? sg->check : NULL};
    uint64_t sigs = sg ? kvs_signer_signatures(sg->signer) : 0;
    lseek(in_fd, 0, SEEK_SET);
    lseek(mid_fd, 0, SEEK_SET);
    lseek(out_fd, 0, SEEK_SET);
    double t0 = now();
    r->st = kvs_encrypt_fd(in_fd, mid_fd, &eo, &key, 1, &r->err);
    double t1 = now();
    if (r->st != KVS_OK) return;
    if (sg) r->signatures += kvs_signer_signatures(sg->signer) - sigs;
    r->files++;
    lseek(mid_fd, 0, SEEK_SET);
    r->st = kvs_decrypt_fd(mid_fd, out_fd, &dopt, &key, 1, NULL, &r->err);
    double t2 = now();
    if (r->st != KVS_OK) return;
    r->enc_s += t1 - t0;
    r->dec_s += t2 - t1;
}

/* Buffers of the in-memory engine runs, reused by every run (their pages
 * are faulted in once, by the warm-up). */
typedef struct mem_buffers {
    const uint8_t *plain;
    uint8_t *sealed, *opened;
    size_t bytes, sealed_cap;
} mem_buffers;

/* One encryption and decryption buffer to buffer with kvs_encrypt_mem /
 * kvs_decrypt_mem (signed and with the signer required when sg is set),
 * their times added to r->enc_s / r->dec_s. Returns r->st. */
static kvs_status engine_mem_once(kvs_provider *key, const bench_signing *sg, const mem_buffers *b,
                                  unsigned threads, engine_result *r)
{
    kvs_encrypt_options eo = {.threads = threads, .signer = sg ? sg->signer : NULL};
    kvs_decrypt_options dopt = {.threads = threads, .require_signer = sg ? sg->check : NULL};
    size_t sealed = 0, opened = 0;
    uint64_t sigs = sg ? kvs_signer_signatures(sg->signer) : 0;
    double t0 = now();
    r->st = kvs_encrypt_mem(b->plain, b->bytes, b->sealed, b->sealed_cap, &sealed, &eo, &key, 1, &r->err);
    double t1 = now();
    if (r->st != KVS_OK) return r->st;
    if (sg) r->signatures += kvs_signer_signatures(sg->signer) - sigs;
    r->files++;
    r->st = kvs_decrypt_mem(b->sealed, sealed, b->opened, b->bytes, &opened, &dopt, &key, 1, NULL, &r->err);
    double t2 = now();
    if (r->st != KVS_OK) return r->st;
    r->enc_s += t1 - t0;
    r->dec_s += t2 - t1;
    return KVS_OK;
}

/* The engine without I/O, repeated for about `seconds` (at least once),
 * encryption and decryption timed separately. */
static void engine_mem_run(kvs_provider *key, const mem_buffers *b, unsigned threads, double seconds,
                           engine_result *r)
{
    memset(r, 0, sizeof *r);
    do {
        if (engine_mem_once(key, NULL, b, threads, r) != KVS_OK) return;
    } while (r->enc_s + r->dec_s < seconds);
    engine_rates(b->bytes, r);
}

/* Unsigned and signed in memory, alternating run by run (so both see the
 * same machine: it is shared, and its load drifts), for about 2 x `seconds`. */
static void engine_mem_pair(kvs_provider *key, const bench_signing *sg, const mem_buffers *b,
                            unsigned threads, double seconds, engine_result *plain, engine_result *sig)
{
    memset(plain, 0, sizeof *plain);
    memset(sig, 0, sizeof *sig);
    do {
        if (engine_mem_once(key, NULL, b, threads, plain) != KVS_OK ||
            engine_mem_once(key, sg, b, threads, sig) != KVS_OK)
            return;
    } while (plain->enc_s + plain->dec_s + sig->enc_s + sig->dec_s < 2 * seconds);
    engine_rates(b->bytes, plain);
    engine_rates(b->bytes, sig);
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

/* ---- signing --------------------------------------------------------------- */

/* Aggregate GB/s of `threads` workers hashing 1 MiB with SHA-256 (the leaf
 * hash of a signed file is one SHA-256 per stored chunk). */
typedef struct sha_job {
    double seconds;
    double bytes; /* out */
} sha_job;

static void *sha_worker(void *arg)
{
    sha_job *j = arg;
    size_t len = 1 << 20;
    uint8_t *buf = calloc(1, len), md[EVP_MAX_MD_SIZE];
    unsigned int mdl = 0;
    j->bytes = 0;
    if (buf) {
        double end = now() + j->seconds;
        while (now() < end && EVP_Digest(buf, len, md, &mdl, EVP_sha256(), NULL) == 1)
            j->bytes += (double)len;
    }
    free(buf);
    return NULL;
}

static double sha_rate(unsigned threads, double seconds)
{
    pthread_t t[64];
    sha_job jobs[64];
    double start = now(), total = 0;
    for (unsigned i = 0; i < threads; i++) {
        jobs[i] = (sha_job){seconds, 0};
        pthread_create(&t[i], NULL, sha_worker, &jobs[i]);
    }
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += jobs[i].bytes;
    }
    return total / (now() - start) / 1e9;
}

/* ECDSA P-256 over a SHA-256 digest with the bench's key, as a signed file's
 * statement is signed and checked: the signature check alone, without the
 * hashing of the chunks. */
static int ecdsa_bench(EVP_PKEY *pk, double seconds, double *sign_ops, double *verify_ops)
{
    uint8_t dgst[32] = {9}, sig[160];
    size_t sig_len = 0;
    unsigned long n = 0;
    int ok = 0;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
    if (!c || EVP_PKEY_sign_init(c) != 1) goto done;
    double start = now(), end = start + seconds;
    for (; now() < end; n++) {
        sig_len = sizeof sig;
        if (EVP_PKEY_sign(c, sig, &sig_len, dgst, sizeof dgst) != 1) goto done;
    }
    *sign_ops = (double)n / (now() - start);
    if (EVP_PKEY_verify_init(c) != 1) goto done;
    start = now();
    end = start + seconds;
    for (n = 0; now() < end; n++)
        if (EVP_PKEY_verify(c, sig, sig_len, dgst, sizeof dgst) != 1) goto done;
    *verify_ops = (double)n / (now() - start);
    ok = 1;
done:
    EVP_PKEY_CTX_free(c);
    return ok ? 0 : -1;
}

/* Write pk (private or public part) as PEM to a new 0600 file. */
static int write_pem(const char *path, EVP_PKEY *pk, int private_part)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return -1;
    }
    int ok = private_part ? PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL)
                          : PEM_write_PUBKEY(f, pk);
    return (fclose(f) == 0 && ok == 1) ? 0 : -1;
}

/* An ephemeral EC P-256 signing key made in memory: the public API takes a
 * signer from a PEM file only, so its private part goes to a 0600 file in a
 * fresh 0700 temp dir, read back into a signer (and its public part into a
 * signer check), and removed at once. */
static int make_signing(EVP_PKEY **pk_out, bench_signing *sg)
{
    char dir[4096], priv[4200], pub[4200];
    kvs_error err = {0};
    kvs_status st = KVS_ERR_CRYPTO;
    const char *tmp = getenv("TMPDIR");
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    if (!pk) return cli_error("bench", CLI_EXIT_INTERNAL, "cannot generate an EC P-256 key");
    snprintf(dir, sizeof dir, "%s/kvseal-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        EVP_PKEY_free(pk);
        return cli_error("bench", CLI_EXIT_IO, "cannot create a temp dir: %s", strerror(errno));
    }
    snprintf(priv, sizeof priv, "%s/ec-p256.pem", dir);
    snprintf(pub, sizeof pub, "%s/ec-p256.pub.pem", dir);
    int written = write_pem(priv, pk, 1) == 0 && write_pem(pub, pk, 0) == 0;
    if (written) st = kvs_local_signer_new(priv, NULL, &sg->signer, &err);
    if (written && st == KVS_OK) st = kvs_signer_check_pem(pub, &sg->check, &err);
    unlink(priv);
    unlink(pub);
    rmdir(dir);
    if (!written) {
        EVP_PKEY_free(pk);
        return cli_error("bench", CLI_EXIT_IO, "cannot write the signing key in %s", dir);
    }
    if (st != KVS_OK) {
        EVP_PKEY_free(pk);
        return cli_error_status("bench", "signing key", &err);
    }
    *pk_out = pk;
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
    /* signed vs unsigned, all threads, measured alternately */
    engine_result mem_unsigned, mem_signed, file_unsigned, file_signed;
    double verify_s;     /* kvs_verify_signer_fd of the signed file, seconds per file */
    unsigned verify_runs;
    double sha_1, sha_all; /* SHA-256 GB/s, 1 thread and all threads */
    double ecdsa_sign_ops, ecdsa_verify_ops;
    char sign_alg[8];
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
    .about = "Measure AES-256-GCM, the kvseal engine, RSA-4096 and signed files on this machine.",
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

/* Signed vs unsigned file to file: an untimed run of each (it gives the
 * files their pages), then unsigned, signed, signed, unsigned (ABBA: a load
 * that drifts linearly weighs on both the same). Signed files go to their
 * own file (a signed file is longer: an unsigned one written over it would
 * leave the old trailer behind). Then the signed file's key-less verification. */
static int run_signed_files(const bench_opts *o, kvs_provider *key, const bench_signing *sg, int in,
                            int fmid, int fsmid, int fout, const char *dir, bench_results *r)
{
    engine_result warm[2] = {{0}};
    engine_result *runs[4] = {&r->file_unsigned, &r->file_signed, &r->file_signed, &r->file_unsigned};
    uint64_t bytes = o->engine_mib << 20;
    kvs_error err = {0};
    engine_run(key, NULL, in, fmid, fout, r->threads, &warm[0]);
    if (warm[0].st != KVS_OK) return cli_error_status("bench", dir, &warm[0].err);
    engine_run(key, sg, in, fsmid, fout, r->threads, &warm[1]);
    if (warm[1].st != KVS_OK) return cli_error_status("bench", dir, &warm[1].err);
    for (int i = 0; i < 4; i++) {
        int is_signed = runs[i] == &r->file_signed;
        engine_run(key, is_signed ? sg : NULL, in, is_signed ? fsmid : fmid, fout, r->threads, runs[i]);
        if (runs[i]->st != KVS_OK) return cli_error_status("bench", dir, &runs[i]->err);
    }
    engine_rates(bytes, &r->file_unsigned);
    engine_rates(bytes, &r->file_signed);
    r->file = r->file_unsigned;
    double spent = 0;
    do {
        lseek(fsmid, 0, SEEK_SET);
        double t0 = now();
        kvs_status st = kvs_verify_signer_fd(fsmid, sg->check, NULL, &err);
        spent += now() - t0;
        if (st != KVS_OK) return cli_error_status("bench", "verify", &err);
        r->verify_runs++;
    } while (spent < o->seconds);
    r->verify_s = spent / r->verify_runs;
    return 0;
}

static int run_engines(const bench_opts *o, kvs_provider *key, const bench_signing *sg, bench_results *r)
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
    if (rc == 0) {
        engine_mem_pair(key, sg, &b, r->threads, o->seconds, &r->mem_unsigned, &r->mem_signed);
        if (r->mem_unsigned.st != KVS_OK) rc = cli_error_status("bench", "in memory", &r->mem_unsigned.err);
        else if (r->mem_signed.st != KVS_OK) rc = cli_error_status("bench", "in memory, signed", &r->mem_signed.err);
    }
    free(plain);
    free(b.sealed);
    free(b.opened);
    int fmid = open_scratch(dir, "mid"), fsmid = open_scratch(dir, "smid"), fout = open_scratch(dir, "out");
    if (rc == 0 && (fmid < 0 || fsmid < 0 || fout < 0))
        rc = cli_error("bench", CLI_EXIT_IO, "cannot create files in %s", dir);
    if (rc == 0) rc = run_signed_files(o, key, sg, in, fmid, fsmid, fout, dir, r);
    if (in >= 0) close(in);
    if (fmid >= 0) close(fmid);
    if (fsmid >= 0) close(fsmid);
    if (fout >= 0) close(fout);
    return rc;
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

/* Signatures the signer made per signed file encrypted (must be 1). */
static double signatures_per_file(const bench_results *r)
{
    uint64_t files = r->mem_signed.files + r->file_signed.files;
    return files ? (double)(r->mem_signed.signatures + r->file_signed.signatures) / (double)files : 0;
}

static void print_signed_row(const char *what, const engine_result *u, const engine_result *sg)
{
    printf("  %-13s encrypt %6.2f -> %6.2f GB/s (%.2fx)  decrypt %6.2f -> %6.2f GB/s (%.2fx)\n", what,
           u->enc_gbs, sg->enc_gbs, ratio(sg->enc_gbs, u->enc_gbs), u->dec_gbs, sg->dec_gbs,
           ratio(sg->dec_gbs, u->dec_gbs));
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
    printf("Signed files (ephemeral local EC P-256 key, %s; %u threads; unsigned and signed alternately):\n",
           r->sign_alg, r->threads);
    print_signed_row("in memory", &r->mem_unsigned, &r->mem_signed);
    print_signed_row("file to file", &r->file_unsigned, &r->file_signed);
    printf("  signatures per file: %.2f (%llu signatures, %llu signed files)\n",
           signatures_per_file(r), (unsigned long long)(r->mem_signed.signatures + r->file_signed.signatures),
           (unsigned long long)(r->mem_signed.files + r->file_signed.files));
    printf("  verify without a decryption key (kvs_verify_signer_fd): %.1f ms per %llu MiB file (%.2f GB/s)\n",
           r->verify_s * 1e3, (unsigned long long)o->engine_mib,
           r->verify_s > 0 ? (double)(o->engine_mib << 20) / r->verify_s / 1e9 : 0.0);
    printf("  the signature alone (ECDSA P-256 over a digest): sign %.0f ops/s, verify %.0f ops/s (%.3f ms)\n",
           r->ecdsa_sign_ops, r->ecdsa_verify_ops, r->ecdsa_verify_ops > 0 ? 1e3 / r->ecdsa_verify_ops : 0.0);
    printf("  SHA-256 in memory, 1 MiB: 1 thread %.2f GB/s, %u threads %.2f GB/s\n", r->sha_1, r->threads, r->sha_all);
}

static void add_engine(cJSON *arr, unsigned threads, const engine_result *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "threads", threads);
    cJSON_AddNumberToObject(o, "encrypt_gbps", e->enc_gbs);
    cJSON_AddNumberToObject(o, "decrypt_gbps", e->dec_gbs);
    cJSON_AddItemToArray(arr, o);
}

static void add_run(cJSON *o, const char *name, const engine_result *e)
{
    cJSON *x = cJSON_AddObjectToObject(o, name);
    cJSON_AddNumberToObject(x, "encrypt_gbps", e->enc_gbs);
    cJSON_AddNumberToObject(x, "decrypt_gbps", e->dec_gbs);
    cJSON_AddNumberToObject(x, "files", (double)e->files);
    cJSON_AddNumberToObject(x, "signatures", (double)e->signatures);
}

static void add_signed(cJSON *parent, const char *name, const engine_result *u, const engine_result *sg)
{
    cJSON *o = cJSON_AddObjectToObject(parent, name);
    add_run(o, "unsigned", u);
    add_run(o, "signed", sg);
    cJSON_AddNumberToObject(o, "encrypt_ratio", ratio(sg->enc_gbs, u->enc_gbs));
    cJSON_AddNumberToObject(o, "decrypt_ratio", ratio(sg->dec_gbs, u->dec_gbs));
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
    cJSON *sg = cJSON_AddObjectToObject(root, "signed");
    cJSON_AddStringToObject(sg, "key", "ephemeral local EC P-256");
    cJSON_AddStringToObject(sg, "alg", r->sign_alg);
    cJSON_AddNumberToObject(sg, "threads", r->threads);
    add_signed(sg, "memory", &r->mem_unsigned, &r->mem_signed);
    add_signed(sg, "file", &r->file_unsigned, &r->file_signed);
    cJSON_AddNumberToObject(sg, "signatures_per_file", signatures_per_file(r));
    cJSON *v = cJSON_AddObjectToObject(sg, "verify");
    cJSON_AddNumberToObject(v, "bytes", (double)(o->engine_mib << 20));
    cJSON_AddNumberToObject(v, "runs", r->verify_runs);
    cJSON_AddNumberToObject(v, "seconds_per_file", r->verify_s);
    cJSON_AddNumberToObject(v, "gbps", r->verify_s > 0 ? (double)(o->engine_mib << 20) / r->verify_s / 1e9 : 0);
    cJSON *ec = cJSON_AddObjectToObject(sg, "ecdsa_p256");
    cJSON_AddNumberToObject(ec, "sign_ops", r->ecdsa_sign_ops);
    cJSON_AddNumberToObject(ec, "verify_ops", r->ecdsa_verify_ops);
    cJSON *sha = cJSON_AddObjectToObject(sg, "sha256_gbps");
    cJSON_AddNumberToObject(sha, "threads_1", r->sha_1);
    cJSON_AddNumberToObject(sha, "threads_all", r->sha_all);
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
    bench_signing sg = {NULL, NULL};
    EVP_PKEY *sign_key = NULL;
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
        if (!o.json) cli_info("bench", "measuring (about %.0f s)...", o.seconds * (double)(N_GCM_CHUNKS + r->threads + 8) + 15);
        for (size_t i = 0; i < N_GCM_CHUNKS; i++) r->gcm_by_chunk[i] = gcm_rate(gcm_chunks[i], 1, o.seconds);
        for (unsigned t = 1; t <= r->threads; t++) r->gcm_by_threads[t] = gcm_rate(1 << 20, t, o.seconds);
        r->sha_1 = sha_rate(1, o.seconds);
        r->sha_all = sha_rate(r->threads, o.seconds);
        rc = make_key(dir, sizeof dir, &key);
    }
    if (rc == 0) rc = make_signing(&sign_key, &sg);
    if (rc == 0) {
        snprintf(r->sign_alg, sizeof r->sign_alg, "%s", kvs_signer_alg(sg.signer));
        rc = run_engines(&o, key, &sg, r);
    }
    if (rc == 0 && ecdsa_bench(sign_key, o.seconds, &r->ecdsa_sign_ops, &r->ecdsa_verify_ops) != 0)
        rc = cli_error("bench", CLI_EXIT_INTERNAL, "ECDSA benchmark failed");
    if (rc == 0 && rsa_bench(key, o.seconds, &r->rsa) != 0)
        rc = cli_error("bench", CLI_EXIT_INTERNAL, "RSA benchmark failed");
    if (rc == 0) {
        if (o.json) print_json(&o, r);
        else print_table(&o, r);
    }
    kvs_provider_free(key);
    kvs_signer_free(sg.signer);
    kvs_signer_check_free(sg.check);
    EVP_PKEY_free(sign_key);
    free(r);
    return rc;
}
