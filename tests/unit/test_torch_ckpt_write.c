/* torch.save writer: the pickle is byte-identical to torch's for the same
 * state_dict (tests/ref/torch_ckpt/writer_ref.pt); every dtype, 0-d and empty
 * tensors, >1000 entries (SETITEMS batches, LONG_BINPUT) and ZIP64 records
 * round-trip through nemoc's reader and, when /usr/bin/python3 has torch,
 * through torch.load (tests/ref/check_torch_load.py); failures are clean. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt_fixture.h"
#include "io/fileutil.h"

/* The bytes of record `name` of a zip image (nc_malloc'd). */
static void *record(const void *img, size_t len, const char *name, size_t *out_len) {
    nc_rsrc src = nc_rsrc_mem(img, len, "zip");
    nc_zip *z = NULL;
    void *buf = NULL;
    *out_len = 0;
    if (nc_zip_open(&src, &z) != NC_OK) return NULL;
    const nc_zip_entry *e = nc_zip_find(z, name);
    if (e) {
        buf = nc_malloc(e->usize + 1);
        if (nc_zip_read(z, e, buf, true) == NC_OK) *out_len = (size_t)e->usize;
    }
    nc_zip_close(z);
    return buf;
}

static void same_record(const void *a, size_t alen, const void *b, size_t blen, const char *name) {
    size_t la, lb;
    void *ra = record(a, alen, name, &la), *rb = record(b, blen, name, &lb);
    nc_test_checks++;
    if (!ra || !rb || la != lb || memcmp(ra, rb, la) != 0)
        nc_test_fail(__FILE__, __LINE__, "record '%s' differs (%zu vs %zu bytes)", name, la, lb);
    nc_free(ra);
    nc_free(rb);
}

/* nemoc writes the same data.pkl and storages as torch.save did. */
static void identical_to_torch(void) {
    nc_tensor_list l = {0};
    CHECK_OK(nc_torch_ckpt_load(ckpt_ref("writer_ref.pt"), NULL, &l));
    void *ref;
    size_t ref_len;
    CHECK_OK(nc_read_file(ckpt_ref("writer_ref.pt"), &ref, &ref_len));
    void *ours = NULL;
    size_t ours_len = 0;
    nc_torch_write_params wp = {.archive_name = "writer_ref"};
    CHECK_OK(nc_torch_ckpt_save_mem(l.items, l.n, &wp, &ours, &ours_len));
    same_record(ours, ours_len, ref, ref_len, "writer_ref/data.pkl");
    same_record(ours, ours_len, ref, ref_len, "writer_ref/version");
    for (int64_t i = 0; i < l.n; i++) {
        char name[64];
        snprintf(name, sizeof name, "writer_ref/data/%lld", (long long)i);
        same_record(ours, ours_len, ref, ref_len, name);
    }
    size_t bl;
    void *bo = record(ours, ours_len, "writer_ref/byteorder", &bl);
    CHECK(bo && bl == 6 && !memcmp(bo, "little", 6));
    nc_free(bo);
    nc_free(ours);
    nc_free(ref);
    nc_tensor_list_clear(&l);
}

static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

static nc_tensor *make(nc_dtype dt, int ndim, const int64_t *shape, uint32_t seed) {
    nc_tensor *t = NULL;
    CHECK_OK(nc_tensor_new(dt, ndim, shape, &t));
    if (!t) return NULL;
    unsigned char *b = t->data;
    for (size_t k = 0; k < nc_nbytes(t); k++) b[k] = (unsigned char)(lcg(&seed) >> 24);
    if (dt == NC_F32) /* finite values with full mantissas */
        for (int64_t k = 0; k < nc_numel(t); k++) nc_f32(t)[k] = (float)((int32_t)lcg(&seed)) / 3e6f;
    if (dt == NC_F16 || dt == NC_BF16)
        for (int64_t k = 0; k < nc_numel(t); k++) ((uint16_t *)t->data)[k] &= 0xbfff; /* no NaN/Inf */
    return t;
}

