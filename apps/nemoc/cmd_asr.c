/* `nemoc asr train|transcribe|eval`: the ASR collection's command group on
 * the generic drivers (cmd_train.c, cmd_predict.c). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "nemoc/alloc.h"

/* NeMo's scripts fix the class: speech_to_text_ctc_bpe.py builds
 * EncDecCTCModelBPE (a config with model.tokenizer), speech_to_text_ctc.py
 * EncDecCTCModel; speech_to_text_rnnt_bpe.py / speech_to_text_rnnt.py the
 * transducers (a config with model.joint); speech_to_text_hybrid_rnnt_ctc(_bpe).py
 * the hybrids (model.joint and model.aux_ctc). */
static const char *asr_default_target(const nc_cfg *model_cfg) {
    bool bpe = nc_cfg_has(model_cfg, "tokenizer");
    if (nc_cfg_has(model_cfg, "joint") && nc_cfg_has(model_cfg, "aux_ctc"))
        return bpe ? "nemo.collections.asr.models.hybrid_rnnt_ctc_bpe_models.EncDecHybridRNNTCTCBPEModel"
                   : "nemo.collections.asr.models.hybrid_rnnt_ctc_models.EncDecHybridRNNTCTCModel";
    if (nc_cfg_has(model_cfg, "joint"))
        return bpe ? "nemo.collections.asr.models.rnnt_bpe_models.EncDecRNNTBPEModel"
                   : "nemo.collections.asr.models.rnnt_models.EncDecRNNTModel";
    return bpe ? "nemo.collections.asr.models.ctc_bpe_models.EncDecCTCModelBPE"
               : "nemo.collections.asr.models.ctc_models.EncDecCTCModel";
}

#define COMMON_USAGE                                                                                           \
    "  model_path=PATH            nemoc checkpoint (.ckpt) or NeMo archive (.nemo)\n"                              \
    "  audio_dir=DIR              transcribe every *.<audio_type> file in DIR\n"                                  \
    "  audio_type=wav             file extension for audio_dir\n"                                                 \
    "  dataset_manifest=FILE      NeMo JSONL manifest (audio_filepath, duration, ...)\n"                          \
    "  output_filename=FILE       output manifest with pred_text (default: next to the input)\n"                  \
    "  batch_size=32  num_workers=1\n"                                                                            \
    "  timestamps=false           add word timestamps (start/end offsets and seconds)\n"                          \
    "  logprobs=false             also save each utterance's log-probs (T, V+1) as <output>_logprobs/<line>.npy\n" \
    "  ctc_decoding.strategy=greedy|beam  ctc_decoding.beam.beam_size=4\n"                                        \
    "  decoder_type=rnnt|ctc      hybrid models: decode with the transducer (default) or the CTC head\n"         \
    "  rnnt_decoding.strategy=greedy_batch|beam  rnnt_decoding.beam.beam_size=4   (transducers)\n"             \
    "  beam_size=N                beam search of width N (CTC or transducer)\n"                                 \
    "  skip_bad_audio=true        unreadable audio: skip it with a counted warning (true)\n"                      \
    "                             or stop with an error naming the manifest line (false)\n"                       \
    "  long_audio_s=60            longer utterances are transcribed in chunks, read from the\n"                   \
    "                             file one buffer at a time (0: never)\n"                                         \
    "  chunk_len_in_secs=30  total_buffer_in_secs=40   chunk and buffer (chunk + context)\n"

/* transcribe_speech.py's naming: <manifest stem>_pred.json, or
 * <audio_dir>/transcriptions.json. */
static char *asr_default_output(const nc_cfg *args) {
    const char *man = NULL, *dir = NULL;
    nc_cfg_get_str_or(args, "dataset_manifest", NULL, &man);
    nc_cfg_get_str_or(args, "audio_dir", NULL, &dir);
    const char *base = man ? man : dir ? dir : ".";
    size_t n = strlen(base) + 32;
    char *out = nc_malloc(n);
    if (!out) return NULL;
    if (!man) {
        snprintf(out, n, "%s/transcriptions.json", base);
        return out;
    }
    snprintf(out, n, "%s", man);
    char *dot = strrchr(out, '.');
    if (dot && !strchr(dot, '/')) *dot = 0;
    strcat(out, "_pred.json");
    return out;
}

static const char *asr_eval_headline(const nc_cfg *args) {
    bool cer = false;
    nc_cfg_get_bool_or(args, "use_cer", false, &cer);
    return cer ? "cer" : "wer";
}

static const nc_cli_collection asr = {
    .name = "asr",
    .what = "a speech recognition model",
    .item = "utterance",
    .skip_reason = "unreadable audio",
    .train_scripts = "NeMo's examples/asr/asr_ctc/speech_to_text_ctc(_bpe).py and asr_transducer/speech_to_text_rnnt(_bpe).py",
    .examples = "examples/asr/conf/conformer/, examples/asr/conf/fastconformer/",
    .default_help = "EncDecHybridRNNTCTCModel with model.joint and model.aux_ctc, EncDecRNNTModel with "
                    "model.joint, else EncDecCTCModel; the BPE class with model.tokenizer",
    .default_target = asr_default_target,
    .predict_usage = "usage: nemoc asr transcribe model_path=M (audio_dir=DIR | dataset_manifest=F) [options]\n\n"
                     COMMON_USAGE,
    .eval_usage = "usage: nemoc asr eval model_path=M (audio_dir=DIR | dataset_manifest=F) [options]\n\n"
                  COMMON_USAGE
                  "  use_cer=false              report CER instead of WER as the headline\n"
                  "  text_processing.do_lowercase=false  text_processing.rm_punctuation=false\n",
    .default_output = asr_default_output,
    .eval_headline = asr_eval_headline,
};

int nc_cmd_asr_train(int argc, char **argv) { return nc_cli_train(&asr, argc, argv); }
int nc_cmd_asr_transcribe(int argc, char **argv) { return nc_cli_predict(&asr, false, argc, argv); }
int nc_cmd_asr_eval(int argc, char **argv) { return nc_cli_predict(&asr, true, argc, argv); }
