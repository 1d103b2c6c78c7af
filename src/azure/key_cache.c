/* Public-key cache (azure/key_cache.h). */
#include "azure/key_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kvseal/keys.h"

#define KVS_KEY_CACHE 64

typedef struct kvs_key_entry {
    char kid[KVS_MAX_KEY_ID_LEN + 1];
    EVP_PKEY *pkey;
} kvs_key_entry;

struct kvs_key_cache {
    pthread_mutex_t lock;
    kvs_key_entry e[KVS_KEY_CACHE];
    size_t next; /* ring position of the next overwrite */
};

kvs_key_cache *kvs_key_cache_new(void)
{
    kvs_key_cache *kc = calloc(1, sizeof(*kc));
    if (kc != NULL) pthread_mutex_init(&kc->lock, NULL);
    return kc;
}

void kvs_key_cache_free(kvs_key_cache *kc)
{
    if (kc == NULL) return;
    for (size_t i = 0; i < KVS_KEY_CACHE; i++) EVP_PKEY_free(kc->e[i].pkey);
    pthread_mutex_destroy(&kc->lock);
    free(kc);
}

EVP_PKEY *kvs_key_cache_get(kvs_key_cache *kc, const char *kid)
{
    EVP_PKEY *found = NULL;
    pthread_mutex_lock(&kc->lock);
    for (size_t i = 0; i < KVS_KEY_CACHE; i++) {
        if (kc->e[i].pkey != NULL && strcmp(kc->e[i].kid, kid) == 0) {
            if (EVP_PKEY_up_ref(kc->e[i].pkey)) found = kc->e[i].pkey;
            break;
        }
    }
    pthread_mutex_unlock(&kc->lock);
    return found;
}

void kvs_key_cache_put(kvs_key_cache *kc, const char *kid, EVP_PKEY *pkey)
{
    if (strlen(kid) > KVS_MAX_KEY_ID_LEN || !EVP_PKEY_up_ref(pkey)) return;
    pthread_mutex_lock(&kc->lock);
    kvs_key_entry *e = &kc->e[kc->next];
    kc->next = (kc->next + 1) % KVS_KEY_CACHE;
    EVP_PKEY_free(e->pkey);
    memcpy(e->kid, kid, strlen(kid) + 1);
    e->pkey = pkey;
    pthread_mutex_unlock(&kc->lock);
}
