/* cJSON helpers for service responses that may carry secrets. */
#ifndef KVS_AZURE_KVJSON_H
#define KVS_AZURE_KVJSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Parse exactly len bytes; NULL on any error. */
cJSON *kvs_json_parse(const char *text, size_t len);
/* Wipe every string (names and values) before freeing: responses hold tokens
 * and DEKs that cJSON copied to the ordinary heap. NULL is a no-op. */
void kvs_json_free_wiped(cJSON *j);

/* Member `name` of object o as a string, or NULL. */
const char *kvs_json_str(const cJSON *o, const char *name);
/* Member as a whole number, accepting a JSON number or a decimal string
 * ("3599"). Returns 0 or -1. */
int kvs_json_i64(const cJSON *o, const char *name, int64_t *out);
/* Member as a boolean. Returns 0 or -1 (absent or not a boolean). */
int kvs_json_bool(const cJSON *o, const char *name, int *out);

#endif
