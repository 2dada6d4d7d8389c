/* TensorBoard event files (TFRecord-framed Event protos with scalar summaries),
 * written as Lightning's TensorBoardLogger does under the experiment's log dir,
 * so `tensorboard --logdir` shows nemoc runs. */
#ifndef NEMOC_TENSORBOARD_H
#define NEMOC_TENSORBOARD_H

#include <stddef.h>
#include <stdint.h>

#include "nemoc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc_tb_writer nc_tb_writer;

/* Creates events.out.tfevents.<time>.<host>.<pid>.0 in `dir` with the
 * file_version record. */
nc_status nc_tb_open(const char *dir, nc_tb_writer **out);
nc_status nc_tb_scalar(nc_tb_writer *w, const char *tag, double value, int64_t step);
nc_status nc_tb_flush(nc_tb_writer *w);
/* Closes and frees w; an error if buffered events could not be written. */
nc_status nc_tb_close(nc_tb_writer *w);
const char *nc_tb_path(const nc_tb_writer *w);

/* Reads back an event file: calls fn for every scalar (tests, tools).
 * Verifies both CRCs of every record. */
typedef void (*nc_tb_scalar_fn)(const char *tag, double value, int64_t step, double wall_time,
                                void *user_data);
nc_status nc_tb_read(const char *path, nc_tb_scalar_fn fn, void *user_data, int64_t *n_records);

#ifdef __cplusplus
}
#endif
#endif
