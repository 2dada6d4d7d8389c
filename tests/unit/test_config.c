/* Config system: YAML typing (against a PyYAML/OmegaConf truth table),
 * interpolation, Hydra overrides, typed getters and their messages, editing,
 * emit/reparse round trips, a NeMo config, and out-of-memory paths. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/alloc.h"
#include "nemoc/config.h"

#define CHECK_STR(got, want)                                                                    \
    do {                                                                                        \
        nc_test_checks++;                                                                       \
        const char *g_ = (got), *w_ = (want);                                                   \
        if (!g_ || strcmp(g_, w_))                                                              \
            nc_test_fail(__FILE__, __LINE__, "%s = \"%s\", want \"%s\"", #got, g_ ? g_ : "(null)", w_); \
    } while (0)

static nc_cfg *parse(const char *y) {
    nc_cfg *c = NULL;
    nc_status s = nc_cfg_parse(y, strlen(y), "test.yaml", &c);
    if (s) nc_test_fail(__FILE__, __LINE__, "parse failed: %s", nc_last_error());
    return c;
}

static int64_t geti(const nc_cfg *c, const char *path) {
    int64_t v = -999;
    CHECK_OK(nc_cfg_get_int(c, path, &v));
    return v;
}

static const char *gets(const nc_cfg *c, const char *path) {
    const char *v = NULL;
    CHECK_OK(nc_cfg_get_str(c, path, &v));
    return v;
}

/* ---- typing against the PyYAML + OmegaConf truth table ------------------- */
static void test_types_table(void) {
    FILE *f = fopen(nc_test_src("tests/ref/yaml_types/types.tsv"), "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[512];
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        char *text = strtok(line, "\t\n"), *kind = strtok(NULL, "\t\n"), *py = strtok(NULL, "\t\n");
        if (!text || !kind || !py) continue;
        rows++;
        nc_cfg_type want = !strcmp(kind, "null") ? NC_CFG_T_NULL
                           : !strcmp(kind, "bool") ? NC_CFG_T_BOOL
                           : !strncmp(kind, "int", 3) ? NC_CFG_T_INT
                           : !strcmp(kind, "float") ? NC_CFG_T_FLOAT
                                                    : NC_CFG_T_STR;
        if (!strcmp(text, "?\?\?")) want = NC_CFG_T_MISSING;
        nc_cfg_type got = nc_cfg_scalar_type(text, false);
        nc_test_checks++;
        if (got != want)
            nc_test_fail(__FILE__, __LINE__, "'%s' typed %s, OmegaConf says %s", text, nc_cfg_type_name(got), kind);
        if (want == NC_CFG_T_MISSING || strstr(text, "${")) continue;
        nc_cfg *c;
        CHECK_OK(nc_cfg_new(NC_CFG_MAP, &c));
        CHECK_OK(nc_cfg_set_scalar(c, "v", text, false));
        if (!strcmp(kind, "int")) {
            int64_t v = 0;
            CHECK_OK(nc_cfg_get_int(c, "v", &v));
            nc_test_checks++;
            if (v != strtoll(py, NULL, 10)) nc_test_fail(__FILE__, __LINE__, "'%s' -> %lld, want %s", text, (long long)v, py);
        } else if (!strcmp(kind, "int_overflow")) {
            int64_t v;
            CHECK_ERR(nc_cfg_get_int(c, "v", &v), NC_ERR_CONFIG, "out of the 64-bit range");
        } else if (!strcmp(kind, "float")) {
            double v = 0, w = strtod(py, NULL);
            CHECK_OK(nc_cfg_get_float(c, "v", &v));
            nc_test_checks++;
            if (!(v == w || (isnan(v) && isnan(w))) || signbit(v) != signbit(w))
                nc_test_fail(__FILE__, __LINE__, "'%s' -> %.17g, want %s", text, v, py);
        }
        /* Embedded in a string, the value prints as Python's str() does. */
        CHECK_OK(nc_cfg_set_scalar(c, "s", "<${v}>", true));
        char want_s[600];
        snprintf(want_s, sizeof want_s, "<%s>", py);
        const char *s = NULL;
        if (strcmp(kind, "int_overflow")) {
            CHECK_OK(nc_cfg_get_str(c, "s", &s));
            if (s) CHECK_STR(s, want_s);
        }
        nc_cfg_free(c);
    }
    fclose(f);
    CHECK(rows > 100);
    /* Quoted scalars are strings whatever they look like. */
    CHECK(nc_cfg_scalar_type("5", true) == NC_CFG_T_STR);
    CHECK(nc_cfg_scalar_type("null", true) == NC_CFG_T_STR);
    CHECK(nc_cfg_scalar_type("?\?\?", true) == NC_CFG_T_MISSING);
}

