/* Every built-in collection, registered once: a new collection is one line. */
#include "nemoc/collections.h"

#include <pthread.h>

#include "nemoc/asr_ctc.h"
#include "nemoc/llm_gpt.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static nc_status status;

static void register_all(void) {
    status = nc_asr_register();
    if (!status) status = nc_llm_register();
}

nc_status nc_register_collections(void) {
    pthread_once(&once, register_all);
    return status;
}
