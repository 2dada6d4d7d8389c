/* model.data of NeMo's megatron_gpt_config.yaml -> nc_gpt_data_params: the
 * three data_prefix forms (a prefix, [w1, p1, w2, p2], a dict of splits),
 * seq_length through ${model.encoder_seq_length}, NeMo's defaults, and
 * errors that name the key (data_prefix ???, data_impl mock/lazy, a bad
 * splits_string, a dict without test). Then a config built from the
 * fixtures' prefixes builds its datasets. */
#include <stdio.h>
#include <string.h>

#include "nc_test.h"
#include "nemoc/config.h"
#include "nemoc/llm_data.h"

static nc_cfg *model_of(const char *yaml, nc_cfg **root) {
    *root = NULL;
    nc_cfg *m = NULL;
    CHECK_OK(nc_cfg_parse(yaml, strlen(yaml), "test.yaml", root));
    if (*root) CHECK_OK(nc_cfg_get_node(*root, "model", &m));
    return m;
}

static const char *BASE = "model:\n  encoder_seq_length: 64\n  seed: 7\n  data:\n";

static void expect_params(const char *data_yaml, nc_gpt_data_params *p, bool ok, const char *needle) {
    char yaml[2048];
    snprintf(yaml, sizeof yaml, "%s%s", BASE, data_yaml);
    nc_cfg *root, *m = model_of(yaml, &root);
    if (!m) return;
    if (ok) {
        CHECK_OK(nc_gpt_data_params_from_cfg(m, p));
    } else {
        CHECK_ERR(nc_gpt_data_params_from_cfg(m, p), NC_ERR_CONFIG, needle);
    }
    /* the strings point into the config: compare now */
    if (ok && !strcmp(needle, "list")) {
        CHECK(p->n_prefix == 4 && !strcmp(p->data_prefix[0], ".5") && !strcmp(p->data_prefix[3], "/d/b_text_document"));
        CHECK(!strcmp(p->splits_string, "900,50,50") && p->seq_length == 64 && p->seed == 7);
        CHECK(p->add_extra_token && p->shuffle_documents && p->validation_drop_last && !p->index_mapping_dir);
    } else if (ok && !strcmp(needle, "one")) {
        CHECK(p->n_prefix == 1 && !strcmp(p->data_prefix[0], "/d/a_text_document"));
        CHECK(p->seq_length == 32 && !p->add_extra_token && !p->shuffle_documents && !p->validation_drop_last);
        CHECK(!strcmp(p->index_mapping_dir, "/tmp/maps") && !strcmp(p->splits_string, "969,30,1"));
    } else if (ok && !strcmp(needle, "dict")) {
        CHECK(p->n_prefix == 0 && p->n_split_prefix[0] == 1 && p->n_split_prefix[1] == 4 && p->n_split_prefix[2] == 1);
        CHECK(!strcmp(p->split_prefix[1][3], "/d/b") && !strcmp(p->split_prefix[2][0], "/d/c"));
    }
    if (ok) nc_gpt_data_params_free(p);
    nc_cfg_free(root);
}

int main(void) {
    nc_gpt_data_params p;
    expect_params("    data_prefix: [.5, /d/a_text_document, .5, /d/b_text_document]\n    data_impl: mmap\n"
                  "    splits_string: 900,50,50\n    seq_length: ${model.encoder_seq_length}\n",
                  &p, true, "list");
    expect_params("    data_prefix: /d/a_text_document\n    seq_length: 32\n    index_mapping_dir: /tmp/maps\n"
                  "    no_seqlen_plus_one_input_tokens: true\n    shuffle_documents: false\n"
                  "    validation_drop_last: false\n",
                  &p, true, "one");
    expect_params("    data_prefix:\n      train: [/d/a]\n      validation: [.5, /d/a, .5, /d/b]\n      test: /d/c\n",
                  &p, true, "dict");
    expect_params("    data_prefix: ???\n", &p, false, "model.data.data_prefix");
    expect_params("    seq_length: 8\n", &p, false, "model.data.data_prefix");
    expect_params("    data_prefix: [a]\n    data_impl: mock\n", &p, false, "'mock' (random tokens) is not supported");
    expect_params("    data_prefix: [a]\n    data_impl: lazy\n", &p, false, "model.data.data_impl");
    expect_params("    data_prefix: [a]\n    splits_string: 98,2\n", &p, false, "model.data.splits_string");
    expect_params("    data_prefix:\n      train: [a]\n      validation: [a]\n", &p, false, "missing test");
    expect_params("    data_prefix:\n      train: [a]\n      validation: [a]\n      tests: [a]\n", &p, false, "tests");
    expect_params("    data_prefix: [a]\n    seq_length: 1\n", &p, false, "model.data.seq_length");

    /* A config over the fixtures builds its datasets. */
    char yaml[4096];
    const char *fx = nc_test_src("tests/ref/megatron_data");
    char fixture[1024];
    snprintf(fixture, sizeof fixture, "%s", fx);
    snprintf(yaml, sizeof yaml,
             "%s    data_prefix: [1, %s/a, 3, %s/b]\n    splits_string: 8,1,1\n    seq_length: 6\n"
             "    index_mapping_dir: %s\n",
             BASE, fixture, fixture, nc_test_tmpdir("llm_data_cfg"));
    nc_cfg *root, *m = model_of(yaml, &root);
    if (m) {
        CHECK_OK(nc_gpt_data_params_from_cfg(m, &p));
        p.num_samples[0] = 20;
        p.num_samples[1] = p.num_samples[2] = 4;
        nc_gpt_split_data *s[3] = {0};
        CHECK_OK(nc_gpt_build_datasets(&p, s));
        /* blended: ceil(20 * .25 * 1.005) + ceil(20 * .75 * 1.005) */
        if (s[0]) CHECK(nc_gpt_split_data_len(s[0]) == 6 + 16 && nc_gpt_split_data_sample_len(s[0]) == 7);
        for (int k = 0; k < 3; k++) nc_gpt_split_data_free(s[k]);
        nc_gpt_data_params_free(&p);
    }
    nc_cfg_free(root);
    return nc_test_finish("llm_data_cfg");
}
