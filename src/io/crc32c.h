/* CRC-32C (Castagnoli), as used by TFRecord framing in TensorBoard event files. */
#ifndef NC_IO_CRC32C_H
#define NC_IO_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t nc_crc32c(uint32_t crc, const void *data, size_t len);
/* TFRecord's masked CRC: rotate right by 15 and add 0xa282ead8. */
uint32_t nc_crc32c_masked(const void *data, size_t len);

#endif
