/* Retry policy pieces: which failures are retried, Retry-After, back-off. */
#define _POSIX_C_SOURCE 200809L
#include "azure/retry.h"

#include <string.h>

int kvs_retryable_status(long status, int imds)
{
    switch (status) {
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
        return 1;
    case 404: /* IMDS answers 404 while the identity is being set up */
    case 410:
        return imds;
    default:
        return 0;
    }
}

/* ---- HTTP-date --------------------------------------------------------- */

typedef struct kvs_dcur {
    const char *p;
} kvs_dcur;

static int kvs_d_digits(kvs_dcur *c, int min, int max, int *out)
{
    int v = 0, n = 0;
    while (n < max && *c->p >= '0' && *c->p <= '9') {
        v = v * 10 + (*c->p - '0');
        c->p++;
        n++;
    }
    if (n < min) return -1;
    *out = v;
    return 0;
}

static int kvs_d_lit(kvs_dcur *c, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(c->p, lit, n) != 0) return -1;
    c->p += n;
    return 0;
}

static int kvs_d_spaces(kvs_dcur *c)
{
    if (*c->p != ' ') return -1;
    while (*c->p == ' ') c->p++;
    return 0;
}

static int kvs_d_month(kvs_dcur *c, int *mon)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++) {
        if (strncmp(c->p, names + 3 * i, 3) == 0) {
            c->p += 3;
            *mon = i + 1;
            return 0;
        }
    }
    return -1;
}

/* Skip a day name (short or long) made of letters. */
static int kvs_d_dayname(kvs_dcur *c)
{
    const char *s = c->p;
    while ((*c->p >= 'A' && *c->p <= 'Z') || (*c->p >= 'a' && *c->p <= 'z')) c->p++;
    return c->p - s >= 3 ? 0 : -1;
}

static int kvs_d_time(kvs_dcur *c, int *h, int *mi, int *s)
{
    if (kvs_d_digits(c, 2, 2, h) || kvs_d_lit(c, ":") || kvs_d_digits(c, 2, 2, mi) ||
        kvs_d_lit(c, ":") || kvs_d_digits(c, 2, 2, s))
        return -1;
    return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t kvs_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = (m + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int kvs_d_finish(int y, int mon, int d, int h, int mi, int s, int64_t *epoch)
{
    if (mon < 1 || mon > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return -1;
    *epoch = kvs_days_from_civil(y, mon, d) * 86400 + h * 3600 + mi * 60 + s;
    return 0;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" or "Sunday, 06-Nov-94 08:49:37 GMT" */
static int kvs_d_rfc(kvs_dcur *c, int64_t *epoch)
{
    int d, mon, y, h, mi, s;
    if (kvs_d_dayname(c) || kvs_d_lit(c, ",") || kvs_d_spaces(c) || kvs_d_digits(c, 1, 2, &d))
        return -1;
    int dashed = *c->p == '-';
    if (dashed ? kvs_d_lit(c, "-") : kvs_d_spaces(c)) return -1;
    if (kvs_d_month(c, &mon)) return -1;
    if (dashed ? kvs_d_lit(c, "-") : kvs_d_spaces(c)) return -1;
    const char *ys = c->p;
    if (kvs_d_digits(c, 2, 4, &y)) return -1;
    if (c->p - ys == 2) y += y < 70 ? 2000 : 1900; /* RFC 850 two-digit year */
    if (kvs_d_spaces(c) || kvs_d_time(c, &h, &mi, &s) || kvs_d_spaces(c) ||
        kvs_d_lit(c, "GMT"))
        return -1;
    return kvs_d_finish(y, mon, d, h, mi, s, epoch);
}

/* "Sun Nov  6 08:49:37 1994" */
static int kvs_d_asctime(kvs_dcur *c, int64_t *epoch)
{
    int d, mon, y, h, mi, s;
    if (kvs_d_dayname(c) || kvs_d_spaces(c) || kvs_d_month(c, &mon) || kvs_d_spaces(c) ||
        kvs_d_digits(c, 1, 2, &d) || kvs_d_spaces(c) || kvs_d_time(c, &h, &mi, &s) ||
        kvs_d_spaces(c) || kvs_d_digits(c, 4, 4, &y))
        return -1;
    return kvs_d_finish(y, mon, d, h, mi, s, epoch);
}

int kvs_http_date_parse(const char *s, int64_t *epoch)
{
    if (s == NULL) return -1;
    kvs_dcur c = {s};
    if (kvs_d_rfc(&c, epoch) == 0 && *c.p == '\0') return 0;
    c.p = s;
    if (kvs_d_asctime(&c, epoch) == 0 && *c.p == '\0') return 0;
    return -1;
}

/* ---- Retry-After ------------------------------------------------------- */

int kvs_parse_seconds(const char *s, int64_t *out)
{
    int64_t v = 0;
    size_t n = 0;
    if (s == NULL) return -1;
    for (; s[n] >= '0' && s[n] <= '9'; n++) {
        if (n >= 10) return -1;
        v = v * 10 + (s[n] - '0');
    }
    if (n == 0 || s[n] != '\0') return -1;
    *out = v;
    return 0;
}

static void kvs_trim_copy(const char *in, char *out, size_t cap)
{
    while (*in == ' ' || *in == '\t') in++;
    size_t n = strlen(in);
    while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t' || in[n - 1] == '\r')) n--;
    if (n >= cap) n = cap - 1;
    memcpy(out, in, n);
    out[n] = '\0';
}

#define KVS_RETRY_AFTER_MAX_MS (86400LL * 1000)

int kvs_retry_after_parse(const char *value, int64_t now_epoch, int64_t *delay_ms)
{
    char v[128];
    int64_t secs, when;
    if (value == NULL) return -1;
    kvs_trim_copy(value, v, sizeof(v));
    if (kvs_parse_seconds(v, &secs) == 0) {
        *delay_ms = secs > 86400 ? KVS_RETRY_AFTER_MAX_MS : secs * 1000;
        return 0;
    }
    if (kvs_http_date_parse(v, &when) != 0) return -1;
    int64_t d = when - now_epoch;
    if (d < 0) d = 0;
    *delay_ms = d > 86400 ? KVS_RETRY_AFTER_MAX_MS : d * 1000;
    return 0;
}

int kvs_retry_after_ms_parse(const char *value, int64_t *delay_ms)
{
    char v[64];
    int64_t ms;
    if (value == NULL) return -1;
    kvs_trim_copy(value, v, sizeof(v));
    if (kvs_parse_seconds(v, &ms) != 0) return -1;
    *delay_ms = ms > KVS_RETRY_AFTER_MAX_MS ? KVS_RETRY_AFTER_MAX_MS : ms;
    return 0;
}

int64_t kvs_backoff_ms(unsigned attempt, uint32_t rnd)
{
    int64_t base = 1000LL << (attempt > 4 ? 4 : attempt);
    /* factor = 0.8 + 0.4 * (rnd % 1000) / 1000 */
    int64_t permille = 800 + (int64_t)(rnd % 1000u) * 400 / 1000;
    return base * permille / 1000;
}
