/* Path walking and editing helpers shared by config_edit.c and
 * config_override.c. Not public. */
#ifndef NC_IO_CONFIG_EDIT_H
#define NC_IO_CONFIG_EDIT_H

#include "config/config_internal.h"

typedef struct cfg_seg {
    const char *s;
    size_t len;
    bool br; /* written as [..] */
} cfg_seg;

/* Splits "a.b[0].c" into segments pointing into path (nc_free *segs). */
nc_status cfg_split_path(const char *path, cfg_seg **segs, int *n);
/* Index of segment sg in a map or sequence, -1 when absent. */
int64_t cfg_find_seg(const nc_cfg *cont, const cfg_seg *sg);
/* NC_ERR_NOT_FOUND naming cont's key + sg, with a suggestion. */
nc_status cfg_missing_error(const nc_cfg *cont, const cfg_seg *sg);
/* Descends n segments of the raw tree; with `create`, missing map keys are
 * added as empty maps. */
nc_status cfg_walk(nc_cfg *node, const cfg_seg *segs, int n, bool create, nc_cfg **out);
/* Puts v (owned) under sg in cont, replacing an existing value in place. */
nc_status cfg_put(nc_cfg *cont, const cfg_seg *sg, nc_cfg *v);
/* Merges src (owned, consumed) into dst. */
nc_status cfg_merge_owned(nc_cfg *dst, nc_cfg *src);

#endif
