/* ASR loader throughput: utterances and audio seconds per second of wall
 * time through decode (+ resample) -> log-mel features -> tokenize ->
 * collate, and how long a consumer waits for batches.
 *
 *   bench_asr_loader [--manifest M] [--utts 200] [--min-sec 2] [--max-sec 6]
 *                    [--file-sr 16000] [--workers 2] [--batch 16] [--mels 80]
 *                    [--epochs 6] [--step-ms 0] [--training] [--augmentor DS.yaml]
 *
 * Without --manifest, writes --utts synthetic utterances (tones plus noise,
 * 16-bit WAV at --file-sr, durations uniform in [min-sec, max-sec]) and a
 * manifest into a temporary folder. --step-ms simulates a trainer step per
 * batch (sleep) so that the waiting time of a consumer slower than the
 * loader can be read off. --augmentor takes a dataset config (a YAML map
 * as model.train_ds) whose `augmentor` runs on the workers (implies
 * --training): the cost of waveform augmentation per utterance. The first
 * epoch warms the page cache; the numbers are totals over the others. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "nemoc/alloc.h"
#include "nemoc/asr_data.h"
#include "nemoc/audio.h"
#include "nemoc/config.h"
#include "nemoc/log.h"
#include "nemoc/rng.h"

static const char *WORDS[] = {"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "speech", "data"};

static int make_dataset(const char *dir, int n, double lo, double hi, int sr, char *manifest, size_t cap) {
    snprintf(manifest, cap, "%s/manifest.json", dir);
    FILE *m = fopen(manifest, "w");
    if (!m) return -1;
    nc_rng rng;
    nc_rng_seed(&rng, 7);
    for (int i = 0; i < n; i++) {
        const double dur = lo + (hi - lo) * nc_rng_double(&rng);
        const int64_t len = (int64_t)(dur * sr);
        float *x = nc_malloc((size_t)len * sizeof(float));
        nc_rng_normal(&rng, x, len, 0.0f, 0.01f);
        const double f0 = 100 + 200 * nc_rng_double(&rng);
        for (int64_t t = 0; t < len; t++) x[t] += (float)(0.2 * sin(2 * M_PI * f0 * (double)t / sr));
        char path[4200];
        snprintf(path, sizeof path, "%s/%05d.wav", dir, i);
        nc_status s = nc_audio_write_wav(path, x, len, 1, sr, NC_WAV_PCM16);
        nc_free(x);
        if (s) {
            fprintf(stderr, "%s\n", nc_last_error());
            fclose(m);
            return -1;
        }
        char text[256] = "";
        for (int w = 0; w < 3 + (int)(dur * 2); w++) {
            strcat(text, WORDS[nc_rng_u32(&rng) % 10]);
            strcat(text, " ");
        }
        text[strlen(text) - 1] = 0;
        fprintf(m, "{\"audio_filepath\": \"%05d.wav\", \"duration\": %.4f, \"text\": \"%s\"}\n", i,
                (double)len / sr, text);
    }
    fclose(m);
    return 0;
}

int main(int argc, char **argv) {
    const char *manifest_arg = NULL, *aug_path = NULL;
    int utts = 200, file_sr = 16000, workers = 2, mels = 80, epochs = 6, training = 0;
    double lo = 2, hi = 6, step_ms = 0;
    int64_t batch = 16;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--manifest") && i + 1 < argc) manifest_arg = argv[++i];
        else if (!strcmp(argv[i], "--utts") && i + 1 < argc) utts = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-sec") && i + 1 < argc) lo = atof(argv[++i]);
        else if (!strcmp(argv[i], "--max-sec") && i + 1 < argc) hi = atof(argv[++i]);
        else if (!strcmp(argv[i], "--file-sr") && i + 1 < argc) file_sr = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--workers") && i + 1 < argc) workers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--mels") && i + 1 < argc) mels = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--step-ms") && i + 1 < argc) step_ms = atof(argv[++i]);
        else if (!strcmp(argv[i], "--training")) training = 1;
        else if (!strcmp(argv[i], "--augmentor") && i + 1 < argc) aug_path = argv[++i], training = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--manifest M] [--utts N] [--min-sec S] [--max-sec S] [--file-sr R] [--workers W]\n"
                    "          [--batch B] [--mels F] [--epochs E] [--step-ms MS] [--training]\n"
                    "          [--augmentor DS.yaml]\n",
                    argv[0]);
            return 2;
        }
    }
    if (utts <= 0 || workers < 0 || batch <= 0 || mels <= 0 || epochs <= 0 || lo <= 0 || hi < lo) {
        fprintf(stderr, "bench_asr_loader: bad arguments\n");
        return 2;
    }
    nc_log_set_level(NC_LOG_WARN);
    char dir[64] = "", manifest[4300];
    if (manifest_arg) {
        snprintf(manifest, sizeof manifest, "%s", manifest_arg);
    } else {
        snprintf(dir, sizeof dir, "/tmp/nc_bench_loader.XXXXXX");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 1;
        }
        const double t0 = bench_now();
        if (make_dataset(dir, utts, lo, hi, file_sr, manifest, sizeof manifest)) return 1;
        printf("wrote %d utterances (%.1f-%.1f s, %d Hz) in %.1f s\n", utts, lo, hi, file_sr, bench_now() - t0);
    }
    /* NeMo's Conformer/FastConformer preprocessor: 25 ms / 10 ms, n_fft 512, per_feature. */
    nc_feature_config fc = nc_feature_default_config();
    char v[32];
    snprintf(v, sizeof v, "%d", mels);
    nc_feature_config_set(&fc, "features", v);
    nc_feature_config_set(&fc, "window_size", "0.025");
    nc_feature_config_set(&fc, "n_fft", "512");
    nc_feature_config_set(&fc, "pad_to", "0");
    nc_spec_augment_config sa = nc_spec_augment_default_config();
    nc_spec_augment_config_set(&sa, "freq_masks", "2");
    nc_spec_augment_config_set(&sa, "freq_width", "27");
    nc_spec_augment_config_set(&sa, "time_masks", "10");
    nc_spec_augment_config_set(&sa, "time_width", "0.05");
    static const char *labels[] = {" ", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n",
                                   "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "'"};
    nc_tokenizer *tok = NULL;
    if (nc_tokenizer_char_new(labels, 28, NULL, &tok)) {
        fprintf(stderr, "%s\n", nc_last_error());
        return 1;
    }
    nc_asr_loader_params p = nc_asr_loader_default_params();
    p.manifest_filepath = manifest;
    p.batch_size = batch;
    p.num_workers = workers;
    p.shuffle = true;
    p.features = &fc;
    p.spec_augment = &sa;
    p.tokenizer = tok;
    p.training = training;
    /* The augmentor of a dataset config, read as the trainer reads train_ds. */
    nc_cfg *aug_cfg = NULL;
    nc_asr_loader_params aug = nc_asr_loader_default_params();
    if (aug_path) {
        char ov[4400];
        snprintf(ov, sizeof ov, "++manifest_filepath=%s", manifest);
        if (nc_cfg_load(aug_path, &aug_cfg) || nc_cfg_apply_override(aug_cfg, ov) ||
            nc_asr_loader_params_from_cfg(aug_cfg, &aug)) {
            fprintf(stderr, "%s\n", nc_last_error());
            return 1;
        }
        p.perturb = aug.perturb;
        p.n_perturb = aug.n_perturb;
    }
    nc_asr_loader *l = NULL;
    if (nc_asr_loader_create(&p, &l)) {
        fprintf(stderr, "%s\n", nc_last_error());
        return 1;
    }
    /* Epoch 0 warms the page cache and the allocator; the rest are timed together. */
    double wall = 0;
    nc_asr_loader_stats before = {0}, after = {0};
    for (int e = 0; e < epochs; e++) {
        if (e == 1 || epochs == 1) before = nc_asr_loader_get_stats(l);
        const double t0 = bench_now();
        if (nc_asr_loader_begin_epoch(l, e, 0)) {
            fprintf(stderr, "%s\n", nc_last_error());
            return 1;
        }
        const nc_asr_batch *b;
        for (;;) {
            if (nc_asr_loader_next(l, &b)) {
                fprintf(stderr, "%s\n", nc_last_error());
                return 1;
            }
            if (!b) break;
            if (step_ms > 0) {
                struct timespec ts = {.tv_sec = (time_t)(step_ms / 1000),
                                      .tv_nsec = (long)(fmod(step_ms, 1000.0) * 1e6)};
                nanosleep(&ts, NULL);
            }
        }
        if (e >= 1 || epochs == 1) wall += bench_now() - t0;
        after = nc_asr_loader_get_stats(l);
    }
    const double n = (double)(after.n_utterances - before.n_utterances);
    const double sec = after.audio_seconds - before.audio_seconds;
    const double wait = after.seconds_waiting - before.seconds_waiting;
    printf("workers=%d batch=%lld mels=%d training=%d step_ms=%g file_sr=%d augmentor=%s (%d steps)\n", workers,
           (long long)batch, mels, training, step_ms, file_sr, aug_path ? aug_path : "none", p.n_perturb);
    printf("%d timed epoch(s): %.0f utterances, %.1f s of audio in %.3f s: %.1f utt/s, %.1f audio-s/s (x%.0f real time)\n",
           epochs > 1 ? epochs - 1 : 1, n, sec, wall, n / wall, sec / wall, sec / wall);
    printf("consumer waited %.3f s (%.1f%% of the time); %lld batches\n", wait, 100 * wait / wall,
           (long long)(after.n_batches - before.n_batches));
    nc_asr_loader_free(l);
    nc_asr_loader_params_clear(&aug);
    nc_cfg_free(aug_cfg);
    nc_tokenizer_free(tok);
    if (dir[0]) {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    return 0;
}
