/* WordPiece vocabulary builder: see nemoc/tokenizer_train.h for the
 * algorithm (HF tokenizers WordPieceTrainer / BpeTrainer with a "##"
 * continuing-subword prefix). Pair counts and merges: text/bpe_pairs.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "nemoc/log.h"
#include "nemoc/tokenizer_train.h"
#include "text/bert_basic.h"
#include "text/bpe_pairs.h"
#include "text/piece_trie.h"
#include "text/unicode.h"

nc_wordpiece_train_params nc_wordpiece_train_default_params(void) {
    return (nc_wordpiece_train_params){.vocab_size = 1024, .lower_case = true, .min_frequency = 2, .limit_alphabet = 1000};
}

typedef struct trainer {
    nc_trie word_ix;  /* word string -> index */
    nc_bpe_word *words;
    nc_str_list word_str;
    int64_t n_words, cap_words;
    nc_str_list vocab; /* token strings by id */
    nc_trie vocab_ix;
    nc_pair_map pairs;
} trainer;

static nc_status add_token(trainer *t, const char *s, int64_t len, int32_t *id) {
    int32_t old = nc_trie_get(&t->vocab_ix, s, len);
    if (old >= 0) {
        *id = old;
        return NC_OK;
    }
    nc_status st = nc_trie_put(&t->vocab_ix, s, len, (int32_t)t->vocab.n);
    if (!st) {
        *id = (int32_t)t->vocab.n;
        st = nc_str_list_push(&t->vocab, s, len);
    }
    return st;
}

static nc_status count_word(trainer *t, const char *s, int64_t len) {
    bool added;
    nc_status st =
        nc_bpe_words_count(&t->word_ix, &t->words, &t->n_words, &t->cap_words, s, len, "wordpiece train", &added);
    return st || !added ? st : nc_str_list_push(&t->word_str, s, len);
}

static nc_status read_corpus(trainer *t, const char *const *files, int64_t n_files, bool lower) {
    /* HF tokenizers' BertNormalizer + BertPreTokenizer: no NFC step */
    nc_bert_basic_opts o = {.lower_case = lower, .strip_accents = lower, .chinese_chars = true, .nfc = false};
    nc_str_list toks = {0};
    nc_status st = NC_OK;
    char *line = NULL;
    size_t cap = 0;
    for (int64_t f = 0; f < n_files && !st; f++) {
        FILE *fp;
        if ((st = nc_fopen_read(files[f], "text corpus", &fp))) {
            st = nc_error_prefix(st, "wordpiece train");
            break;
        }
        ssize_t n;
        while (!st && (n = getline(&line, &cap, fp)) >= 0) {
            nc_str_list_clear(&toks);
            st = nc_bert_basic_tokenize(&o, line, n, &toks);
            for (int64_t i = 0; i < toks.n && !st; i++) st = count_word(t, nc_str_list_at(&toks, i), nc_str_list_len(&toks, i));
        }
        /* A read error (a directory: EISDIR) must not pass for an empty corpus. */
        if (!st && ferror(fp))
            st = nc_error(NC_ERR_IO, "wordpiece train: cannot read '%s': %s", files[f], strerror(errno));
        fclose(fp);
    }
    free(line); /* from getline */
    nc_str_list_free(&toks);
    return st;
}

typedef struct char_count {
    uint32_t cp;
    int64_t count;
    bool inner; /* occurs after the first character of some word */
} char_count;

static int by_count_desc(const void *a, const void *b) {
    const char_count *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return x->cp < y->cp ? -1 : x->cp > y->cp;
}

static int by_cp(const void *a, const void *b) {
    const char_count *x = a, *y = b;
    return x->cp < y->cp ? -1 : x->cp > y->cp;
}

