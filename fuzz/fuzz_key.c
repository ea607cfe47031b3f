/*
 * fuzz_key.c - the object key parser (ivcs_layout_parse_key: every key a
 * bucket listing returns goes through it) and the picture-key check of the
 * viewer (ivcs_catalog_picture_key_ok: an event record's "picture" field
 * comes from the bucket). The whole input is one key; an accepted key must
 * be rebuilt byte for byte by the layout's builders (layout_modes.h).
 * When the input holds a NUL, the part before it is a record key and the
 * part after it that record's "picture" field: picture_key_ok may accept
 * only record_key with ".jpg" for ".json", and nothing when the record key
 * is not an event record.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/viewer/catalog.h"
#include "fuzz/layout_modes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    key_mode((const char *)data, size);
    const char *nul = memchr(data, 0, size);
    if (!nul) return 0;
    size_t rn = (size_t)(nul - (const char *)data);
    size_t pn = size - rn - 1;
    char *rec = malloc(rn + 1), *pic = malloc(pn + 1);
    if (!rec || !pic) abort();
    memcpy(rec, data, rn);
    rec[rn] = 0;
    memcpy(pic, nul + 1, pn);
    pic[pn] = 0;
    int ok = ivcs_catalog_picture_key_ok(rec, pic);
    if (ok) {
        size_t rl = strlen(rec), pl = strlen(pic);
        ivcs_key_info_s ki;
        if (ivcs_layout_parse_key(rec, rl, &ki) != 0 || ki.kind != IVCS_KEY_EVENT) abort();
        if (rl < 5 || pl != rl - 1 || memcmp(rec + rl - 5, ".json", 5) != 0 ||
            memcmp(pic, rec, rl - 5) != 0 || memcmp(pic + rl - 5, ".jpg", 4) != 0)
            abort();
    }
    free(rec);
    free(pic);
    return 0;
}
