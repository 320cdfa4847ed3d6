/*
 * libFuzzer target: private handles (handle.c, bridge/handles.py) driven by the input. The
 * input is a program of operations on up to four handles: load into a new handle or into one
 * that exists (with a tag and function names from the input), call, look up and export by
 * names that are any bytes, clear, inspect. Whatever happens, every answer is well formed (a
 * load succeeds exactly when it gives a handle; a call answers a value or a readable
 * THROWABLE; an export is NULL or a MAP of name -> FUNCTION; inspect's size counts its text),
 * and a call of a global function works afterwards.
 *
 * The scripts are made from a template: the input chooses the function names from letters,
 * digits, '_', a non-ASCII letter and a byte that is not UTF-8, so it can make a load fail in
 * every way (syntax, decoding, a taken name) but never writes code of its own.
 */
#include "fuzz_input.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SLOTS 4
#define MAX_NAME 24
#define MAX_FUNCTIONS 4

static const char script[] = "def ok():\n    return 7\n";
static void *ok;
static const char *const tags[] = { "py", "py", "py", "", "nope", "p\xffy" };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_require(metacall_initialize() == 0, "metacall_initialize");
	fuzz_require(metacall_load_from_memory("py", script, sizeof(script), NULL) == 0, "load");
	ok = metacall_function("ok");
	fuzz_require(ok != NULL, "ok loaded");
	return 0;
}

/* A function name from the input's alphabet (see the top), NUL-terminated. */
static void template_name(struct fuzz_reader *r, char *out)
{
	static const char letters[] = "abcdefghijklmnopqrstuvwxyz_0123456789";
	size_t len = 1 + (size_t)fuzz_take(r, 1) % 8, at = 0;
	for (size_t i = 0; i < len && at + 3 < MAX_NAME; ++i) {
		unsigned c = (unsigned)fuzz_take(r, 1);
		if (c == 0xfe) {
			memcpy(out + at, "\xc3\xa9", 2); /* é: a letter in Python */
			at += 2;
		} else if (c == 0xff) {
			out[at++] = '\xff'; /* not UTF-8: the load cannot decode the script */
		} else {
			out[at++] = letters[c % (sizeof(letters) - 1)];
		}
	}
	out[at] = '\0';
}

/* A script of up to MAX_FUNCTIONS functions named by the input; its length. */
static size_t template_script(struct fuzz_reader *r, char *out, size_t cap)
{
	size_t n = 1 + (size_t)fuzz_take(r, 1) % MAX_FUNCTIONS, len = 0;
	for (size_t i = 0; i < n; ++i) {
		char name[MAX_NAME];
		template_name(r, name);
		int wrote = snprintf(out + len, cap - len, "def %s(*args):\n    return len(args)\n", name);
		if (wrote < 0 || (size_t)wrote >= cap - len)
			break;
		len += (size_t)wrote;
	}
	return len;
}

/* Any bytes as a C string (it ends at the first NUL, as a host's would). */
static void raw_name(struct fuzz_reader *r, char *out)
{
	size_t len = (size_t)fuzz_take(r, 1) % MAX_NAME;
	for (size_t i = 0; i < len; ++i)
		out[i] = (char)fuzz_take(r, 1);
	out[len] = '\0';
}

static void require_answer(void *v)
{
	enum metacall_value_id id = metacall_value_id(v);
	fuzz_require(id != METACALL_INVALID, "a call answers a value");
	if (id == METACALL_THROWABLE) {
		struct metacall_exception_type ex;
		fuzz_require(metacall_error_from_value(v, &ex) == 0 && ex.label != NULL && ex.message != NULL,
			     "a readable THROWABLE");
	}
	metacall_value_destroy(v);
}

static void require_export(void *v)
{
	if (v == NULL)
		return;
	fuzz_require(metacall_value_id(v) == METACALL_MAP, "an export is a MAP");
	void **tuples = metacall_value_to_map(v);
	for (size_t i = 0; i < metacall_value_count(v); ++i) {
		void **pair = metacall_value_to_array(tuples[i]);
		fuzz_require(pair != NULL && metacall_value_id(pair[0]) == METACALL_STRING &&
				     metacall_value_id(pair[1]) == METACALL_FUNCTION &&
				     metacall_value_to_function(pair[1]) != NULL,
			     "an export maps names to functions");
	}
	metacall_value_destroy(v);
}

struct slot {
	void *handle;
	int cleared;
};

static void load(struct fuzz_reader *r, struct slot *slot, int into)
{
	char text[MAX_FUNCTIONS * (MAX_NAME + 48) + 1];
	const char *tag = tags[fuzz_take(r, 1) % (sizeof(tags) / sizeof(tags[0]))];
	size_t len = template_script(r, text, sizeof(text));
	size_t size = len + (fuzz_take(r, 1) & 1); /* with or without the NUL MetaCall counts */
	void *before = into ? slot->handle : NULL;
	void *handle = before;
	int rc = metacall_load_from_memory(tag, text, size, &handle);
	if (before != NULL) {
		fuzz_require(handle == before, "a load into a handle keeps it");
	} else {
		fuzz_require((rc == 0) == (handle != NULL), "a new handle exactly when the load succeeds");
		if (handle != NULL) {
			if (slot->handle != NULL && !slot->cleared)
				fuzz_require(metacall_clear(slot->handle) == 0, "a handle clears");
			slot->handle = handle;
			slot->cleared = 0;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_reader r = { data, size, 0, 0 };
	struct slot slots[SLOTS] = { { NULL, 0 } };
	for (int ops = 0; r.n > 0 && ops < 32; ++ops) {
		unsigned op = (unsigned)fuzz_take(&r, 1);
		struct slot *slot = &slots[(op >> 3) % SLOTS];
		char name[MAX_NAME + 1];
		switch (op & 7) {
		case 0:
			load(&r, slot, 0);
			break;
		case 1:
			load(&r, slot, 1);
			break;
		case 2:
			raw_name(&r, name);
			require_answer(metacallhv_s(slot->handle, name, NULL, 0));
			break;
		case 3: {
			raw_name(&r, name);
			void *f = metacall_handle_function(slot->handle, name);
			if (f != NULL) {
				int is_async = metacall_function_async(f);
				fuzz_require(is_async == 0 || is_async == 1, "a function is async or not");
				require_answer(metacallfv(f, metacall_null_args));
			}
			break;
		}
		case 4:
			require_export(metacall_handle_export(slot->handle));
			break;
		case 5:
			if (slot->handle != NULL) {
				fuzz_require((metacall_clear(slot->handle) == 0) == !slot->cleared, "a handle clears once");
				slot->cleared = 1;
			}
			break;
		case 6: {
			size_t length = 0;
			char *text = metacall_inspect(&length, NULL);
			fuzz_require(text != NULL && length == strlen(text) + 1, "inspect's size counts its NUL");
			free(text);
			break;
		}
		default:
			raw_name(&r, name);
			require_answer(metacallv_s(name, NULL, 0));
			break;
		}
	}
	for (int i = 0; i < SLOTS; ++i)
		if (slots[i].handle != NULL && !slots[i].cleared)
			fuzz_require(metacall_clear(slots[i].handle) == 0, "a handle clears");
	void *after = metacallfv_s(ok, NULL, 0);
	fuzz_require(metacall_value_to_long(after) == 7, "the next call works");
	metacall_value_destroy(after);
	return 0;
}
