/* `nemoc asr transcribe` (transcribe_speech.py) and `nemoc asr eval`
 * (speech_to_text_eval.py): run a trained model over audio files or a
 * manifest and write a NeMo manifest with pred_text (and word timestamps). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "nemoc/alloc.h"
#include "nemoc/asr_ctc.h"
#include "nemoc/audio.h"

typedef struct infer_args {
    const char *model_path, *audio_dir, *dataset_manifest, *output_filename, *audio_type;
    int64_t batch_size, num_workers, beam_size;
    bool timestamps, use_cer, lowercase, rm_punct, skip_bad_audio;
    double long_audio_s, chunk_s, buffer_s;
} infer_args;

static int usage(bool eval) {
    printf("usage: nemoc asr %s model_path=M (audio_dir=DIR | dataset_manifest=F) [options]\n\n",
           eval ? "eval" : "transcribe");
    printf("  model_path=PATH            nemoc checkpoint (.ckpt) or NeMo archive (.nemo)\n"
           "  audio_dir=DIR              transcribe every *.<audio_type> file in DIR\n"
           "  audio_type=wav             file extension for audio_dir\n"
           "  dataset_manifest=FILE      NeMo JSONL manifest (audio_filepath, duration, ...)\n"
           "  output_filename=FILE       output manifest with pred_text (default: next to the input)\n"
           "  batch_size=32  num_workers=1\n"
           "  timestamps=false           add word timestamps (start/end offsets and seconds)\n"
           "  ctc_decoding.strategy=greedy|beam  ctc_decoding.beam.beam_size=4\n"
           "  skip_bad_audio=true         unreadable audio: skip it with a counted warning (true)\n"
           "                             or stop with an error naming the manifest line (false)\n"
           "  long_audio_s=60            longer utterances are transcribed in chunks, read from the\n"
           "                             file one buffer at a time (0: never)\n"
           "  chunk_len_in_secs=30  total_buffer_in_secs=40   chunk and buffer (chunk + context)\n");
    if (eval)
        printf("  use_cer=false              report CER instead of WER as the headline\n"
               "  text_processing.do_lowercase=false  text_processing.rm_punctuation=false\n");
    return 0;
}

static bool parse_bool(const char *v) { return !strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "1"); }

static int parse_args(int argc, char **argv, bool eval, infer_args *a) {
    memset(a, 0, sizeof *a);
    a->batch_size = 32;
    a->num_workers = 1;
    a->beam_size = 1;
    a->audio_type = "wav";
    a->skip_bad_audio = true;
    nc_long_audio_params la = nc_long_audio_default_params();
    a->long_audio_s = 60.0;
    a->chunk_s = la.chunk_s;
    a->buffer_s = la.buffer_s;
    bool beam = false;
    int64_t beam_size = 4;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(eval), -1;
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "nemoc asr: expected key=value, got '%s'\n", argv[i]);
            return 2;
        }
        size_t kl = (size_t)(eq - argv[i]);
        const char *v = eq + 1;
#define KEY(k) (kl == strlen(k) && !strncmp(argv[i], k, kl))
        if (KEY("model_path")) a->model_path = v;
        else if (KEY("audio_dir")) a->audio_dir = v;
        else if (KEY("dataset_manifest")) a->dataset_manifest = v;
        else if (KEY("output_filename")) a->output_filename = v;
        else if (KEY("audio_type")) a->audio_type = v;
        else if (KEY("batch_size")) a->batch_size = atoll(v);
        else if (KEY("num_workers")) a->num_workers = atoll(v);
        else if (KEY("timestamps")) a->timestamps = parse_bool(v);
        else if (KEY("skip_bad_audio")) a->skip_bad_audio = parse_bool(v);
        else if (KEY("long_audio_s")) a->long_audio_s = atof(v);
        else if (KEY("chunk_len_in_secs")) a->chunk_s = atof(v);
        else if (KEY("total_buffer_in_secs")) a->buffer_s = atof(v);
        else if (KEY("ctc_decoding.strategy")) beam = !strcmp(v, "beam");
        else if (KEY("ctc_decoding.beam.beam_size") || KEY("beam_size")) beam_size = atoll(v), beam = beam || KEY("beam_size");
        else if (eval && KEY("use_cer")) a->use_cer = parse_bool(v);
        else if (eval && KEY("text_processing.do_lowercase")) a->lowercase = parse_bool(v);
        else if (eval && KEY("text_processing.rm_punctuation")) a->rm_punct = parse_bool(v);
        else {
            fprintf(stderr, "nemoc asr: unknown argument '%.*s' (see --help)\n", (int)kl, argv[i]);
            return 2;
        }
#undef KEY
    }
    if (beam) a->beam_size = beam_size > 1 ? beam_size : 2;
    if (!a->model_path || (!a->audio_dir == !a->dataset_manifest)) {
        fprintf(stderr, "nemoc asr: need model_path= and exactly one of audio_dir= / dataset_manifest=\n");
        return 2;
    }
    if (a->batch_size <= 0) a->batch_size = 1;
    if (a->long_audio_s > 0 && !(a->chunk_s > 0 && a->buffer_s >= a->chunk_s && a->long_audio_s >= a->chunk_s)) {
        fprintf(stderr, "nemoc asr: need 0 < chunk_len_in_secs <= total_buffer_in_secs and chunk_len_in_secs <= "
                        "long_audio_s\n");
        return 2;
    }
    return 0;
}

/* audio_dir -> a temporary manifest of its audio files (sorted by name). */
static int write_dir_manifest(const char *dir, const char *ext, char *path, size_t len) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "nemoc asr: cannot open audio_dir '%s'\n", dir);
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    size_t el = strlen(ext);
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l <= el + 1 || de->d_name[l - el - 1] != '.' || strcmp(de->d_name + l - el, ext)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    snprintf(path, len, "/tmp/nemoc_audio_dir_%ld.json", (long)getpid());
    FILE *f = fopen(path, "w");
    int rc = f ? 0 : 1;
    for (size_t i = 0; i < n && f; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", dir, names[i]);
        nc_audio_info info;
        double dur = nc_audio_probe(full, &info) == NC_OK ? info.duration : 0;
        cJSON *o = cJSON_CreateObject();
        char abs[4096];
        cJSON_AddStringToObject(o, "audio_filepath", realpath(full, abs) ? abs : full);
        cJSON_AddNumberToObject(o, "duration", dur);
        cJSON_AddStringToObject(o, "text", "");
        char *line = cJSON_PrintUnformatted(o);
        fprintf(f, "%s\n", line);
        free(line);
        cJSON_Delete(o);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (f) fclose(f);
    if (n == 0) {
        fprintf(stderr, "nemoc asr: no *.%s files in '%s'\n", ext, dir);
        rc = 1;
    }
    return rc;
}

