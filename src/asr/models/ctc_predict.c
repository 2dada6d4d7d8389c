/* Inference of CTC models for `nemoc asr transcribe` (transcribe_speech.py)
 * and `nemoc asr eval` (speech_to_text_eval.py): batches from the loader,
 * long files in buffered chunks, one output manifest line per input with
 * pred_text (word timestamps, per-utterance WER/CER when scoring), and
 * per-utterance log-probs as .npy files when asked (transcribe's
 * logprobs=true). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/vec.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "asr/models/ctc_model.h"
#include "nemoc/asr_ctc.h"
#include "nemoc/asr_hybrid.h"
#include "nemoc/asr_rnnt.h"
#include "nemoc/log.h"
#include "nemoc/npy.h"
#include "nemoc/wer.h"

const char *const nc_ctc_predict_keys[] = {
    "audio_dir", "audio_type", "dataset_manifest", "batch_size", "num_workers", "timestamps",
    "ctc_decoding.strategy", "ctc_decoding.beam.beam_size", "beam_size", "skip_bad_audio", "long_audio_s",
    "chunk_len_in_secs", "total_buffer_in_secs", "logprobs", "use_cer", "text_processing.do_lowercase",
    "text_processing.rm_punctuation", "decoder_type", "rnnt_decoding.strategy", "rnnt_decoding.beam.beam_size",
    NULL};

typedef struct opts {
    const char *audio_dir, *audio_type, *dataset_manifest;
    int64_t batch_size, num_workers;
    bool timestamps, skip_bad_audio, logprobs, lowercase, rm_punct;
    double long_audio_s;
    bool rnnt_beam;         /* transducers: rnnt_decoding.strategy=beam or beam_size= */
    int64_t rnnt_beam_size;
    nc_long_audio_params la;
    nc_transcribe_params tp;
} opts;

/* NeMo's CTC strategies that nemoc runs: greedy_batch (the default of
 * CTCDecodingConfig in recent NeMo) gives the same result as greedy. */
static const char *const strategies[] = {"greedy", "greedy_batch", "beam", NULL};

