/* The REST kvs_blob_store: Blob Storage operations over src/azure's HTTP
 * client. Thread safety: each operation checks a kvs_http out of the store's
 * pool (azure/http_pool.h) for its whole exchange, so up to KVS_HTTP_SLOTS
 * operations run at once, each on its own kept-alive connection. */
#define _POSIX_C_SOURCE 200809L
#include "blob/rest_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "azure/http_pool.h"
#include "azure/kverror.h"
#include "azure/retry.h"
#include "azure/settings.h"
#include "azure/token_cache.h"
#include "blob/blob_cred.h"
#include "blob/blob_url.h"
#include "blob/blocklist_xml.h"
#include "blob/list_xml.h"
#include "blob/shared_key.h"
#include "core/error.h"
#include "crypto/crypto.h"

#define KVS_BLOB_API_VERSION "2021-12-02"
#define KVS_BLOB_MIN_REQUEST_S 300 /* a block of many MiB on a slow link */
#define KVS_BLOB_MAX_HEADERS 48
#define KVS_BLOB_MAX_META 16
#define KVS_BLOCKLIST_XML_MAX ((size_t)8 << 20) /* 50,000 blocks fit */
#define KVS_BLOCKLIST_BODY_MAX ((size_t)8 << 20)
#define KVS_STORAGE_SCOPE "https://storage.azure.com/.default"
#define KVS_STORAGE_RESOURCE "https://storage.azure.com"
#define KVS_BLOB_MAX_BLOCK_BYTES ((uint64_t)4000 << 20) /* the service's Put Block limit */

typedef struct kvs_rest_store {
    kvs_blob_store base;
    kvs_blob_url url;
    kvs_blob_cred cred;
    kvs_kv_settings set;
    kvs_kv_allowlist allowed;
    kvs_http_pool *pool;
    kvs_token_cache *tokens; /* Entra ID only */
} kvs_rest_store;

/* One request's inputs, before credentials and the common headers. */
typedef struct kvs_rs_req {
    const char *method;
    const char *query;        /* without '?', or NULL */
    const char *const *lines; /* extra header lines, NULL-terminated, or NULL */
    const char *content_type; /* PUT only */
    const void *body;
    size_t body_len;
    uint8_t *recv_buf;
    size_t recv_len;
    int write;                /* for a 403's message: the role needed */
    const char *what;         /* "read", "Put Block", ... for messages */
} kvs_rs_req;

