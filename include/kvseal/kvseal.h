/* kvseal: client-side envelope encryption of large files (umbrella header). */
#ifndef KVSEAL_H
#define KVSEAL_H

#include "kvseal/envelope.h"
#include "kvseal/keyvault.h"
#include "kvseal/header.h"
#include "kvseal/keys.h"
#include "kvseal/rewrap.h"
#include "kvseal/status.h"
#include "kvseal/stream.h"
#include "kvseal/version.h"

#endif