/* ---- YAML loading --------------------------------------------------------- */
static void test_yaml_load(void) {
    nc_cfg *c = parse("a: 1\n"
                      "b: '1'\n"
                      "c: \"yes\"\n"
                      "d: |\n  line1\n  line2\n"
                      "e: !!str 12\n"
                      "f:\n"
                      "g: ~\n"
                      "base: &B {x: 1, y: 2}\n"
                      "derived:\n  <<: *B\n  y: 3\n  z: 4\n"
                      "copy: *B\n"
                      "list: [a, 'b', 3]\n");
    if (!c) return;
    nc_cfg_type t;
    CHECK_OK(nc_cfg_get_type(c, "a", &t));
    CHECK(t == NC_CFG_T_INT);
    CHECK_OK(nc_cfg_get_type(c, "b", &t));
    CHECK(t == NC_CFG_T_STR);
    CHECK_OK(nc_cfg_get_type(c, "c", &t));
    CHECK(t == NC_CFG_T_STR);
    CHECK_STR(gets(c, "d"), "line1\nline2\n");
    CHECK_OK(nc_cfg_get_type(c, "e", &t));
    CHECK(t == NC_CFG_T_STR);
    CHECK_OK(nc_cfg_get_type(c, "f", &t));
    CHECK(t == NC_CFG_T_NULL);
    CHECK_OK(nc_cfg_get_type(c, "g", &t));
    CHECK(t == NC_CFG_T_NULL);
    /* Merge keys as PyYAML flattens them: merged keys first, explicit win. */
    nc_cfg *d = nc_cfg_child(c, "derived");
    CHECK(d && nc_cfg_size(d) == 3);
    if (d && nc_cfg_size(d) == 3) {
        CHECK_STR(nc_cfg_item_key(d, 0), "x");
        CHECK_STR(nc_cfg_item_key(d, 1), "y");
        CHECK_STR(nc_cfg_item_key(d, 2), "z");
    }
    CHECK(geti(c, "derived.y") == 3);
    CHECK(geti(c, "copy.y") == 2);
    CHECK(nc_cfg_line(nc_cfg_child(c, "list")) == 16);
    CHECK_STR(gets(c, "list[1]"), "b");
    CHECK(geti(c, "list.2") == 3);
    nc_cfg_free(c);

    nc_cfg *e = NULL;
    const char *dup = "a: 1\nb:\n  x: 1\n  x: 2\n";
    CHECK_ERR(nc_cfg_parse(dup, strlen(dup), "dup.yaml", &e), NC_ERR_FORMAT, "dup.yaml:4:3: found duplicate key 'x'");
    const char *bad = "a: 1\nb: [1, 2\nc: 3\n";
    CHECK_ERR(nc_cfg_parse(bad, strlen(bad), "bad.yaml", &e), NC_ERR_FORMAT, "bad.yaml:3:");
    const char *bad2 = "a:\n  b: 1\n c: 2\n";
    CHECK_ERR(nc_cfg_parse(bad2, strlen(bad2), "bad2.yaml", &e), NC_ERR_FORMAT, "bad2.yaml:3:2:");
    const char *tab = "a:\n\tb: 1\n";
    CHECK_ERR(nc_cfg_parse(tab, strlen(tab), "tab.yaml", &e), NC_ERR_FORMAT, "tab.yaml:2:");
    const char *multi = "a: 1\n---\nb: 2\n";
    CHECK_ERR(nc_cfg_parse(multi, strlen(multi), "m.yaml", &e), NC_ERR_FORMAT, "single YAML document");
    CHECK_ERR(nc_cfg_parse("5", 1, "s.yaml", &e), NC_ERR_FORMAT, "top level is a scalar");
    const char *tag = "a: !!python/tuple [1, 2]\n";
    CHECK_ERR(nc_cfg_parse(tag, strlen(tag), "t.yaml", &e), NC_ERR_FORMAT, "unsupported YAML tag");
    const char *alias = "a: *nope\n";
    CHECK_ERR(nc_cfg_parse(alias, strlen(alias), "al.yaml", &e), NC_ERR_FORMAT, "al.yaml:1:4");
    const char *rec = "a: &r [1, *r]\n";
    CHECK_ERR(nc_cfg_parse(rec, strlen(rec), "r.yaml", &e), NC_ERR_FORMAT, "recursive alias");
    CHECK_ERR(nc_cfg_load("/nonexistent/x.yaml", &e), NC_ERR_NOT_FOUND, "/nonexistent/x.yaml");
    /* An empty document is an empty config. */
    CHECK_OK(nc_cfg_parse("# only a comment\n", 17, "empty.yaml", &e));
    if (e) CHECK(nc_cfg_kind_of(e) == NC_CFG_MAP && nc_cfg_size(e) == 0);
    nc_cfg_free(e);
}