static nc_status read_opts(const nc_cfg *a, bool transducer, opts *o) {
    *o = (opts){0};
    o->la = nc_long_audio_default_params();
    int strategy = 0;
    int64_t beam = 4;
    bool beam_given = nc_cfg_has(a, "beam_size");
    nc_status s;
    /* Ranges are checked as each value is read, naming its key. */
    if ((s = nc_cfg_get_str_or(a, "audio_dir", NULL, &o->audio_dir)) ||
        (s = nc_cfg_get_str_or(a, "audio_type", "wav", &o->audio_type)) ||
        (s = nc_cfg_get_str_or(a, "dataset_manifest", NULL, &o->dataset_manifest)) ||
        (s = nc_cfg_get_int_in_or(a, "batch_size", 32, 1, 1 << 20, &o->batch_size)) ||
        (s = nc_cfg_get_int_in_or(a, "num_workers", 1, 0, 256, &o->num_workers)) ||
        (s = nc_cfg_get_bool_or(a, "timestamps", false, &o->timestamps)) ||
        (s = nc_cfg_get_bool_or(a, "skip_bad_audio", true, &o->skip_bad_audio)) ||
        (s = nc_cfg_get_bool_or(a, "logprobs", false, &o->logprobs)) ||
        (s = nc_cfg_get_bool_or(a, "text_processing.do_lowercase", false, &o->lowercase)) ||
        (s = nc_cfg_get_bool_or(a, "text_processing.rm_punctuation", false, &o->rm_punct)) ||
        /* long_audio_s <= 0 turns chunking off; seconds size the buffers of
         * buffered inference (frames = seconds / stride): an hour is far beyond use. */
        (s = nc_cfg_get_float_in_or(a, "long_audio_s", 60.0, -INFINITY, 3.2e7, &o->long_audio_s)) ||
        (s = nc_cfg_get_float_in_or(a, "chunk_len_in_secs", o->la.chunk_s, 0, 3600, &o->la.chunk_s)) ||
        (s = nc_cfg_get_float_in_or(a, "total_buffer_in_secs", o->la.buffer_s, 0, 3600, &o->la.buffer_s)) ||
        (s = nc_cfg_get_enum_or(a, "ctc_decoding.strategy", strategies, 0, &strategy)) ||
        (s = nc_cfg_get_int_in_or(a, "ctc_decoding.beam.beam_size", 4, 1, 4096, &beam)) ||
        (beam_given && (s = nc_cfg_get_int_in(a, "beam_size", 1, 4096, &beam))))
        return s;
    const bool beam_search = !strcmp(strategies[strategy], "beam");
    o->tp.beam_size = (beam_search || beam_given) ? (beam > 1 ? beam : 2) : 1;
    o->tp.timestamps = o->timestamps;
    o->tp.log_probs = o->logprobs;
    if (transducer) {
        /* transcribe_speech.py applies `rnnt_decoding` (RNNTDecodingConfig:
         * greedy_batch, beam.beam_size 4) to transducers; beam_size= asks
         * for beam search of that width, as for CTC. */
        int rs = 1;
        int64_t rbeam = 4;
        if ((s = nc_cfg_get_enum_or(a, "rnnt_decoding.strategy", strategies, 1, &rs)) ||
            (s = nc_cfg_get_int_in_or(a, "rnnt_decoding.beam.beam_size", 4, 1, 4096, &rbeam)))
            return s;
        o->rnnt_beam = !strcmp(strategies[rs], "beam") || beam_given;
        o->rnnt_beam_size = beam_given ? beam : rbeam;
        if (o->logprobs)
            return nc_error(NC_ERR_UNSUPPORTED, "logprobs=true: not for transducer models (NeMo's transducers "
                                                "have no per-frame log-probs to write)");
        o->long_audio_s = 0; /* buffered chunking is CTC's; every file is decoded whole */
    }
    if (!o->audio_dir == !o->dataset_manifest)
        return nc_error(NC_ERR_INVALID_ARG, "need exactly one of audio_dir= / dataset_manifest=");
    if (o->long_audio_s > 0 &&
        !(o->la.chunk_s > 0 && o->la.buffer_s >= o->la.chunk_s && o->long_audio_s >= o->la.chunk_s))
        return nc_error(NC_ERR_INVALID_ARG, "need 0 < chunk_len_in_secs <= total_buffer_in_secs and "
                        "chunk_len_in_secs <= long_audio_s");
    return NC_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* audio_dir -> an in-memory manifest of its *.<audio_type> files, by name. */
static nc_status dir_manifest(const char *dir, const char *ext, nc_manifest *out) {
    DIR *d = opendir(dir);
    if (!d) return nc_error(NC_ERR_NOT_FOUND, "cannot open audio_dir '%s'", dir);
    char **names = NULL;
    int64_t n = 0, cap = 0;
    size_t el = strlen(ext);
    nc_status s = NC_OK;
    for (struct dirent *de; (de = readdir(d)) && !s;) {
        size_t l = strlen(de->d_name);
        if (l <= el + 1 || de->d_name[l - el - 1] != '.' || strcmp(de->d_name + l - el, ext)) continue;
        if (nc_vec_reserve(&names, &cap, n + 1, sizeof *names) || !(names[n] = nc_strdupf("%s/%s", dir, de->d_name)))
            s = nc_error(NC_ERR_OOM, "audio_dir listing");
        else
            n++;
    }
    closedir(d);
    if (!s && n == 0) s = nc_error(NC_ERR_NOT_FOUND, "no *.%s files in '%s'", ext, dir);
    if (!s) {
        qsort(names, (size_t)n, sizeof *names, cmp_str);
        s = nc_manifest_from_audio_files((const char *const *)names, n, out);
    }
    for (int64_t i = 0; i < n; i++) nc_free(names[i]);
    nc_free(names);
    return s;
}

/* speech_to_text_eval's text_processing before scoring. */
static void normalise(char *s, bool lower, bool rm_punct) {
    char *w = s;
    for (char *r = s; *r; r++) {
        unsigned char c = (unsigned char)*r;
        if (rm_punct && (c == '.' || c == ',' || c == '?' || c == '!' || c == ';' || c == ':')) continue;
        *w++ = lower && c >= 'A' && c <= 'Z' ? (char)(c + 32) : (char)c;
    }
    *w = 0;
}

/* Word timestamps as NeMo's transcribe writes them: timestamp.word[]. */
static cJSON *words_json(const nc_asr_hyp *h, const nc_ctc_model *cm) {
    cJSON *arr = cJSON_CreateArray();
    for (int64_t w = 0; arr && w < h->n_words; w++) {
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
    return arr;
}

/* Segment timestamps from the words, as NeMo's get_segment_offsets
 * (parts/utils/timestamp_utils.py) with the decoding configs' default
 * segment_seperators ['.', '?', '!'] and no segment_gap_threshold: a segment
 * ends at a word that ends with (or is) a separator, and the words after the
 * last one form the final segment. */
static cJSON *segments_json(const nc_asr_hyp *h, const nc_ctc_model *cm) {
    cJSON *arr = cJSON_CreateArray();
    nc_strbuf text = {0};
    int64_t first = 0;
    for (int64_t w = 0; arr && w < h->n_words; w++) {
        char word[1024];
        nc_ctc_word_text(&h->hyp, &h->words[w], (const char *const *)cm->pieces, cm->vocab_size, word, sizeof word);
        if (text.n) nc_sb_putc(&text, ' ');
        nc_sb_puts(&text, word);
        const size_t n = strlen(word);
        const bool ends = n > 0 && strchr(".?!", word[n - 1]);
        if (!ends && w + 1 < h->n_words) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "segment", nc_sb_str(&text));
        cJSON_AddNumberToObject(o, "start_offset", (double)h->words[first].start_offset);
        cJSON_AddNumberToObject(o, "end_offset", (double)h->words[w].end_offset);
        cJSON_AddNumberToObject(o, "start", h->words[first].start);
        cJSON_AddNumberToObject(o, "end", h->words[w].end);
        cJSON_AddItemToArray(arr, o);
        nc_sb_clear(&text);
        first = w + 1;
    }
    nc_sb_free(&text);
    return arr;
}

/* The output line of entry k: its manifest fields, pred_text, timestamps and,
 * when scoring, wer/cer (added into sums). */
static nc_status output_line(const nc_ctc_model *cm, const opts *o, const nc_predict_params *p,
                             const nc_manifest_entry *e, const nc_asr_hyp *h, double *sums, char **line) {
    cJSON *j = cJSON_Parse(e->extra_json);
    if (!j) j = cJSON_CreateObject();
    if (!j) return nc_error(NC_ERR_OOM, "output line");
    cJSON_DeleteItemFromObject(j, "pred_text");
    cJSON_AddStringToObject(j, "pred_text", h->text ? h->text : "");
    if (o->timestamps) {
        cJSON *ts = cJSON_CreateObject();
        cJSON_AddItemToObject(ts, "word", words_json(h, cm));
        cJSON_AddItemToObject(ts, "segment", segments_json(h, cm));
        cJSON_AddItemToObject(j, "timestamp", ts);
    }
    nc_status s = NC_OK;
    if (p->score) {
        char *ref = nc_strdup(e->text ? e->text : ""), *hyp = nc_strdup(h->text ? h->text : "");
        nc_edit_counts w = {0}, c = {0};
        if (!ref || !hyp) s = nc_error(NC_ERR_OOM, "scoring");
        if (!s) {
            normalise(ref, o->lowercase, o->rm_punct);
            normalise(hyp, o->lowercase, o->rm_punct);
            s = nc_asr_add_edit_sums(ref, hyp, sums, &w, &c);
        }
        nc_free(ref);
        nc_free(hyp);
        if (!s) {
            cJSON_AddNumberToObject(j, "wer", nc_edit_rate(&w));
            cJSON_AddNumberToObject(j, "cer", nc_edit_rate(&c));
        }
    }
    *line = s ? NULL : cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s && !*line) s = nc_error(NC_ERR_OOM, "output line");
    return s;
}

