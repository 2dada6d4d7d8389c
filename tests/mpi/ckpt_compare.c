/* ckpt_compare A B RTOL: every tensor of checkpoint A (safetensors) exists in
 * B with the same shape, and float tensors agree within RTOL relative to each
 * tensor's largest magnitude (the data-parallel equality test). Prints the
 * worst tensor; exit 0 when all agree. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nemoc/safetensors.h"

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: ckpt_compare A B RTOL\n");
        return 2;
    }
    double rtol = atof(argv[3]), worst = 0;
    const char *worst_name = "";
    nc_st_file *a, *b;
    if (nc_st_open(argv[1], &a) || nc_st_open(argv[2], &b)) {
        fprintf(stderr, "%s\n", nc_last_error());
        return 1;
    }
    int bad = 0;
    for (int64_t i = 0; i < nc_st_count(a); i++) {
        const nc_st_info *ia = nc_st_at(a, i);
        if (!strncmp(ia->name, "optimizer.", 10)) continue; /* moments: checked through the weights */
        nc_tensor ta, tb;
        if (nc_st_get(a, ia->name, &ta) || nc_st_get(b, ia->name, &tb) || !nc_same_shape(&ta, &tb)) {
            fprintf(stderr, "%s: missing or different shape\n", ia->name);
            bad = 1;
            continue;
        }
        if (ta.dtype != NC_F32) continue;
        double md = 0, mw = 0;
        for (int64_t k = 0; k < nc_numel(&ta); k++) {
            double d = fabs((double)nc_f32(&ta)[k] - nc_f32(&tb)[k]);
            md = d > md ? d : md;
            mw = fabs(nc_f32(&ta)[k]) > mw ? fabs(nc_f32(&ta)[k]) : mw;
        }
        double rel = mw > 0 ? md / mw : md;
        if (rel > worst) worst = rel, worst_name = ia->name;
        if (!(rel <= rtol)) bad = 1;
    }
    printf("worst relative difference %.3g (%s), tolerance %g\n", worst, worst_name, rtol);
    nc_st_close(a);
    nc_st_close(b);
    return bad;
}
