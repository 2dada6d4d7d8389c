/* Byte-level BPE trainer: see nemoc/tokenizer_train.h for the algorithm
 * (GPT-2's vocabulary layout, HF tokenizers' BpeTrainer merge rule). Pair
 * counts and merges: text/bpe_pairs.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/utf8.h"
#include "core/vec.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "nemoc/log.h"
#include "nemoc/tokenizer_train.h"
#include "text/bert_basic.h"
#include "text/bpe_pairs.h"
#include "text/bytelevel.h"
#include "text/piece_trie.h"

nc_bpe_train_params nc_bpe_train_default_params(void) {
    return (nc_bpe_train_params){.vocab_size = 1024, .min_frequency = 2, .eos = "<|endoftext|>"};
}

typedef struct btrainer {
    nc_trie word_ix; /* chunk bytes -> word index */
    nc_bpe_word *words;
    int64_t n_words, cap_words;
    nc_str_list vocab; /* piece strings by id */
    nc_trie vocab_ix;
    int32_t (*merges)[2];
    int64_t n_merges, cap_merges;
    nc_pair_map pairs;
} btrainer;

static nc_status count_chunk(btrainer *t, const char *s, int64_t len) {
    bool added;
    nc_status st = nc_bpe_words_count(&t->word_ix, &t->words, &t->n_words, &t->cap_words, s, len, "bpe train", &added);
    if (st || !added) return st;
    nc_bpe_word *w = &t->words[t->n_words - 1];
    w->sym = nc_malloc((size_t)len * sizeof *w->sym);
    if (!w->sym) return nc_error(NC_ERR_OOM, "bpe train: out of memory");
    for (int64_t i = 0; i < len; i++) w->sym[i] = nc_bytelevel_rank((uint8_t)s[i]);
    w->n = (int32_t)len;
    return NC_OK;
}

static nc_status read_corpus(btrainer *t, const char *const *files, int64_t n_files) {
    nc_status st = NC_OK;
    char *line = NULL;
    size_t cap = 0;
    for (int64_t f = 0; f < n_files && !st; f++) {
        FILE *fp;
        if ((st = nc_fopen_read(files[f], "text corpus", &fp))) {
            st = nc_error_prefix(st, "bpe train");
            break;
        }
        ssize_t n;
        while (!st && (n = getline(&line, &cap, fp)) >= 0) {
            if (n > 0 && line[n - 1] == '\n') n--;
            if (n > INT32_MAX) {
                st = nc_error(NC_ERR_INVALID_ARG, "bpe train: '%s' has a line of %lld bytes", files[f], (long long)n);
                break;
            }
            for (int64_t pos = 0; pos < n && !st;) {
                int64_t end = nc_gpt2_pretok_next(line, n, pos);
                st = count_chunk(t, line + pos, end - pos);
                pos = end;
            }
        }
        if (!st && ferror(fp)) st = nc_error(NC_ERR_IO, "bpe train: cannot read '%s': %s", files[f], strerror(errno));
        fclose(fp);
    }
    free(line); /* from getline */
    return st;
}

