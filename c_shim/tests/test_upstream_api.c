/* MetaCall's C API beyond the Go port's subset, used as upstream documents it: metacallv,
   metacallfv, metacallhv, loads into private handles (metacallhv_s, metacall_handle_function,
   metacall_handle_export, metacall_clear), metacall_inspect with the allocator API,
   metacall_inspect_value, metacall_null_args, metacall_function_size / _async,
   metacall_log_null, metacall_print_info, metacall_version_str. Only <metacall/metacall.h>
   and libc are used. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char global_script[] =
	"def add(left: int, right: int) -> int:\n"
	"    return left + right\n"
	"def noargs():\n"
	"    return 'none'\n"
	"def flexible(a, b, *rest, **named):\n"
	"    return len(rest)\n"
	"async def later_global(x):\n"
	"    return x\n"
	"def which():\n"
	"    return 'global'\n"
	"def released():\n"
	"    import builtins, gc\n"
	"    gc.collect()\n"
	"    return ''.join(sorted(getattr(builtins, 'mlbridge_released', [])))\n";

static char script_path[4096];

static const char *script(const char *name)
{
	const char *dir = getenv("MLBRIDGE_TEST_SCRIPTS");
	REQUIRE(dir != NULL);
	snprintf(script_path, sizeof(script_path), "%s/%s", dir, name);
	return script_path;
}

/* The string a call returned, copied into out (or "" for another value), and destroyed. */
static const char *string_of(void *v, char *out, size_t size)
{
	snprintf(out, size, "%s", metacall_value_id(v) == METACALL_STRING ? metacall_value_to_string(v) : "");
	metacall_value_destroy(v);
	return out;
}

static void info_and_version(void)
{
	metacall_log_null(); /* upstream: before metacall_initialize, to silence its logs */
	const char *info = metacall_print_info();
	CHECK(info != NULL && strstr(info, "MetaCall") != NULL && strstr(info, metacall_version_str()) != NULL);
	unsigned major, minor, patch;
	CHECK(sscanf(metacall_version_str(), "%u.%u.%u", &major, &minor, &patch) == 3);
	CHECK(metacall_null_args[0] == NULL);
}

static void allocators(void)
{
	struct metacall_allocator_std_type std_ctx = { &malloc, &realloc, &free };
	void *allocator = metacall_allocator_create(METACALL_ALLOCATOR_STD, (void *)&std_ctx);
	REQUIRE(allocator != NULL);
	char *p = metacall_allocator_alloc(allocator, 8);
	CHECK(p != NULL);
	p = metacall_allocator_realloc(allocator, p, 8, 64);
	CHECK(p != NULL);
	metacall_allocator_free(allocator, p);
	metacall_allocator_destroy(allocator);
	CHECK(metacall_allocator_create(METACALL_ALLOCATOR_NGINX, (void *)&std_ctx) == NULL);
	CHECK(metacall_allocator_create(METACALL_ALLOCATOR_STD, NULL) == NULL);
	struct metacall_allocator_std_type partial = { &malloc, NULL, &free };
	CHECK(metacall_allocator_create(METACALL_ALLOCATOR_STD, &partial) == NULL);
	CHECK(metacall_allocator_alloc(NULL, 8) == NULL);
	metacall_allocator_free(NULL, NULL);
	metacall_allocator_destroy(NULL);
}

static void calls_by_signature(void)
{
	void *add = metacall_function("add");
	REQUIRE(add != NULL);
	CHECK(metacall_function_size(add) == 2);
	CHECK(metacall_function_async(add) == 0);
	CHECK(metacall_function_size(metacall_function("noargs")) == 0);
	CHECK(metacall_function_size(metacall_function("flexible")) == 4); /* as upstream counts */
	CHECK(metacall_function_async(metacall_function("later_global")) == 1);
	CHECK(metacall_function_size(NULL) == 0);
	CHECK(metacall_function_async(NULL) == -1);
	int not_a_function = 0;
	CHECK(metacall_function_async(&not_a_function) == -1);

	/* metacallv takes as many arguments as the function has parameters. */
	void *args[2] = { metacall_value_create_long(40), metacall_value_create_long(2) };
	void *r = metacallv("add", args);
	CHECK(metacall_value_id(r) == METACALL_LONG && metacall_value_to_long(r) == 42);
	metacall_value_destroy(r);
	metacall_value_destroy(args[0]);
	metacall_value_destroy(args[1]);

	char text[64];
	args[0] = metacall_value_create_long(1);
	args[1] = metacall_value_create_long(2);
	r = metacallfv(add, args);
	CHECK(metacall_value_to_long(r) == 3);
	metacall_value_destroy(r);
	metacall_value_destroy(args[0]);
	metacall_value_destroy(args[1]);
	r = metacallfv(NULL, metacall_null_args);
	CHECK(is_error(r, "InvalidArgument", "not a function handle"));
	metacall_value_destroy(r);
	CHECK(strcmp(string_of(metacallv("noargs", metacall_null_args), text, sizeof(text)), "none") == 0);
	CHECK(strcmp(string_of(metacallv_s("noargs", metacall_null_args, 0), text, sizeof(text)), "none") == 0);
	r = metacallv("missing", metacall_null_args);
	CHECK(is_error(r, "LookupError", "missing"));
	metacall_value_destroy(r);
}

