/* libFuzzer target: NeMo manifests through nc_manifest_read (field rules,
 * filters, path resolution, text_filepath, the per-line limit). The input is
 * written to a file in /dev/shm, as manifests are read from paths; the first
 * byte picks skip_bad_lines and the duration filters. Every kept entry must
 * have its required fields. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "nemoc/asr_data.h"
#include "nemoc/log.h"

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (!path[0]) {
        snprintf(path, sizeof path, "/dev/shm/nc_fuzz_manifest_%ld.json", (long)getpid());
        nc_log_set_level(NC_LOG_ERROR);
    }
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    nc_manifest_filter flt = nc_manifest_default_filter();
    if (data[0] & 2) flt.min_duration = 0.5;
    if (data[0] & 4) flt.max_duration = 10.0;
    if (data[0] & 8) flt.max_utts = data[0] >> 4;
    nc_manifest m;
    if (nc_manifest_read(path, &flt, data[0] & 1, &m) == NC_OK) {
        for (int64_t i = 0; i < m.n; i++) {
            const nc_manifest_entry *e = &m.entries[i];
            if (!e->audio_filepath || !e->text || !e->source || !isfinite(e->duration) || e->duration < 0) abort();
        }
        nc_manifest_free(&m);
    }
    unlink(path);
    return 0;
}