static void add(nc_tensor_list *l, const char *name, nc_tensor *t, nc_torch_dtype td) {
    if (t) CHECK_OK(nc_tensor_list_push(l, name, t, td));
}

static void build(nc_tensor_list *l, int n_many) {
    add(l, "enc.w", make(NC_F32, NC_DIMS(3, 4), 1), NC_TORCH_AUTO);
    add(l, "enc.h", make(NC_F16, NC_DIMS(5), 2), NC_TORCH_AUTO);
    add(l, "enc.bf", make(NC_BF16, NC_DIMS(2, 3), 3), NC_TORCH_AUTO);
    add(l, "enc.i64", make(NC_I64, NC_DIMS(4), 4), NC_TORCH_AUTO);
    add(l, "enc.i32", make(NC_I32, NC_DIMS(2, 2), 5), NC_TORCH_AUTO);
    add(l, "enc.u8", make(NC_U8, NC_DIMS(7), 6), NC_TORCH_AUTO);
    nc_tensor *b = make(NC_U8, NC_DIMS(6), 7);
    if (b)
        for (int k = 0; k < 6; k++) ((uint8_t *)b->data)[k] &= 1;
    add(l, "mask", b, NC_TORCH_BOOL);
    nc_tensor *d = make(NC_F32, NC_DIMS(3), 8);
    add(l, "double", d, NC_TORCH_DOUBLE);
    nc_tensor *s = make(NC_I32, NC_DIMS(3), 9);
    if (s) {
        nc_i32(s)[0] = -32768;
        nc_i32(s)[1] = 32767;
        nc_i32(s)[2] = 5;
    }
    add(l, "short", s, NC_TORCH_SHORT);
    nc_tensor *c = make(NC_I32, NC_DIMS(2), 10);
    if (c) {
        nc_i32(c)[0] = -128;
        nc_i32(c)[1] = 127;
    }
    add(l, "char", c, NC_TORCH_CHAR);
    nc_tensor *nbt = make(NC_I64, 0, NULL, 11);
    if (nbt) nc_i64(nbt)[0] = 7;
    add(l, "bn.num_batches_tracked", nbt, NC_TORCH_AUTO);
    add(l, "empty", make(NC_F32, NC_DIMS(0), 12), NC_TORCH_AUTO);
    add(l, "empty3d", make(NC_F32, NC_DIMS(2, 0, 3), 13), NC_TORCH_AUTO);
    add(l, "five.d", make(NC_F32, NC_DIMS(2, 1, 3, 1, 2), 14), NC_TORCH_AUTO);
    add(l, "größe.weight", make(NC_F32, NC_DIMS(70000), 15), NC_TORCH_AUTO); /* numel needs BININT */
    for (int i = 0; i < n_many; i++) {
        char name[64];
        snprintf(name, sizeof name, "many.%d", i);
        nc_tensor *t = make(NC_F32, 0, NULL, 100 + (uint32_t)i);
        if (t) nc_f32(t)[0] = (float)i;
        add(l, name, t, NC_TORCH_AUTO);
    }
}

static void same_lists(const nc_tensor_list *got, const nc_tensor_list *want, const char *what) {
    nc_test_checks++;
    if (got->n != want->n) {
        nc_test_fail(__FILE__, __LINE__, "%s: %lld tensors, want %lld", what, (long long)got->n, (long long)want->n);
        return;
    }
    for (int64_t i = 0; i < got->n; i++) {
        const nc_named_tensor *g = &got->items[i], *w = &want->items[i];
        nc_torch_dtype wtd = w->torch_dtype;
        if (wtd == NC_TORCH_AUTO) {
            switch (w->tensor->dtype) {
            case NC_F32: wtd = NC_TORCH_FLOAT; break;
            case NC_F16: wtd = NC_TORCH_HALF; break;
            case NC_BF16: wtd = NC_TORCH_BFLOAT16; break;
            case NC_I64: wtd = NC_TORCH_LONG; break;
            case NC_I32: wtd = NC_TORCH_INT; break;
            default: wtd = NC_TORCH_BYTE; break;
            }
        }
        bool ok = !strcmp(g->name, w->name) && g->torch_dtype == wtd && g->tensor->dtype == w->tensor->dtype &&
                  nc_same_shape(g->tensor, w->tensor) &&
                  (wtd == NC_TORCH_DOUBLE ? nc_test_rel_err(nc_f32(g->tensor), nc_f32(w->tensor), nc_numel(g->tensor)) == 0
                                          : !memcmp(g->tensor->data, w->tensor->data, nc_nbytes(w->tensor)));
        if (!ok) {
            nc_test_fail(__FILE__, __LINE__, "%s: tensor %lld '%s' (%s) differs from '%s' (%s)", what, (long long)i,
                         g->name, nc_torch_dtype_name(g->torch_dtype), w->name, nc_torch_dtype_name(wtd));
            return;
        }
    }
}

