/* The ASR collection's table of model classes (NeMo class names). A new ASR
 * model type is one more line here. */
#include "nemoc/asr_ctc.h"
#include "nemoc/asr_hybrid.h"
#include "nemoc/asr_rnnt.h"

static const nc_model_class *const asr_classes[] = {
    &nc_ctc_model_class,
    &nc_ctc_bpe_model_class,
    &nc_rnnt_model_class,
    &nc_rnnt_bpe_model_class,
    &nc_hybrid_model_class,
    &nc_hybrid_bpe_model_class,
};

nc_status nc_asr_register(void) {
    return nc_model_register(asr_classes, (int64_t)(sizeof asr_classes / sizeof asr_classes[0]));
}