/* ---- interpolation ---------------------------------------------------------- */
static void test_interpolation(void) {
    setenv("NC_TEST_CFG_VAR", "from_env", 1);
    unsetenv("NC_TEST_CFG_UNSET");
    nc_cfg *c = parse("name: run\n"
                      "lr: 1e-3\n"
                      "flag: true\n"
                      "nothing: null\n"
                      "which: sr\n"
                      "model:\n"
                      "  sr: 16000\n"
                      "  ds:\n"
                      "    sr: ${model.sr}\n"
                      "    sib: ${.sr}\n"
                      "    up: ${..sr}\n"
                      "    top: ${...name}\n"
                      "    too_far: ${....name}\n"
                      "  layers: [10, 20, {w: 30}]\n"
                      "  first: ${model.layers[0]}\n"
                      "  second: ${model.layers.1}\n"
                      "  deep: ${model.layers[2].w}\n"
                      "  tag: run_${name}_${model.sr}\n"
                      "  lr_tag: lr=${lr}, flag=${flag}, none=${nothing}\n"
                      "  nested: ${model.${which}}\n"
                      "  whole: ${model.ds}\n"
                      "  through: ${model.whole.sr}\n"
                      "  chain1: ${model.chain2}\n"
                      "  chain2: ${model.sr}\n"
                      "  esc: \\${name}\n"
                      "  esc2: \\\\${name}\n"
                      "  env: ${oc.env:NC_TEST_CFG_VAR}\n"
                      "  env_default: ${oc.env:NC_TEST_CFG_UNSET,fallback}\n"
                      "  env_quoted: \"${oc.env:NC_TEST_CFG_UNSET,'a, b'}\"\n"
                      "  env_null: ${oc.env:NC_TEST_CFG_UNSET,null}\n"
                      "  env_missing: ${oc.env:NC_TEST_CFG_UNSET}\n"
                      "  sel: ${oc.select:model.nope,7}\n"
                      "  sel2: ${oc.select:model.sr,7}\n"
                      "  bad_res: ${foo.bar:1}\n"
                      "  cyc_a: ${model.cyc_b}\n"
                      "  cyc_b: ${model.cyc_c}\n"
                      "  cyc_c: ${model.cyc_a}\n"
                      "  self: ${model.self}\n"
                      "  must: ?\?\?\n"
                      "  to_must: ${model.must}\n"
                      "  embed_map: x_${model.ds}\n"
                      "  unterminated: ${model.sr\n"
                      "  missing_ref: ${model.srr}\n");
    if (!c) return;
    CHECK(geti(c, "model.ds.sr") == 16000);
    CHECK(geti(c, "model.ds.sib") == 16000);
    CHECK(geti(c, "model.ds.up") == 16000);
    CHECK_STR(gets(c, "model.ds.top"), "run");
    int64_t iv;
    CHECK_ERR(nc_cfg_get_str(c, "model.ds.too_far", &(const char *){0}), NC_ERR_CONFIG, "above the root");
    CHECK(geti(c, "model.first") == 10);
    CHECK(geti(c, "model.second") == 20);
    CHECK(geti(c, "model.deep") == 30);
    CHECK_STR(gets(c, "model.tag"), "run_run_16000");
    CHECK_STR(gets(c, "model.lr_tag"), "lr=0.001, flag=True, none=None");
    CHECK(geti(c, "model.nested") == 16000);
    /* A whole-value interpolation keeps the target's type, maps included. */
    nc_cfg_type t;
    CHECK_OK(nc_cfg_get_type(c, "model.whole", &t));
    CHECK(t == NC_CFG_T_MAP);
    CHECK(geti(c, "model.whole.sr") == 16000);
    CHECK(geti(c, "model.through") == 16000);
    CHECK(geti(c, "model.chain1") == 16000);
    CHECK_OK(nc_cfg_get_type(c, "model.tag", &t));
    CHECK(t == NC_CFG_T_STR);
    CHECK_STR(gets(c, "model.esc"), "${name}");
    CHECK_STR(gets(c, "model.esc2"), "\\run");
    CHECK_STR(gets(c, "model.env"), "from_env");
    CHECK_STR(gets(c, "model.env_default"), "fallback");
    CHECK_STR(gets(c, "model.env_quoted"), "a, b");
    CHECK_OK(nc_cfg_get_type(c, "model.env_null", &t));
    CHECK(t == NC_CFG_T_NULL);
    const char *sv;
    CHECK_ERR(nc_cfg_get_str(c, "model.env_missing", &sv), NC_ERR_CONFIG,
              "model.env_missing: interpolation '${oc.env:NC_TEST_CFG_UNSET}': environment variable 'NC_TEST_CFG_UNSET' is not set");
    CHECK(geti(c, "model.sel") == 7);
    CHECK(geti(c, "model.sel2") == 16000);
    CHECK_ERR(nc_cfg_get_str(c, "model.bad_res", &sv), NC_ERR_CONFIG, "unknown resolver 'foo.bar'");
    /* Cycles name every key in the loop. */
    CHECK_ERR(nc_cfg_get_int(c, "model.cyc_a", &iv), NC_ERR_CONFIG,
              "interpolation cycle: model.cyc_a -> model.cyc_b -> model.cyc_c -> model.cyc_a");
    CHECK_ERR(nc_cfg_get_int(c, "model.self", &iv), NC_ERR_CONFIG, "interpolation cycle: model.self -> model.self");
    CHECK_ERR(nc_cfg_get_str(c, "model.must", &sv), NC_ERR_CONFIG, "model.must (test.yaml:39): missing mandatory value (?\?\?)");
    CHECK_ERR(nc_cfg_get_str_or(c, "model.must", "d", &sv), NC_ERR_CONFIG, "missing mandatory value");
    CHECK_ERR(nc_cfg_get_str(c, "model.to_must", &sv), NC_ERR_CONFIG,
              "model.to_must: interpolation '${model.must}': 'model.must' is a missing mandatory value (?\?\?)");
    CHECK_ERR(nc_cfg_get_str(c, "model.embed_map", &sv), NC_ERR_CONFIG, "cannot embed a map in a string");
    CHECK_ERR(nc_cfg_get_str(c, "model.unterminated", &sv), NC_ERR_CONFIG, "unterminated interpolation");
    CHECK_ERR(nc_cfg_get_int(c, "model.missing_ref", &iv), NC_ERR_CONFIG,
              "model.missing_ref: interpolation '${model.srr}': model.srr: no such key (did you mean 'sr'?)");
    /* A broken interpolation is an error even for *_or getters. */
    CHECK_ERR(nc_cfg_get_int_or(c, "model.missing_ref", 5, &iv), NC_ERR_CONFIG, "no such key");

    /* Cached string results follow edits. */
    CHECK_STR(gets(c, "model.tag"), "run_run_16000");
    CHECK_OK(nc_cfg_set_int(c, "model.sr", 8000));
    CHECK_STR(gets(c, "model.tag"), "run_run_8000");
    CHECK(geti(c, "model.ds.sr") == 8000);

    /* Resolve pass: values replace interpolations; escapes stay literal. */
    nc_cfg *ok = parse("a: 1\nb: ${a}\nc: x${a}\nd: {e: '${a}', f: '${.e}'}\ng: ${d}\nh: \\${a}\nm: ?\?\?\n");
    if (ok) {
        CHECK_OK(nc_cfg_resolve(ok));
        CHECK_STR(nc_cfg_text(nc_cfg_child(ok, "b")), "1");
        CHECK(!nc_cfg_quoted(nc_cfg_child(ok, "b")));
        CHECK_STR(nc_cfg_text(nc_cfg_child(ok, "c")), "x1");
        CHECK(nc_cfg_kind_of(nc_cfg_child(ok, "g")) == NC_CFG_MAP);
        CHECK(geti(ok, "g.f") == 1);
        CHECK_STR(gets(ok, "h"), "${a}");
        CHECK_STR(nc_cfg_text(nc_cfg_child(ok, "m")), "?\?\?");
        nc_cfg_free(ok);
    }
    nc_cfg *cyc = parse("a: ${b}\nb: ${a}\n");
    if (cyc) {
        CHECK_ERR(nc_cfg_resolve(cyc), NC_ERR_CONFIG, "interpolation cycle: a -> b -> a");
        nc_cfg_free(cyc);
    }
    /* A container that interpolates itself. */
    nc_cfg *loop = parse("a:\n  x: ${a}\n");
    if (loop) {
        nc_cfg *cp = NULL;
        CHECK_ERR(nc_cfg_copy(loop, true, &cp), NC_ERR_CONFIG, "interpolation cycle");
        nc_cfg_free(loop);
    }
    nc_cfg_free(c);
}

