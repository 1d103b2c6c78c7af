/* Azure CLI credential: `az account get-access-token --resource R --output
 * json [--tenant=T]`, started with posix_spawnp (fork/exec semantics, no
 * shell), stdout read into secure memory, bounded in time and size. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "azure/cred_sources.h"
#include "azure/kverror.h"
#include "azure/kvjson.h"
#include "azure/retry.h"
#include "core/error.h"

extern char **environ;

#define KVS_CLI_OUT_MAX (64 * 1024)
#define KVS_CLI_ERR_MAX 2048

typedef struct kvs_child {
    pid_t pid;
    int out_fd;
    int err_fd;
} kvs_child;

static void kvs_close_pair(int p[2])
{
    if (p[0] >= 0) close(p[0]);
    if (p[1] >= 0) close(p[1]);
}

/* 1 if s[0..n) is a DNS label: [A-Za-z0-9-], 1 to 63 long, no '-' at
 * either end. */
static int kvs_dns_label(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 c == '-';
        if (!ok) return 0;
    }
    return 1;
}

/* A tenant az may be given: GUID-shaped (8-4-4-4-12 letters and digits) or
 * a domain name of at least two labels. Nothing that az could take for an
 * option (a leading '-'), however it came (environment or challenge). */
int kvs_cli_tenant_ok(const char *t)
{
    static const size_t groups[5] = {8, 4, 4, 4, 12};
    size_t len = strlen(t), pos = 0, g = 0, labels = 0;
    if (len == 0 || len > 253 || t[0] == '-') return 0;
    for (g = 0; g < 5; g++) { /* GUID shape */
        if (pos + groups[g] > len || !kvs_dns_label(t + pos, groups[g]) ||
            memchr(t + pos, '-', groups[g]) != NULL)
            break;
        pos += groups[g];
        if (g < 4 && t[pos++] != '-') break;
    }
    if (g == 5 && pos == len) return 1;
    for (pos = 0; pos <= len; labels++) { /* domain name */
        const char *dot = memchr(t + pos, '.', len - pos);
        size_t n = dot ? (size_t)(dot - (t + pos)) : len - pos;
        if (!kvs_dns_label(t + pos, n)) return 0;
        pos += n + 1;
    }
    return labels >= 2;
}

static kvs_status kvs_spawn_az(const kvs_token_req *r, kvs_child *ch, kvs_error *err)
{
    int out[2] = {-1, -1}, errp[2] = {-1, -1};
    char *argv[12];
    char tenant_arg[300];
    size_t i = 0;
    argv[i++] = (char *)"az";
    argv[i++] = (char *)"account";
    argv[i++] = (char *)"get-access-token";
    argv[i++] = (char *)"--resource";
    argv[i++] = (char *)r->resource;
    argv[i++] = (char *)"--output";
    argv[i++] = (char *)"json";
    if (r->tenant != NULL && r->tenant[0] != '\0') {
        /* One argv element: a value can never become an option of its own. */
        if (!kvs_cli_tenant_ok(r->tenant))
            return kvs_fail(err, KVS_ERR_KEY_ACCESS,
                            "Azure CLI credential: refusing tenant '%.64s': not a tenant id "
                            "(GUID) or domain name; az was not run",
                            r->tenant);
        snprintf(tenant_arg, sizeof(tenant_arg), "--tenant=%s", r->tenant);
        argv[i++] = tenant_arg;
    }
    argv[i] = NULL;

    if (pipe(out) != 0 || pipe(errp) != 0) {
        kvs_close_pair(out);
        kvs_close_pair(errp);
        return kvs_fail(err, KVS_ERR_IO, "pipe: %s", strerror(errno));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, errp[0]);
    posix_spawn_file_actions_addclose(&fa, out[1]);
    posix_spawn_file_actions_addclose(&fa, errp[1]);
    int rc = posix_spawnp(&ch->pid, "az", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(errp[1]);
    if (rc != 0) {
        close(out[0]);
        close(errp[0]);
        return kvs_fail(err, KVS_ERR_KEY_ACCESS,
                        "Azure CLI credential: cannot run 'az' (%s); install the Azure CLI or "
                        "choose another --credential",
                        strerror(rc));
    }
    ch->out_fd = out[0];
    ch->err_fd = errp[0];
    return KVS_OK;
}

/* Read one chunk from fd into out (stdout, secure) or errbuf. 0 at EOF. */
static int kvs_drain(int fd, kvs_sbuf *out, char *errbuf, size_t *errlen)
{
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) return errno == EINTR || errno == EAGAIN ? 1 : 0;
    if (n == 0) return 0;
    if (out != NULL) {
        int ok = kvs_sbuf_append(out, buf, (size_t)n) == 0;
        OPENSSL_cleanse(buf, sizeof(buf));
        return ok ? 1 : -1;
    }
    size_t room = KVS_CLI_ERR_MAX - 1 - *errlen;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(errbuf + *errlen, buf, take);
    *errlen += take;
    errbuf[*errlen] = '\0';
    return 1;
}

