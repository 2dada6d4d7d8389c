/* The built-in collections: the top of the library, above every collection.
 * nc_register_collections() puts each collection's model classes into the
 * registry (include/nemoc/model.h), so that configs and `.nemo` files can
 * name them. */
#ifndef NEMOC_COLLECTIONS_H
#define NEMOC_COLLECTIONS_H

#include "nemoc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Registers every built-in collection (ASR today). Idempotent and
 * thread-safe; call it once before creating or loading models. */
nc_status nc_register_collections(void);

#ifdef __cplusplus
}
#endif
#endif