/* ---- Hydra overrides --------------------------------------------------------- */
static void test_overrides(void) {
    nc_cfg *c = parse("trainer:\n  devices: 1\n  precision: 32\n"
                      "model:\n  name: m\n  enc: {d_model: 256, n_layers: 4}\n  list: [1, 2]\n  s: x\n");
    if (!c) return;
    CHECK_OK(nc_cfg_apply_override(c, "trainer.devices=2"));
    CHECK(geti(c, "trainer.devices") == 2);
    CHECK_OK(nc_cfg_apply_override(c, "+trainer.num_nodes=4"));
    CHECK(geti(c, "trainer.num_nodes") == 4);
    CHECK_OK(nc_cfg_apply_override(c, "+exp.dirs.log=/tmp/x"));
    CHECK_STR(gets(c, "exp.dirs.log"), "/tmp/x");
    CHECK_OK(nc_cfg_apply_override(c, "++trainer.precision=bf16-mixed"));
    CHECK_STR(gets(c, "trainer.precision"), "bf16-mixed");
    CHECK_OK(nc_cfg_apply_override(c, "++model.train_ds.use_lhotse=True"));
    bool b = false;
    CHECK_OK(nc_cfg_get_bool(c, "model.train_ds.use_lhotse", &b));
    CHECK(b);
    CHECK_OK(nc_cfg_apply_override(c, "~model.s"));
    CHECK(!nc_cfg_has(c, "model.s"));
    /* Values are YAML flow nodes. */
    CHECK_OK(nc_cfg_apply_override(c, "model.list=[3, 4, 5]"));
    int64_t *li = NULL, nl = 0;
    CHECK_OK(nc_cfg_get_int_list(c, "model.list", &li, &nl));
    CHECK(nl == 3 && li && li[2] == 5);
    nc_free(li);
    CHECK_OK(nc_cfg_apply_override(c, "model.enc={d_model: 512}"));
    CHECK(geti(c, "model.enc.d_model") == 512);
    CHECK(geti(c, "model.enc.n_layers") == 4); /* a map merges into a map */
    CHECK_OK(nc_cfg_apply_override(c, "model.name=null"));
    nc_cfg_type t;
    CHECK_OK(nc_cfg_get_type(c, "model.name", &t));
    CHECK(t == NC_CFG_T_NULL);
    CHECK_OK(nc_cfg_apply_override(c, "model.name=\"x y\""));
    CHECK_STR(gets(c, "model.name"), "x y");
    CHECK_OK(nc_cfg_apply_override(c, "model.name='5'"));
    CHECK_OK(nc_cfg_get_type(c, "model.name", &t));
    CHECK(t == NC_CFG_T_STR);
    CHECK_OK(nc_cfg_apply_override(c, "model.name="));
    CHECK_STR(gets(c, "model.name"), "");
    CHECK_OK(nc_cfg_apply_override(c, "model.name=hello world"));
    CHECK_STR(gets(c, "model.name"), "hello world");
    /* Hydra types plain values itself: yes and 0x10 stay strings, TRUE is a
     * bool, inf a float. */
    CHECK_OK(nc_cfg_apply_override(c, "model.name=yes"));
    CHECK_STR(gets(c, "model.name"), "yes");
    CHECK_OK(nc_cfg_get_type(c, "model.name", &t));
    CHECK(t == NC_CFG_T_STR);
    CHECK_OK(nc_cfg_apply_override(c, "model.name=0x10"));
    CHECK_OK(nc_cfg_get_type(c, "model.name", &t));
    CHECK(t == NC_CFG_T_STR);
    CHECK_OK(nc_cfg_apply_override(c, "model.name=TRUE"));
    CHECK_OK(nc_cfg_get_bool(c, "model.name", &b));
    CHECK(b);
    double d = 0;
    CHECK_OK(nc_cfg_apply_override(c, "model.name=-inf"));
    CHECK_OK(nc_cfg_get_float(c, "model.name", &d));
    CHECK(isinf(d) && d < 0);
    CHECK_OK(nc_cfg_apply_override(c, "model.name=1e-4"));
    CHECK_OK(nc_cfg_get_float(c, "model.name", &d));
    CHECK_NEAR(d, 1e-4, 1e-18);
    CHECK_OK(nc_cfg_apply_override(c, "model.name=${trainer.devices}"));
    CHECK(geti(c, "model.name") == 2);
    CHECK_OK(nc_cfg_apply_override(c, "model.list.0=7"));
    CHECK(geti(c, "model.list[0]") == 7);
    CHECK_OK(nc_cfg_apply_override(c, "~model.list=[7, 4, 5]"));
    CHECK(!nc_cfg_has(c, "model.list"));

    /* Errors quote the override. */
    CHECK_ERR(nc_cfg_apply_override(c, "trainer.devicess=2"), NC_ERR_CONFIG,
              "override 'trainer.devicess=2': trainer.devicess: no such key (did you mean 'devices'?); to add a new key use +trainer.devicess=2");
    CHECK_ERR(nc_cfg_apply_override(c, "traner.devices=2"), NC_ERR_CONFIG, "traner: no such key (did you mean 'trainer'?)");
    CHECK_ERR(nc_cfg_apply_override(c, "+trainer.devices=3"), NC_ERR_CONFIG,
              "override '+trainer.devices=3': key 'trainer.devices' already exists; use trainer.devices=3");
    CHECK_ERR(nc_cfg_apply_override(c, "~trainer.nope"), NC_ERR_CONFIG, "override '~trainer.nope': trainer.nope: no such key");
    CHECK_ERR(nc_cfg_apply_override(c, "~trainer.devices=5"), NC_ERR_CONFIG, "the value is int '2', not '5'");
    CHECK_ERR(nc_cfg_apply_override(c, "trainer.devices"), NC_ERR_CONFIG, "override 'trainer.devices': expected key=value");
    CHECK_ERR(nc_cfg_apply_override(c, "=5"), NC_ERR_CONFIG, "override '=5': missing key");
    CHECK_ERR(nc_cfg_apply_override(c, "a..b=1"), NC_ERR_CONFIG, "override 'a..b=1': malformed key path 'a..b'");
    CHECK_ERR(nc_cfg_apply_override(c, "trainer.devices=[1, 2"), NC_ERR_CONFIG, "override 'trainer.devices=[1, 2'");
    CHECK_ERR(nc_cfg_apply_override(c, "trainer.devices='x'y"), NC_ERR_CONFIG, "override 'trainer.devices='x'y'");
    CHECK_ERR(nc_cfg_apply_override(c, "model/encoder=conformer"), NC_ERR_UNSUPPORTED, "config group");
    CHECK_ERR(nc_cfg_apply_override(c, "+trainer.devices.x=1"), NC_ERR_CONFIG, "trainer.devices: is int '2', not a map");
    CHECK_ERR(nc_cfg_apply_override(c, "tr ainer=1"), NC_ERR_CONFIG, "invalid character ' '");
    CHECK(geti(c, "trainer.devices") == 2); /* failed overrides change nothing */
    nc_cfg_free(c);
}