/* <output without .json>_logprobs/<k>.npy: log-probs (T, V+1) of entry k. */
static nc_status save_logprobs(const nc_predict_params *p, int64_t k, const float *lp, int64_t T, int64_t V1) {
    const char *dot = strrchr(p->output_path, '.');
    int base = dot && !strchr(dot, '/') ? (int)(dot - p->output_path) : (int)strlen(p->output_path);
    char *dir = nc_strdupf("%.*s_logprobs", base, p->output_path);
    char *path = dir ? nc_strdupf("%s/%lld.npy", dir, (long long)k) : NULL;
    nc_status s = path ? nc_mkdir(dir) : nc_error(NC_ERR_OOM, "log-probs path");
    if (!s) {
        nc_tensor t = {.dtype = NC_F32, .ndim = 2, .shape = {T, V1}, .data = (void *)lp};
        s = nc_npy_save(path, &t);
    }
    nc_free(path);
    nc_free(dir);
    return s;
}

static bool is_audio_error(nc_status s) {
    return s == NC_ERR_NOT_FOUND || s == NC_ERR_FORMAT || s == NC_ERR_INVALID_ARG || s == NC_ERR_IO ||
           s == NC_ERR_NUMERIC;
}

typedef struct run {
    nc_model *m;
    bool transducer; /* EncDecRNNT(BPE)Model, or a hybrid's decoder_type=rnnt: transducer batches (rnnt_decoding) */
    nc_ctc_model *cm;
    const nc_predict_params *p;
    nc_predict_result *r;
    opts o;
    nc_manifest man;
    char **lines; /* per entry, emitted in order at the end */
} run;

