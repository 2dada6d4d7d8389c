/* Text for synthetic speech: normalisation to the character set of NeMo's
 * English char models (a-z, space, apostrophe; QuartzNet's labels), the
 * built-in digits/commands generator, and loading text files. */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "synth/synth_internal.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "nemoc/rng.h"
#include "nemoc/synth.h"

/* At the end of a word: a final apostrophe stays only as a plural
 * possessive ("fathers'"); anywhere else it was a closing quote. */
static int64_t end_word(char *out, int64_t n) {
    if (n > 0 && out[n - 1] == '\'' && !(n >= 2 && out[n - 2] == 's')) n--;
    return n;
}

int64_t nc_synth_normalize_text(const char *in, char *out, int64_t cap) {
    if (cap <= 0) return 0;
    int64_t n = 0;
    int pending_space = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        int c = *p;
        int keep = 0;
        if (c < 128 && isalpha(c)) {
            c = tolower(c);
            keep = 1;
        } else if (c == '\'') {
            /* Only after a letter of the current word ("don't"), never as an
             * opening quote. */
            keep = n > 0 && !pending_space && out[n - 1] != '\'';
        }
        if (!keep) {
            n = end_word(out, n);
            pending_space = n > 0;
            continue;
        }
        if (pending_space) {
            if (n + 1 >= cap) break;
            out[n++] = ' ';
            pending_space = 0;
        }
        if (n + 1 >= cap) break;
        out[n++] = (char)c;
    }
    n = end_word(out, n);
    out[n] = 0; /* spaces are only written before a kept character: none trails */
    return n;
}

/* The digits/commands set: 56 words in the spirit of AN4 (alphanumeric
 * census data) and TIDIGITS (connected digits): 11 digit words, 30 command
 * words, 15 letters. Letters that are also words or digit names (a, i, o, u)
 * and letters easily read as words by the engines are left out. */
static const char *const digit_words[10] = {"zero", "one", "two",   "three", "four",
                                            "five", "six", "seven", "eight", "nine"};
static const char *const commands[] = {
    "yes", "no", "stop", "go", "up", "down", "left", "right", "on", "off", "next", "previous",
    "back", "forward", "start", "cancel", "open", "close", "play", "pause", "help",
    "turn left", "turn right", "turn on", "turn off", "volume up", "volume down", "go back",
    "go forward", "go home", "call home", "next page", "previous page", "channel up",
    "channel down", "turn on the light", "turn off the light",
};
static const char *const number_commands[] = {"channel", "volume", "page", "go to page", "call"};
static const char *const letter_words[] = {"b", "c", "d", "f", "g", "h", "j", "k",
                                      "l", "m", "p", "r", "s", "t", "v"};

const char *const nc_synth_digits_vocab[] = {
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "oh",
    "yes", "no", "stop", "go", "up", "down", "left", "right", "on", "off", "next", "previous",
    "back", "forward", "start", "cancel", "open", "close", "play", "pause", "help",
    "turn", "volume", "home", "call", "page", "channel", "the", "light", "to",
    "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "p", "r", "s", "t", "v",
    NULL,
};

#define N_OF(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

static int64_t pick(nc_rng *r, int64_t n) {
    int64_t k = (int64_t)floor(nc_rng_double(r) * (double)n);
    return k < n ? k : n - 1;
}

/* Appends word to buf (with a separating space); returns the new length. */
static int64_t put(char *buf, int64_t len, int64_t cap, const char *w) {
    int64_t wl = (int64_t)strlen(w);
    if (len + (len > 0) + wl + 1 > cap) return len;
    if (len > 0) buf[len++] = ' ';
    memcpy(buf + len, w, (size_t)wl);
    len += wl;
    buf[len] = 0;
    return len;
}

/* "oh" for zero half the time, as people read phone and room numbers. */
static int64_t put_digits(nc_rng *r, char *buf, int64_t len, int64_t cap, int64_t count) {
    for (int64_t k = 0; k < count; k++) {
        int64_t d = pick(r, 10);
        int oh = nc_rng_double(r) < 0.5;
        len = put(buf, len, cap, d == 0 && oh ? "oh" : digit_words[d]);
    }
    return len;
}

int64_t nc_synth_digits_utterance(nc_rng *r, char *buf, int64_t cap, bool letters) {
    if (cap <= 0) return 0;
    buf[0] = 0;
    int64_t len = 0;
    double u = nc_rng_double(r);
    /* Without letters the last 15% are digit strings as well. */
    if (u < 0.40 || (!letters && u >= 0.85)) { /* a digit string, 1..6 digits */
        len = put_digits(r, buf, len, cap, 1 + pick(r, 6));
    } else if (u < 0.65) { /* a command */
        len = put(buf, len, cap, commands[pick(r, N_OF(commands))]);
    } else if (u < 0.85) { /* a command with a number: "channel five", "call two one six" */
        int64_t c = pick(r, N_OF(number_commands));
        len = put(buf, len, cap, number_commands[c]);
        int64_t words = c == 3 ? 3 : 1; /* words used so far */
        int64_t max_digits = c == 4 ? 5 : (c == 2 ? 2 : 1);
        if (max_digits > 6 - words) max_digits = 6 - words;
        len = put_digits(r, buf, len, cap, 1 + pick(r, max_digits));
    } else { /* spelled letters, 2..5 */
        int64_t count = 2 + pick(r, 4);
        for (int64_t k = 0; k < count; k++) len = put(buf, len, cap, letter_words[pick(r, N_OF(letter_words))]);
    }
    return len;
}

uint64_t nc_synth_stream_seed(uint64_t seed, uint64_t stream) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

nc_status nc_synth_load_lines(const char *path, char **storage, int64_t **offsets, int64_t *n) {
    *storage = NULL;
    *offsets = NULL;
    *n = 0;
    void *raw;
    size_t len;
    nc_status st = nc_read_file(path, &raw, &len);
    if (st) return nc_error_prefix(st, "text_set");
    const char *text = raw;
    int64_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    /* Normalising never lengthens a line beyond its length + 1 (the NUL). */
    char *store = nc_malloc(len + 1);
    int64_t *offs = nc_malloc((size_t)lines * sizeof(int64_t));
    char *line = nc_malloc(len + 1);
    if (!store || !offs || !line) {
        nc_free(store);
        nc_free(offs);
        nc_free(line);
        nc_free(raw);
        return nc_error(NC_ERR_OOM, "text_set '%s': %zu bytes", path, len);
    }
    int64_t used = 0, count = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != '\n') continue;
        size_t ll = i - start;
        memcpy(line, text + start, ll);
        line[ll] = 0;
        start = i + 1;
        int64_t w = nc_synth_normalize_text(line, store + used, (int64_t)ll + 1);
        if (w == 0) continue;
        offs[count++] = used;
        used += w + 1;
    }
    nc_free(line);
    nc_free(raw);
    if (count == 0) {
        nc_free(store);
        nc_free(offs);
        return nc_error(NC_ERR_FORMAT, "text_set '%s' has no line with letters in it", path);
    }
    *storage = store;
    *offsets = offs;
    *n = count;
    return NC_OK;
}