static void kvs_rfc1123(char out[80])
{
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = (time_t)kvs_wall_s();
    struct tm tm;
    if (gmtime_r(&now, &tm) == NULL) memset(&tm, 0, sizeof(tm));
    snprintf(out, 80, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday % 7], tm.tm_mday,
             mo[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The request URL: base, the operation's query, then the SAS token. The
 * result may hold the SAS: the caller wipes it. */
static kvs_status kvs_rs_url(const kvs_rest_store *s, const char *query, kvs_sbuf *u,
                             kvs_error *err)
{
    const char *sas = s->cred.kind == KVS_BLOB_CRED_SAS ? s->cred.sas.p : NULL;
    int bad = kvs_sbuf_puts(u, s->url.base);
    if (query && *query) bad |= kvs_sbuf_puts(u, "?") | kvs_sbuf_puts(u, query);
    if (sas) bad |= kvs_sbuf_puts(u, query && *query ? "&" : "?") | kvs_sbuf_puts(u, sas);
    return bad ? kvs_fail(err, KVS_ERR_NOMEM, "out of memory") : KVS_OK;
}

static const char *kvs_rs_hint(const kvs_rest_store *s, int write)
{
    if (s->cred.kind == KVS_BLOB_CRED_ENTRA)
        return write ? "the identity needs the role Storage Blob Data Contributor"
                     : "the identity needs the role Storage Blob Data Reader (or Contributor)";
    if (s->cred.kind == KVS_BLOB_CRED_SAS)
        return write ? "the SAS token lacks the write permission or has expired"
                     : "the SAS token lacks the read permission or has expired";
    return "the Shared Key was refused (wrong account key, or the clock is off)";
}

/* Map a final non-success answer to a status and a one-line message. */
static kvs_status kvs_rs_fail(const kvs_rest_store *s, const kvs_rs_req *q,
                              const kvs_http_resp *r, kvs_error *err)
{
    char code[80], ids[200];
    kvs_text_sanitize(r->error_code[0] ? r->error_code : "no error code", code, sizeof(code));
    kvs_request_ids(r->client_request_id, r->request_id, ids, sizeof(ids));
    if (r->status == 401 || r->status == 403)
        return kvs_fail(err, KVS_ERR_KEY_ACCESS,
                        "Blob Storage refused the %s of '%s' (HTTP %ld %s): %s; with Entra ID "
                        "the role needed is Storage Blob Data %s%s",
                        q->what, s->url.shown, r->status, code, kvs_rs_hint(s, q->write),
                        q->write ? "Contributor" : "Reader", ids);
    if (r->status == 404)
        return kvs_fail(err, KVS_ERR_IO, "%s of '%s': no such %s (HTTP 404 %s)%s", q->what,
                        s->url.shown,
                        strcmp(r->error_code, "ContainerNotFound") == 0 ? "container" : "blob",
                        code, ids);
    if (kvs_retryable_status(r->status, 0))
        return kvs_fail(err, KVS_ERR_UNAVAILABLE,
                        "Blob Storage failed the %s of '%s' for too long (HTTP %ld %s)%s",
                        q->what, s->url.shown, r->status, code, ids);
    return kvs_fail(err, KVS_ERR_IO, "Blob Storage refused the %s of '%s' (HTTP %ld %s)%s",
                    q->what, s->url.shown, r->status, code, ids);
}

/* "Authorization: Bearer <token>" for the storage scope into b (secure),
 * from the store's token cache (force: a new token). */
static kvs_status kvs_rs_bearer(kvs_rest_store *s, kvs_http *h, int force, kvs_sbuf *b,
                                kvs_error *err)
{
    const char *tenant = kvs_cred_tenant(s->cred.entra);
    kvs_token_req r = {s->set.authority, tenant ? tenant : "organizations",
                       KVS_STORAGE_SCOPE, KVS_STORAGE_RESOURCE,
                       kvs_mono_ms() + (int64_t)s->set.retry_s * 1000, 0};
    int fresh = 0;
    if (force) kvs_token_cache_drop(s->tokens, r.authority, r.tenant, r.scope);
    kvs_sbuf_reset(b);
    if (kvs_sbuf_puts(b, "Authorization: Bearer ") != 0)
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    return kvs_token_cache_get(s->tokens, s->cred.entra, h, &r, force, b, &fresh, err);
}

/* Build the common headers, sign, send (with retries), and leave the final
 * answer in resp. KVS_OK means an answer arrived; the caller checks it. */
static kvs_status kvs_rs_send(kvs_rest_store *s, const kvs_rs_req *q, kvs_http_resp *resp,
                              kvs_error *err)
{
    char date[80], datel[100], crid[37], cridl[64], lenl[48], ctl[160], auth[160] = "";
    const char *lines[KVS_BLOB_MAX_HEADERS + 8], *signed_lines[KVS_BLOB_MAX_HEADERS + 8];
    size_t n = 0, m = 0;
    kvs_rfc1123(date);
    snprintf(datel, sizeof(datel), "x-ms-date: %s", date);
    kvs_uuid4(crid);
    snprintf(cridl, sizeof(cridl), "x-ms-client-request-id: %s", crid);
    lines[n++] = "x-ms-version: " KVS_BLOB_API_VERSION;
    lines[n++] = datel;
    for (size_t i = 0; q->lines && q->lines[i]; i++) {
        if (n >= KVS_BLOB_MAX_HEADERS) return kvs_fail(err, KVS_ERR_USAGE, "too many headers");
        lines[n++] = q->lines[i];
    }
    lines[n] = NULL;

    kvs_sbuf url, sts;
    kvs_sbuf_init(&url, 64 * 1024);
    kvs_sbuf_init(&sts, 64 * 1024);
    kvs_status st = kvs_rs_url(s, q->query, &url, err);
    if (st == KVS_OK && s->cred.kind == KVS_BLOB_CRED_SHARED_KEY) {
        /* Sign what the transport will send: our lines plus the request id,
         * and for a PUT its Content-Length and Content-Type. */
        for (m = 0; m < n; m++) signed_lines[m] = lines[m];
        signed_lines[m++] = cridl;
        if (strcmp(q->method, "PUT") == 0) {
            snprintf(lenl, sizeof(lenl), "Content-Length: %zu", q->body_len);
            signed_lines[m++] = lenl;
            if (q->content_type) {
                snprintf(ctl, sizeof(ctl), "Content-Type: %s", q->content_type);
                signed_lines[m++] = ctl;
            }
        }
        signed_lines[m] = NULL;
        if (kvs_blob_sk_string_to_sign(s->cred.account, q->method, signed_lines,
                                       s->url.wire_path, q->query, &sts) != 0)
            st = kvs_fail(err, KVS_ERR_INTERNAL, "cannot build the Shared Key string to sign");
        else
            st = kvs_blob_sk_header(s->cred.key, s->cred.key_len, s->cred.account, &sts, auth,
                                    sizeof(auth), err);
    }
    kvs_http *h = NULL;
    size_t slot = 0;
    kvs_sbuf bearer;
    kvs_sbuf_init(&bearer, 0);
    if (st == KVS_OK) st = kvs_http_pool_checkout(s->pool, &h, &slot, err);
    /* A bearer token refused with 401 may have been revoked early: one more
     * try with a fresh one. */
    for (int round = 0; st == KVS_OK && round < 2; round++) {
        if (s->cred.kind == KVS_BLOB_CRED_ENTRA) {
            st = kvs_rs_bearer(s, h, round, &bearer, err);
            if (st != KVS_OK) break;
        }
        kvs_http_req req;
        memset(&req, 0, sizeof(req));
        req.method = q->method;
        req.url = url.p;
        req.content_type = q->content_type;
        req.headers = lines;
        req.secret_header = bearer.len ? bearer.p : auth[0] ? auth : NULL;
        req.body = q->body;
        req.body_len = q->body_len;
        req.recv_buf = q->recv_buf;
        req.recv_len = q->recv_len;
        req.client_request_id = crid;
        req.allow_plain_http = !s->url.https; /* kvs_blob_url_parse: loopback only */
        st = kvs_http_exchange(h, &req, kvs_mono_ms() + (int64_t)s->set.retry_s * 1000, resp,
                               err);
        if (st != KVS_OK || resp->status != 401 || s->cred.kind != KVS_BLOB_CRED_ENTRA) break;
    }
    if (st == KVS_ERR_NETWORK && err != NULL) {
        /* Name the operation: the transport knows only the host. */
        char was[sizeof(err->detail)];
        memcpy(was, err->detail, sizeof(was));
        st = kvs_fail(err, st, "%s of '%s': %s", q->what, s->url.shown, was);
    }
    if (h != NULL) kvs_http_pool_checkin(s->pool, slot);
    kvs_sbuf_free(&bearer);
    kvs_wipe_str(auth);
    kvs_sbuf_free(&url); /* wipes the SAS */
    kvs_sbuf_free(&sts);
    return st;
}

/* ---- the operations ----------------------------------------------------- */

static kvs_status kvs_rs_properties(kvs_blob_store *bs, kvs_blob_props *out, kvs_error *err)
{
    kvs_rest_store *s = (kvs_rest_store *)bs;
    kvs_rs_req q = {"HEAD", NULL, NULL, NULL, NULL, 0, NULL, 0, 0, "properties read"};
    kvs_http_resp r;
    kvs_http_resp_init(&r);
    memset(out, 0, sizeof(*out));
    kvs_status st = kvs_rs_send(s, &q, &r, err);
    if (st == KVS_OK && r.status != 200) st = kvs_rs_fail(s, &q, &r, err);
    if (st == KVS_OK && (r.content_length < 0 || r.etag[0] == '\0'))
        st = kvs_fail(err, KVS_ERR_IO, "Blob Storage sent no Content-Length or ETag for '%s'",
                      s->url.shown);
    if (st == KVS_OK) {
        out->size = (uint64_t)r.content_length;
        snprintf(out->etag, sizeof(out->etag), "%s", r.etag);
    }
    kvs_http_resp_free(&r);
    return st;
}

static kvs_status kvs_rs_etag_line(const char *name, const char *etag, char *line, size_t cap,
                                   kvs_error *err)
{
    for (const char *p = etag; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            return kvs_fail(err, KVS_ERR_USAGE, "malformed ETag");
    int w = snprintf(line, cap, "%s: %s", name, etag);
    if (w < 0 || (size_t)w >= cap) return kvs_fail(err, KVS_ERR_USAGE, "ETag too long");
    return KVS_OK;
}

static kvs_status kvs_rs_read_range(kvs_blob_store *bs, uint64_t off, uint8_t *buf, size_t len,
                                    const char *etag, kvs_error *err)
{
    kvs_rest_store *s = (kvs_rest_store *)bs;
    char range[80], ifm[KVS_BLOB_ETAG_MAX + 16], want[64];
    const char *lines[3] = {range, NULL, NULL};
    if (len == 0 || off > UINT64_MAX - len)
        return kvs_fail(err, KVS_ERR_USAGE, "empty or impossible blob range");
    snprintf(range, sizeof(range), "x-ms-range: bytes=%llu-%llu", (unsigned long long)off,
             (unsigned long long)(off + len - 1));
    snprintf(want, sizeof(want), "bytes %llu-%llu/", (unsigned long long)off,
             (unsigned long long)(off + len - 1));
    if (etag != NULL) {
        kvs_status est = kvs_rs_etag_line("If-Match", etag, ifm, sizeof(ifm), err);
        if (est != KVS_OK) return est;
        lines[1] = ifm;
    }
    kvs_rs_req q = {"GET", NULL, lines, NULL, NULL, 0, buf, len, 0, "read"};
    kvs_http_resp r;
    kvs_http_resp_init(&r);
    kvs_status st = kvs_rs_send(s, &q, &r, err);
    if (st != KVS_OK) {
        /* fall through */
    } else if (r.status == 412) {
        st = kvs_fail(err, KVS_ERR_IO, "the blob changed: '%s' no longer has the ETag read "
                                          "before", s->url.shown);
    } else if (r.status == 416) {
        st = kvs_fail(err, KVS_ERR_TRUNCATED, "'%s' ends before byte %llu", s->url.shown,
                      (unsigned long long)(off + len));
    } else if (r.status != 206) {
        st = kvs_rs_fail(s, &q, &r, err);
    } else if (r.recv_got != len || strncmp(r.content_range, want, strlen(want)) != 0) {
        /* A range that runs past the end comes back short. */
        st = kvs_fail(err, KVS_ERR_TRUNCATED, "'%s' ends before byte %llu", s->url.shown,
                      (unsigned long long)(off + len));
    }
    kvs_http_resp_free(&r);
    return st;
}

/* Block ids are base64 text (they go into a query and into XML). */
static int kvs_rs_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n >= KVS_BLOB_ID_TEXT_MAX || n % 4 != 0) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || (c == '=' && i + 2 >= n)))
            return 0;
    }
    return 1;
}