static nc_status keep(run *x, int64_t k, const nc_asr_hyp *h) {
    return output_line(x->cm, &x->o, x->p, &x->man.entries[k], h, x->r->sums, &x->lines[k]);
}

static nc_status run_batches(run *x, nc_ctx *ctx, int64_t *n_long) {
    nc_asr_loader_params lp = nc_asr_loader_default_params();
    lp.manifest = &x->man;
    lp.sample_rate = (int)x->cm->features.sample_rate;
    lp.batch_size = x->o.batch_size;
    lp.shuffle = false;
    lp.num_workers = (int)x->o.num_workers;
    lp.features = &x->cm->features;
    lp.skip_bad_audio = x->o.skip_bad_audio;
    /* Utterances longer than long_audio_s stay out of the batches (whole
     * files there would be decoded and encoded at once): done in chunks. */
    lp.max_duration = x->o.long_audio_s > 0 ? x->o.long_audio_s : -1;
    *n_long = 0;
    for (int64_t k = 0; k < x->man.n; k++) *n_long += x->o.long_audio_s > 0 && x->man.entries[k].duration > x->o.long_audio_s;
    if (*n_long == x->man.n) return NC_OK;
    nc_asr_loader *l = NULL;
    nc_asr_hyp *hyps = nc_calloc((size_t)x->o.batch_size, sizeof *hyps);
    nc_status s = hyps ? nc_asr_loader_create(&lp, &l) : nc_error(NC_ERR_OOM, "hypotheses");
    if (!s) s = nc_asr_loader_begin_epoch(l, 0, 0);
    while (!s) {
        const nc_asr_batch *b = NULL;
        if ((s = nc_asr_loader_next(l, &b)) || !b) break;
        s = x->transducer ? nc_rnnt_transcribe_batch(x->m, ctx, b, hyps)
                          : nc_ctc_transcribe_batch(x->m, ctx, b, &x->o.tp, hyps);
        for (int64_t i = 0; i < b->batch_size && !s; i++) {
            int64_t k = b->sample_index[i];
            s = keep(x, k, &hyps[i]);
            if (!s && x->o.logprobs)
                s = save_logprobs(x->p, k, hyps[i].log_probs, hyps[i].n_frames, x->cm->vocab_size + 1);
        }
        for (int64_t i = 0; i < b->batch_size; i++) nc_asr_hyp_free(&hyps[i]);
        nc_ctx_reset(ctx);
    }
    if (l) x->r->n_skipped += nc_asr_loader_get_stats(l).n_skipped_audio;
    nc_asr_loader_free(l);
    nc_free(hyps);
    return s;
}