/* Collect both pipes until EOF, the deadline, or too much output. */
static int kvs_collect(kvs_child *ch, int64_t deadline_ms, kvs_sbuf *out, char *errbuf)
{
    size_t errlen = 0;
    struct pollfd p[2] = {{ch->out_fd, POLLIN, 0}, {ch->err_fd, POLLIN, 0}};
    int open_fds = 2;
    errbuf[0] = '\0';
    while (open_fds > 0) {
        int64_t left = deadline_ms - kvs_mono_ms();
        if (left <= 0) return -2;
        int n = poll(p, 2, left > 1000 ? 1000 : (int)left);
        if (n < 0 && errno != EINTR) return -1;
        for (int i = 0; n > 0 && i < 2; i++) {
            if (p[i].fd < 0 || p[i].revents == 0) continue;
            int rc = kvs_drain(p[i].fd, i == 0 ? out : NULL, errbuf, &errlen);
            if (rc < 0) return -1;
            if (rc == 0) {
                p[i].fd = -1;
                open_fds--;
            }
        }
    }
    return 0;
}

static int kvs_reap(pid_t pid, int kill_first)
{
    int status = 0;
    if (kill_first) kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* The most useful line of az's stderr (its "ERROR: ..." line if any). */
static void kvs_cli_error_line(const char *text, char *out, size_t cap)
{
    const char *e = strstr(text, "ERROR:");
    if (e == NULL) {
        e = text;
        while (*e == '\n' || *e == '\r' || *e == ' ') e++;
    }
    kvs_text_sanitize(*e ? e : "(no output)", out, cap);
}

/* Digits at *p (exactly n of them). */
static int kvs_num(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* Older CLIs: "expiresOn": "2024-01-31 12:34:56.123456" in local time. */
static int kvs_local_time_parse(const char *s, int64_t *epoch)
{
    struct tm tm;
    int y, mo, d, h, mi, se;
    memset(&tm, 0, sizeof(tm));
    if (kvs_num(&s, 4, &y) || *s++ != '-' || kvs_num(&s, 2, &mo) || *s++ != '-' ||
        kvs_num(&s, 2, &d) || *s++ != ' ' || kvs_num(&s, 2, &h) || *s++ != ':' ||
        kvs_num(&s, 2, &mi) || *s++ != ':' || kvs_num(&s, 2, &se))
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1) return -1;
    *epoch = (int64_t)t;
    return 0;
}

static int kvs_cli_parse(const kvs_sbuf *out, kvs_token *tok)
{
    int64_t when = 0;
    if (kvs_token_from_json(out->p, out->len, "accessToken", tok) != 0) return -1;
    cJSON *j = kvs_json_parse(out->p, out->len);
    if (kvs_json_i64(j, "expires_on", &when) == 0 && when > 1000000000) {
        tok->expires_on = when;
    } else {
        const char *s = kvs_json_str(j, "expiresOn");
        if (s != NULL && kvs_local_time_parse(s, &when) == 0) tok->expires_on = when;
    }
    kvs_json_free_wiped(j);
    return 0;
}

static kvs_status kvs_cli_token(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                                kvs_token *tok, kvs_error *err)
{
    (void)c, (void)http;
    kvs_child ch;
    kvs_sbuf out;
    char errbuf[KVS_CLI_ERR_MAX];
    kvs_status st = kvs_spawn_az(r, &ch, err);
    if (st != KVS_OK) return st;
    kvs_sbuf_init(&out, KVS_CLI_OUT_MAX);
    int rc = kvs_collect(&ch, r->deadline_ms, &out, errbuf);
    close(ch.out_fd);
    close(ch.err_fd);
    int code = kvs_reap(ch.pid, rc != 0);
    if (rc == -2) {
        st = kvs_fail(err, KVS_ERR_NETWORK, "Azure CLI credential: 'az' did not answer in time");
    } else if (rc != 0) {
        st = kvs_fail(err, KVS_ERR_KEY_ACCESS, "Azure CLI credential: output too large or "
                      "unreadable");
    } else if (code != 0) {
        char line[320];
        kvs_cli_error_line(errbuf, line, sizeof(line));
        st = kvs_fail(err, KVS_ERR_KEY_ACCESS, "Azure CLI credential failed (az exit %d): %s",
                      code, line);
    } else if (kvs_cli_parse(&out, tok) != 0) {
        st = kvs_fail(err, KVS_ERR_KEY_ACCESS,
                      "Azure CLI credential: 'az account get-access-token' printed no "
                      "accessToken");
    }
    kvs_sbuf_free(&out);
    return st;
}

static const char *kvs_cli_describe(const kvs_cred *c)
{
    (void)c;
    return "Azure CLI";
}

static void kvs_cli_free(kvs_cred *c)
{
    free(c);
}

static const kvs_cred_ops kvs_cli_ops = {kvs_cli_token, kvs_cli_describe, kvs_cli_free};

kvs_status kvs_cred_cli_new(const kvs_cred *base, kvs_cred **out, kvs_error *err)
{
    kvs_cred *c = malloc(sizeof(*c));
    if (c == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    *c = *base;
    c->ops = &kvs_cli_ops;
    *out = c;
    return KVS_OK;
}
