/* The monotonic clock every timer in nemoc reads (profiling, data-loader
 * waits, progress, time limits). Not public. */
#ifndef NC_CORE_CLOCK_H
#define NC_CORE_CLOCK_H

/* Seconds on CLOCK_MONOTONIC: only differences mean anything, and they do
 * not jump when the wall clock is set. */
double nc_now_s(void);

#endif
