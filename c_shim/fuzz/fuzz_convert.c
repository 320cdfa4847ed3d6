/*
 * libFuzzer target: argument and result conversion through the call path. Up to four values
 * decoded from the input are passed to a Python function that returns them as a list, so each
 * crosses C -> Python -> C. Whatever the values (invalid UTF-8, MAPs with bad entries or keys
 * equal in Python, NULL slots, arrays 20,000 deep), the call must answer with a valid value
 * (the list, or a THROWABLE that can be read), the arguments stay the caller's, and the next
 * call works. Runs the real embedded runtime, so it starts Python once.
 */
#include "fuzz_input.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char script[] = "def echo_all(*args):\n    return list(args)\n\n\ndef ok():\n    return 7\n";
static void *echo_all, *ok;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_require(metacall_initialize() == 0, "metacall_initialize");
	fuzz_require(metacall_load_from_memory("py", script, sizeof(script), NULL) == 0, "load");
	echo_all = metacall_function("echo_all");
	ok = metacall_function("ok");
	fuzz_require(echo_all != NULL && ok != NULL, "functions loaded");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_reader r = { data, size, 0, 0 };
	size_t n = (size_t)fuzz_take(&r, 1) % 5;
	void *args[4];
	for (size_t i = 0; i < n; ++i)
		args[i] = fuzz_value(&r, 0);
	void *ret = metacallfv_s(echo_all, args, n);
	enum metacall_value_id id = metacall_value_id(ret);
	fuzz_require(id == METACALL_ARRAY || id == METACALL_THROWABLE, "the answer is the list or a THROWABLE");
	if (id == METACALL_ARRAY) {
		fuzz_require(metacall_value_count(ret) == n, "one element per argument");
	} else {
		struct metacall_exception_type ex;
		fuzz_require(metacall_error_from_value(ret, &ex) == 0 && ex.label != NULL && ex.message != NULL,
			     "a readable THROWABLE");
	}
	metacall_value_destroy(ret);
	for (size_t i = 0; i < n; ++i) {
		fuzz_require(metacall_value_id(args[i]) != METACALL_INVALID, "arguments stay the caller's");
		metacall_value_destroy(args[i]);
	}
	void *after = metacallfv_s(ok, NULL, 0);
	fuzz_require(metacall_value_to_long(after) == 7, "the next call works");
	metacall_value_destroy(after);
	return 0;
}