static nc_status add_piece(btrainer *t, const char *s, int64_t len, int32_t *id) {
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

static nc_status learn(btrainer *t, int64_t max_pieces, int64_t min_freq) {
    nc_status st = NC_OK;
    int32_t id;
    for (int r = 0; r < 256 && !st; r++) {
        char c[4];
        st = add_piece(t, c, nc_utf8_encode(nc_bytelevel_char(nc_bytelevel_by_rank(r)), c), &id);
    }
    for (int64_t w = 0; w < t->n_words && !st; w++) st = nc_pair_map_word(&t->pairs, &t->words[w], 1);
    nc_strbuf tok = {0};
    while (!st && t->vocab.n < max_pieces) {
        int32_t a, b;
        if (!nc_pair_map_best(&t->pairs, min_freq, &a, &b)) break;
        nc_sb_clear(&tok);
        st = nc_sb_append(&tok, nc_str_list_at(&t->vocab, a), (size_t)nc_str_list_len(&t->vocab, a));
        if (!st) st = nc_sb_append(&tok, nc_str_list_at(&t->vocab, b), (size_t)nc_str_list_len(&t->vocab, b));
        if (!st) st = add_piece(t, tok.p, (int64_t)tok.n, &id);
        if (!st && nc_vec_reserve(&t->merges, &t->cap_merges, t->n_merges + 1, sizeof *t->merges))
            st = nc_error(NC_ERR_OOM, "bpe train: out of memory");
        if (!st) {
            t->merges[t->n_merges][0] = a;
            t->merges[t->n_merges][1] = b;
            t->n_merges++;
            st = nc_bpe_words_merge(&t->pairs, t->words, t->n_words, a, b, id);
        }
    }
    nc_sb_free(&tok);
    return st;
}

/* vocab.json ({"piece": id, ...} in id order) and merges.txt
 * ("#version: 0.2", then "left right" per merge, as HF writes them). */
static nc_status write_files(const btrainer *t, const char *dir) {
    nc_strbuf v = {0}, m = {0};
    nc_sb_putc(&v, '{');
    for (int64_t i = 0; i < t->vocab.n; i++) {
        if (i) nc_sb_puts(&v, ", ");
        nc_sb_put_json_str(&v, nc_str_list_at(&t->vocab, i), (size_t)nc_str_list_len(&t->vocab, i));
        nc_sb_appendf(&v, ": %lld", (long long)i);
    }
    nc_sb_puts(&v, "}\n");
    nc_sb_puts(&m, "#version: 0.2\n");
    for (int64_t k = 0; k < t->n_merges; k++) {
        int32_t a = t->merges[k][0], b = t->merges[k][1];
        nc_sb_append(&m, nc_str_list_at(&t->vocab, a), (size_t)nc_str_list_len(&t->vocab, a));
        nc_sb_putc(&m, ' ');
        nc_sb_append(&m, nc_str_list_at(&t->vocab, b), (size_t)nc_str_list_len(&t->vocab, b));
        nc_sb_putc(&m, '\n');
    }
    nc_status st = NC_OK;
    char *vp = nc_strdupf("%s/vocab.json", dir), *mp = nc_strdupf("%s/merges.txt", dir);
    if (v.oom || m.oom || !vp || !mp) st = nc_error(NC_ERR_OOM, "bpe train: out of memory");
    if (!st) st = nc_write_file_atomic(vp, v.p, v.n);
    if (!st) st = nc_write_file_atomic(mp, m.p, m.n);
    nc_free(vp);
    nc_free(mp);
    nc_sb_free(&v);
    nc_sb_free(&m);
    return st;
}

nc_status nc_bpe_train(const char *const *files, int64_t n_files, const nc_bpe_train_params *p, const char *dir,
                       int64_t *final_size) {
    nc_bpe_train_params d = nc_bpe_train_default_params();
    if (!p) p = &d;
    if (!files || n_files <= 0 || !dir) return nc_error(NC_ERR_INVALID_ARG, "bpe train: no input files or output folder");
    int64_t n_special = p->eos && p->eos[0] ? 1 : 0;
    if (p->vocab_size < 256 + n_special)
        return nc_error(NC_ERR_INVALID_ARG, "bpe train: vocab_size %lld is below the %lld byte and special entries",
                        (long long)p->vocab_size, (long long)(256 + n_special));
    btrainer t;
    memset(&t, 0, sizeof t);
    nc_status st = read_corpus(&t, files, n_files);
    if (!st && t.n_words == 0) st = nc_error(NC_ERR_INVALID_ARG, "bpe train: the corpus has no text");
    if (!st) st = learn(&t, p->vocab_size - n_special, p->min_frequency > 0 ? p->min_frequency : 1);
    if (!st && n_special) {
        int32_t id;
        int64_t before = t.vocab.n;
        st = add_piece(&t, p->eos, (int64_t)strlen(p->eos), &id);
        if (!st && t.vocab.n == before)
            st = nc_error(NC_ERR_INVALID_ARG, "bpe train: the eos '%s' is also a learned entry", p->eos);
    }
    if (!st && t.vocab.n < p->vocab_size)
        NC_INFO("bpe train: %lld entries (no pair left that occurs %lld times)", (long long)t.vocab.n,
                (long long)(p->min_frequency > 0 ? p->min_frequency : 1));
    if (!st) st = write_files(&t, dir);
    if (!st && final_size) *final_size = t.vocab.n;
    for (int64_t w = 0; w < t.n_words; w++) nc_free(t.words[w].sym);
    nc_free(t.words);
    nc_free(t.merges);
    nc_trie_free(&t.word_ix);
    nc_trie_free(&t.vocab_ix);
    nc_str_list_free(&t.vocab);
    nc_pair_map_free(&t.pairs);
    return st;
}
