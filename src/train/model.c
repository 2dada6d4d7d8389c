/* Generic parts of the model interface. */
#include "nemoc/model.h"

#include "nemoc/alloc.h"

void nc_model_free(nc_model *m) {
    if (!m) return;
    if (m->ops && m->ops->destroy) m->ops->destroy(m);
    nc_params_free(m->params);
    nc_cfg_free(m->cfg);
    for (int i = 0; i < m->n_artifacts; i++) {
        nc_free(m->artifacts[i].key);
        nc_free(m->artifacts[i].name);
        nc_free(m->artifacts[i].data);
    }
    nc_free(m);
}

double nc_metric_loss(const nc_metric_acc *a) {
    return a->loss_count ? a->loss_sum / (double)a->loss_count : 0.0;
}

void nc_metric_acc_add(nc_metric_acc *dst, const nc_metric_acc *src) {
    dst->loss_sum += src->loss_sum;
    dst->loss_count += src->loss_count;
    nc_edit_counts_add(&dst->words, &src->words);
    nc_edit_counts_add(&dst->chars, &src->chars);
    dst->n_utts += src->n_utts;
}