/* Alphabet, "##" characters and the initial split of every word. */
static nc_status init_vocab(trainer *t, int64_t limit_alphabet) {
    static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    nc_status st = NC_OK;
    int32_t id;
    for (int k = 0; k < 5 && !st; k++) st = add_token(t, specials[k], (int64_t)strlen(specials[k]), &id);
    /* character frequencies over word occurrences, and whether each also
     * occurs after a word's first character (then it gets a "##" form) */
    nc_trie ch_ix = {0};
    char_count *cc = NULL;
    int64_t ncc = 0, capcc = 0;
    for (int64_t w = 0; w < t->n_words && !st; w++) {
        const char *s0 = nc_str_list_at(&t->word_str, w), *e = s0 + nc_str_list_len(&t->word_str, w);
        for (const char *s = s0; s < e && !st;) {
            int mb;
            uint32_t cp = nc_utf8_decode(s, e, &mb);
            int32_t ix = nc_trie_get(&ch_ix, s, mb);
            if (ix < 0) {
                if (ncc == capcc) {
                    capcc = capcc ? capcc * 2 : 256;
                    char_count *n2 = nc_malloc((size_t)capcc * sizeof *n2);
                    if (!n2) {
                        st = nc_error(NC_ERR_OOM, "wordpiece train: out of memory");
                        break;
                    }
                    if (cc) memcpy(n2, cc, (size_t)ncc * sizeof *cc);
                    nc_free(cc);
                    cc = n2;
                }
                ix = (int32_t)ncc;
                cc[ncc++] = (char_count){.cp = cp, .count = 0, .inner = false};
                st = nc_trie_put(&ch_ix, s, mb, ix);
            }
            if (!st) {
                cc[ix].count += t->words[w].count;
                cc[ix].inner |= s > s0;
            }
            s += mb;
        }
    }
    nc_trie_free(&ch_ix);
    if (!st) {
        qsort(cc, (size_t)ncc, sizeof *cc, by_count_desc);
        if (ncc > limit_alphabet) ncc = limit_alphabet;
        qsort(cc, (size_t)ncc, sizeof *cc, by_cp);
        for (int64_t i = 0; i < ncc && !st; i++) {
            char u[4];
            st = add_token(t, u, nc_utf8_encode(cc[i].cp, u), &id);
        }
        for (int64_t i = 0; i < ncc && !st; i++) {
            char u[6] = {'#', '#'};
            if (cc[i].inner) st = add_token(t, u, 2 + nc_utf8_encode(cc[i].cp, u + 2), &id);
        }
    }
    nc_free(cc);
    /* initial symbols: characters outside the alphabet are skipped */
    for (int64_t w = 0; w < t->n_words && !st; w++) {
        const char *s = nc_str_list_at(&t->word_str, w), *e = s + nc_str_list_len(&t->word_str, w);
        nc_bpe_word *wd = &t->words[w];
        wd->sym = nc_malloc((size_t)(e - s + 1) * sizeof *wd->sym);
        if (!wd->sym) {
            st = nc_error(NC_ERR_OOM, "wordpiece train: out of memory");
            break;
        }
        char u[8] = {'#', '#'};
        for (const char *q = s; q < e;) {
            int mb = 1;
            nc_utf8_decode(q, e, &mb);
            memcpy(u + 2, q, (size_t)mb);
            int32_t sid = q == s ? nc_trie_get(&t->vocab_ix, u + 2, mb) : nc_trie_get(&t->vocab_ix, u, mb + 2);
            if (sid >= 0) wd->sym[wd->n++] = sid;
            q += mb;
        }
        st = nc_pair_map_word(&t->pairs, wd, 1);
    }
    return st;
}

static nc_status merge_all(trainer *t, int64_t vocab_size, int64_t min_freq) {
    nc_status st = NC_OK;
    nc_strbuf tok = {0};
    while (!st && t->vocab.n < vocab_size) {
        int32_t a, b;
        if (!nc_pair_map_best(&t->pairs, min_freq, &a, &b)) break;
        const char *rs = nc_str_list_at(&t->vocab, b);
        int64_t rl = nc_str_list_len(&t->vocab, b);
        if (rl >= 2 && rs[0] == '#' && rs[1] == '#') {
            rs += 2;
            rl -= 2;
        }
        nc_sb_clear(&tok);
        st = nc_sb_append(&tok, nc_str_list_at(&t->vocab, a), nc_str_list_len(&t->vocab, a));
        if (!st) st = nc_sb_append(&tok, rs, rl);
        int32_t id = -1;
        if (!st) st = add_token(t, tok.p, tok.n, &id);
        if (!st) st = nc_bpe_words_merge(&t->pairs, t->words, t->n_words, a, b, id);
    }
    nc_sb_free(&tok);
    return st;
}

nc_status nc_wordpiece_train(const char *const *files, int64_t n_files, const nc_wordpiece_train_params *p,
                             const char *vocab_path, int64_t *final_size) {
    nc_wordpiece_train_params d = nc_wordpiece_train_default_params();
    if (!p) p = &d;
    if (!files || n_files <= 0 || !vocab_path) return nc_error(NC_ERR_INVALID_ARG, "wordpiece train: no input files or output path");
    if (p->vocab_size < 6) return nc_error(NC_ERR_INVALID_ARG, "wordpiece train: vocab_size %lld is too small", (long long)p->vocab_size);
    trainer t;
    memset(&t, 0, sizeof t);
    nc_status st = read_corpus(&t, files, n_files, p->lower_case);
    if (!st && t.n_words == 0) st = nc_error(NC_ERR_INVALID_ARG, "wordpiece train: the corpus has no words");
    if (!st) st = init_vocab(&t, p->limit_alphabet > 0 ? p->limit_alphabet : 1000);
    if (!st && t.vocab.n > p->vocab_size)
        NC_WARN("wordpiece train: %lld special and character tokens already exceed vocab_size %lld",
                (long long)t.vocab.n, (long long)p->vocab_size);
    if (!st) st = merge_all(&t, p->vocab_size, p->min_frequency > 0 ? p->min_frequency : 1);
    if (!st) {
        nc_strbuf out = {0};
        for (int64_t i = 0; i < t.vocab.n && !st; i++) {
            st = nc_sb_append(&out, nc_str_list_at(&t.vocab, i), nc_str_list_len(&t.vocab, i));
            if (!st) st = nc_sb_putc(&out, '\n');
        }
        if (!st) st = nc_write_file_atomic(vocab_path, out.p, (size_t)out.n);
        nc_sb_free(&out);
        if (!st && final_size) *final_size = t.vocab.n;
    }
    for (int64_t w = 0; w < t.n_words; w++) nc_free(t.words[w].sym);
    nc_free(t.words);
    nc_trie_free(&t.word_ix);
    nc_trie_free(&t.vocab_ix);
    nc_str_list_free(&t.word_str);
    nc_str_list_free(&t.vocab);
    nc_pair_map_free(&t.pairs);
    return st;
}
