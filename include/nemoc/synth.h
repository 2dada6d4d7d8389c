/* Synthetic speech datasets: NeMo manifests of TTS-engine speech.
 *
 * `nemoc data synth` in library form. A plan is built first and is pure
 * (no processes, no files besides reading a text set): it fixes every
 * utterance's text, voice, split and engine/augmentation parameters from the
 * seed alone, so the same parameters give the same dataset whatever the
 * number of workers. Rendering then runs the engines (espeak-ng, flite,
 * festival) as child processes, resamples to the output rate with libsoxr,
 * applies the utterance's gain, augments
 * training utterances, and writes 16-bit mono WAV files and
 * train/validation/test manifests in NeMo's JSON-lines format
 * (nemo/collections/common/parts/preprocessing/manifest.py: audio_filepath
 * relative to the manifest's folder, duration in seconds, text, speaker;
 * extra synth_* keys record the prosody each engine was given).
 *
 * The split is by voice: a voice serves exactly one split, so validation and
 * test measure generalisation to unseen speakers. */
#ifndef NEMOC_SYNTH_H
#define NEMOC_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include "nemoc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nc_synth_engine {
    NC_SYNTH_ESPEAK = 0, /* espeak-ng: formant / klatt synthesis, many accents and variants */
    NC_SYNTH_FLITE = 1,  /* flite: diphone (kal, kal16) and clustergen (awb, rms, slt) voices */
    NC_SYNTH_FESTIVAL = 2, /* festival (text2wave): diphone (kal_diphone, ked_diphone) and HTS voices */
    NC_SYNTH_N_ENGINES
} nc_synth_engine;

typedef enum nc_synth_split {
    NC_SPLIT_TRAIN = 0,
    NC_SPLIT_VALIDATION = 1,
    NC_SPLIT_TEST = 2,
    NC_SPLIT_N
} nc_synth_split;

/* "espeak-ng" / "flite" / "festival"; "train" / "validation" / "test". */
const char *nc_synth_engine_name(nc_synth_engine e);
const char *nc_synth_split_name(nc_synth_split s);

/* Everything that decides the dataset. Fill with nc_synth_default_params()
 * and change what you need; string fields are borrowed, not copied. */
typedef struct nc_synth_params {
    uint64_t seed;
    int64_t num_utts;
    /* "digits" (generated from the seed), or the path of a text file with one
     * utterance per line (the CLI maps "sentences" to data/text/sentences.txt). */
    const char *text_set;
    bool letters; /* digits set: include spelled-letter utterances ("b p k") */
    bool engines[NC_SYNTH_N_ENGINES];
    /* espeak-ng voices are every accent x variant pair ("en-gb+f2"). */
    const char *espeak_accents;  /* comma list */
    const char *espeak_variants; /* comma list; "" = the accent's default voice only */
    const char *flite_voices;    /* comma list */
    const char *festival_voices; /* comma list: the names of festival's (voice_NAME) functions */
    /* Utterances per split: a count >= 0 wins over the fraction. Train gets the rest. */
    double validation_fraction, test_fraction;
    int64_t num_validation, num_test;
    /* Voices per split. Empty lists: each engine's voices are shuffled and
     * the fractions above are applied per engine (at least one voice for a
     * split that has utterances, when the engine has three or more voices).
     * Lists name voices as "en-gb+f2", "slt" or "flite:slt" and fix them. */
    const char *validation_voices, *test_voices;
    /* Per-utterance prosody, drawn uniformly from [min, max] by each
     * utterance's draws of the seed. */
    double espeak_rate[2];     /* words per minute (espeak-ng -s; its default is 175) */
    double espeak_pitch[2];    /* 0..99 (espeak-ng -p; default 50) */
    double espeak_range[2];    /* pitch range, % of the voice's (SSML <prosody range="N%">; 100 = its own) */
    double espeak_word_gap[2]; /* extra pause between words, units of 10 ms (espeak-ng -g; default 0) */
    double flite_stretch[2];   /* flite duration_stretch: > 1 is slower */
    double festival_stretch[2]; /* festival Duration_Stretch (diphone voices), HTS speed 1/x: > 1 is slower */
    /* Voices with an F0 target (flite kal, kal16, awb, slt; festival
     * kal_diphone, ked_diphone): the target mean is the voice's own mean
     * F0 shifted by f0_shift semitones, the target standard deviation
     * f0_spread times that mean. Other voices keep their own F0. */
    double f0_shift[2];        /* semitones */
    double f0_spread[2];       /* F0 standard deviation / mean F0 */
    double gain_db[2];         /* every engine: gain applied to the rendered audio, dB (<= 0: never clips) */
    /* Training-only augmentation. */
    double speed_prob;     /* chance of a speed perturbation */
    double speed_range[2]; /* tempo factor: 1.1 plays 10% faster (and higher) */
    double noise_prob;     /* chance of additive white noise */
    double snr_db[2];      /* its SNR range in dB */
    int sample_rate;       /* output rate; 16000 */
} nc_synth_params;

nc_synth_params nc_synth_default_params(void);