static void *load_private(const char *file, void *handle)
{
	const char *paths[1] = { script(file) };
	CHECK(metacall_load_from_file("py", paths, 1, &handle) == 0);
	return handle;
}

static long multiply(void *handle, long left, long right)
{
	void *args[2] = { metacall_value_create_long(left), metacall_value_create_long(right) };
	void *r = metacallhv_s(handle, "multiply", args, 2);
	long product = metacall_value_id(r) == METACALL_LONG ? metacall_value_to_long(r) : -1;
	metacall_value_destroy(r);
	metacall_value_destroy(args[0]);
	metacall_value_destroy(args[1]);
	return product;
}

static void private_handles(void **a_out, void **b_out)
{
	char text[64];
	void *a = load_private("handle_a.py", NULL), *b = load_private("handle_b.py", NULL);
	REQUIRE(a != NULL && b != NULL && a != b);
	*a_out = a;
	*b_out = b;

	/* The same names in two handles and in the global scope: no collision. */
	REQUIRE(metacall_load_from_memory("py", global_script, sizeof(global_script), NULL) == 0);
	CHECK(strcmp(string_of(metacallhv_s(a, "which", metacall_null_args, 0), text, sizeof(text)), "a") == 0);
	CHECK(strcmp(string_of(metacallhv_s(b, "which", metacall_null_args, 0), text, sizeof(text)), "b") == 0);
	CHECK(strcmp(string_of(metacallv_s("which", metacall_null_args, 0), text, sizeof(text)), "global") == 0);
	CHECK(multiply(a, 6, 7) == 42);
	CHECK(multiply(b, 6, 7) == 420);
	CHECK(strcmp(string_of(metacallhv(b, "which", metacall_null_args), text, sizeof(text)), "b") == 0);

	/* Private functions are not global. */
	CHECK(metacall_function("multiply") == NULL);
	void *r = metacallv_s("multiply", metacall_null_args, 0);
	CHECK(is_error(r, "LookupError", "multiply"));
	metacall_value_destroy(r);

	/* metacall_handle_function gives a function for every function API. */
	void *f = metacall_handle_function(a, "multiply");
	REQUIRE(f != NULL);
	CHECK(f == metacall_handle_function(a, "multiply"));
	CHECK(f != metacall_handle_function(b, "multiply"));
	CHECK(metacall_function_size(f) == 2);
	CHECK(metacall_function_async(f) == 0);
	CHECK(metacall_function_async(metacall_handle_function(a, "later")) == 1);
	void *args[2] = { metacall_value_create_long(3), metacall_value_create_long(5) };
	r = metacallfv_s(f, args, 2);
	CHECK(metacall_value_to_long(r) == 15);
	metacall_value_destroy(r);
	metacall_value_destroy(args[0]);
	metacall_value_destroy(args[1]);
	CHECK(metacall_handle_function(a, "missing") == NULL);
	struct metacall_exception_type ex;
	CHECK(metacall_error_last(&ex) == 0 && strstr(ex.message, "missing") != NULL);

	/* Loading into a handle that exists adds to it; a name taken in it fails the load. */
	static const char more[] = "def extra():\n    return 7\n";
	void *same = a;
	CHECK(metacall_load_from_memory("py", more, sizeof(more), &same) == 0 && same == a);
	r = metacallhv_s(a, "extra", metacall_null_args, 0);
	CHECK(metacall_value_to_long(r) == 7);
	metacall_value_destroy(r);
	static const char taken[] = "def which():\n    return 'again'\n";
	CHECK(metacall_load_from_memory("py", taken, sizeof(taken), &same) != 0 && same == a);
	CHECK(strcmp(string_of(metacallhv_s(a, "which", metacall_null_args, 0), text, sizeof(text)), "a") == 0);
	/* A failed load into a new handle leaves it NULL. */
	void *none = NULL;
	static const char broken[] = "def broken(:\n";
	CHECK(metacall_load_from_memory("py", broken, sizeof(broken), &none) != 0 && none == NULL);

	/* Not a handle. */
	int bogus = 0;
	r = metacallhv_s(&bogus, "which", metacall_null_args, 0);
	CHECK(is_error(r, "InvalidArgument", "not a handle"));
	metacall_value_destroy(r);
	CHECK(metacall_handle_function(NULL, "which") == NULL);
	CHECK(metacall_handle_export(&bogus) == NULL);
	CHECK(metacall_clear(&bogus) != 0);
	void *not_handle = &bogus;
	CHECK(metacall_load_from_memory("py", more, sizeof(more), &not_handle) != 0);
}