/* Expectations are written once per folder: each .npy is an fsync'd file. */
static void torch_check(const nc_tensor_list *l, const char *file, const char *dir, bool write_expect) {
    if (!ckpt_have_torch()) {
        printf("torch cross-check of %s: skipped (/usr/bin/python3 has no torch)\n", file);
        return;
    }
    if (write_expect) ckpt_write_expect(l->items, l->n, dir);
    CHECK(ckpt_run_check("ckpt", file, dir) == 0);
}

static void round_trip(void) {
    const char *dir = nc_test_tmpdir("torch_write");
    char path[4096], path64[4096], edir[4096];
    snprintf(path, sizeof path, "%.3000s/model.ckpt", dir);
    snprintf(path64, sizeof path64, "%.3000s/z64.pt", dir);
    snprintf(edir, sizeof edir, "%.3000s/expect", dir);
    mkdir(edir, 0755);

    nc_tensor_list src = {0}, back = {0};
    build(&src, 1003);
    CHECK_OK(nc_torch_ckpt_save(path, src.items, src.n, NULL));
    CHECK_OK(nc_torch_ckpt_load(path, NULL, &back));
    same_lists(&back, &src, "round trip");

    /* Layout facts: size known up front, archive named after the file,
     * storages aligned to 64 bytes, memory image identical to the file. */
    uint64_t size = 0;
    CHECK_OK(nc_torch_ckpt_size(src.items, src.n, &(nc_torch_write_params){.archive_name = "model"}, &size));
    void *file, *mem = NULL;
    size_t flen, mlen = 0;
    CHECK_OK(nc_read_file(path, &file, &flen));
    CHECK(size == flen);
    CHECK_OK(nc_torch_ckpt_save_mem(src.items, src.n, &(nc_torch_write_params){.archive_name = "model"}, &mem, &mlen));
    CHECK(mlen == flen && !memcmp(mem, file, flen));
    nc_rsrc rs = nc_rsrc_mem(file, flen, path);
    nc_zip *z = NULL;
    CHECK_OK(nc_zip_open(&rs, &z));
    if (z) {
        CHECK(z->n == src.n + 3 && nc_zip_find(z, "model/data.pkl") && nc_zip_find(z, "model/version"));
        int misaligned = 0;
        for (int64_t i = 0; i < z->n; i++) misaligned += z->entries[i].data_off % 64 != 0;
        CHECK(misaligned == 0);
        nc_zip_close(z);
    }
    nc_free(file);
    nc_free(mem);
    torch_check(&src, path, edir, true);
    nc_tensor_list_clear(&back);

    /* ZIP64 records on every entry and at the end: both readers accept them. */
    CHECK_OK(nc_torch_ckpt_save(path64, src.items, src.n, &(nc_torch_write_params){.force_zip64 = true}));
    CHECK_OK(nc_torch_ckpt_load(path64, NULL, &back));
    same_lists(&back, &src, "zip64 round trip");
    torch_check(&src, path64, edir, false);
    nc_tensor_list_clear(&back);

    /* An empty state_dict. */
    CHECK_OK(nc_torch_ckpt_save(path, NULL, 0, NULL));
    CHECK_OK(nc_torch_ckpt_load(path, NULL, &back));
    CHECK(back.n == 0);
    nc_tensor_list_clear(&src);
}

