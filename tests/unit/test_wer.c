/* WER / CER with hand-computed substitution, deletion and insertion counts:
 * empty reference, empty hypothesis, all substitutions, mixed edits,
 * Python str.split() whitespace, code-point characters, corpus-level sums
 * and the packed form used to sum counts across ranks. */
#include <math.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/wer.h"

static void expect(const char *ref, const char *hyp, bool cer, int64_t s, int64_t d, int64_t i,
                   int64_t nref, int64_t nhyp) {
    nc_edit_counts c;
    CHECK_OK(cer ? nc_cer_counts(ref, hyp, &c) : nc_wer_counts(ref, hyp, &c));
    nc_test_checks++;
    if (c.substitutions != s || c.deletions != d || c.insertions != i || c.ref_len != nref ||
        c.hyp_len != nhyp)
        nc_test_fail(__FILE__, __LINE__,
                     "%s('%s', '%s'): S D I N M = %lld %lld %lld %lld %lld, want %lld %lld %lld %lld %lld",
                     cer ? "cer" : "wer", ref, hyp, (long long)c.substitutions,
                     (long long)c.deletions, (long long)c.insertions, (long long)c.ref_len,
                     (long long)c.hyp_len, (long long)s, (long long)d, (long long)i,
                     (long long)nref, (long long)nhyp);
}

static void test_pairs(void) {
    /*     ref                       hyp                  cer    S  D  I  N  M */
    expect("the cat sat", "the cat sat", false, 0, 0, 0, 3, 3);
    expect("", "a b", false, 0, 0, 2, 0, 2);                      /* empty reference */
    expect("a b c", "", false, 0, 3, 0, 3, 0);                    /* empty hypothesis */
    expect("", "", false, 0, 0, 0, 0, 0);
    expect("a b c", "x y z", false, 3, 0, 0, 3, 3);               /* all substitutions */
    expect("the cat sat on the mat", "the cat sit on mat", false, 1, 1, 0, 6, 5);
    expect("a b", "a x b", false, 0, 0, 1, 2, 3);                 /* one insertion */
    expect("a b c d", "b c d e", false, 0, 1, 1, 4, 4);           /* shift: D + I beats 4 S */
    expect("Hello, world", "hello world", false, 1, 0, 0, 2, 2);  /* "Hello," != "hello" */
    /* str.split(): runs of whitespace incl. tab, newline, NBSP, ideographic space */
    expect("  hello\tworld \n", "hello world", false, 0, 0, 0, 2, 2);
    expect("hello\xC2\xA0world", "hello world", false, 0, 0, 0, 2, 2);
    expect("hello\xE3\x80\x80world", "hello world", false, 0, 0, 0, 2, 2);
    /* characters: code points, spaces included (list(str)) */
    expect("abc", "abd", true, 1, 0, 0, 3, 3);
    expect("a b", "ab", true, 0, 1, 0, 3, 2);
    expect("h\xC3\xA9llo", "hello", true, 1, 0, 0, 5, 5);
    expect("kitten", "sitting", true, 2, 0, 1, 6, 7);
    expect("", "ab", true, 0, 0, 2, 0, 2);
    /* an invalid UTF-8 byte is one character */
    expect("a\xFF" "b", "ab", true, 0, 1, 0, 3, 2);
}

static void test_rates(void) {
    nc_edit_counts c;
    CHECK_OK(nc_wer_counts("the cat sat on the mat", "the cat sit on mat", &c));
    CHECK(nc_edit_errors(&c) == 2);
    CHECK_NEAR(nc_edit_rate(&c), 2.0 / 6.0, 1e-15);
    CHECK_OK(nc_wer_counts("", "", &c));
    CHECK(isinf(nc_edit_rate(&c))); /* NeMo: no reference words -> inf */

    /* corpus level: (1 + 1) / (3 + 2) = 0.4, not the mean of 1/3 and 1/2 */
    const char *refs[] = {"a b c", "d e"}, *hyps[] = {"a c", "d e f"};
    double wer;
    nc_edit_counts tot;
    CHECK_OK(nc_error_rate(refs, hyps, 2, false, &wer, &tot));
    CHECK_NEAR(wer, 0.4, 1e-15);
    CHECK(tot.deletions == 1 && tot.insertions == 1 && tot.ref_len == 5 && tot.hyp_len == 5);
    /* character level over the same pairs: "a b c"->"a c" deletes "b" and a
     * space (2 of 5), "d e"->"d e f" inserts " f" (2 of 3): 4 / 8 */
    CHECK_OK(nc_error_rate(refs, hyps, 2, true, &wer, NULL));
    CHECK_NEAR(wer, 0.5, 1e-15);

    /* two "ranks" accumulate separately, then pack, sum and unpack */
    nc_edit_counts r0 = {.substitutions = 0}, r1 = {.substitutions = 0}, one;
    CHECK_OK(nc_wer_counts(refs[0], hyps[0], &one));
    nc_edit_counts_add(&r0, &one);
    CHECK_OK(nc_wer_counts(refs[1], hyps[1], &one));
    nc_edit_counts_add(&r1, &one);
    int64_t v0[NC_EDIT_COUNTS_N], v1[NC_EDIT_COUNTS_N];
    nc_edit_counts_pack(&r0, v0);
    nc_edit_counts_pack(&r1, v1);
    for (int k = 0; k < NC_EDIT_COUNTS_N; k++) v0[k] += v1[k]; /* what the all-reduce does */
    nc_edit_counts sum;
    nc_edit_counts_unpack(v0, &sum);
    CHECK(memcmp(&sum, &tot, sizeof sum) == 0);
    CHECK_NEAR(nc_edit_rate(&sum), 0.4, 1e-15);

    CHECK(nc_wer_counts(NULL, "a", &c) == NC_ERR_INVALID_ARG);
    const char *bad[] = {"a", NULL};
    CHECK(nc_error_rate(bad, bad, 2, false, &wer, NULL) == NC_ERR_INVALID_ARG);
    CHECK(strstr(nc_last_error(), "pair 1") != NULL);
}

int main(void) {
    test_pairs();
    test_rates();
    return nc_test_finish("wer");
}
