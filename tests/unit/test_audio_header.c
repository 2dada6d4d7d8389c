/* Audio headers that lie: a WAV whose header claims a huge length over a
 * few real samples is read as what is really there (or refused, naming the
 * file) without allocating what the header claims; a file with many channels
 * does not make the decoder's scratch buffer scale with them. */
#include <stdio.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/audio.h"

static void le32(unsigned char *b, uint32_t v) {
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static void le16(unsigned char *b, uint16_t v) {
    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
}

/* A 16-bit PCM WAV header claiming `data_bytes`, then `real` bytes of samples. */
static void write_wav(const char *path, int channels, uint32_t data_bytes, int real) {
    unsigned char h[44];
    memcpy(h, "RIFF", 4);
    le32(h + 4, 36 + data_bytes);
    memcpy(h + 8, "WAVEfmt ", 8);
    le32(h + 16, 16);
    le16(h + 20, 1);
    le16(h + 22, (uint16_t)channels);
    le32(h + 24, 16000);
    le32(h + 28, 16000u * 2u * (uint32_t)channels);
    le16(h + 32, (uint16_t)(2 * channels));
    le16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    le32(h + 40, data_bytes);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fwrite(h, 1, sizeof h, f);
    for (int i = 0; i < real; i++) fputc(i * 7 & 0xff, f);
    fclose(f);
}

int main(void) {
    const char *dir = nc_test_tmpdir("audio_header");
    char path[4096];
    snprintf(path, sizeof path, "%s/liar.wav", dir);
    /* 2 GB of samples claimed, 2000 bytes present. */
    write_wav(path, 1, 0x7ffffff0u, 2000);
    nc_debug_alloc st = {.limit_bytes = 64 << 20};
    nc_allocator dbg = nc_debug_allocator(&st);
    nc_allocator prev = nc_set_allocator(&dbg);
    nc_audio a = {0};
    nc_status s = nc_audio_read(path, NULL, &a);
    nc_set_allocator(&prev);
    /* What is there is decoded, or the file is called truncated: never an OOM from the claim. */
    CHECK(s == NC_OK || s == NC_ERR_FORMAT);
    if (s == NC_OK) CHECK(a.n_samples == 1000);
    else CHECK(strstr(nc_last_error(), "liar.wav") && strstr(nc_last_error(), "truncated"));
    CHECK(st.peak_bytes < (32 << 20));
    printf("  header claiming 2 GB: %s, peak %lld bytes\n", s ? nc_last_error() : "decoded 1000 samples",
           (long long)st.peak_bytes);
    nc_audio_free(&a);

    /* A segment read (manifest duration) of the same file: the claim is not trusted either. */
    nc_audio_read_params p = nc_audio_read_default_params();
    p.duration = 3000.0;
    st = (nc_debug_alloc){.limit_bytes = 64 << 20};
    dbg = nc_debug_allocator(&st);
    prev = nc_set_allocator(&dbg);
    s = nc_audio_read(path, &p, &a);
    nc_set_allocator(&prev);
    CHECK(s == NC_ERR_INVALID_ARG && strstr(nc_last_error(), "runs past the end of the file"));
    CHECK(st.peak_bytes < (32 << 20));
    nc_audio_free(&a);

    /* Many channels: the scratch buffer does not scale with the channel count. */
    snprintf(path, sizeof path, "%s/channels.wav", dir);
    write_wav(path, 1000, 2000 * 20, 2000 * 20);
    st = (nc_debug_alloc){0};
    dbg = nc_debug_allocator(&st);
    prev = nc_set_allocator(&dbg);
    s = nc_audio_read(path, NULL, &a);
    nc_set_allocator(&prev);
    CHECK_OK(s);
    CHECK(a.n_samples == 20);
    CHECK(st.peak_bytes < (1 << 20));
    nc_audio_free(&a);
    /* A header saying 1 Hz (found by fuzzing: resampling its samples to 16 kHz took
     * minutes): refused as corrupt, also when only probed. */
    snprintf(path, sizeof path, "%s/rate1.wav", dir);
    write_wav(path, 1, 600, 600);
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (f) {
        unsigned char rate[8];
        le32(rate, 1);     /* sample rate */
        le32(rate + 4, 2); /* byte rate */
        fseek(f, 24, SEEK_SET);
        fwrite(rate, 1, sizeof rate, f);
        fclose(f);
    }
    p = nc_audio_read_default_params();
    p.target_sr = 16000;
    CHECK(nc_audio_read(path, &p, &a) == NC_ERR_FORMAT);
    CHECK(strstr(nc_last_error(), "rate1.wav") && strstr(nc_last_error(), "1 Hz (corrupt header?)"));
    nc_audio_info info;
    CHECK(nc_audio_probe(path, &info) == NC_ERR_FORMAT);
    p.target_sr = 5;
    CHECK(nc_audio_read(path, &p, &a) == NC_ERR_INVALID_ARG);
    return nc_test_finish("audio_header");
}
