/* Serialise a header: magic || header_len || JSON (FORMAT.md §2, §4, §5). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64url.h"
#include "core/error.h"
#include "format/format.h"

static int add_b64(cJSON *obj, const char *name, const uint8_t *data, size_t len)
{
    size_t cap = kvs_b64url_encoded_len(len) + 1;
    char *text = malloc(cap);
    if (!text) return -1;
    int rc = kvs_b64url_encode(data, len, text, cap);
    if (rc == 0 && !cJSON_AddStringToObject(obj, name, text)) rc = -1;
    free(text);
    return rc;
}

int kvs_recipient_json_append(cJSON *array, const kvs_recipient *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return -1;
    cJSON_AddItemToArray(array, o);
    const char *id_name = strcmp(r->type, KVS_RECIPIENT_AZURE) == 0 ? "kid" : "key_id";
    if (!cJSON_AddStringToObject(o, "type", r->type) ||
        !cJSON_AddStringToObject(o, "alg", r->alg) ||
        !cJSON_AddStringToObject(o, id_name, r->key_id))
        return -1;
    return add_b64(o, "wrapped_key", r->wrapped, r->wrapped_len);
}

static cJSON *build_json(const kvs_header *h)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    int ok = cJSON_AddStringToObject(root, "suite", KVS_SUITE) &&
             cJSON_AddNumberToObject(root, "chunk_size", (double)h->chunk_size) &&
             add_b64(root, "salt", h->salt, KVS_SALT_LEN) == 0;
    cJSON *rs = ok ? cJSON_AddArrayToObject(root, "recipients") : NULL;
    ok = rs != NULL;
    for (size_t i = 0; ok && i < h->n_recipients; i++) ok = kvs_recipient_json_append(rs, &h->recipients[i]) == 0;
    if (ok && h->n_context > 0) {
        cJSON *ctx = cJSON_AddObjectToObject(root, "context");
        ok = ctx != NULL;
        for (size_t i = 0; ok && i < h->n_context; i++)
            ok = cJSON_AddStringToObject(ctx, h->context[i].key, h->context[i].value) != NULL;
    }
    if (ok && h->created[0]) ok = cJSON_AddStringToObject(root, "created", h->created) != NULL;
    if (ok && h->signer.type[0]) {
        /* FORMAT.md "Signed files": type, the key's name (kid or key_id), alg */
        const char *id_name = strcmp(h->signer.type, KVS_SIGNER_KEYVAULT) == 0 ? "kid" : "key_id";
        cJSON *sg = cJSON_AddObjectToObject(root, "signer");
        ok = sg != NULL && cJSON_AddStringToObject(sg, "type", h->signer.type) &&
             cJSON_AddStringToObject(sg, id_name, h->signer.id) &&
             cJSON_AddStringToObject(sg, "alg", h->signer.alg);
    }
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

kvs_status kvs_header_encode(const kvs_header *h, uint8_t **out, size_t *out_len,
                             kvs_error *err)
{
    *out = NULL;
    if (h->n_recipients < 1 || h->n_recipients > KVS_MAX_RECIPIENTS)
        return kvs_fail(err, KVS_ERR_USAGE, "between 1 and %d recipients are required",
                        KVS_MAX_RECIPIENTS);
    cJSON *root = build_json(h);
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory building the header");
    size_t len = strlen(text);
    if (len < KVS_HEADER_MIN || len > KVS_HEADER_MAX) {
        free(text);
        return kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "header would be %zu bytes (at most %u)", len,
                        KVS_HEADER_MAX);
    }
    uint8_t *buf = malloc(KVS_PREFIX_LEN + len);
    if (!buf) {
        free(text);
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    }
    memcpy(buf, kvs_magic, KVS_MAGIC_LEN);
    buf[8] = (uint8_t)(len >> 24);
    buf[9] = (uint8_t)(len >> 16);
    buf[10] = (uint8_t)(len >> 8);
    buf[11] = (uint8_t)len;
    memcpy(buf + KVS_PREFIX_LEN, text, len);
    free(text);
    *out = buf;
    *out_len = KVS_PREFIX_LEN + len;
    return KVS_OK;
}
