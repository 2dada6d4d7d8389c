/* Value checks where a config is read: booleans as OmegaConf's BooleanNode
 * converts them, enums with the allowed set and a suggestion, number ranges
 * (NaN and infinities refused), and messages naming key and file:line, also
 * for a copy of a subtree (the model section a model is built from). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/config.h"

#define CHECK_CONFIG_ERR(expr, needle)                                                               \
    do {                                                                                             \
        nc_test_checks++;                                                                            \
        nc_status s_ = (expr);                                                                       \
        if (s_ != NC_ERR_CONFIG || !strstr(nc_last_error(), (needle)))                               \
            nc_test_fail(__FILE__, __LINE__, "%s -> %s \"%s\"; wanted a config error containing \"%s\"", \
                         #expr, nc_status_str(s_), nc_last_error(), (needle));                      \
    } while (0)

static nc_cfg *parse(const char *y) {
    nc_cfg *c = NULL;
    if (nc_cfg_parse(y, strlen(y), "t.yaml", &c)) nc_test_fail(__FILE__, __LINE__, "parse: %s", nc_last_error());
    return c;
}

/* OmegaConf 2.3 BooleanNode.validate_and_convert: the YAML value as loaded
 * (PyYAML 1.1 bools, ints), then strings through int() or the word lists. */
