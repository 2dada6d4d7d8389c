/* Checkpoint I/O throughput: writing and reading a torch.save file and a
 * .nemo holding it, for a state_dict of (1024, 1024) f32 matrices.
 *     build/bench/bench_torch_ckpt [megabytes] [folder]
 * Reads run from the page cache (the file was just written), so they show
 * the parser and copy cost, not the disk. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "nemoc/nemo_archive.h"
#include "nemoc/torch_ckpt.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    double mb = argc > 1 ? atof(argv[1]) : 256.0;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    int n = (int)(mb / 4.0);
    if (n < 1) n = 1;
    nc_tensor_list l = {0};
    for (int i = 0; i < n; i++) {
        nc_tensor *t = NULL;
        char name[64];
        snprintf(name, sizeof name, "encoder.layers.%d.feed_forward.linear.weight", i);
        if (nc_tensor_new(NC_F32, NC_DIMS(1024, 1024), &t) || nc_tensor_list_push(&l, name, t, NC_TORCH_AUTO)) {
            fprintf(stderr, "%s\n", nc_last_error());
            return 1;
        }
        for (int64_t k = 0; k < nc_numel(t); k++) nc_f32(t)[k] = (float)(k % 1000) * 1e-3f + (float)i;
    }
    double bytes = 4.0 * 1024 * 1024 * n;
    char ckpt[4096], nemo[4096];
    snprintf(ckpt, sizeof ckpt, "%s/bench_ckpt.%ld.pt", dir, (long)getpid());
    snprintf(nemo, sizeof nemo, "%s/bench_ckpt.%ld.nemo", dir, (long)getpid());

    double t0 = now();
    if (nc_torch_ckpt_save(ckpt, l.items, l.n, NULL)) goto fail;
    double t1 = now();
    nc_tensor_list back = {0};
    if (nc_torch_ckpt_load(ckpt, NULL, &back)) goto fail;
    double t2 = now();
    nc_tensor_list_clear(&back);
    nc_nemo_contents c = {.config_yaml = "target: bench\n", .tensors = l.items, .n_tensors = l.n};
    if (nc_nemo_save(nemo, &c)) goto fail;
    double t3 = now();
    nc_nemo *h = NULL;
    if (nc_nemo_open(nemo, &h) || nc_nemo_load_weights(h, NULL, NULL, &back)) goto fail;
    double t4 = now();
    nc_nemo_close(h);
    nc_tensor_list_clear(&back);
    printf("%d tensors, %.0f MB\n", n, bytes / 1e6);
    printf("torch.save  write %7.1f ms  %6.0f MB/s (incl. fsync)\n", 1e3 * (t1 - t0), bytes / 1e6 / (t1 - t0));
    printf("torch.load  read  %7.1f ms  %6.0f MB/s\n", 1e3 * (t2 - t1), bytes / 1e6 / (t2 - t1));
    printf(".nemo       write %7.1f ms  %6.0f MB/s (incl. fsync)\n", 1e3 * (t3 - t2), bytes / 1e6 / (t3 - t2));
    printf(".nemo       read  %7.1f ms  %6.0f MB/s (weights in place)\n", 1e3 * (t4 - t3), bytes / 1e6 / (t4 - t3));
    unlink(ckpt);
    unlink(nemo);
    nc_tensor_list_clear(&l);
    return 0;
fail:
    fprintf(stderr, "bench_torch_ckpt: %s\n", nc_last_error());
    unlink(ckpt);
    unlink(nemo);
    return 1;
}