static void errors(void) {
    const char *dir = nc_test_tmpdir("torch_write_err");
    char path[4096];
    snprintf(path, sizeof path, "%.3000s/w.pt", dir);
    nc_tensor_list l = {0};
    add(&l, "a", make(NC_F32, NC_DIMS(2), 1), NC_TORCH_AUTO);
    add(&l, "a", make(NC_F32, NC_DIMS(2), 2), NC_TORCH_AUTO);
    CHECK(nc_torch_ckpt_save(path, l.items, l.n, NULL) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "'a' appears twice") != NULL);
    CHECK(access(path, F_OK) != 0);
    nc_tensor_list_clear(&l);

    add(&l, "bad\xff", make(NC_F32, NC_DIMS(2), 1), NC_TORCH_AUTO);
    CHECK(nc_torch_ckpt_save(path, l.items, l.n, NULL) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "not UTF-8") != NULL);
    nc_tensor_list_clear(&l);

    nc_tensor *s = make(NC_I32, NC_DIMS(2), 1);
    if (s) {
        nc_i32(s)[0] = 0;
        nc_i32(s)[1] = 40000;
    }
    add(&l, "s", s, NC_TORCH_SHORT);
    CHECK(nc_torch_ckpt_save(path, l.items, l.n, NULL) == NC_ERR_NUMERIC);
    CHECK(strstr(nc_last_error(), "value 40000 at 1 does not fit int16") != NULL);
    nc_tensor_list_clear(&l);

    add(&l, "h", make(NC_F32, NC_DIMS(2), 1), NC_TORCH_HALF);
    CHECK(nc_torch_ckpt_save(path, l.items, l.n, NULL) == NC_ERR_DTYPE);
    CHECK(strstr(nc_last_error(), "'h' is float32 but its torch_dtype says float16") != NULL);
    nc_tensor_list_clear(&l);

    /* A full disk in the middle: an error, and the previous file survives intact. */
    add(&l, "w", make(NC_F32, NC_DIMS(1000), 1), NC_TORCH_AUTO);
    CHECK_OK(nc_torch_ckpt_save(path, l.items, l.n, NULL));
    void *before;
    size_t blen;
    CHECK_OK(nc_read_file(path, &before, &blen));
    nc_tensor_list l2 = {0};
    add(&l2, "other", make(NC_F32, NC_DIMS(3000), 2), NC_TORCH_AUTO);
    nc_io_fail_write_after(3);
    CHECK(nc_torch_ckpt_save(path, l2.items, l2.n, NULL) == NC_ERR_IO);
    nc_io_fail_write_after(0);
    CHECK(strstr(nc_last_error(), "writing '") != NULL);
    void *after;
    size_t alen;
    CHECK_OK(nc_read_file(path, &after, &alen));
    CHECK(alen == blen && !memcmp(before, after, blen));
    nc_free(before);
    nc_free(after);
    nc_tensor_list_clear(&l2);

    /* Out of memory at every allocation of a write: clean errors, no leaks. */
    int n_runs = 0, bad = 0, leaks = 0;
    for (int64_t k = 1; k < 1000; k++) {
        nc_debug_alloc dbg = {.fail_at = k};
        nc_allocator da = nc_debug_allocator(&dbg), prev = nc_set_allocator(&da);
        void *buf = NULL;
        size_t len = 0;
        nc_status st = nc_torch_ckpt_save_mem(l.items, l.n, NULL, &buf, &len);
        nc_free(buf);
        nc_set_allocator(&prev);
        n_runs++;
        leaks += dbg.live_blocks != 0;
        if (!dbg.n_failed) {
            CHECK_OK(st);
            break;
        }
        bad += st != NC_ERR_OOM;
    }
    CHECK(n_runs > 3 && bad == 0 && leaks == 0);
    nc_tensor_list_clear(&l);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep our lines in order with the check script's */
    identical_to_torch();
    round_trip();
    errors();
    return nc_test_finish("torch_ckpt_write");
}
