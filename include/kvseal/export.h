/* Symbol visibility and the annotations of the public API.
 *
 * KVS_API          the symbol is exported from the shared library (everything
 *                  else is hidden: the library is built with
 *                  -fvisibility=hidden; tests/abi/exported-symbols.txt pins
 *                  the exported set).
 * KVS_MUST_USE     ignoring the result is a bug (a failed decrypt, verify,
 *                  unwrap or commit must not go unnoticed): GCC and Clang warn.
 *                  GCC also warns for a (void) cast; keep the status in a
 *                  variable when it is really not needed.
 * KVS_NONNULL(i..) the numbered pointer parameters (from 1) must never be
 *                  NULL; parameters documented as optional are never marked.
 *                  The library itself is compiled without it (KVSEAL_BUILDING)
 *                  so that its own NULL checks stay in place for callers that
 *                  cannot be checked at compile time. */
#ifndef KVSEAL_EXPORT_H
#define KVSEAL_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define KVS_API __attribute__((visibility("default")))
#define KVS_MUST_USE __attribute__((warn_unused_result))
#if defined(KVSEAL_BUILDING)
#define KVS_NONNULL(...)
#else
#define KVS_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#endif
#else
#define KVS_API
#define KVS_MUST_USE
#define KVS_NONNULL(...)
#endif

#endif
