/* cJSON helpers for service responses that may carry secrets. */
#include "azure/kvjson.h"

#include <string.h>

#include <openssl/crypto.h>

#include "azure/retry.h"

cJSON *kvs_json_parse(const char *text, size_t len)
{
    if (text == NULL || len == 0) return NULL;
    return cJSON_ParseWithLength(text, len);
}

static void kvs_json_wipe(cJSON *j)
{
    for (; j != NULL; j = j->next) {
        if (j->valuestring != NULL) OPENSSL_cleanse(j->valuestring, strlen(j->valuestring));
        if (j->string != NULL) OPENSSL_cleanse(j->string, strlen(j->string));
        kvs_json_wipe(j->child);
    }
}

void kvs_json_free_wiped(cJSON *j)
{
    if (j == NULL) return;
    kvs_json_wipe(j);
    cJSON_Delete(j);
}

const char *kvs_json_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int kvs_json_i64(const cJSON *o, const char *name, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (!(d >= 0.0 && d < 1e15) || (double)(int64_t)d != d) return -1;
        *out = (int64_t)d;
        return 0;
    }
    if (cJSON_IsString(v)) return kvs_parse_seconds(v->valuestring, out);
    return -1;
}

int kvs_json_bool(const cJSON *o, const char *name, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsBool(v)) return -1;
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return 0;
}