/* ---- typed getters ------------------------------------------------------------ */
static void test_getters(void) {
    nc_cfg *c = parse("model:\n"
                      "  encoder:\n"
                      "    d_model: 256\n"
                      "    name: conformer\n"
                      "    dropout: 0.1\n"
                      "    big: 99999999999999999999\n"
                      "    use: true\n"
                      "    nothing: null\n"
                      "    betas: [0.9, 0.98]\n"
                      "    names: [a, b, 3]\n"
                      "    mixed: [1, x]\n");
    if (!c) return;
    int64_t i;
    double f;
    bool b;
    const char *s;
    nc_cfg *enc;
    CHECK_OK(nc_cfg_get_node(c, "model.encoder", &enc));
    CHECK_ERR(nc_cfg_get_int(c, "model.encoder.d_modle", &i), NC_ERR_NOT_FOUND,
              "model.encoder.d_modle: no such key (did you mean 'd_model'?)");
    /* Paths relative to a sub-node still report the full key. */
    CHECK_ERR(nc_cfg_get_int(enc, "d_modle", &i), NC_ERR_NOT_FOUND, "model.encoder.d_modle: no such key (did you mean 'd_model'?)");
    CHECK_ERR(nc_cfg_get_int(enc, "name", &i), NC_ERR_CONFIG, "model.encoder.name (test.yaml:4): expected int, found string 'conformer'");
    CHECK_ERR(nc_cfg_get_int(enc, "dropout", &i), NC_ERR_CONFIG, "expected int, found float '0.1'");
    CHECK_ERR(nc_cfg_get_bool(enc, "name", &b), NC_ERR_CONFIG, "model.encoder.name (test.yaml:4): expected bool (");
    CHECK_ERR(nc_cfg_get_int(enc, "big", &i), NC_ERR_CONFIG, "out of the 64-bit range");
    CHECK_ERR(nc_cfg_get_str(c, "model", &s), NC_ERR_CONFIG, "model (test.yaml:2): expected string, found map with 1 keys");
    CHECK_ERR(nc_cfg_get_float(enc, "betas", &f), NC_ERR_CONFIG, "expected float, found list of 2 items");
    CHECK_ERR(nc_cfg_get_str(enc, "nothing", &s), NC_ERR_CONFIG, "expected string, found null");
    CHECK_ERR(nc_cfg_get_int(enc, "d_model.x", &i), NC_ERR_CONFIG, "model.encoder.d_model: cannot look up 'x' in int '256'");
    CHECK_ERR(nc_cfg_get_int(enc, "betas[5]", &i), NC_ERR_NOT_FOUND, "model.encoder.betas[5]: index out of range (the list has 2 items)");
    CHECK_ERR(nc_cfg_get_int(enc, "betas.x", &i), NC_ERR_CONFIG, "is a list; 'x' is not an index");
    CHECK_ERR(nc_cfg_get_int(enc, "a..b", &i), NC_ERR_INVALID_ARG, "malformed key path");
    CHECK_OK(nc_cfg_get_float(enc, "d_model", &f)); /* ints read as floats */
    CHECK(f == 256.0);
    CHECK_OK(nc_cfg_get_str(enc, "d_model", &s)); /* any scalar reads as text */
    CHECK_STR(s, "256");
    /* Defaults: absent or null; present values win. */
    CHECK_OK(nc_cfg_get_int_or(enc, "absent", 7, &i));
    CHECK(i == 7);
    CHECK_OK(nc_cfg_get_int_or(enc, "nothing", 8, &i));
    CHECK(i == 8);
    CHECK_OK(nc_cfg_get_int_or(enc, "d_model", 9, &i));
    CHECK(i == 256);
    CHECK_OK(nc_cfg_get_str_or(enc, "absent.deeper", NULL, &s));
    CHECK(s == NULL);
    CHECK_OK(nc_cfg_get_float_or(enc, "dropout", 0.5, &f));
    CHECK(f == 0.1);
    CHECK_OK(nc_cfg_get_bool_or(enc, "use", false, &b));
    CHECK(b);
    CHECK_ERR(nc_cfg_get_bool_or(enc, "name", false, &b), NC_ERR_CONFIG, "expected bool");
    double *fl = NULL;
    int64_t n = 0;
    CHECK_OK(nc_cfg_get_float_list(enc, "betas", &fl, &n));
    CHECK(n == 2 && fl && fl[1] == 0.98);
    nc_free(fl);
    const char **sl = NULL;
    CHECK_OK(nc_cfg_get_str_list(enc, "names", &sl, &n));
    CHECK(n == 3 && sl && !strcmp(sl[0], "a") && !strcmp(sl[2], "3"));
    nc_free(sl);
    int64_t *il = NULL;
    CHECK_ERR(nc_cfg_get_int_list(enc, "mixed", &il, &n), NC_ERR_CONFIG, "model.encoder.mixed[1] (test.yaml:11): expected int, found string 'x'");
    CHECK(il == NULL && n == 0);
    CHECK_ERR(nc_cfg_get_int_list(enc, "d_model", &il, &n), NC_ERR_CONFIG, "expected list, found int '256'");
    CHECK(nc_cfg_has(c, "model.encoder.betas[1]"));
    CHECK(!nc_cfg_has(c, "model.encoder.betas[2]"));

    static const char *const known[] = {"d_model", "name", "dropout", "big", "use", "nothing", "betas", "names", "mixed", NULL};
    CHECK_OK(nc_cfg_check_keys(c, "model.encoder", known));
    static const char *const fewer[] = {"d_model", "name", "dropout", "big", "use", "nothing", "beta", "names", "mixed", NULL};
    CHECK_ERR(nc_cfg_check_keys(c, "model.encoder", fewer), NC_ERR_CONFIG,
              "model.encoder (test.yaml:3): unknown key 'betas' (did you mean 'beta'?)");
    CHECK_ERR(nc_cfg_check_keys(c, "model.encoder.d_model", known), NC_ERR_CONFIG, "expected map");

    char key[128];
    nc_cfg *item;
    CHECK_OK(nc_cfg_get_node(c, "model.encoder.betas[1]", &item));
    CHECK_STR(nc_cfg_full_key(item, key, sizeof key), "model.encoder.betas[1]");
    nc_cfg_free(c);
}

