/* `nemoc <collection> transcribe|eval` (transcribe_speech.py,
 * speech_to_text_eval.py): load a model of any registered class, check that
 * it belongs to the command's collection and can predict, hand it the
 * command's options, and write the lines it emits as the output manifest
 * (atomically: a failed run leaves no half-written file). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/strbuf.h"
#include "io/fileutil.h"
#include "nemoc/alloc.h"
#include "nemoc/collections.h"
#include "nemoc/model.h"

/* The driver's own options; the rest belong to the model class. */
static const char *const driver_keys[] = {"model_path", "output_filename", NULL};

static bool listed(const char *const *keys, const char *k, size_t kl) {
    for (int i = 0; keys && keys[i]; i++)
        if (strlen(keys[i]) == kl && !strncmp(keys[i], k, kl)) return true;
    return false;
}

typedef struct sink {
    nc_atomic_file *f;
} sink;

static nc_status emit(void *ud, const char *line) {
    sink *k = ud;
    nc_status s = nc_atomic_write(k->f, line, strlen(line));
    return s ? s : nc_atomic_write(k->f, "\n", 1);
}

void nc_cli_list_classes(const char *collection) {
    int64_t n;
    const nc_model_class *const *all = nc_model_classes(&n);
    for (int64_t i = 0; i < n; i++)
        if (!strcmp(all[i]->collection ? all[i]->collection : "", collection))
            printf("  %-62s %s\n", all[i]->target, all[i]->description ? all[i]->description : "");
}

static int fail(const nc_cli_collection *c, bool eval, const char *what) {
    fprintf(stderr, "nemoc %s %s: %s%s%s\n", c->name, eval ? "eval" : "transcribe", what ? what : "",
            what ? ": " : "", nc_last_error());
    return 1;
}

int nc_cli_predict(const nc_cli_collection *c, bool eval, int argc, char **argv) {
    const char *verb = eval ? "eval" : "transcribe";
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(eval ? c->eval_usage : c->predict_usage, stdout);
            return 0;
        }
    if (nc_register_collections()) return fail(c, eval, "registering the model classes");
    const char *model_path = NULL, *output = NULL;
    for (int i = 1; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i]) {
            fprintf(stderr, "nemoc %s %s: expected key=value, got '%s' (see --help)\n", c->name, verb, argv[i]);
            return 2;
        }
        if (!strncmp(argv[i], "model_path=", 11)) model_path = eq + 1;
        if (!strncmp(argv[i], "output_filename=", 16)) output = eq + 1;
    }
    if (!model_path || !model_path[0]) {
        fprintf(stderr, "nemoc %s %s: need model_path= (see --help)\n", c->name, verb);
        return 2;
    }
    nc_model *m = NULL;
    if (nc_model_load(model_path, &m)) return fail(c, eval, "loading the model");
    int rc = 1;
    nc_cfg *args = NULL;
    char *out_path = NULL;
    nc_predict_result res = {0};
    sink k = {0};
    if (nc_model_expect(m, c->name, true, c->what, model_path)) {
        fail(c, eval, NULL);
        goto done;
    }
    if (nc_cfg_new(NC_CFG_MAP, &args)) {
        fail(c, eval, NULL);
        goto done;
    }
    for (int i = 1; i < argc; i++) {
        size_t kl = (size_t)(strchr(argv[i], '=') - argv[i]);
        if (listed(driver_keys, argv[i], kl)) continue;
        if (!listed(m->cls->predict_keys, argv[i], kl)) {
            fprintf(stderr, "nemoc %s %s: unknown argument '%.*s' for a %s (see --help)\n", c->name, verb, (int)kl,
                    argv[i], m->cls->target);
            rc = 2;
            goto done;
        }
        char *ov = nc_strdupf("++%s", argv[i]);
        if (!ov) {
            fail(c, eval, "arguments");
            goto done;
        }
        nc_status s = nc_cfg_apply_override(args, ov);
        nc_free(ov);
        if (s) {
            fail(c, eval, NULL);
            rc = 2;
            goto done;
        }
    }
    if (!(out_path = output ? nc_strdup(output) : c->default_output(args))) {
        fail(c, eval, "output_filename");
        goto done;
    }
    if (nc_atomic_open(out_path, &k.f)) {
        fail(c, eval, NULL);
        goto done;
    }
    nc_predict_params pp = {.args = args, .output_path = out_path, .score = eval, .emit = emit, .user_data = &k};
    nc_status s = m->cls->predict(m, &pp, &res);
    if (s) {
        nc_atomic_abort(k.f);
        fail(c, eval, NULL);
        rc = s == NC_ERR_INVALID_ARG || s == NC_ERR_CONFIG ? 2 : 1;
        goto done;
    }
    if (res.n_inputs > 0 && res.n_written == 0) {
        /* Every input was skipped: an empty output and "WER nan" with exit 0
         * would read as success. */
        nc_atomic_abort(k.f);
        fprintf(stderr, "nemoc %s %s: nothing was %s: all %lld %s(s) were skipped for %s (see the warnings "
                        "above)\n", c->name, verb, eval ? "evaluated" : "transcribed", (long long)res.n_inputs,
                c->item, c->skip_reason);
        goto done;
    }
    if (nc_atomic_commit(k.f)) {
        fail(c, eval, out_path);
        goto done;
    }
    printf("transcribed %lld of %lld %ss -> %s\n", (long long)res.n_written, (long long)res.n_inputs, c->item,
           out_path);
    if (res.message[0]) printf("%s\n", res.message);
    if (res.n_skipped)
        fprintf(stderr, "nemoc %s %s: %lld %s(s) skipped for %s (see the warnings above; "
                        "skip_bad_audio=false makes this an error)\n", c->name, verb, (long long)res.n_skipped,
                c->item, c->skip_reason);
    if (eval && res.sums) {
        /* The model's metrics over the whole set (those it can score without
         * a loss), rates as "WER 3.50% (12 / 343)" on one line. */
        int shown = 0;
        for (int i = 0; i < m->cls->n_metrics; i++) {
            const nc_metric_def *d = &m->cls->metrics[i];
            double v = nc_metric_value(d, res.sums);
            if (isnan(v)) continue;
            printf("%s", shown++ ? "  " : "");
            for (const char *n = d->name; *n; n++) putchar(d->percent ? toupper((unsigned char)*n) : *n);
            if (d->percent) printf(" %.2f%% (%.0f / %.0f)", 100 * v, res.sums[d->num], res.sums[d->den]);
            else printf(" %.4f", v);
        }
        if (shown) putchar('\n');
        const char *head = c->eval_headline ? c->eval_headline(args) : NULL;
        int hi = head ? nc_model_metric_index(m, head) : -1;
        if (hi >= 0) {
            const double v = nc_metric_value(&m->cls->metrics[hi], res.sums);
            if (!isfinite(v)) {
                fprintf(stderr, "nemoc %s eval: %s cannot be computed: the references of the %lld %s(s) hold "
                                "nothing to score against (empty \"text\")\n",
                        c->name, head, (long long)res.n_written, c->item);
                goto done;
            }
            printf("%s: %.4f\n", head, v);
        }
    }
    rc = 0;
done:
    nc_free(res.sums);
    nc_free(out_path);
    nc_cfg_free(args);
    nc_model_free(m);
    return rc;
}
