/* Training progress: tqdm-like bar on a terminal, log lines otherwise. */
#include "progress.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"

void nc_progress_init(nc_progress *p, FILE *out, bool enabled) {
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = isatty(fileno(out));
    p->enabled = enabled;
    p->last_loss = NAN;
}

static void fmt_time(double s, char *buf, size_t len) {
    if (!(s >= 0) || !isfinite(s)) {
        snprintf(buf, len, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, len, "%02ld:%02ld", t / 60, t % 60);
}

static void close_bar(nc_progress *p) {
    if (p->bar_open) fputc('\n', p->out);
    p->bar_open = false;
}

void nc_progress_event(const nc_train_event *ev, void *ud) {
    nc_progress *p = ud;
    char el[32], eta[32], rate[96];
    fmt_time(ev->elapsed_s, el, sizeof el);
    fmt_time(ev->eta_s, eta, sizeof eta);
    switch (ev->kind) {
    case NC_EV_START:
        fprintf(p->out, "training: %lld batches per epoch, max_steps %lld, logs in %s\n",
                (long long)ev->batches_per_epoch, (long long)ev->max_steps, ev->log_dir);
        break;
    case NC_EV_STEP:
        p->last_loss = ev->loss;
        /* the model's throughput unit: "72.1 utt/s 190.3 audio-s/s", "5120.0 tok/s" */
        int n = snprintf(rate, sizeof rate, "%.1f %s/s", ev->items_per_s, ev->item_unit ? ev->item_unit : "it");
        if (ev->seconds_unit && n > 0 && n < (int)sizeof rate)
            snprintf(rate + n, sizeof rate - (size_t)n, " %.1f %s/s", ev->seconds_per_s, ev->seconds_unit);
        if (!p->enabled && p->tty) break; /* off the terminal these are log lines */
        if (p->tty) {
            double frac = ev->batches_per_epoch > 0 ? (double)ev->batch / (double)ev->batches_per_epoch : 0;
            int fill = (int)(frac * 20 + 0.5);
            char bar[64];
            for (int i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '.';
            bar[20] = 0;
            fprintf(p->out,
                    "\rEpoch %lld: %3.0f%%|%s| %lld/%lld [%s<%s, step %lld, loss=%.4f, lr=%.2e, %s]   ",
                    (long long)ev->epoch, 100 * frac, bar, (long long)ev->batch,
                    (long long)ev->batches_per_epoch, el, eta, (long long)ev->global_step, ev->loss,
                    ev->lr, rate);
            p->bar_open = true;
        } else {
            fprintf(p->out,
                    "epoch %lld step %lld/%lld loss %.4f lr %.3e %s elapsed %s eta %s\n",
                    (long long)ev->epoch, (long long)ev->global_step, (long long)ev->max_steps,
                    ev->loss, ev->lr, rate, el, eta);
        }
        fflush(p->out);
        break;
    case NC_EV_VALIDATION:
        close_bar(p);
        fprintf(p->out, "validation at step %lld (epoch %lld):", (long long)ev->global_step, (long long)ev->epoch);
        for (int i = 0; i < ev->n_metrics; i++) {
            if (ev->metric_percent[i])
                fprintf(p->out, " %s %.2f%%", ev->metric_names[i], 100 * ev->metric_values[i]);
            else
                fprintf(p->out, " %s %.4f", ev->metric_names[i], ev->metric_values[i]);
        }
        fputc('\n', p->out);
        fflush(p->out);
        break;
    case NC_EV_CHECKPOINT:
        if (!p->tty) {
            fprintf(p->out, "saved %s\n", ev->message);
            fflush(p->out);
        }
        break;
    case NC_EV_WARNING:
        close_bar(p);
        fprintf(p->out, "warning: %s\n", ev->message);
        break;
    case NC_EV_END:
        close_bar(p);
        fprintf(p->out, "finished at step %lld (epoch %lld) after %s (waiting for data %.1f s, %.1f%%)\n",
                (long long)ev->global_step, (long long)ev->epoch, el, ev->data_wait_s,
                ev->elapsed_s > 0 ? 100 * ev->data_wait_s / ev->elapsed_s : 0.0);
        break;
    }
}

void nc_count_progress_init(nc_count_progress *p, const char *label, const char *unit) {
    *p = (nc_count_progress){.label = label, .unit = unit, .tty = isatty(2), .last_pct = 0, .t0 = nc_now_s()};
}

void nc_count_progress_fn(int64_t done, int64_t total, void *user_data) {
    nc_count_progress *p = user_data;
    const int64_t pct = total > 0 ? done * 100 / total : 100;
    if (p->tty) {
        fprintf(stderr, "\r%s: %lld/%lld %s (%lld%%)", p->label, (long long)done, (long long)total, p->unit,
                (long long)pct);
        if (done == total) fprintf(stderr, "\n");
    } else if (pct / 10 > p->last_pct / 10 || done == total) {
        fprintf(stderr, "%s: %lld/%lld %s, %.1f s\n", p->label, (long long)done, (long long)total, p->unit,
                nc_now_s() - p->t0);
    }
    p->last_pct = pct;
}