/* ---- building, editing, merging ------------------------------------------------ */
static void test_editing(void) {
    nc_cfg *c;
    CHECK_OK(nc_cfg_new(NC_CFG_MAP, &c));
    CHECK_OK(nc_cfg_set_int(c, "a.b.c", 3));
    CHECK_OK(nc_cfg_set_float(c, "a.lr", 1e-5));
    CHECK_OK(nc_cfg_set_float(c, "a.one", 1.0));
    CHECK_OK(nc_cfg_set_bool(c, "a.flag", false));
    CHECK_OK(nc_cfg_set_str(c, "a.s", "123"));
    CHECK_OK(nc_cfg_set_null(c, "a.z"));
    CHECK_STR(nc_cfg_text(nc_cfg_child(nc_cfg_child(c, "a"), "lr")), "1.0e-05");
    CHECK_STR(nc_cfg_text(nc_cfg_child(nc_cfg_child(c, "a"), "one")), "1.0");
    CHECK_OK(nc_cfg_append(c, "a.list", NULL));
    nc_cfg *v;
    CHECK_OK(nc_cfg_new(NC_CFG_MAP, &v));
    CHECK_OK(nc_cfg_set_int(v, "k", 1));
    CHECK_OK(nc_cfg_append(c, "a.list", v));
    nc_cfg_free(v);
    CHECK(geti(c, "a.list[1].k") == 1);
    CHECK_OK(nc_cfg_set_node(c, "copy", nc_cfg_child(c, "a")));
    CHECK(geti(c, "copy.b.c") == 3);
    CHECK_OK(nc_cfg_set_int(c, "copy.list[1].k", 5));
    CHECK(geti(c, "a.list[1].k") == 1 && geti(c, "copy.list[1].k") == 5);
    CHECK_ERR(nc_cfg_set_int(c, "a.list[4]", 1), NC_ERR_NOT_FOUND, "a.list[4]: no such item");
    CHECK_ERR(nc_cfg_append(c, "a.b", NULL), NC_ERR_CONFIG, "a.b: cannot append to a map");
    CHECK_OK(nc_cfg_delete(c, "copy.b"));
    CHECK(!nc_cfg_has(c, "copy.b"));
    CHECK_ERR(nc_cfg_delete(c, "copy.bb"), NC_ERR_NOT_FOUND, "copy.bb: no such key");
    /* Iteration in key order. */
    nc_cfg *a = nc_cfg_child(c, "a");
    const char *order[] = {"b", "lr", "one", "flag", "s", "z", "list"};
    CHECK(nc_cfg_size(a) == 7);
    for (int64_t i = 0; i < nc_cfg_size(a) && i < 7; i++) CHECK_STR(nc_cfg_item_key(a, i), order[i]);
    /* Merge: maps by key, lists replaced, ??? does not overwrite. */
    nc_cfg *src = parse("a: {b: {d: 4}, lr: '?\?\?', list: [9], new: 1}\nextra: {x: 1}\n");
    CHECK_OK(nc_cfg_merge(c, src));
    CHECK(geti(c, "a.b.c") == 3 && geti(c, "a.b.d") == 4);
    double lr;
    CHECK_OK(nc_cfg_get_float(c, "a.lr", &lr));
    CHECK(lr == 1e-5);
    CHECK(nc_cfg_size(nc_cfg_child(a, "list")) == 1);
    CHECK(geti(c, "a.new") == 1 && geti(c, "extra.x") == 1);
    CHECK_STR(nc_cfg_item_key(a, nc_cfg_size(a) - 1), "new");
    nc_cfg_free(src);
    /* Merging a subtree of the same tree into itself. */
    CHECK_OK(nc_cfg_merge(nc_cfg_child(c, "extra"), c));
    CHECK(geti(c, "extra.a.b.c") == 3);
    /* Freeing a node inside a tree removes it. */
    nc_cfg_free(nc_cfg_child(c, "extra"));
    CHECK(!nc_cfg_has(c, "extra"));
    nc_cfg_free(c);
}

/* ---- emit / reparse round trip ---------------------------------------------- */
static void test_emit(void) {
    const char *y = "name: \"Conformer\"\n"
                    "quoted_num: '5'\n"
                    "yes_str: \"yes\"\n"
                    "y_str: 'y'\n"
                    "null_str: 'null'\n"
                    "inf_str: inf\n"
                    "miss: ?\?\?\n"
                    "plain_num: 5\n"
                    "float: 1e-3\n"
                    "bool: True\n"
                    "nul: ~\n"
                    "empty: ''\n"
                    "multi: |\n  a\n  b\n"
                    "unicode: \"héllo ✓\"\n"
                    "colon: \"a: b\"\n"
                    "hash: \"x #y\"\n"
                    "interp: ${name}_x\n"
                    "esc: \"\\x01tab\\t\"\n"
                    "list: [1, 'two', [3, {k: v}], {}, []]\n"
                    "nested: {a: {b: {c: 1}}}\n"
                    "'quoted key': 1\n"
                    "'123': int-looking key\n";
    nc_cfg *c = parse(y);
    if (!c) return;
    char *e1 = NULL, *e2 = NULL;
    size_t n1, n2;
    CHECK_OK(nc_cfg_emit(c, 0, &e1, &n1));
    nc_cfg *c2 = NULL;
    CHECK_OK(nc_cfg_parse(e1, n1, "emitted.yaml", &c2));
    if (c2) {
        CHECK_OK(nc_cfg_emit(c2, 0, &e2, &n2));
        CHECK(e1 && e2 && !strcmp(e1, e2));
        /* Every value reads back with the same type and text. */
        for (int64_t i = 0; i < nc_cfg_size(c); i++) {
            const char *k = nc_cfg_item_key(c, i);
            CHECK_STR(nc_cfg_item_key(c2, i), k);
            nc_cfg *a = nc_cfg_item(c, i), *b = nc_cfg_item(c2, i);
            CHECK(nc_cfg_kind_of(a) == nc_cfg_kind_of(b));
            if (nc_cfg_kind_of(a) == NC_CFG_SCALAR) {
                nc_test_checks++;
                if (nc_cfg_scalar_type(nc_cfg_text(a), nc_cfg_quoted(a)) != nc_cfg_scalar_type(nc_cfg_text(b), nc_cfg_quoted(b)))
                    nc_test_fail(__FILE__, __LINE__, "key %s changed type", k);
                if (strcmp(k, "nul")) CHECK_STR(nc_cfg_text(b), nc_cfg_text(a));
            }
        }
        CHECK_STR(gets(c2, "interp"), "Conformer_x");
    }
    /* Strings that would read back as other types are single-quoted. */
    CHECK(e1 && strstr(e1, "quoted_num: '5'\n") && strstr(e1, "yes_str: 'yes'\n") && strstr(e1, "y_str: 'y'\n"));
    CHECK(e1 && strstr(e1, "name: Conformer\n") && strstr(e1, "float: 1e-3\n") && strstr(e1, "miss: ?\?\?\n"));
    CHECK(e1 && strstr(e1, "list:\n- 1\n- two\n- - 3\n  - k: v\n- {}\n- []\n"));
    if (e1 && !strstr(e1, "list:\n- 1\n- two\n")) fprintf(stderr, "emitted:\n%s\n", e1);
    nc_free(e1);
    nc_free(e2);
    nc_cfg_free(c2);

    /* Resolving while emitting; the source tree is left as it was. */
    CHECK_OK(nc_cfg_emit(c, NC_CFG_EMIT_RESOLVE, &e1, &n1));
    CHECK(e1 && strstr(e1, "interp: Conformer_x\n"));
    CHECK_STR(nc_cfg_text(nc_cfg_child(c, "interp")), "${name}_x");
    nc_free(e1);
    /* Saving is atomic and loads back. */
    const char *dir = nc_test_tmpdir("cfg_emit");
    char path[4200];
    snprintf(path, sizeof path, "%s/hparams.yaml", dir);
    CHECK_OK(nc_cfg_save(c, path, NC_CFG_EMIT_RESOLVE));
    nc_cfg *back = NULL;
    CHECK_OK(nc_cfg_load(path, &back));
    if (back) CHECK_STR(gets(back, "interp"), "Conformer_x");
    nc_cfg_free(back);
    nc_cfg_free(c);
}