static kvs_status kvs_rs_put_block(kvs_blob_store *bs, const char *id, const uint8_t *data,
                                   size_t len, kvs_error *err)
{
    kvs_rest_store *s = (kvs_rest_store *)bs;
    char md5[25], md5l[48], query[200];
    if (!kvs_rs_id_ok(id)) return kvs_fail(err, KVS_ERR_USAGE, "malformed block id");
    if (len == 0) return kvs_fail(err, KVS_ERR_USAGE, "empty block");
    /* Azurite takes larger blocks; the service does not. */
    if (len > KVS_BLOB_MAX_BLOCK_BYTES)
        return kvs_fail(err, KVS_ERR_LIMIT, "a block holds at most 4000 MiB, not %zu bytes", len);
    kvs_status st = kvs_md5_b64(data, len, md5);
    if (st != KVS_OK) return kvs_fail(err, st, "cannot compute MD5");
    snprintf(md5l, sizeof(md5l), "Content-MD5: %s", md5);
    kvs_sbuf qb;
    kvs_sbuf_init(&qb, sizeof(query));
    if (kvs_sbuf_puts(&qb, "comp=block&blockid=") != 0 || kvs_sbuf_put_urlenc(&qb, id) != 0) {
        kvs_sbuf_free(&qb);
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    }
    snprintf(query, sizeof(query), "%s", qb.p);
    kvs_sbuf_free(&qb);
    const char *lines[] = {md5l, NULL};
    kvs_rs_req q = {"PUT", query, lines, NULL, data, len, NULL, 0, 1, "Put Block"};
    kvs_http_resp r;
    kvs_http_resp_init(&r);
    st = kvs_rs_send(s, &q, &r, err);
    if (st == KVS_OK && r.status != 201) st = kvs_rs_fail(s, &q, &r, err);
    kvs_http_resp_free(&r);
    return st;
}

