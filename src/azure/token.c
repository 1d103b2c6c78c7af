/* Access tokens: parsing and lifetime (azure/token.h). */
#include "azure/token.h"

#include <string.h>

#include "azure/kvjson.h"
#include "azure/retry.h"

#define KVS_TOKEN_MARGIN_S 300 /* refresh 5 minutes before expiry */

void kvs_token_init(kvs_token *t)
{
    memset(t, 0, sizeof(*t));
    kvs_sbuf_init(&t->text, KVS_TOKEN_MAX);
}

void kvs_token_free(kvs_token *t)
{
    kvs_sbuf_free(&t->text);
    t->expires_on = t->issued_at = 0;
}

int kvs_token_valid(const kvs_token *t, int64_t now)
{
    int64_t life = t->expires_on - t->issued_at;
    int64_t margin = life / 2 < KVS_TOKEN_MARGIN_S ? life / 2 : KVS_TOKEN_MARGIN_S;
    return t->text.len > 0 && now < t->expires_on - margin;
}

int kvs_token_from_json(const char *body, size_t len, const char *access_field, kvs_token *tok)
{
    int64_t now = kvs_wall_s(), on = 0, in = 0;
    cJSON *j = kvs_json_parse(body, len);
    const char *t = kvs_json_str(j, access_field);
    int rc = -1;
    kvs_sbuf_reset(&tok->text);
    if (t != NULL && t[0] != '\0' && strpbrk(t, " \r\n\t\"") == NULL &&
        kvs_sbuf_puts(&tok->text, t) == 0) {
        if (kvs_json_i64(j, "expires_on", &on) == 0 && on > 1000000000) {
            tok->expires_on = on;
        } else if (kvs_json_i64(j, "expires_in", &in) == 0) {
            tok->expires_on = now + in;
        } else {
            tok->expires_on = now + 300; /* unknown: assume short-lived */
        }
        tok->issued_at = now;
        rc = 0;
    }
    kvs_json_free_wiped(j);
    return rc;
}
