/* Progress output for training: a live bar on a terminal, plain periodic
 * lines otherwise (logs, CI). */
#ifndef NC_APP_PROGRESS_H
#define NC_APP_PROGRESS_H

#include <stdbool.h>
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

#endif