static nc_status run_long(run *x, nc_ctx *ctx) {
    for (int64_t k = 0; k < x->man.n; k++) {
        const nc_manifest_entry *e = &x->man.entries[k];
        if (!(x->o.long_audio_s > 0 && e->duration > x->o.long_audio_s)) continue;
        nc_asr_hyp h;
        nc_status s = nc_ctc_transcribe_long(x->m, ctx, e->audio_filepath, e->offset, e->duration, &x->o.la,
                                             &x->o.tp, &h);
        if (s && is_audio_error(s) && x->o.skip_bad_audio) {
            NC_WARN("skipping an utterance: %s: audio '%s': %s", e->source, e->audio_filepath, nc_last_error());
            x->r->n_skipped++;
            continue;
        }
        if (s) return nc_error_prefix(s, "%s: audio '%s'", e->source, e->audio_filepath);
        s = keep(x, k, &h);
        if (!s && x->o.logprobs) s = save_logprobs(x->p, k, h.log_probs, h.n_frames, x->cm->vocab_size + 1);
        nc_asr_hyp_free(&h);
        if (s) return s;
    }
    return NC_OK;
}

nc_status nc_ctc_predict(nc_model *m, const nc_predict_params *p, nc_predict_result *r) {
    memset(r, 0, sizeof *r);
    run x = {.m = m, .cm = nc_asr_front_of(m), .p = p, .r = r};
    if (!x.cm) return NC_ERR_UNSUPPORTED;
    /* decoder_type (hybrid models): which head decodes every batch. */
    nc_status s = nc_asr_decoder_type(m, p->args, &x.transducer);
    if (!s) s = read_opts(p->args, x.transducer, &x.o);
    if (!s && x.transducer)
        s = nc_rnnt_change_decoding(m, x.o.rnnt_beam ? "beam" : "greedy_batch", x.o.rnnt_beam_size, x.o.timestamps);
    if (s) return s;
    s = x.o.audio_dir ? dir_manifest(x.o.audio_dir, x.o.audio_type, &x.man)
                      : nc_manifest_read(x.o.dataset_manifest, NULL, false, &x.man);
    if (s) return s;
    nc_ctx *ctx = NULL;
    int64_t n_long = 0;
    x.lines = nc_calloc((size_t)x.man.n + 1, sizeof *x.lines);
    r->sums = nc_calloc((size_t)m->cls->n_sums, sizeof *r->sums); /* the class's metrics index these */
    if (!x.lines || !r->sums) s = nc_error(NC_ERR_OOM, "predictions of %lld inputs", (long long)x.man.n);
    if (!s) s = nc_ctx_create(NULL, &ctx);
    if (!s) s = run_batches(&x, ctx, &n_long);
    if (!s && n_long) s = run_long(&x, ctx);
    /* An audio file shorter than its manifest entry says is an error of the
     * data (exit 1), not of the command line (INVALID_ARG reads as usage). */
    if (s == NC_ERR_INVALID_ARG) s = NC_ERR_FORMAT;
    r->n_inputs = x.man.n;
    for (int64_t k = 0; k < x.man.n && !s; k++) {
        if (!x.lines[k]) continue; /* skipped (bad audio) */
        s = p->emit(p->user_data, x.lines[k]);
        r->n_written++;
    }
    if (!s && n_long)
        snprintf(r->message, sizeof r->message, "%lld utterance(s) longer than %g s transcribed in chunks of %g s "
                 "(buffers of %g s)", (long long)n_long, x.o.long_audio_s, x.o.la.chunk_s, x.o.la.buffer_s);
    for (int64_t k = 0; x.lines && k < x.man.n; k++) free(x.lines[k]);
    nc_free(x.lines);
    nc_ctx_free(ctx);
    nc_manifest_free(&x.man);
    return s;
}
