/* EncDecCTCModel / EncDecCTCModelBPE (nemo/collections/asr/models/ctc_models.py,
 * ctc_bpe_models.py): preprocessor settings, SpecAugment, Conformer encoder,
 * ConvASRDecoder and CTC loss, plus transcription for the CLI. */
#ifndef NEMOC_ASR_CTC_H
#define NEMOC_ASR_CTC_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/asr_data.h"
#include "nemoc/conformer.h"
#include "nemoc/ctc.h"
#include "nemoc/conv_asr_decoder.h"
#include "nemoc/ctc_decoding.h"
#include "nemoc/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A CTC model's state (src/asr/ctc_model.h; opaque outside the collection). */
typedef struct nc_ctc_model nc_ctc_model;

/* The classes (registered by nc_asr_register) */
extern const nc_model_class nc_ctc_model_class;
extern const nc_model_class nc_ctc_bpe_model_class;

/* The ASR collection's model classes into the registry (idempotent). */
nc_status nc_asr_register(void);

/* Checked downcast: the CTC state of m, or NULL (with an error naming m's
 * class) when m is not a CTC model. */
nc_ctc_model *nc_ctc_of(const nc_model *m);

/* Validation sums of a CTC model (its metrics are ratios of these). */
enum {
    NC_CTC_SUM_LOSS = 0,
    NC_CTC_SUM_BATCHES,
    NC_CTC_SUM_WORD_ERRORS,
    NC_CTC_SUM_WORDS,
    NC_CTC_SUM_CHAR_ERRORS,
    NC_CTC_SUM_CHARS,
    NC_CTC_N_SUMS
};

/* The class hooks (ctc_model_step.c, asr_source.c, ctc_predict.c). */
nc_status nc_ctc_train_step(nc_model *m, nc_ctx *ctx, const void *batch, nc_tensor **loss);
nc_status nc_ctc_val_step(nc_model *m, nc_ctx *ctx, const void *batch, double *sums);
nc_status nc_asr_setup_data(nc_model *m, const nc_cfg *ds, nc_data_role role, const nc_data_env *env,
                            nc_data_source **out);
/* transcribe_speech.py / speech_to_text_eval.py over audio_dir= or
 * dataset_manifest= (the options in nc_ctc_predict_keys). */
nc_status nc_ctc_predict(nc_model *m, const nc_predict_params *p, nc_predict_result *r);
extern const char *const nc_ctc_predict_keys[];

/* One decoded utterance. */
typedef struct nc_asr_hyp {
    char *text;
    nc_ctc_hyp hyp;     /* token ids with frame offsets */
    nc_ctc_word *words; /* word timestamps when requested */
    int64_t n_words;
    float *log_probs;   /* (n_frames, V+1) when requested (transcribe's logprobs=true) */
    int64_t n_frames;
} nc_asr_hyp;
void nc_asr_hyp_free(nc_asr_hyp *h);

typedef struct nc_transcribe_params {
    int64_t beam_size;  /* 1 = greedy */
    bool timestamps;
    bool log_probs;     /* keep each utterance's log-probs in its hyp */
} nc_transcribe_params;

/* Eval-mode forward + decoding of a batch into hyps[batch_size]. */
nc_status nc_ctc_transcribe_batch(nc_model *m, nc_ctx *ctx, const nc_asr_batch *b,
                                  const nc_transcribe_params *p, nc_asr_hyp *hyps);

/* Decoding of log-probs lp (B, T, V+1) with lengths (B,) i64 into hyps[B]
 * (greedy or beam, text, word timestamps when asked). */
nc_status nc_ctc_decode_log_probs(const nc_ctc_model *cm, const nc_tensor *lp, const nc_tensor *lengths,
                                  const nc_transcribe_params *p, nc_asr_hyp *hyps);

/* Long audio: NeMo's buffered CTC inference (FrameBatchASR in
 * nemo/collections/asr/parts/utils/streaming_utils.py, used by
 * examples/asr/asr_chunked_inference/ctc/speech_to_text_buffered_infer_ctc.py).
 * The file is cut into chunks of chunk_s seconds; each is decoded from the
 * file on its own (a seek: the file is never loaded whole) with
 * (buffer_s - chunk_s) / 2 seconds of context on each side, featurized and
 * encoded alone, and the log-probs of its chunk frames are kept; the
 * concatenation is decoded as one utterance. Memory is bounded by the buffer,
 * not the file, and a full-attention encoder sees buffer_s seconds at most. */
typedef struct nc_long_audio_params {
    double chunk_s;  /* 30 s */
    double buffer_s; /* 40 s (>= chunk_s) */
} nc_long_audio_params;

nc_long_audio_params nc_long_audio_default_params(void);

/* Transcribes [offset, offset + duration) of `path` (duration <= 0: to the
 * end of the file) into *hyp. Audio errors name the path, as nc_audio_read's. */
nc_status nc_ctc_transcribe_long(nc_model *m, nc_ctx *ctx, const char *path, double offset, double duration,
                                 const nc_long_audio_params *lp, const nc_transcribe_params *p, nc_asr_hyp *hyp);

/* Text of token ids (labels joined, or the tokenizer's detokenisation). */
nc_status nc_ctc_ids_to_text(const nc_ctc_model *cm, const int64_t *ids, int64_t n, char **text);

/* Loader parameters for a dataset section of a CTC model: the model's
 * preprocessor, SpecAugment (training only) and tokenizer. */
nc_status nc_ctc_loader_params(const nc_model *m, const nc_cfg *ds, bool training, const nc_data_env *env,
                               nc_asr_loader_params *out);

/* Adapts an ASR loader to the trainer's data source interface; the source
 * owns the loader (nc_data_source_free frees both). */
nc_status nc_asr_data_source(nc_asr_loader *l, nc_data_source **out);

#ifdef __cplusplus
}
#endif
#endif