static void test_bools(void) {
    static const struct {
        const char *yaml; /* value as written in YAML */
        int want;         /* 1 true, 0 false, -1 refused */
    } cases[] = {
        {"true", 1}, {"True", 1}, {"TRUE", 1}, {"false", 0}, {"FALSE", 0}, {"yes", 1}, {"No", 0},
        {"on", 1}, {"OFF", 0}, {"'y'", 1}, {"n", 0}, {"Y", 1}, {"'tRuE'", 1}, {"'fAlSe'", 0},
        {"'yes'", 1}, {"\"off\"", 0}, {"1", 1}, {"0", 0}, {"2", 1}, {"-1", 1}, {"0x0", 0},
        {"'1'", 1}, {"'0'", 0}, {"' 7 '", 1}, {"'1_0'", 1}, {"'-0'", 0}, {"nope", -1}, {"'nope'", -1},
        {"1.5", -1}, {"'1.0'", -1}, {"''", -1}, {"'1_'", -1}, {"'yess'", -1}, {"[1]", -1}, {"{a: 1}", -1},
        {"'t'", -1}, {"'0x1'", -1}, {"???", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char y[64];
        snprintf(y, sizeof y, "a:\n  flag: %s\n", cases[i].yaml);
        nc_cfg *c = parse(y);
        if (!c) continue;
        bool b = false;
        nc_status s = nc_cfg_get_bool(c, "a.flag", &b);
        nc_test_checks++;
        if (cases[i].want < 0) {
            if (s != NC_ERR_CONFIG || !strstr(nc_last_error(), "a.flag (t.yaml:2)"))
                nc_test_fail(__FILE__, __LINE__, "'%s' should be refused naming a.flag: %s", cases[i].yaml,
                             s ? nc_last_error() : "accepted");
            if (strcmp(cases[i].yaml, "???") && !strstr(nc_last_error(), "true/false, yes/no, y/n, on/off"))
                nc_test_fail(__FILE__, __LINE__, "'%s': no allowed set in '%s'", cases[i].yaml, nc_last_error());
        } else if (s || b != (cases[i].want == 1)) {
            nc_test_fail(__FILE__, __LINE__, "'%s' -> %s %d, want %d", cases[i].yaml, s ? nc_last_error() : "ok",
                         b, cases[i].want);
        }
        nc_cfg_free(c);
    }
    /* A Hydra override value is typed by the same rules. */
    nc_cfg *c = parse("flag: false\n");
    bool b = false;
    CHECK_OK(nc_cfg_apply_override(c, "flag=yes"));
    CHECK_OK(nc_cfg_get_bool(c, "flag", &b));
    CHECK(b);
    CHECK_OK(nc_cfg_apply_override(c, "flag=nope"));
    CHECK_CONFIG_ERR(nc_cfg_get_bool_or(c, "flag", true, &b), "flag (t.yaml:1): expected bool");
    nc_cfg_free(c);
}

static void test_enums(void) {
    static const char *const strategies[] = {"greedy", "greedy_batch", "beam", NULL};
    nc_cfg *c = parse("dec:\n  strategy: greedyy\n  other: beam\n  num: 3\n");
    int k = -1;
    CHECK_CONFIG_ERR(nc_cfg_get_enum_or(c, "dec.strategy", strategies, 0, &k),
              "dec.strategy (t.yaml:2): 'greedyy' is not one of: greedy, greedy_batch, beam (did you mean 'greedy'?)");
    CHECK_OK(nc_cfg_get_enum_or(c, "dec.other", strategies, 0, &k));
    CHECK(k == 2);
    CHECK_OK(nc_cfg_get_enum_or(c, "dec.absent", strategies, 1, &k));
    CHECK(k == 1);
    /* Nothing close: the set, no suggestion. */
    CHECK_CONFIG_ERR(nc_cfg_get_enum_or(c, "dec.num", strategies, 0, &k), "'3' is not one of: greedy, greedy_batch, beam");
    CHECK(!strstr(nc_last_error(), "did you mean"));
    /* Case matters, as in NeMo's string comparisons; the suggestion shows the spelling. */
    CHECK_CONFIG_ERR(nc_cfg_check_enum(c, "dec.other", "Beam", strategies, NULL), "(did you mean 'beam'?)");
    nc_cfg_free(c);
}

static void test_ranges(void) {
    nc_cfg *c = parse("t:\n  max_steps: -5\n  bs: 0\n  lr: .nan\n  clip: -.inf\n  drop: 1.0\n  ok: 0.5\n"
                      "  nothing: null\n  neg: -1\n");
    int64_t i = 0;
    double f = 0;
    CHECK_CONFIG_ERR(nc_cfg_get_int_in(c, "t.bs", 1, 1 << 20, &i), "t.bs (t.yaml:3): must be in [1, 1048576], found 0");
    CHECK_CONFIG_ERR(nc_cfg_get_int_in_or(c, "t.max_steps", -1, -1, INT64_MAX, &i), "t.max_steps (t.yaml:2): must be >= -1, found -5");
    CHECK_CONFIG_ERR(nc_cfg_get_float_in_or(c, "t.lr", 1e-3, 0, INFINITY, &f), "t.lr (t.yaml:4): must be a finite number >= 0, found nan");
    CHECK_CONFIG_ERR(nc_cfg_get_float_in_or(c, "t.clip", 0, -INFINITY, INFINITY, &f), "t.clip (t.yaml:5): must be a finite number, found -inf");
    CHECK_CONFIG_ERR(nc_cfg_get_prob_or(c, "t.drop", 0.1, &f), "t.drop (t.yaml:6): must be in [0, 1) (a probability), found 1");
    CHECK_CONFIG_ERR(nc_cfg_get_prob_or(c, "t.neg", 0.1, &f), "must be in [0, 1) (a probability), found -1");
    CHECK_OK(nc_cfg_get_prob_or(c, "t.ok", 0.1, &f));
    CHECK(f == 0.5);
    /* A default is not checked: -1 stays a sentinel for "unset". */
    CHECK_OK(nc_cfg_get_float_in_or(c, "t.absent", -1, 0, 1, &f));
    CHECK(f == -1);
    CHECK_OK(nc_cfg_get_int_in_or(c, "t.nothing", -1, 0, 10, &i));
    CHECK(i == -1);
    /* A type error keeps its own message. */
    CHECK_CONFIG_ERR(nc_cfg_get_int_in(c, "t.ok", 0, 1, &i), "expected int, found float '0.5'");
    CHECK_CONFIG_ERR(nc_cfg_error_at(c, "t.bs", "custom %d", 7), "t.bs (t.yaml:3): custom 7");
    CHECK_CONFIG_ERR(nc_cfg_error_at(c, "t.absent", "why"), "t.absent: why");
    nc_cfg_free(c);
}

/* A model is built from a resolved copy of the model: section; its messages
 * still say model.encoder.dropout and the line in the training config. */
static void test_copy_origin(void) {
    nc_cfg *c = parse("trainer:\n  x: 1\nmodel:\n  d: 4\n  encoder:\n    d_model: ${model.d}\n    dropout: 2\n"
                      "    layers: [{p: 0.5}, {p: 1.5}]\n");
    nc_cfg *model = NULL, *copy = NULL;
    double f;
    CHECK_OK(nc_cfg_get_node(c, "model", &model));
    CHECK_OK(nc_cfg_copy(model, true, &copy));
    CHECK_CONFIG_ERR(nc_cfg_get_prob_or(copy, "encoder.dropout", 0.1, &f), "encoder.dropout: must be in [0, 1)");
    CHECK_OK(nc_cfg_keep_origin(copy, model));
    CHECK_CONFIG_ERR(nc_cfg_get_prob_or(copy, "encoder.dropout", 0.1, &f), "model.encoder.dropout (t.yaml:7): must be in [0, 1)");
    CHECK_CONFIG_ERR(nc_cfg_get_prob_or(copy, "encoder.layers[1].p", 0.1, &f), "model.encoder.layers[1].p (t.yaml:8)");
    int64_t i;
    CHECK_CONFIG_ERR(nc_cfg_get_int_in(copy, "encoder.d_model", 5, 10, &i),
              "model.encoder.d_model (t.yaml:6): must be in [5, 10], found 4");
    nc_cfg_free(copy);
    nc_cfg_free(c);
}

int main(void) {
    test_bools();
    test_enums();
    test_ranges();
    test_copy_origin();
    return nc_test_finish("test_config_check");
}
