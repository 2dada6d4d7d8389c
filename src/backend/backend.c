/* Which backend table a ctx's ops run on (backend.h). */
#include "backend/backend.h"

const nc_backend *nc_ctx_backend(const nc_ctx *ctx) {
    (void)ctx; /* one backend today: a ctx made for a device would carry its table */
    return nc_backend_cpu();
}
