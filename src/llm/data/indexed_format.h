/* Constants of Megatron's MMapIndexedDataset index (indexed_dataset.py,
 * MMapIndexedDataset.Index). Not public. */
#ifndef NC_LLM_DATA_INDEXED_FORMAT_H
#define NC_LLM_DATA_INDEXED_FORMAT_H

/* _HDR_MAGIC = b'MMIDIDX\x00\x00' (9 bytes, the last two NULs included). */
#define NC_IDX_MAGIC "MMIDIDX\0\0"
#define NC_IDX_MAGIC_LEN 9
/* magic, version <Q, dtype code <B, len(sizes) <Q, len(doc_idx) <Q. */
#define NC_IDX_HEADER_LEN (9 + 8 + 1 + 8 + 8)

#endif
