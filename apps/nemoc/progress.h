/* Progress output for training: a live bar on a terminal, plain periodic
 * lines otherwise (logs, CI). */
#ifndef NC_APP_PROGRESS_H
#define NC_APP_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "nemoc/trainer.h"

typedef struct nc_progress {
    FILE *out;
    bool tty;
    bool enabled;       /* trainer.enable_progress_bar */
    bool bar_open;      /* a \r-line is on screen */
    double last_loss;
} nc_progress;

void nc_progress_init(nc_progress *p, FILE *out, bool enabled);
/* nc_train_event_fn; user_data is the nc_progress. */
void nc_progress_event(const nc_train_event *ev, void *user_data);

/* Progress of a job over a count of items (`nemoc data synth|rirs|perturb`):
 * a \r-line on a terminal, else a line every 10% with the seconds so far,
 * on stderr. */
typedef struct nc_count_progress {
    const char *label; /* "synth" */
    const char *unit;  /* "utterances" */
    bool tty;
    int64_t last_pct;
    double t0;
} nc_count_progress;

void nc_count_progress_init(nc_count_progress *p, const char *label, const char *unit);
/* A progress callback; user_data is the nc_count_progress. */
void nc_count_progress_fn(int64_t done, int64_t total, void *user_data);

#endif