/* Handles from many threads at once: each call answers from its own handle. */
struct handle_caller {
	void *a, *b;
	int wrong;
};

static void *call_both(void *arg)
{
	struct handle_caller *c = arg;
	for (long i = 0; i < 200; ++i) {
		c->wrong += multiply(c->a, i, 3) != i * 3;
		c->wrong += multiply(c->b, i, 3) != i * 30;
		c->wrong += metacall_handle_function(c->a, "which") == NULL;
	}
	return NULL;
}

static void threads(void *a, void *b)
{
	enum { THREADS = 8 };
	pthread_t ids[THREADS];
	struct handle_caller callers[THREADS];
	for (int i = 0; i < THREADS; ++i) {
		callers[i] = (struct handle_caller){ a, b, 0 };
		REQUIRE(pthread_create(&ids[i], NULL, call_both, &callers[i]) == 0);
	}
	for (int i = 0; i < THREADS; ++i) {
		pthread_join(ids[i], NULL);
		CHECK(callers[i].wrong == 0);
	}
}

static void export_of(void *a)
{
	void *v = metacall_handle_export(a);
	REQUIRE(metacall_value_id(v) == METACALL_MAP);
	CHECK(metacall_value_count(v) == 4); /* which, multiply, later, extra */
	void **tuples = metacall_value_to_map(v);
	int found = 0;
	for (size_t i = 0; i < metacall_value_count(v); ++i) {
		void **pair = metacall_value_to_array(tuples[i]);
		CHECK(metacall_value_id(pair[0]) == METACALL_STRING && metacall_value_id(pair[1]) == METACALL_FUNCTION);
		if (strcmp(metacall_value_to_string(pair[0]), "multiply") == 0) {
			void *args[2] = { metacall_value_create_long(2), metacall_value_create_long(21) };
			void *r = metacallfv_s(metacall_value_to_function(pair[1]), args, 2);
			CHECK(metacall_value_to_long(r) == 42);
			metacall_value_destroy(r);
			metacall_value_destroy(args[0]);
			metacall_value_destroy(args[1]);
			found = 1;
		}
	}
	CHECK(found);
	metacall_value_destroy(v);
}

static void inspect_with(void *allocator)
{
	size_t size = 0;
	char *inspect_str = metacall_inspect(&size, allocator);
	REQUIRE(inspect_str != NULL);
	CHECK(size > 0 && size == strlen(inspect_str) + 1);
	const char *expected[] = {
		"{\"py\":[{\"name\":",
		"\"scope\":{\"name\":\"global_namespace\",\"funcs\":[",
		"{\"name\":\"add\",\"signature\":{\"ret\":{\"type\":{\"name\":\"int\",\"id\":4}},"
		"\"args\":[{\"name\":\"left\",\"type\":{\"name\":\"int\",\"id\":4}},"
		"{\"name\":\"right\",\"type\":{\"name\":\"int\",\"id\":4}}]},\"async\":false}",
		"{\"name\":\"noargs\",\"signature\":{\"ret\":{\"type\":{\"name\":\"\",\"id\":20}},\"args\":[]},\"async\":false}",
		"{\"name\":\"later_global\",",
		"\"async\":true",
		"\"classes\":[],\"objects\":[]",
		"handle_a.py",
		"handle_b.py",
		"\"__metacall_host__\":[]}",
	};
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); ++i) {
		if (strstr(inspect_str, expected[i]) == NULL) {
			fprintf(stderr, "inspect lacks %s in:\n%s\n", expected[i], inspect_str);
			++check_failures;
		}
	}
	metacall_allocator_free(allocator, inspect_str);

	/* The same as a value: tag -> ARRAY of loads, each a MAP with "name" and "scope". */
	void *v = metacall_inspect_value();
	REQUIRE(metacall_value_id(v) == METACALL_MAP);
	void **tuples = metacall_value_to_map(v);
	int py_loads = 0;
	for (size_t i = 0; i < metacall_value_count(v); ++i) {
		void **pair = metacall_value_to_array(tuples[i]);
		CHECK(metacall_value_id(pair[0]) == METACALL_STRING && metacall_value_id(pair[1]) == METACALL_ARRAY);
		if (strcmp(metacall_value_to_string(pair[0]), "py") == 0)
			py_loads = (int)metacall_value_count(pair[1]);
	}
	CHECK(py_loads == 3); /* the global script, handle a (handle_a.py and extra), handle b */
	metacall_value_destroy(v);
}

