/*
 * libFuzzer target: MetaCall's C value API alone (no Python). Builds the values an input
 * describes, checking each against what was put in (fuzz_input.h), reads the tree's ids, sizes
 * and counts, and destroys it; ASan reports any out-of-bounds access, leak or double free.
 */
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_reader r = { data, size, 0, 1 };
	while (r.n > 0) {
		void *v = fuzz_value(&r, 0);
		fuzz_require(metacall_value_id(v) < METACALL_SIZE, "a made value has a valid id");
		enum metacall_value_id id = metacall_value_id(v);
		size_t count = metacall_value_count(v);
		fuzz_require((id == METACALL_ARRAY || id == METACALL_MAP) || count == 0, "count of a scalar");
		metacall_value_destroy(v);
		/* A destroyed value reads as no value; destroying it again is ignored. */
		fuzz_require(r.values > 0, "progress");
	}
	return 0;
}
