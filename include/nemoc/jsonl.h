/* JSON Lines: one JSON value per line (NeMo manifests, metrics logs).
 *
 * The reader streams a file (or a buffer) line by line with no fixed line
 * cap, parses each line with cJSON and hands back the object together with
 * its 1-based line number. Blank lines are skipped, a trailing CR and a
 * UTF-8 byte order mark on the first line are ignored. A malformed line is
 * an NC_ERR_FORMAT naming "file:line" with an excerpt; the reader then
 * carries on with the next line, so a caller may skip bad lines. */
#ifndef NEMOC_JSONL_H
#define NEMOC_JSONL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "nemoc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc_jsonl_opts {
    int64_t max_line_bytes; /* longer lines are an error (0: no limit) */
    bool any_value;         /* accept any JSON value, not only objects */
} nc_jsonl_opts;

nc_jsonl_opts nc_jsonl_default_opts(void);

typedef struct nc_jsonl_reader nc_jsonl_reader;

/* opts may be NULL (defaults). Only a regular file is read: a FIFO, device
 * or folder is refused with a message naming it. */
nc_status nc_jsonl_open(const char *path, const nc_jsonl_opts *opts, nc_jsonl_reader **out);
/* Reads from memory that must outlive the reader; `name` labels errors. */
nc_status nc_jsonl_open_mem(const void *buf, size_t len, const char *name, const nc_jsonl_opts *opts,
                            nc_jsonl_reader **out);
/* The next value: NC_OK with *obj set (free with cJSON_Delete), or NC_OK
 * with *obj NULL at the end. */
nc_status nc_jsonl_next(nc_jsonl_reader *r, cJSON **obj);
/* Line number of the value (or error) last returned; 0 before the first. */
int64_t nc_jsonl_line(const nc_jsonl_reader *r);
const char *nc_jsonl_name(const nc_jsonl_reader *r);
void nc_jsonl_close(nc_jsonl_reader *r);

/* Writer: each value becomes one line, written with a single write(2) to a
 * file opened in append mode, so lines from concurrent writers do not
 * interleave. */
typedef struct nc_jsonl_writer nc_jsonl_writer;

/* append=false truncates an existing file. Only a regular file (or a new
 * one) is written: a FIFO, device or folder is refused. */
nc_status nc_jsonl_writer_open(const char *path, bool append, nc_jsonl_writer **out);
nc_status nc_jsonl_write(nc_jsonl_writer *w, const cJSON *value);
/* Flushes to disk (fsync). */
nc_status nc_jsonl_writer_sync(nc_jsonl_writer *w);
nc_status nc_jsonl_writer_close(nc_jsonl_writer *w);
/* Opens, appends one line, closes. */
nc_status nc_jsonl_append(const char *path, const cJSON *value);

#ifdef __cplusplus
}
#endif
#endif