static void clear_and_destroy(void *a, void *b, void *allocator)
{
	char text[64];
	CHECK(strcmp(string_of(metacallv_s("released", metacall_null_args, 0), text, sizeof(text)), "") == 0);
	CHECK(metacall_clear(b) == 0);
	/* What b's load held is released (b's function handles let go of it too), a's is not. */
	CHECK(strcmp(string_of(metacallv_s("released", metacall_null_args, 0), text, sizeof(text)), "b") == 0);
	void *r = metacallhv_s(b, "which", metacall_null_args, 0);
	CHECK(is_error(r, "LookupError", "which"));
	metacall_value_destroy(r);
	CHECK(metacall_clear(b) != 0); /* cleared already */
	CHECK(metacall_handle_export(b) == NULL);
	size_t size = 0;
	char *text_after = metacall_inspect(&size, allocator);
	CHECK(text_after != NULL && strstr(text_after, "handle_b.py") == NULL && strstr(text_after, "handle_a.py") != NULL);
	metacall_allocator_free(allocator, text_after);
	CHECK(strcmp(string_of(metacallhv_s(a, "which", metacall_null_args, 0), text, sizeof(text)), "a") == 0);

	void *f = metacall_handle_function(a, "which");
	metacall_destroy();
	r = metacallhv_s(a, "which", metacall_null_args, 0);
	CHECK(r == NULL || metacall_value_id(r) == METACALL_THROWABLE);
	metacall_value_destroy(r);
	char *empty = metacall_inspect(&size, allocator);
	CHECK(empty != NULL && strcmp(empty, "{}") == 0 && size == 3);
	metacall_allocator_free(allocator, empty);
	void *nothing = metacall_inspect_value();
	CHECK(metacall_value_id(nothing) == METACALL_MAP && metacall_value_count(nothing) == 0);
	metacall_value_destroy(nothing);

	/* After initialize again the handle's functions are gone, and its handle functions fail. */
	REQUIRE(metacall_initialize() == 0);
	r = metacallhv_s(a, "which", metacall_null_args, 0);
	CHECK(is_error(r, "LookupError", "which"));
	metacall_value_destroy(r);
	r = metacallfv_s(f, metacall_null_args, 0);
	CHECK(is_error(r, "LookupError", "which"));
	metacall_value_destroy(r);
	CHECK(metacall_handle_export(a) == NULL);
	void *again = a;
	static const char more[] = "def extra():\n    return 7\n";
	CHECK(metacall_load_from_memory("py", more, sizeof(more), &again) != 0);
	/* destroy released what a's loads held */
	REQUIRE(metacall_load_from_memory("py", global_script, sizeof(global_script), NULL) == 0);
	CHECK(strcmp(string_of(metacallv_s("released", metacall_null_args, 0), text, sizeof(text)), "ab") == 0);
	metacall_destroy();
}

int main(void)
{
	info_and_version();
	allocators();
	REQUIRE(metacall_initialize() == 0);
	void *a = NULL, *b = NULL;
	private_handles(&a, &b);
	calls_by_signature();
	threads(a, b);
	export_of(a);
	struct metacall_allocator_std_type std_ctx = { &malloc, &realloc, &free };
	void *allocator = metacall_allocator_create(METACALL_ALLOCATOR_STD, (void *)&std_ctx);
	REQUIRE(allocator != NULL);
	inspect_with(allocator);
	char *plain = metacall_inspect(NULL, NULL); /* no allocator: malloc */
	CHECK(plain != NULL && plain[0] == '{');
	free(plain);
	clear_and_destroy(a, b, allocator);
	metacall_allocator_destroy(allocator);
	return check_done("upstream_api");
}