/* ---- a NeMo training config, loaded the way `nemoc asr train` does ----------- */
static void test_nemo_config(void) {
    const char *dir = nc_test_src("tests/data/config");
    const char *argv[] = {"--config-path", dir, "--config-name=conformer_ctc_bpe",
                          "model.train_ds.manifest_filepath=/data/train.json",
                          "model.validation_ds.manifest_filepath=[/data/a.json,/data/b.json]",
                          "model.tokenizer.dir=/data/tok", "trainer.devices=2", "trainer.precision=bf16-mixed",
                          "++model.train_ds.use_lhotse=True", "model.optim.lr=0.5", "~model.interctc",
                          "+model.encoder.extra=1"};
    nc_cfg *c = NULL;
    CHECK_OK(nc_cfg_load_args((int)(sizeof argv / sizeof *argv), argv, NULL, NULL, &c));
    if (!c) return;
    CHECK_STR(gets(c, "model.train_ds.manifest_filepath"), "/data/train.json");
    CHECK(geti(c, "model.train_ds.sample_rate") == 16000);
    CHECK(geti(c, "model.encoder.feat_in") == 80);
    CHECK(geti(c, "model.optim.sched.d_model") == 512);
    CHECK(geti(c, "trainer.devices") == 2);
    CHECK_STR(gets(c, "exp_manager.name"), "Conformer-CTC-BPE");
    double wd, dither;
    CHECK_OK(nc_cfg_get_float(c, "model.optim.weight_decay", &wd));
    CHECK(wd == 1e-3);
    CHECK_OK(nc_cfg_get_float(c, "model.preprocessor.dither", &dither));
    CHECK(dither == 1e-5);
    bool b;
    CHECK_OK(nc_cfg_get_bool(c, "trainer.enable_progress_bar", &b));
    CHECK(b);
    int64_t *ctx = NULL, n = 0;
    CHECK_OK(nc_cfg_get_int_list(c, "model.encoder.att_context_size", &ctx, &n));
    CHECK(n == 2 && ctx && ctx[0] == -1);
    nc_free(ctx);
    const char **vm = NULL;
    CHECK_OK(nc_cfg_get_str_list(c, "model.validation_ds.manifest_filepath", &vm, &n));
    CHECK(n == 2 && vm && !strcmp(vm[1], "/data/b.json"));
    nc_free(vm);
    CHECK(!nc_cfg_has(c, "model.interctc"));
    CHECK_ERR(nc_cfg_get_str(c, "model.train_ds.manifest_filepth", &(const char *){0}), NC_ERR_NOT_FOUND,
              "did you mean 'manifest_filepath'?");
    /* The model section saved alone (as model_config.yaml in a .nemo) must
     * not depend on the rest of the tree: copy it resolved. */
    nc_cfg *model = NULL;
    CHECK_OK(nc_cfg_copy(nc_cfg_child(c, "model"), true, &model));
    if (model) {
        char *text = NULL;
        size_t len;
        CHECK_OK(nc_cfg_emit(model, 0, &text, &len));
        CHECK(text && !strstr(text, "${"));
        CHECK(text && strstr(text, "\nencoder:\n  _target_: nemo.collections.asr.modules.ConformerEncoder\n  feat_in: 80\n"));
        nc_cfg *re = NULL;
        CHECK_OK(nc_cfg_parse(text, len, "model_config.yaml", &re));
        if (re) CHECK(geti(re, "optim.sched.d_model") == 512);
        nc_cfg_free(re);
        nc_free(text);
        nc_cfg_free(model);
    }
    nc_cfg_free(c);

    /* Unset mandatory values are reported with the override to use. */
    nc_cfg *raw = NULL;
    CHECK_OK(nc_cfg_load_hydra(dir, "conformer_ctc_bpe.yaml", &raw));
    if (raw) {
        CHECK_ERR(nc_cfg_get_str(raw, "model.tokenizer.dir", &(const char *){0}), NC_ERR_CONFIG,
                  "model.tokenizer.dir (");
        CHECK_ERR(nc_cfg_get_str(raw, "model.tokenizer.dir", &(const char *){0}), NC_ERR_CONFIG,
                  "conformer_ctc_bpe.yaml:41): missing mandatory value (?\?\?); set it in the config or with model.tokenizer.dir=...");
        nc_cfg_free(raw);
    }
    CHECK_ERR(nc_cfg_load_hydra(dir, "no_such_config", &raw), NC_ERR_NOT_FOUND, "config 'no_such_config' not found");
    const char *bad_args[] = {"--config-path", dir, "--config-name", "conformer_ctc_bpe", "--verbose"};
    CHECK_ERR(nc_cfg_load_args(5, bad_args, NULL, NULL, &raw), NC_ERR_INVALID_ARG, "unknown option '--verbose'");
    const char *bad_ov[] = {"-cp", dir, "-cn", "conformer_ctc_bpe", "trainer.gpus=1"};
    CHECK_ERR(nc_cfg_load_args(5, bad_ov, NULL, NULL, &raw), NC_ERR_CONFIG, "override 'trainer.gpus=1'");
    CHECK(raw == NULL);
}