/* Simple text normalisation for scoring (speech_to_text_eval's text_processing). */
static void normalise(char *s, bool lower, bool rm_punct) {
    char *w = s;
    for (char *r = s; *r; r++) {
        unsigned char c = (unsigned char)*r;
        if (rm_punct && (c == '.' || c == ',' || c == '?' || c == '!' || c == ';' || c == ':')) continue;
        *w++ = lower && c >= 'A' && c <= 'Z' ? (char)(c + 32) : (char)c;
    }
    *w = 0;
}

/* Word timestamps of a hypothesis as a JSON array (malloc'd text). */
static char *words_json(const nc_asr_hyp *h, const nc_ctc_model *cm) {
    cJSON *arr = cJSON_CreateArray();
    for (int64_t w = 0; w < h->n_words; w++) {
        char word[1024];
        nc_ctc_word_text(&h->hyp, &h->words[w], (const char *const *)cm->pieces, cm->vocab_size, word, sizeof word);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "word", word);
        cJSON_AddNumberToObject(o, "start_offset", (double)h->words[w].start_offset);
        cJSON_AddNumberToObject(o, "end_offset", (double)h->words[w].end_offset);
        cJSON_AddNumberToObject(o, "start", h->words[w].start);
        cJSON_AddNumberToObject(o, "end", h->words[w].end);
        cJSON_AddItemToArray(arr, o);
    }
    char *text = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return text;
}

/* Entries of the loader's (duration-filtered) manifest -> index in the full one. */
static int64_t *map_entries(const nc_manifest *sub, const nc_manifest *full) {
    int64_t *map = calloc((size_t)sub->n + 1, sizeof *map);
    if (!map) return NULL;
    for (int64_t i = 0, j = 0; i < sub->n; i++) {
        while (j < full->n && strcmp(full->entries[j].source, sub->entries[i].source) != 0) j++;
        if (j == full->n) {
            free(map);
            return NULL;
        }
        map[i] = j++;
    }
    return map;
}

static bool is_audio_error(nc_status s) {
    return s == NC_ERR_NOT_FOUND || s == NC_ERR_FORMAT || s == NC_ERR_INVALID_ARG || s == NC_ERR_IO;
}

