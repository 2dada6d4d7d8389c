/* TensorBoard event files: CRC32C vectors, write/read round trip, corruption detection. */
#include <stdio.h>
#include <string.h>

#include "io/crc32c.h"
#include "nc_test.h"
#include "nemoc/tensorboard.h"

typedef struct seen {
    int n;
    char tags[8][64];
    double values[8];
    int64_t steps[8];
} seen;

static void collect(const char *tag, double value, int64_t step, double wall, void *ud) {
    (void)wall;
    seen *s = ud;
    if (s->n < 8) {
        snprintf(s->tags[s->n], 64, "%s", tag);
        s->values[s->n] = value;
        s->steps[s->n] = step;
    }
    s->n++;
}

int main(void) {
    /* RFC 3720 / iSCSI test vectors for CRC-32C. */
    CHECK(nc_crc32c(0, "123456789", 9) == 0xE3069283u);
    unsigned char zeros[32] = {0};
    CHECK(nc_crc32c(0, zeros, 32) == 0x8A9136AAu);
    unsigned char ones[32];
    memset(ones, 0xff, 32);
    CHECK(nc_crc32c(0, ones, 32) == 0x62A8AB43u);

    const char *dir = nc_test_tmpdir("tb");
    nc_tb_writer *w;
    CHECK_OK(nc_tb_open(dir, &w));
    CHECK_OK(nc_tb_scalar(w, "train_loss", 1.5, 10));
    CHECK_OK(nc_tb_scalar(w, "learning_rate", 0.001, 10));
    CHECK_OK(nc_tb_scalar(w, "val_wer", 0.25, 20));
    char path[4096];
    snprintf(path, sizeof path, "%s", nc_tb_path(w));
    nc_tb_close(w);
    CHECK(strstr(path, "events.out.tfevents.") != NULL);

    seen s = {0};
    int64_t nrec = 0;
    CHECK_OK(nc_tb_read(path, collect, &s, &nrec));
    CHECK(nrec == 4); /* file_version + 3 scalars */
    CHECK(s.n == 3);
    CHECK(!strcmp(s.tags[0], "train_loss") && s.values[0] == 1.5 && s.steps[0] == 10);
    CHECK(!strcmp(s.tags[1], "learning_rate") && (float)s.values[1] == 0.001f);
    CHECK(!strcmp(s.tags[2], "val_wer") && s.steps[2] == 20);

    /* Flip one byte of the last record's payload: the reader must refuse it. */
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (f) {
        fseek(f, -6, SEEK_END);
        int c = fgetc(f);
        fseek(f, -6, SEEK_END);
        fputc(c ^ 0x55, f);
        fclose(f);
    }
    seen s2 = {0};
    CHECK(nc_tb_read(path, collect, &s2, &nrec) == NC_ERR_FORMAT);
    CHECK(strstr(nc_last_error(), "CRC") != NULL);
    return nc_test_finish("tensorboard");
}