typedef struct nc_synth_voice {
    nc_synth_engine engine;
    char name[64];    /* what the engine takes: "en-gb+f2", "slt" */
    char speaker[80]; /* manifest speaker: "espeak-ng:en-gb+f2", "flite:slt" */
    nc_synth_split split;
    int64_t n_utts; /* utterances given to this voice */
} nc_synth_voice;

typedef struct nc_synth_utt {
    int64_t id;            /* 0..num_utts-1; names the WAV file */
    const char *text;      /* lowercase a-z, apostrophes, single spaces */
    int64_t voice;         /* index into plan->voices */
    nc_synth_split split;
    double rate;           /* espeak-ng words/min, or flite / festival duration stretch */
    double pitch;          /* espeak-ng pitch 0..99; else the F0 target mean in Hz (0: the voice's own) */
    double pitch_range;    /* espeak-ng range %; else the F0 target std in Hz (0: the voice's own) */
    double word_gap;       /* espeak-ng -g (10 ms units); 0 for the other engines */
    double gain_db;        /* applied after rendering */
    double speed;          /* 1 = no speed perturbation */
    double snr_db;         /* INFINITY = no noise */
    uint64_t noise_seed;
    char audio_filepath[64]; /* relative to the output folder: "audio/train/000012.wav" */
} nc_synth_utt;

typedef struct nc_synth_plan {
    nc_synth_params params; /* copy, with its string fields set to NULL (not owned) */
    int64_t n_voices;
    nc_synth_voice *voices;
    int64_t n_utts;
    nc_synth_utt *utts;      /* train first, then validation, then test */
    int64_t n_split[NC_SPLIT_N];
    char *text_storage;      /* owns every utts[i].text */
} nc_synth_plan;

/* Builds the plan. Errors name the offending key (e.g. a voice in both
 * validation_voices and test_voices, a split with utterances but no voice,
 * an empty text file). */
nc_status nc_synth_plan_build(const nc_synth_params *p, nc_synth_plan **out);
void nc_synth_plan_free(nc_synth_plan *plan);

/* Normalises a line of text into `out` (cap bytes): lowercase ASCII letters,
 * apostrophes inside a word ("don't") or after a word-final s ("fathers'"),
 * single spaces; every other character becomes a space. Returns the length
 * written (0 for a line with no letters). */
int64_t nc_synth_normalize_text(const char *in, char *out, int64_t cap);

/* One utterance of the built-in digits/commands set (1..6 words) into buf.
 * Draws from `rng` (an nc_rng). Returns the length. */
struct nc_rng;
int64_t nc_synth_digits_utterance(struct nc_rng *rng, char *buf, int64_t cap, bool letters);
/* The set's vocabulary, for documentation and tests (NULL-terminated). */
extern const char *const nc_synth_digits_vocab[];

/* The engine command line for utterance i writing `wav_path`: argv[] points
 * into `store` (a caller buffer of store_cap bytes) and ends with NULL;
 * argv has room for 16 entries. festival (text2wave) reads the text from the
 * file named wav_path + ".txt", which the caller writes (nc_synth_render
 * does); the other engines take it on the command line. */
nc_status nc_synth_command(const nc_synth_plan *plan, int64_t i, const char *wav_path,
                           const char *argv[16], char *store, int64_t store_cap);

/* Checks that every engine the plan uses is on PATH and knows every planned
 * voice (espeak-ng --voices / --voices=variant, flite -lv, festival's
 * (voice.list)): espeak-ng and flite silently fall back to a default voice
 * for unknown names, and text2wave exits 0 after an unknown voice. A missing
 * festival voice names the Debian package that holds it. */
nc_status nc_synth_check_engines(const nc_synth_plan *plan);

/* Renders utterance i: runs the engine into tmp_dir, resamples to
 * params.sample_rate, applies its augmentation, writes out_dir/audio_filepath.
 * Thread-safe for distinct i. *duration = samples / sample_rate. */
nc_status nc_synth_render(const nc_synth_plan *plan, int64_t i, const char *tmp_dir,
                          const char *out_dir, double *duration);

typedef void (*nc_synth_progress_fn)(int64_t done, int64_t total, void *user_data);

typedef struct nc_synth_run_params {
    const char *out_dir;  /* created if missing, with audio/<split>/ under it */
    const char *tmp_dir;  /* where the private scratch folder is made (mkdtemp); NULL = $TMPDIR or /tmp */
    int num_workers;      /* parallel engine processes; <= 0 = number of online CPUs */
    nc_synth_progress_fn progress; /* called once per finished utterance, serialised; may be NULL */
    void *user_data;
    double *durations;    /* optional (n_utts,): receives each utterance's duration in seconds */
    /* festival utterances per festival process: 0 = up to 32 (fewer when
     * that would leave workers idle), 1 = one text2wave process per
     * utterance. Batches skip ~0.3 s of start-up per utterance and give the
     * same bytes. */
    int festival_batch;
} nc_synth_run_params;

/* Renders every utterance in parallel, then writes train_manifest.json,
 * validation_manifest.json and test_manifest.json into out_dir (atomically;
 * a split with no utterances gets an empty manifest). Stops at the first
 * failure, whose message names the utterance, voice and command. */
nc_status nc_synth_run(const nc_synth_plan *plan, const nc_synth_run_params *rp);

#ifdef __cplusplus
}
#endif
#endif