static int run_infer(int argc, char **argv, bool eval) {
    infer_args a;
    int rc = parse_args(argc, argv, eval, &a);
    if (rc) return rc < 0 ? 0 : rc;
    char manifest[4096], out_path[4096];
    if (a.audio_dir) {
        if (write_dir_manifest(a.audio_dir, a.audio_type, manifest, sizeof manifest)) return 1;
    } else {
        snprintf(manifest, sizeof manifest, "%s", a.dataset_manifest);
    }
    if (a.output_filename) snprintf(out_path, sizeof out_path, "%s", a.output_filename);
    else if (a.audio_dir) snprintf(out_path, sizeof out_path, "%s/transcriptions.json", a.audio_dir);
    else {
        snprintf(out_path, sizeof out_path, "%s", a.dataset_manifest);
        char *dot = strrchr(out_path, '.');
        if (dot && !strchr(dot, '/')) *dot = 0;
        strncat(out_path, "_pred.json", sizeof out_path - strlen(out_path) - 1);
    }
    nc_model *m = NULL;
    nc_asr_loader *loader = NULL;
    nc_ctx *ctx = NULL;
    nc_asr_hyp *hyps = NULL;
    char **pred = NULL, **words = NULL;
    int64_t *map = NULL, n_long = 0, n_long_bad = 0;
    nc_manifest full = {0};
    rc = 1;
    if (nc_asr_model_load(a.model_path, &m)) {
        fprintf(stderr, "nemoc asr: loading '%s': %s\n", a.model_path, nc_last_error());
        goto done;
    }
    nc_ctc_model *cm = nc_ctc_of(m);
    /* Utterances longer than long_audio_s are left out of the batches (whole
     * files there would be decoded and encoded at once) and done in chunks. */
    nc_asr_loader_params lp = nc_asr_loader_default_params();
    lp.manifest_filepath = manifest;
    lp.sample_rate = (int)cm->features.sample_rate;
    lp.batch_size = a.batch_size;
    lp.shuffle = false;
    lp.num_workers = (int)a.num_workers;
    lp.features = &cm->features;
    lp.tokenizer = NULL;
    lp.training = false;
    lp.skip_bad_audio = a.skip_bad_audio;
    lp.max_duration = a.long_audio_s > 0 ? a.long_audio_s : -1;
    if (nc_manifest_read(manifest, NULL, false, &full)) {
        fprintf(stderr, "nemoc asr: %s: %s\n", manifest, nc_last_error());
        goto done;
    }
    for (int64_t k = 0; k < full.n; k++) n_long += a.long_audio_s > 0 && full.entries[k].duration > a.long_audio_s;
    if (n_long < full.n &&
        (nc_asr_loader_create(&lp, &loader) || nc_asr_loader_begin_epoch(loader, 0, 0))) {
        fprintf(stderr, "nemoc asr: %s: %s\n", manifest, nc_last_error());
        goto done;
    }
    pred = calloc((size_t)full.n + 1, sizeof *pred);
    words = calloc((size_t)full.n + 1, sizeof *words);
    hyps = calloc((size_t)a.batch_size, sizeof *hyps);
    if (loader && !(map = map_entries(nc_asr_loader_manifest(loader), &full))) {
        fprintf(stderr, "nemoc asr: %s: the loader's entries do not match the manifest\n", manifest);
        goto done;
    }
    if (!pred || !words || !hyps || nc_ctx_create(NULL, &ctx)) goto done;
    nc_transcribe_params tp = {.beam_size = a.beam_size, .timestamps = a.timestamps};
    while (loader) {
        const nc_asr_batch *b = NULL;
        if (nc_asr_loader_next(loader, &b)) {
            fprintf(stderr, "nemoc asr: %s\n", nc_last_error());
            goto done;
        }
        if (!b) break;
        if (nc_ctc_transcribe_batch(m, ctx, b, &tp, hyps)) {
            fprintf(stderr, "nemoc asr: transcribing: %s\n", nc_last_error());
            goto done;
        }
        for (int64_t i = 0; i < b->batch_size; i++) {
            int64_t k = map[b->sample_index[i]];
            pred[k] = hyps[i].text;
            hyps[i].text = NULL;
            if (a.timestamps) words[k] = words_json(&hyps[i], cm);
            nc_asr_hyp_free(&hyps[i]);
        }
        nc_ctx_reset(ctx);
    }
    nc_long_audio_params la = {.chunk_s = a.chunk_s, .buffer_s = a.buffer_s};
    for (int64_t k = 0; k < full.n && n_long; k++) {
        const nc_manifest_entry *e = &full.entries[k];
        if (!(e->duration > a.long_audio_s)) continue;
        nc_asr_hyp h;
        nc_status s = nc_ctc_transcribe_long(m, ctx, e->audio_filepath, e->offset, e->duration, &la, &tp, &h);
        if (s && is_audio_error(s) && a.skip_bad_audio) {
            fprintf(stderr, "[nemoc warning] skipping an utterance: %s: audio '%s': %s\n", e->source,
                    e->audio_filepath, nc_last_error());
            n_long_bad++;
            continue;
        }
        if (s) {
            fprintf(stderr, "nemoc asr: %s: audio '%s': %s\n", e->source, e->audio_filepath, nc_last_error());
            goto done;
        }
        pred[k] = h.text;
        h.text = NULL;
        if (a.timestamps) words[k] = words_json(&h, cm);
        nc_asr_hyp_free(&h);
    }
    FILE *out = fopen(out_path, "w");
    if (!out) {
        fprintf(stderr, "nemoc asr: cannot write '%s'\n", out_path);
        goto done;
    }
    nc_edit_counts wtot = {0}, ctot = {0};
    int64_t n_out = 0;
    for (int64_t k = 0; k < full.n; k++) {
        if (!pred[k]) continue; /* skipped (bad audio) */
        cJSON *o = cJSON_Parse(full.entries[k].extra_json);
        if (!o) o = cJSON_CreateObject();
        cJSON_DeleteItemFromObject(o, "pred_text");
        cJSON_AddStringToObject(o, "pred_text", pred[k]);
        if (words[k]) {
            cJSON *ts = cJSON_CreateObject();
            cJSON_AddItemToObject(ts, "word", cJSON_Parse(words[k]));
            cJSON_AddItemToObject(o, "timestamp", ts);
        }
        if (eval) {
            char *ref = strdup(full.entries[k].text ? full.entries[k].text : "");
            char *hyp = strdup(pred[k]);
            normalise(ref, a.lowercase, a.rm_punct);
            normalise(hyp, a.lowercase, a.rm_punct);
            nc_edit_counts w, c;
            nc_wer_counts(ref, hyp, &w);
            nc_cer_counts(ref, hyp, &c);
            nc_edit_counts_add(&wtot, &w);
            nc_edit_counts_add(&ctot, &c);
            cJSON_AddNumberToObject(o, "wer", nc_edit_rate(&w));
            cJSON_AddNumberToObject(o, "cer", nc_edit_rate(&c));
            free(ref);
            free(hyp);
        }
        char *line = cJSON_PrintUnformatted(o);
        fprintf(out, "%s\n", line);
        free(line);
        cJSON_Delete(o);
        n_out++;
    }
    fclose(out);
    printf("transcribed %lld of %lld utterances -> %s\n", (long long)n_out, (long long)full.n, out_path);
    if (n_long)
        printf("%lld utterance(s) longer than %g s transcribed in chunks of %g s (buffers of %g s)\n",
               (long long)n_long, a.long_audio_s, a.chunk_s, a.buffer_s);
    int64_t skipped = n_long_bad + (loader ? nc_asr_loader_get_stats(loader).n_skipped_audio : 0);
    if (skipped)
        fprintf(stderr, "nemoc asr: %lld utterance(s) skipped for unreadable audio (see the warnings above; "
                        "skip_bad_audio=false makes this an error)\n", (long long)skipped);
    if (eval) {
        printf("WER %.2f%% (%lld errors / %lld words)  CER %.2f%% (%lld / %lld chars)\n",
               100 * nc_edit_rate(&wtot), (long long)nc_edit_errors(&wtot), (long long)wtot.ref_len,
               100 * nc_edit_rate(&ctot), (long long)nc_edit_errors(&ctot), (long long)ctot.ref_len);
        printf("%s: %.4f\n", a.use_cer ? "cer" : "wer", a.use_cer ? nc_edit_rate(&ctot) : nc_edit_rate(&wtot));
    }
    rc = 0;
done:
    for (int64_t k = 0; k < full.n; k++) {
        if (pred) nc_free(pred[k]);
        if (words) free(words[k]);
    }
    free(pred);
    free(words);
    free(map);
    free(hyps);
    nc_manifest_free(&full);
    nc_ctx_free(ctx);
    nc_asr_loader_free(loader);
    nc_model_free(m);
    if (a.audio_dir) unlink(manifest);
    return rc;
}

int nc_cmd_asr_transcribe(int argc, char **argv) { return run_infer(argc, argv, false); }
int nc_cmd_asr_eval(int argc, char **argv) { return run_infer(argc, argv, true); }