static int kvs_rs_meta_ok(const kvs_blob_meta *m)
{
    if (m->name == NULL || m->value == NULL || m->name[0] == '\0' || strlen(m->name) > 64)
        return 0;
    for (const char *p = m->name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return 0;
    if (m->name[0] >= '0' && m->name[0] <= '9') return 0;
    for (const char *p = m->value; *p; p++)
        if (*p < 0x20 || *p > 0x7e) return 0;
    return strlen(m->value) <= 1024;
}

static kvs_status kvs_rs_blocklist_body(const kvs_blob_commit *c, kvs_sbuf *b, kvs_error *err)
{
    int bad = kvs_sbuf_puts(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for (size_t i = 0; i < c->n_blocks; i++) {
        const kvs_blob_block *k = &c->blocks[i];
        if (!kvs_rs_id_ok(k->id)) return kvs_fail(err, KVS_ERR_USAGE, "malformed block id");
        const char *tag = k->committed ? "Committed" : "Latest";
        bad |= kvs_sbuf_puts(b, "<") | kvs_sbuf_puts(b, tag) | kvs_sbuf_puts(b, ">") |
               kvs_sbuf_puts(b, k->id) | kvs_sbuf_puts(b, "</") | kvs_sbuf_puts(b, tag) |
               kvs_sbuf_puts(b, ">");
    }
    bad |= kvs_sbuf_puts(b, "</BlockList>");
    return bad ? kvs_fail(err, KVS_ERR_NOMEM, "out of memory (block list)") : KVS_OK;
}

static kvs_status kvs_rs_committed_blocks(kvs_blob_store *bs, kvs_blob_block **blocks,
                                          size_t *n, kvs_blob_props *props, kvs_error *err);

/* A commit retried (after a dropped connection or a timeout) may find its
 * own first try already applied: 409 or 412 on a later attempt. Block ids carry a per-upload random prefix,
 * so a committed list equal to ours means our commit landed. */
static int kvs_rs_commit_landed(kvs_blob_store *bs, const kvs_blob_commit *c)
{
    kvs_blob_block *got = NULL;
    kvs_blob_props p;
    size_t n = 0;
    int same = kvs_rs_committed_blocks(bs, &got, &n, &p, NULL) == KVS_OK && n == c->n_blocks;
    for (size_t i = 0; same && i < n; i++) same = strcmp(got[i].id, c->blocks[i].id) == 0;
    free(got);
    return same;
}

static kvs_status kvs_rs_put_block_list(kvs_blob_store *bs, const kvs_blob_commit *c,
                                        kvs_error *err)
{
    kvs_rest_store *s = (kvs_rest_store *)bs;
    char meta[KVS_BLOB_MAX_META][1120], ifm[KVS_BLOB_ETAG_MAX + 16], md5[25], md5l[48];
    const char *lines[KVS_BLOB_MAX_META + 4];
    size_t n = 0;
    if (c->n_blocks == 0 || c->n_blocks > KVS_BLOB_MAX_BLOCKS)
        return kvs_fail(err, KVS_ERR_LIMIT, "a blob holds 1 to 50000 blocks, not %zu",
                        c->n_blocks);
    if (c->n_meta > KVS_BLOB_MAX_META) return kvs_fail(err, KVS_ERR_USAGE, "too much metadata");
    for (size_t i = 0; i < c->n_meta; i++) {
        if (!kvs_rs_meta_ok(&c->meta[i]))
            return kvs_fail(err, KVS_ERR_USAGE, "malformed blob metadata");
        snprintf(meta[i], sizeof(meta[i]), "x-ms-meta-%s: %s", c->meta[i].name,
                 c->meta[i].value);
        lines[n++] = meta[i];
    }
    if (c->if_match != NULL) {
        kvs_status est = kvs_rs_etag_line("If-Match", c->if_match, ifm, sizeof(ifm), err);
        if (est != KVS_OK) return est;
        lines[n++] = ifm;
    }
    if (c->if_none_match_any) lines[n++] = "If-None-Match: *";
    kvs_sbuf body;
    kvs_sbuf_init(&body, KVS_BLOCKLIST_BODY_MAX);
    kvs_status st = kvs_rs_blocklist_body(c, &body, err);
    if (st == KVS_OK) st = kvs_md5_b64((const uint8_t *)body.p, body.len, md5);
    if (st == KVS_OK) {
        snprintf(md5l, sizeof(md5l), "Content-MD5: %s", md5);
        lines[n++] = md5l;
        lines[n] = NULL;
        kvs_rs_req q = {"PUT", "comp=blocklist", lines, "application/xml", body.p, body.len,
                        NULL, 0, 1, "Put Block List"};
        kvs_http_resp r;
        kvs_http_resp_init(&r);
        st = kvs_rs_send(s, &q, &r, err);
        if (st != KVS_OK) {
            /* the network error says it */
        } else if ((r.status == 409 || r.status == 412) && r.attempts > 1 &&
                   kvs_rs_commit_landed(bs, c)) {
            st = KVS_OK;
        } else if (r.status == 409 && strcmp(r.error_code, "BlobAlreadyExists") == 0) {
            st = kvs_fail(err, KVS_ERR_EXISTS, "'%s' already exists", s->url.shown);
        } else if (r.status == 412 && c->if_match == NULL && c->if_none_match_any) {
            st = kvs_fail(err, KVS_ERR_EXISTS, "'%s' already exists", s->url.shown);
        } else if (r.status == 412) {
            st = kvs_fail(err, KVS_ERR_IO, "the blob changed: '%s' no longer has the ETag "
                                              "read before", s->url.shown);
        } else if (r.status == 400 && strcmp(r.error_code, "InvalidBlockList") == 0) {
            /* Every commit of a blob drops the blocks other uploads staged. */
            char ids[200];
            kvs_request_ids(r.client_request_id, r.request_id, ids, sizeof(ids));
            st = kvs_fail(err, KVS_ERR_IO,
                          "Blob Storage refused the Put Block List of '%s' (HTTP 400 "
                          "InvalidBlockList): blocks staged by this upload are gone; another "
                          "upload of this blob probably committed meanwhile%s",
                          s->url.shown, ids);
        } else if (r.status != 201) {
            st = kvs_rs_fail(s, &q, &r, err);
        }
        kvs_http_resp_free(&r);
    }
    kvs_sbuf_free(&body);
    return st;
}

static kvs_status kvs_rs_committed_blocks(kvs_blob_store *bs, kvs_blob_block **blocks,
                                          size_t *n, kvs_blob_props *props, kvs_error *err)
{
    kvs_rest_store *s = (kvs_rest_store *)bs;
    *blocks = NULL;
    *n = 0;
    memset(props, 0, sizeof(*props));
    uint8_t *xml = malloc(KVS_BLOCKLIST_XML_MAX);
    if (xml == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    kvs_rs_req q = {"GET", "comp=blocklist&blocklisttype=committed", NULL, NULL, NULL, 0,
                    xml, KVS_BLOCKLIST_XML_MAX, 0, "Get Block List"};
    kvs_http_resp r;
    kvs_http_resp_init(&r);
    kvs_status st = kvs_rs_send(s, &q, &r, err);
    if (st == KVS_OK && r.status != 200) st = kvs_rs_fail(s, &q, &r, err);
    if (st == KVS_OK && r.etag[0] == '\0')
        st = kvs_fail(err, KVS_ERR_IO, "Blob Storage sent no ETag for '%s'", s->url.shown);
    if (st == KVS_OK) st = kvs_blob_blocklist_parse((const char *)xml, r.recv_got, blocks, n, err);
    if (st == KVS_OK) {
        snprintf(props->etag, sizeof(props->etag), "%s", r.etag);
        for (size_t i = 0; i < *n; i++) props->size += (*blocks)[i].size;
    }
    kvs_http_resp_free(&r);
    free(xml);
    return st;
}

static void kvs_rs_free(kvs_blob_store *bs)
{
    kvs_rest_store *s = (kvs_rest_store *)bs;
    if (s == NULL) return;
    kvs_http_pool_free(s->pool);
    kvs_token_cache_free(s->tokens);
    kvs_blob_cred_free(&s->cred);
    free(s);
}

static const kvs_blob_store_ops kvs_rest_ops = {
    kvs_rs_properties, kvs_rs_read_range,       kvs_rs_put_block,
    kvs_rs_put_block_list, kvs_rs_committed_blocks, kvs_rs_free};

static kvs_status kvs_rs_open(const char *url, const kvs_blob_config *cfg, int prefix,
                              kvs_rest_store **out, kvs_error *err);

kvs_status kvs_blob_store_open(const char *url, const kvs_blob_config *cfg,
                               kvs_blob_store **out, kvs_error *err)
{
    kvs_rest_store *s = NULL;
    *out = NULL;
    kvs_status st = kvs_rs_open(url, cfg, 0, &s, err);
    if (st == KVS_OK) *out = &s->base;
    return st;
}

static kvs_status kvs_rs_open(const char *url, const kvs_blob_config *cfg, int prefix,
                              kvs_rest_store **out, kvs_error *err)
{
    *out = NULL;
    kvs_rest_store *s = calloc(1, sizeof(*s));
    if (s == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    s->base.ops = &kvs_rest_ops;
    kvs_status st = kvs_kv_settings_resolve(NULL, &s->set, err);
    if (st == KVS_OK && kvs_kv_allowlist_parse(s->set.allowed, &s->allowed) != 0)
        st = kvs_fail(err, KVS_ERR_CONFIG, "KVSEAL_ALLOWED_HOSTS is malformed");
    if (st == KVS_OK)
        st = prefix ? kvs_blob_url_parse_prefix(url, &s->allowed, &s->url, err)
                    : kvs_blob_url_parse(url, &s->allowed, &s->url, err);
    if (st == KVS_OK)
        st = kvs_blob_cred_resolve(cfg, &s->url, s->set.credential, &s->cred, err);
    /* As for vaults (SECURITY.md, issue 15 item 2): a token of the configured
     * cloud never goes to another cloud's host. Shared Key and SAS send no
     * reusable secret, so they may reach any cloud's account. */
    if (st == KVS_OK && s->cred.kind == KVS_BLOB_CRED_ENTRA && s->url.cloud != KVS_KV_CLOUD_NONE &&
        s->url.cloud != s->set.cloud)
        st = kvs_fail(err, KVS_ERR_USAGE,
                      "'%s' is a blob host of the %s cloud, but the configured cloud is %s "
                      "(--cloud or KVSEAL_CLOUD): no Entra ID token is sent there",
                      s->url.shown, kvs_kv_cloud_name(s->url.cloud),
                      kvs_kv_cloud_name(s->set.cloud));
    if (st == KVS_OK && s->cred.kind == KVS_BLOB_CRED_ENTRA &&
        (s->tokens = kvs_token_cache_new()) == NULL)
        st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    if (st == KVS_OK) {
        kvs_http_config hc;
        memset(&hc, 0, sizeof(hc));
        hc.ca_file = s->set.ca_file[0] ? s->set.ca_file : NULL;
        hc.connect_timeout_s = s->set.connect_s;
        hc.request_timeout_s =
            s->set.request_s > KVS_BLOB_MIN_REQUEST_S ? s->set.request_s : KVS_BLOB_MIN_REQUEST_S;
        hc.throttle_max_s = s->set.throttle_s;
        hc.ca_hosts = &s->allowed;
        st = kvs_http_pool_new(&hc, &s->pool, err);
    }
    if (st != KVS_OK) {
        kvs_rs_free(&s->base);
        return st;
    }
    *out = s;
    return KVS_OK;
}

/* ---- List Blobs ----------------------------------------------------------- */

#define KVS_LIST_XML_MAX ((size_t)16 << 20) /* 5000 names of 1024 bytes, escaped */

static kvs_status kvs_rs_list_page(kvs_rest_store *s, unsigned page_size, const char *marker,
                                   uint8_t *xml, kvs_blob_page *page, kvs_error *err)
{
    char maxr[48];
    snprintf(maxr, sizeof(maxr), "&maxresults=%u", page_size);
    kvs_sbuf qb;
    kvs_sbuf_init(&qb, 8 * 1024);
    int bad = kvs_sbuf_puts(&qb, "restype=container&comp=list") | kvs_sbuf_puts(&qb, maxr);
    if (s->url.blob[0])
        bad |= kvs_sbuf_puts(&qb, "&prefix=") | kvs_sbuf_put_urlenc(&qb, s->url.blob);
    if (marker[0])
        bad |= kvs_sbuf_puts(&qb, "&marker=") | kvs_sbuf_put_urlenc(&qb, marker);
    if (bad) {
        kvs_sbuf_free(&qb);
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    }
    kvs_rs_req q = {"GET", qb.p, NULL, NULL, NULL, 0, xml, KVS_LIST_XML_MAX, 0, "List Blobs"};
    kvs_http_resp r;
    kvs_http_resp_init(&r);
    kvs_status st = kvs_rs_send(s, &q, &r, err);
    if (st == KVS_OK && r.status != 200) st = kvs_rs_fail(s, &q, &r, err);
    if (st == KVS_OK && r.recv_got >= KVS_LIST_XML_MAX)
        st = kvs_fail(err, KVS_ERR_FORMAT, "a List Blobs answer for '%s' over 16 MiB",
                      s->url.shown);
    if (st == KVS_OK) st = kvs_blob_list_parse((const char *)xml, r.recv_got, page, err);
    kvs_http_resp_free(&r);
    kvs_sbuf_free(&qb);
    return st;
}

/* The blob's URL: the container's, '/', the name percent-encoded. */
static char *kvs_rs_blob_url(const kvs_rest_store *s, const char *name)
{
    size_t cap = strlen(s->url.base) + 2 + 3 * strlen(name) + 1;
    char *u = malloc(cap);
    if (u == NULL) return NULL;
    snprintf(u, cap, "%s/", s->url.base);
    if (kvs_blob_path_encode(name, u, cap) != 0) {
        free(u);
        return NULL;
    }
    return u;
}

kvs_status kvs_blob_rest_list(const char *prefix_url, const kvs_blob_config *cfg,
                              unsigned page_size, kvs_blob_list_fn fn, void *arg,
                              kvs_error *err)
{
    kvs_rest_store *s = NULL;
    kvs_blob_page page;
    char *marker = NULL, *last = NULL;
    size_t total = 0, empty_pages = 0, plen;
    if (page_size == 0 || page_size > KVS_BLOB_LIST_PAGE_MAX) page_size = KVS_BLOB_LIST_PAGE_MAX;
    kvs_status st = kvs_rs_open(prefix_url, cfg, 1, &s, err);
    if (st != KVS_OK) return st;
    plen = strlen(s->url.blob);
    uint8_t *xml = malloc(KVS_LIST_XML_MAX);
    marker = calloc(1, KVS_BLOB_PATH_MAX + 1);
    last = calloc(1, KVS_BLOB_PATH_MAX + 1);
    if (xml == NULL || marker == NULL || last == NULL)
        st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    memset(&page, 0, sizeof(page));
    while (st == KVS_OK) {
        st = kvs_rs_list_page(s, page_size, marker, xml, &page, err);
        if (st != KVS_OK) break;
        /* The service lists names in order, each once, page after page: a
         * name that does not sort after the last one (a NextMarker that
         * loops), one outside the prefix, too many pages without a blob,
         * or a page larger than asked for are refused. */
        if (page.n > page_size)
            st = kvs_fail(err, KVS_ERR_FORMAT, "List Blobs of '%s': %zu blobs in a page of "
                                               "%u", s->url.shown, page.n, page_size);
        empty_pages = page.n == 0 ? empty_pages + 1 : 0;
        if (st == KVS_OK && empty_pages > KVS_BLOB_LIST_EMPTY_PAGES_MAX)
            st = kvs_fail(err, KVS_ERR_FORMAT, "List Blobs of '%s': %u pages in a row without "
                          "a blob", s->url.shown, KVS_BLOB_LIST_EMPTY_PAGES_MAX);
        for (size_t i = 0; st == KVS_OK && i < page.n; i++) {
            const kvs_blob_listed *b = &page.blobs[i];
            if (strncmp(b->name, s->url.blob, plen) != 0 || b->name[plen] == '\0')
                st = kvs_fail(err, KVS_ERR_FORMAT, "List Blobs of '%s' answered a name "
                              "outside the prefix", s->url.shown);
            else if (total > 0 && strcmp(b->name, last) <= 0)
                st = kvs_fail(err, KVS_ERR_FORMAT, "List Blobs of '%s' answered names out of "
                              "order (a looping NextMarker?)", s->url.shown);
            else if (++total > KVS_BLOB_LIST_MAX)
                st = kvs_fail(err, KVS_ERR_LIMIT, "more than %u blobs under '%s'",
                              KVS_BLOB_LIST_MAX, s->url.shown);
            if (st != KVS_OK) break;
            snprintf(last, KVS_BLOB_PATH_MAX + 1, "%s", b->name);
            char *u = kvs_rs_blob_url(s, b->name);
            if (u == NULL) {
                st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
                break;
            }
            kvs_blob_entry ent = {u, b->name + plen, b->size};
            if (fn(arg, &ent) != 0)
                st = kvs_fail(err, KVS_ERR_STATE, "the listing of '%s' was stopped",
                              s->url.shown);
            free(u);
        }
        if (st == KVS_OK && page.next_marker[0] == '\0') {
            kvs_blob_page_free(&page);
            break;
        }
        if (st == KVS_OK && strcmp(page.next_marker, marker) == 0)
            st = kvs_fail(err, KVS_ERR_FORMAT, "List Blobs of '%s' answered the same "
                          "NextMarker twice", s->url.shown);
        if (st == KVS_OK) snprintf(marker, KVS_BLOB_PATH_MAX + 1, "%s", page.next_marker);
        kvs_blob_page_free(&page);
    }
    kvs_blob_page_free(&page);
    free(xml);
    free(marker);
    free(last);
    kvs_rs_free(&s->base);
    return st;
}