/* ---- Hydra defaults lists --------------------------------------------------- */
static void put(const char *dir, const char *rel, const char *text) {
    char path[4400], cmd[4500];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
    CHECK(system(cmd) == 0);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void test_defaults_list(void) {
    const char *d = nc_test_tmpdir("cfg_defaults");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", d);
    put(dir, "main.yaml",
        "defaults:\n"
        "  - base\n"
        "  - model/encoder: conformer\n"
        "  - optional aug: missing\n"
        "  - tok@model.tokenizer: bpe\n"
        "  - glob@_global_: g\n"
        "  - hdr: h\n"
        "  - _self_\n"
        "  - nothing: null\n"
        "model:\n  encoder:\n    d_model: 512\n"
        "top: 1\n"
        "ref: ${model.encoder.n_layers}\n");
    put(dir, "base.yaml", "top: 0\nbase_key: b\n");
    put(dir, "model/encoder/conformer.yaml", "defaults:\n  - sub: x\nd_model: 256\nn_layers: 17\n");
    put(dir, "model/encoder/sub/x.yaml", "k: v\n");
    put(dir, "tok/bpe.yaml", "type: bpe\n");
    put(dir, "glob/g.yaml", "g: 1\n");
    put(dir, "hdr/h.yaml", "# a comment\n# @package _global_\nfrom_hdr: 1\n");
    nc_cfg *c = NULL;
    CHECK_OK(nc_cfg_load_hydra(dir, "main", &c));
    if (c) {
        CHECK(geti(c, "top") == 1); /* _self_ after base */
        CHECK_STR(gets(c, "base_key"), "b");
        CHECK(geti(c, "model.encoder.d_model") == 512);
        CHECK(geti(c, "model.encoder.n_layers") == 17);
        CHECK_STR(gets(c, "model.encoder.sub.k"), "v");
        CHECK_STR(gets(c, "model.tokenizer.type"), "bpe");
        CHECK(geti(c, "g") == 1 && geti(c, "from_hdr") == 1);
        CHECK(geti(c, "ref") == 17);
        CHECK(!nc_cfg_has(c, "defaults") && !nc_cfg_has(c, "aug") && !nc_cfg_has(c, "nothing"));
        int64_t v;
        CHECK_ERR(nc_cfg_get_int(c, "model.encoder.sub.k", &v), NC_ERR_CONFIG, "model.encoder.sub.k: expected int");
        nc_cfg_free(c);
    }
    /* Without _self_ the file's own keys come last. */
    put(dir, "noself.yaml", "defaults:\n  - base\ntop: 5\n");
    CHECK_OK(nc_cfg_load_hydra(dir, "noself.yaml", &c));
    if (c) CHECK(geti(c, "top") == 5);
    nc_cfg_free(c);
    put(dir, "selffirst.yaml", "defaults:\n  - _self_\n  - base\ntop: 5\n");
    CHECK_OK(nc_cfg_load_hydra(dir, "selffirst", &c));
    if (c) CHECK(geti(c, "top") == 0);
    nc_cfg_free(c);
    put(dir, "ovr.yaml", "defaults:\n  - override model/encoder: x\n");
    CHECK_ERR(nc_cfg_load_hydra(dir, "ovr", &c), NC_ERR_UNSUPPORTED, "'override' entries are not supported");
    put(dir, "miss.yaml", "defaults:\n  - model/encoder: nope\n");
    CHECK_ERR(nc_cfg_load_hydra(dir, "miss", &c), NC_ERR_NOT_FOUND, "model/encoder/nope.yaml");
    put(dir, "loop.yaml", "defaults:\n  - loop\n");
    CHECK_ERR(nc_cfg_load_hydra(dir, "loop", &c), NC_ERR_CONFIG, "nest deeper than");
    put(dir, "badlist.yaml", "defaults: 5\n");
    CHECK_ERR(nc_cfg_load_hydra(dir, "badlist", &c), NC_ERR_CONFIG, "'defaults' must be a list");
    CHECK(c == NULL);
}

/* ---- every allocation failure is reported, never crashes or leaks ------------ */
static void test_oom(void) {
    const char *y = "a: 1\nb:\n  c: [1, 2, {d: 'x_${a}'}]\n  e: ${b.c}\nf: &x {g: 1}\nh: {<<: *x, i: 2}\n";
    int ok_at = 0;
    for (int64_t fail_at = 1; fail_at < 400 && !ok_at; fail_at++) {
        nc_debug_alloc st = {.fail_at = fail_at};
        nc_allocator dbg = nc_debug_allocator(&st);
        nc_allocator prev = nc_set_allocator(&dbg);
        nc_cfg *c = NULL;
        char *out = NULL;
        size_t len;
        const char *s;
        nc_status r = nc_cfg_parse(y, strlen(y), "oom.yaml", &c);
        if (!r) r = nc_cfg_apply_override(c, "++b.z={k: [1, 2]}");
        if (!r) r = nc_cfg_get_str(c, "b.c[2].d", &s);
        if (!r) r = nc_cfg_emit(c, NC_CFG_EMIT_RESOLVE, &out, &len);
        if (!r) r = nc_cfg_resolve(c);
        nc_free(out);
        nc_cfg_free(c);
        nc_set_allocator(&prev);
        nc_test_checks++;
        if (r != NC_OK && r != NC_ERR_OOM) {
            nc_test_fail(__FILE__, __LINE__, "fail_at=%lld: %s: %s", (long long)fail_at, nc_status_str(r), nc_last_error());
            break;
        }
        if (st.live_blocks != 0)
            nc_test_fail(__FILE__, __LINE__, "fail_at=%lld: %lld blocks leaked", (long long)fail_at, (long long)st.live_blocks);
        if (r == NC_OK) ok_at = (int)fail_at;
    }
    CHECK(ok_at > 20);
}

int main(void) {
    test_types_table();
    test_yaml_load();
    test_interpolation();
    test_overrides();
    test_getters();
    test_editing();
    test_emit();
    test_nemo_config();
    test_defaults_list();
    test_oom();
    return nc_test_finish("test_config");
}
