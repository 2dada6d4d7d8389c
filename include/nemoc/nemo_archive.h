/* .nemo archives (NeMo's SaveRestoreConnector, nemo/core/connectors/save_restore_connector.py).
 *
 * A .nemo is a tar (uncompressed since NeMo 1.7; gzip before) made with
 * tarfile.add(folder, arcname="."), so members are "./model_config.yaml",
 * "./model_weights.ckpt" (torch.save of the state_dict, see torch_ckpt.h)
 * and artifacts renamed "<uuid4 hex>_<basename>" that the config refers to
 * as "nemo:<uuid4 hex>_<basename>".
 *
 * Reading indexes the members once (libarchive). In an uncompressed tar a
 * member's bytes lie verbatim in the file, so members, including the weights
 * zip, are read in place with random access; a gzip tar is decompressed
 * again for each member read. */
#ifndef NEMOC_NEMO_ARCHIVE_H
#define NEMOC_NEMO_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nemoc/status.h"
#include "nemoc/torch_ckpt.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nc_nemo nc_nemo;

typedef struct nc_nemo_member {
    const char *name; /* as stored: "./model_config.yaml" */
    const char *path; /* without leading "./": "model_config.yaml" (what lookups match) */
    int64_t size;
    bool is_file; /* a regular file; folders and links are listed but cannot be read */
} nc_nemo_member;

/* Opens and indexes a .nemo file (uncompressed or gzip tar). */
nc_status nc_nemo_open(const char *path, nc_nemo **out);
/* Same over memory that must outlive the handle; `what` names it in messages. */
nc_status nc_nemo_open_mem(const void *buf, size_t len, const char *what, nc_nemo **out);
void nc_nemo_close(nc_nemo *n);

bool nc_nemo_compressed(const nc_nemo *n); /* gzip tar (NeMo < 1.7) */
int64_t nc_nemo_count(const nc_nemo *n);
const nc_nemo_member *nc_nemo_member_at(const nc_nemo *n, int64_t i);
/* Looks a member up by "x", "./x" or "nemo:x" (config references); when a
 * name repeats, the last member wins, as when tar extracts. NULL if absent. */
const nc_nemo_member *nc_nemo_find(const nc_nemo *n, const char *name);

/* Reads a member into a new nc_malloc'd buffer with a NUL byte after the
 * data (so text can be used as a C string); free with nc_free. */
nc_status nc_nemo_read(const nc_nemo *n, const char *name, void **buf, size_t *len);
/* model_config.yaml as text. */
nc_status nc_nemo_read_config(const nc_nemo *n, char **yaml, size_t *len);
/* Copies a member into <dir>/<member path> (atomically). Only plain file
 * names are accepted (no '/', no ".."), as artifacts are top-level. */
nc_status nc_nemo_extract(const nc_nemo *n, const char *name, const char *dir);
/* Reads the state_dict in `member` (NULL: "model_weights.ckpt"; a
 * model-parallel file is e.g. "mp_rank_00/model_weights.ckpt"). */
nc_status nc_nemo_load_weights(const nc_nemo *n, const char *member, const nc_torch_read_params *params,
                               nc_tensor_list *out);

/* NeMo's artifact name for a file: "<uuid4().hex>_<basename of path>", the
 * UUID from /dev/urandom. `cap` must hold 33 + strlen(basename) + 1 bytes. */
nc_status nc_nemo_artifact_name(const char *path, char *out, size_t cap);

typedef struct nc_nemo_artifact {
    const char *name; /* member name, a plain file name ("<uuid>_tokenizer.model") */
    const char *path; /* copy this file, or, when NULL, ... */
    const void *data; /* ... these len bytes */
    size_t len;
} nc_nemo_artifact;

typedef struct nc_nemo_contents {
    const char *config_yaml; /* model_config.yaml text */
    size_t config_len;       /* 0: strlen(config_yaml) */
    const nc_named_tensor *tensors; /* model_weights.ckpt */
    int64_t n_tensors;
    const nc_nemo_artifact *artifacts;
    int64_t n_artifacts;
} nc_nemo_contents;

/* Writes a .nemo as NeMo does (uncompressed tar, members under "./"),
 * atomically. The weights are streamed into the tar, not staged in memory. */
nc_status nc_nemo_save(const char *path, const nc_nemo_contents *c);

#ifdef __cplusplus
}
#endif
#endif
