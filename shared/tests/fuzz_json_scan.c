/*
 * fuzz_json_scan.c: libFuzzer entry point for ah_json_scan_member (built
 * only with -DAIHUB_FUZZ=ON and clang), a differential check against
 * jansson. The first input byte picks the member looked for ("usage",
 * "usageMetadata" or "choices"); the rest is the document. Whenever the scan
 * answers FOUND or ABSENT, json_loadb must accept the document and its
 * member must be, respectively, what json_loadb reads from the value's text,
 * or absent. Any mismatch aborts.
 *
 * Run: ./fuzz_json_scan -max_total_time=20 ../shared/tests/fixtures
 */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "aihub/json_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *names[] = {"usage", "usageMetadata", "choices"};
    if (size == 0)
        return 0;
    const char *name = names[data[0] % 3], *doc = (const char *)data + 1, *val = NULL;
    size_t len = size - 1, vlen = 0;
    int rv = ah_json_scan_member(doc, len, name, &val, &vlen);
    if (rv == AH_JSON_SCAN_UNSURE)
        return 0;
    json_t *full = json_loadb(doc, len, 0, NULL);
    check(full != NULL);
    json_t *want = json_object_get(full, name);
    if (rv == AH_JSON_SCAN_ABSENT) {
        check(want == NULL);
    } else {
        check(val >= doc && val + vlen <= doc + len);
        json_t *got = json_loadb(val, vlen, JSON_DECODE_ANY, NULL);
        check(got != NULL && want != NULL && json_equal(got, want));
        json_decref(got);
    }
    json_decref(full);
    return 0;
}
