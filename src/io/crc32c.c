/* Table-driven CRC-32C (reflected polynomial 0x82F63B78). */
#include "io/crc32c.h"

#include <pthread.h>

static uint32_t table[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
}

uint32_t nc_crc32c(uint32_t crc, const void *data, size_t len) {
    pthread_once(&once, init_table);
    const unsigned char *p = data;
    crc = ~crc;
    while (len--) crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t nc_crc32c_masked(const void *data, size_t len) {
    uint32_t c = nc_crc32c(0, data, len);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}
