/* Parse and validate the header JSON (FORMAT.md §4, §4.1, §5). Every rule that
 * says "refuse" maps to KVS_ERR_FORMAT with a message naming the member. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "azure/kvurl.h"
#include "core/b64url.h"
#include "core/error.h"
#include "crypto/crypto.h"
#include "crypto/sign.h"
#include "format/format.h"

/* cJSON reports an allocation failure like a syntax error. Its allocator
 * hooks are process-global (they would change the embedding application's
 * cJSON too), so instead a failed parse asks for about what a parse of this
 * text allocates: memory that is exhausted is not blamed on the file. */
static int json_memory_short(size_t len)
{
    void *volatile probe = malloc(2 * len + 4096); /* volatile: not elided */
    free(probe);
    return probe == NULL;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* §4.1: duplicate member names are refused at every level, since parsers
 * disagree on which duplicate wins. */
static kvs_status check_duplicates(const cJSON *node, kvs_error *err)
{
    if (!cJSON_IsObject(node) && !cJSON_IsArray(node)) return KVS_OK;
    size_t n = 0;
    for (const cJSON *c = node->child; c; c = c->next) n++;
    if (cJSON_IsObject(node) && n > 1) {
        const char **names = malloc(n * sizeof(*names));
        if (!names) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
        size_t i = 0;
        for (const cJSON *c = node->child; c; c = c->next) names[i++] = c->string;
        qsort(names, n, sizeof(*names), compare_names);
        int dup = 0;
        for (i = 1; i < n && !dup; i++) dup = strcmp(names[i - 1], names[i]) == 0;
        free(names);
        if (dup) return kvs_fail(err, KVS_ERR_FORMAT, "header has a duplicate member name");
    }
    for (const cJSON *c = node->child; c; c = c->next) {
        kvs_status st = check_duplicates(c, err);
        if (st != KVS_OK) return st;
    }
    return KVS_OK;
}

static const cJSON *member(const cJSON *obj, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static kvs_status parse_suite(const cJSON *root, kvs_error *err)
{
    const cJSON *s = member(root, "suite");
    if (!s) return kvs_fail(err, KVS_ERR_FORMAT, "header has no suite");
    if (!cJSON_IsString(s)) return kvs_fail(err, KVS_ERR_FORMAT, "header suite is not a string");
    if (strcmp(s->valuestring, KVS_SUITE) != 0)
        return kvs_fail(err, KVS_ERR_FORMAT, "unsupported suite: only %s is defined", KVS_SUITE);
    return KVS_OK;
}

static size_t member_index(const cJSON *root, const cJSON *item)
{
    size_t k = 0;
    for (const cJSON *c = root->child; c && c != item; c = c->next) k++;
    return k;
}

static kvs_status parse_chunk_size(const cJSON *root, const uint8_t *json, size_t len,
                                   kvs_header *h, kvs_error *err)
{
    const cJSON *c = member(root, "chunk_size");
    if (!c) return kvs_fail(err, KVS_ERR_FORMAT, "header has no chunk_size");
    if (!cJSON_IsNumber(c)) return kvs_fail(err, KVS_ERR_FORMAT, "chunk_size is not a number");
    /* §4.1: cJSON reads 4096.0 and 4.096e3 as 4096; the text must be digits. */
    if (!kvs_json_member_is_plain_uint(json, len, member_index(root, c)))
        return kvs_fail(err, KVS_ERR_FORMAT, "chunk_size is not written as a plain integer");
    double v = c->valuedouble;
    /* §4: a power of two from 2^12 to 2^26. */
    if (!(v >= KVS_CHUNK_MIN && v <= KVS_CHUNK_MAX) || floor(v) != v)
        return kvs_fail(err, KVS_ERR_FORMAT, "chunk_size is outside 4096..67108864");
    uint32_t n = (uint32_t)v;
    if ((n & (n - 1)) != 0)
        return kvs_fail(err, KVS_ERR_FORMAT, "chunk_size %u is not a power of two", n);
    h->chunk_size = n;
    return KVS_OK;
}

/* Strict base64url string member of an exact or bounded decoded size. */
static kvs_status decode_b64_member(const cJSON *v, const char *name, uint8_t *out,
                                    size_t min, size_t max, size_t *out_len, kvs_error *err)
{
    if (!v) return kvs_fail(err, KVS_ERR_FORMAT, "header has no %s", name);
    if (!cJSON_IsString(v)) return kvs_fail(err, KVS_ERR_FORMAT, "%s is not a string", name);
    size_t len = 0;
    if (kvs_b64url_decode_strict(v->valuestring, strlen(v->valuestring), out, max, &len) != 0)
        return kvs_fail(err, KVS_ERR_FORMAT, "%s is not valid base64url (no padding)", name);
    if (len < min) return kvs_fail(err, KVS_ERR_FORMAT, "%s has the wrong length", name);
    *out_len = len;
    return KVS_OK;
}

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

/* §5: the kid grammar lives in the one key URL parser the Key Vault client
 * also uses, so a header never names a host the client would read otherwise. */
static int valid_kid(const char *kid)
{
    kvs_kv_keyref ref;
    return kvs_kv_parse_kid(kid, &ref) == 0;
}

/* "sha256:" + 64 lowercase hex: local RSA recipients and local signers. */
static int valid_rsa_key_id(const char *s)
{
    return strlen(s) == 71 && strncmp(s, "sha256:", 7) == 0 && is_lower_hex(s + 7, 64);
}

static kvs_status parse_identity(const cJSON *r, kvs_recipient *out, size_t idx,
                                 kvs_error *err)
{
    int is_rsa = strcmp(out->type, KVS_RECIPIENT_RSA) == 0;
    if (!is_rsa && strcmp(out->type, KVS_RECIPIENT_AZURE) != 0)
        return KVS_OK; /* §5: unknown types are kept but never usable */
    const char *member_name = is_rsa ? "key_id" : "kid";
    const cJSON *id = member(r, member_name);
    if (!cJSON_IsString(id))
        return kvs_fail(err, KVS_ERR_FORMAT, "recipient %zu has no %s string", idx, member_name);
    const char *s = id->valuestring;
    size_t n = strlen(s);
    int ok = is_rsa ? valid_rsa_key_id(s) : n <= KVS_MAX_KEY_ID_LEN && valid_kid(s);
    if (!ok)
        return kvs_fail(err, KVS_ERR_FORMAT, "recipient %zu has a malformed %s", idx, member_name);
    memcpy(out->key_id, s, n + 1);
    return KVS_OK;
}

static kvs_status parse_recipient(const cJSON *r, kvs_recipient *out, size_t idx,
                                  kvs_error *err)
{
    if (!cJSON_IsObject(r))
        return kvs_fail(err, KVS_ERR_FORMAT, "recipient %zu is not an object", idx);
    const cJSON *type = member(r, "type");
    const cJSON *alg = member(r, "alg");
    if (!cJSON_IsString(type) || !cJSON_IsString(alg))
        return kvs_fail(err, KVS_ERR_FORMAT, "recipient %zu needs string type and alg", idx);
    if (strlen(type->valuestring) >= sizeof out->type)
        return kvs_fail(err, KVS_ERR_FORMAT, "recipient %zu has an over-long type", idx);
    kvs_oaep_hash hash;
    /* §5: only RSA-OAEP-256 and RSA-OAEP; RSA1_5 is always refused. */
    if (kvs_oaep_hash_from_alg(alg->valuestring, &hash) != 0)
        return kvs_fail(err, KVS_ERR_FORMAT, "recipient %zu uses a refused alg", idx);
    memcpy(out->type, type->valuestring, strlen(type->valuestring) + 1);
    memcpy(out->alg, alg->valuestring, strlen(alg->valuestring) + 1);
    char name[48];
    snprintf(name, sizeof name, "recipient %zu wrapped_key", idx);
    kvs_status st = decode_b64_member(member(r, "wrapped_key"), name, out->wrapped, 1,
                                      sizeof out->wrapped, &out->wrapped_len, err);
    if (st != KVS_OK) return st;
    return parse_identity(r, out, idx, err);
}

static kvs_status parse_recipients(const cJSON *root, kvs_header *h, kvs_error *err)
{
    const cJSON *rs = member(root, "recipients");
    if (!rs) return kvs_fail(err, KVS_ERR_FORMAT, "header has no recipients");
    if (!cJSON_IsArray(rs)) return kvs_fail(err, KVS_ERR_FORMAT, "recipients is not an array");
    int n = cJSON_GetArraySize(rs);
    if (n < 1 || n > KVS_MAX_RECIPIENTS)
        return kvs_fail(err, KVS_ERR_FORMAT, "header has %d recipients (allowed 1..%d)", n,
                        KVS_MAX_RECIPIENTS);
    h->recipients = calloc((size_t)n, sizeof(kvs_recipient));
    if (!h->recipients) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    size_t i = 0;
    for (const cJSON *r = rs->child; r; r = r->next, i++) {
        kvs_status st = parse_recipient(r, &h->recipients[i], i, err);
        if (st != KVS_OK) return st;
        h->n_recipients = i + 1;
    }
    return KVS_OK;
}

static kvs_status parse_context(const cJSON *root, kvs_header *h, kvs_error *err)
{
    const cJSON *ctx = member(root, "context");
    if (!ctx) return KVS_OK;
    if (!cJSON_IsObject(ctx)) return kvs_fail(err, KVS_ERR_FORMAT, "context is not an object");
    int n = cJSON_GetArraySize(ctx);
    if (n > KVS_MAX_CONTEXT)
        return kvs_fail(err, KVS_ERR_FORMAT, "context has more than %d members", KVS_MAX_CONTEXT);
    if (n == 0) return KVS_OK;
    kvs_context_pair *pairs = calloc((size_t)n, sizeof(*pairs));
    if (!pairs) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    size_t i = 0;
    kvs_status st = KVS_OK;
    for (const cJSON *c = ctx->child; c && st == KVS_OK; c = c->next, i++) {
        if (!cJSON_IsString(c))
            st = kvs_fail(err, KVS_ERR_FORMAT, "context values must be strings");
        else if (strlen(c->string) > KVS_MAX_CONTEXT_LEN ||
                 strlen(c->valuestring) > KVS_MAX_CONTEXT_LEN)
            st = kvs_fail(err, KVS_ERR_FORMAT, "context key or value longer than %d bytes",
                          KVS_MAX_CONTEXT_LEN);
        pairs[i].key = c->string;
        pairs[i].value = c->valuestring;
    }
    if (st == KVS_OK) st = kvs_header_set_context(h, pairs, (size_t)n, err);
    free(pairs);
    return st;
}

/* `created` is informational and unbounded in the format; a value longer
 * than the header struct holds is kept shortened, marked with "...". */
static kvs_status parse_created(const cJSON *root, kvs_header *h, kvs_error *err)
{
    const cJSON *c = member(root, "created");
    if (!c) return KVS_OK;
    if (!cJSON_IsString(c)) return kvs_fail(err, KVS_ERR_FORMAT, "created is not a string");
    size_t n = strlen(c->valuestring);
    if (n < sizeof h->created) {
        memcpy(h->created, c->valuestring, n + 1);
    } else {
        size_t keep = sizeof h->created - 4;
        while (keep > 0 && ((unsigned char)c->valuestring[keep] & 0xC0) == 0x80) keep--;
        memcpy(h->created, c->valuestring, keep);
        memcpy(h->created + keep, "...", 4);
    }
    return KVS_OK;
}

/* FORMAT.md "Signed files": `signer` names a local key by key_id or a Key
 * Vault key by versioned kid, and one of five algs; anything else refuses
 * the file (a decoder must never treat a signed file as unsigned). Unknown
 * members inside it are ignored like unknown members elsewhere. */
static kvs_status parse_signer(const cJSON *root, kvs_header *h, kvs_error *err)
{
    const cJSON *sg = member(root, "signer");
    if (!sg) return KVS_OK;
    if (!cJSON_IsObject(sg)) return kvs_fail(err, KVS_ERR_FORMAT, "signer is not an object");
    const cJSON *type = member(sg, "type");
    const cJSON *alg = member(sg, "alg");
    if (!cJSON_IsString(type) || !cJSON_IsString(alg))
        return kvs_fail(err, KVS_ERR_FORMAT, "signer needs string type and alg");
    int is_key = strcmp(type->valuestring, KVS_SIGNER_KEY) == 0;
    if (!is_key && strcmp(type->valuestring, KVS_SIGNER_KEYVAULT) != 0)
        return kvs_fail(err, KVS_ERR_FORMAT, "signer type is not \"key\" or \"azure-keyvault\"");
    if (kvs_sig_alg_parse(alg->valuestring) == KVS_SIG_NONE)
        return kvs_fail(err, KVS_ERR_FORMAT, "signer alg is not ES256, ES384, PS256, PS384 or PS512");
    const char *id_name = is_key ? "key_id" : "kid";
    const cJSON *id = member(sg, id_name);
    if (!cJSON_IsString(id))
        return kvs_fail(err, KVS_ERR_FORMAT, "signer has no %s string", id_name);
    const char *s = id->valuestring;
    size_t n = strlen(s);
    int ok = is_key ? valid_rsa_key_id(s) : n <= KVS_MAX_KEY_ID_LEN && valid_kid(s);
    if (!ok) return kvs_fail(err, KVS_ERR_FORMAT, "signer has a malformed %s", id_name);
    memcpy(h->signer.id, s, n + 1);
    memcpy(h->signer.type, type->valuestring, strlen(type->valuestring) + 1);
    memcpy(h->signer.alg, alg->valuestring, strlen(alg->valuestring) + 1);
    return KVS_OK;
}

static kvs_status parse_members(const cJSON *root, const uint8_t *json, size_t len,
                                kvs_header *h, kvs_error *err)
{
    size_t salt_len = 0;
    kvs_status st;
    if ((st = check_duplicates(root, err)) != KVS_OK) return st;
    if ((st = parse_suite(root, err)) != KVS_OK) return st;
    if ((st = parse_chunk_size(root, json, len, h, err)) != KVS_OK) return st;
    st = decode_b64_member(member(root, "salt"), "salt", h->salt, KVS_SALT_LEN, KVS_SALT_LEN,
                           &salt_len, err);
    if (st != KVS_OK) return st;
    if ((st = parse_recipients(root, h, err)) != KVS_OK) return st;
    if ((st = parse_context(root, h, err)) != KVS_OK) return st;
    if ((st = parse_created(root, h, err)) != KVS_OK) return st;
    if ((st = parse_signer(root, h, err)) != KVS_OK) return st;
    /* A signature covers `created` whole: a shortened copy could not be
     * verified, so a signed file must keep it within what the header holds. */
    const cJSON *created = member(root, "created");
    if (h->signer.type[0] && created && strlen(created->valuestring) >= sizeof h->created)
        return kvs_fail(err, KVS_ERR_FORMAT, "a signed file's created is longer than %zu bytes",
                        sizeof h->created - 1);
    return KVS_OK;
}

static int only_whitespace(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') return 0;
    return 1;
}

/* §7: every header breach reads "malformed header: <member and rule>". */
static kvs_status malformed(kvs_status st, kvs_error *err)
{
    if (st != KVS_ERR_FORMAT || !err || strncmp(err->detail, "unsupported suite", 17) == 0)
        return st;
    char detail[KVS_ERROR_DETAIL_MAX];
    snprintf(detail, sizeof detail, "%s", err->detail);
    return kvs_fail(err, st, "malformed header: %s", detail);
}

static kvs_status parse_text(const uint8_t *json, size_t len, kvs_header **out, kvs_error *err);

kvs_status kvs_header_parse(const uint8_t *json, size_t len, kvs_header **out, kvs_error *err)
{
    return malformed(parse_text(json, len, out, err), err);
}

static kvs_status parse_text(const uint8_t *json, size_t len, kvs_header **out, kvs_error *err)
{
    *out = NULL;
    kvs_status st = kvs_json_precheck(json, len, err);
    if (st != KVS_OK) return st;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)json, len, &end, 0);
    if (!root && json_memory_short(len)) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    if (!root || !only_whitespace(end, (const char *)json + len)) {
        cJSON_Delete(root);
        return kvs_fail(err, KVS_ERR_FORMAT, "header is not valid JSON");
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return kvs_fail(err, KVS_ERR_FORMAT, "header is not a JSON object");
    }
    kvs_header *h = kvs_header_new();
    if (!h) st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    else st = parse_members(root, json, len, h, err);
    cJSON_Delete(root);
    if (st != KVS_OK) {
        kvs_header_free(h);
        return st;
    }
    h->header_len = (uint32_t)len;
    h->unlocked_recipient = -1;
    *out = h;
    return KVS_OK;
}
