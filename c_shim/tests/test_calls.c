/* Every value type round-trips through a Python identity function loaded from memory. */
#include <limits.h>
#include <math.h>

#include "check.h"

static const char script[] =
	"def identity(x):\n"
	"    return x\n"
	"def add(a, b):\n"
	"    return a + b\n"
	"def numpy_values():\n"
	"    import numpy as np\n"
	"    return {'scalar': np.int64(7), 'float': np.float32(0.5), 'flag': np.bool_(True),\n"
	"            'matrix': np.arange(4).reshape(2, 2)}\n"
	"def as_tuple():\n"
	"    return (1, 'a', None)\n"
	"def fail():\n"
	"    raise ValueError('no')\n"
	"async def later(x):\n"
	"    return x\n"
	"def counts_of(name):\n"
	"    from bridge.runtime import RUNTIME\n"
	"    return list(RUNTIME.table[name].counts)\n";

static void *call1(void *arg)
{
	void *args[1] = { arg };
	void *ret = metacallv_s("identity", args, 1);
	metacall_value_destroy(arg); /* the caller owns the arguments */
	return ret;
}

static void scalars(void)
{
	void *r = call1(metacall_value_create_bool(1));
	CHECK(metacall_value_id(r) == METACALL_BOOL && metacall_value_to_bool(r) == 1);
	metacall_value_destroy(r);

	/* CHAR, SHORT and INT become Python int, which comes back as LONG (MetaCall's mapping). */
	r = call1(metacall_value_create_char('A'));
	CHECK(metacall_value_id(r) == METACALL_LONG && metacall_value_to_long(r) == 'A');
	metacall_value_destroy(r);
	r = call1(metacall_value_create_short(-12345));
	CHECK(metacall_value_id(r) == METACALL_LONG && metacall_value_to_long(r) == -12345);
	metacall_value_destroy(r);
	r = call1(metacall_value_create_int(INT_MIN));
	CHECK(metacall_value_id(r) == METACALL_LONG && metacall_value_to_long(r) == INT_MIN);
	metacall_value_destroy(r);

	long limits[] = { LONG_MAX, LONG_MIN, 0, -1, (long)INT_MAX + 1 };
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); ++i) {
		r = call1(metacall_value_create_long(limits[i]));
		CHECK(metacall_value_id(r) == METACALL_LONG && metacall_value_to_long(r) == limits[i]);
		metacall_value_destroy(r);
	}

	r = call1(metacall_value_create_float(0.25f));
	CHECK(metacall_value_id(r) == METACALL_DOUBLE && metacall_value_to_double(r) == 0.25);
	metacall_value_destroy(r);

	double doubles[] = { NAN, INFINITY, -INFINITY, -0.0, 1e308, 5e-324 };
	for (size_t i = 0; i < sizeof(doubles) / sizeof(doubles[0]); ++i) {
		r = call1(metacall_value_create_double(doubles[i]));
		CHECK(metacall_value_id(r) == METACALL_DOUBLE);
		double d = metacall_value_to_double(r);
		if (isnan(doubles[i]))
			CHECK(isnan(d));
		else
			CHECK(d == doubles[i] && signbit(d) == signbit(doubles[i]));
		metacall_value_destroy(r);
	}

	r = call1(metacall_value_create_null());
	CHECK(metacall_value_id(r) == METACALL_NULL);
	metacall_value_destroy(r);
}

static void strings(void)
{
	const char *texts[] = { "", "wine", "Grüner Veltliner — 🍷", "a\tb\nc" };
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); ++i) {
		void *r = call1(metacall_value_create_string(texts[i], strlen(texts[i])));
		CHECK(metacall_value_id(r) == METACALL_STRING);
		CHECK(metacall_value_size(r) == strlen(texts[i]) + 1);
		CHECK(strcmp(metacall_value_to_string(r), texts[i]) == 0);
		metacall_value_destroy(r);
	}

	const char bytes[] = { 0, 'x', 0, (char)0xff, 0 };
	void *r = call1(metacall_value_create_buffer(bytes, sizeof(bytes)));
	CHECK(metacall_value_id(r) == METACALL_BUFFER && metacall_value_size(r) == sizeof(bytes));
	CHECK(memcmp(metacall_value_to_buffer(r), bytes, sizeof(bytes)) == 0);
	metacall_value_destroy(r);

	r = call1(metacall_value_create_buffer(NULL, 0));
	CHECK(metacall_value_id(r) == METACALL_BUFFER && metacall_value_size(r) == 0);
	metacall_value_destroy(r);
}

static void *pair(void *k, void *v)
{
	const void *kv[2] = { k, v };
	return metacall_value_create_array(kv, 2);
}

static void containers(void)
{
	/* {"name": "x", "scores": [1, [2.5, ""], {}], "7": None} */
	const void *inner[2] = { metacall_value_create_double(2.5), metacall_value_create_string("", 0) };
	const void *scores[3] = { metacall_value_create_long(1), metacall_value_create_array(inner, 2),
				  metacall_value_create_map(NULL, 0) };
	const void *tuples[3] = {
		pair(metacall_value_create_string("name", 4), metacall_value_create_string("x", 1)),
		pair(metacall_value_create_string("scores", 6), metacall_value_create_array(scores, 3)),
		pair(metacall_value_create_string("7", 1), metacall_value_create_null()),
	};
	void *r = call1(metacall_value_create_map(tuples, 3));
	REQUIRE(metacall_value_id(r) == METACALL_MAP);
	CHECK(metacall_value_count(r) == 3);
	void **entries = metacall_value_to_map(r);
	/* dicts keep insertion order */
	void **e0 = metacall_value_to_array(entries[0]);
	CHECK(strcmp(metacall_value_to_string(e0[0]), "name") == 0);
	CHECK(strcmp(metacall_value_to_string(e0[1]), "x") == 0);
	void **e1 = metacall_value_to_array(entries[1]);
	CHECK(metacall_value_id(e1[1]) == METACALL_ARRAY && metacall_value_count(e1[1]) == 3);
	void **s = metacall_value_to_array(e1[1]);
	CHECK(metacall_value_to_long(s[0]) == 1);
	void **in = metacall_value_to_array(s[1]);
	CHECK(metacall_value_count(s[1]) == 2 && metacall_value_to_double(in[0]) == 2.5);
	CHECK(strcmp(metacall_value_to_string(in[1]), "") == 0);
	CHECK(metacall_value_id(s[2]) == METACALL_MAP && metacall_value_count(s[2]) == 0);
	void **e2 = metacall_value_to_array(entries[2]);
	CHECK(strcmp(metacall_value_to_string(e2[0]), "7") == 0 && metacall_value_id(e2[1]) == METACALL_NULL);
	metacall_value_destroy(r);

	/* A MAP argument may have LONG keys (Python gets {7: None}), but a dict result whose keys
	   are not all str is refused, naming the key: MetaCall programs read MAP keys as strings. */
	const void *long_key[1] = { pair(metacall_value_create_long(7), metacall_value_create_null()) };
	r = call1(metacall_value_create_map(long_key, 1));
	struct metacall_exception_type ex;
	REQUIRE(metacall_value_id(r) == METACALL_THROWABLE && metacall_error_from_value(r, &ex) == 0);
	CHECK(strcmp(ex.label, "TypeError") == 0);
	CHECK(strstr(ex.message, "dict key 7 (int) is not a string") != NULL);
	metacall_value_destroy(r);

	r = call1(metacall_value_create_array(NULL, 0));
	CHECK(metacall_value_id(r) == METACALL_ARRAY && metacall_value_count(r) == 0);
	metacall_value_destroy(r);

	r = metacallv_s("as_tuple", NULL, 0);
	CHECK(metacall_value_id(r) == METACALL_ARRAY && metacall_value_count(r) == 3);
	metacall_value_destroy(r);
}

static void numpy_values(void)
{
	void *r = metacallv_s("numpy_values", NULL, 0);
	REQUIRE(metacall_value_id(r) == METACALL_MAP);
	void **entries = metacall_value_to_map(r);
	void **scalar = metacall_value_to_array(entries[0]);
	CHECK(metacall_value_id(scalar[1]) == METACALL_LONG && metacall_value_to_long(scalar[1]) == 7);
	void **flt = metacall_value_to_array(entries[1]);
	CHECK(metacall_value_id(flt[1]) == METACALL_DOUBLE && metacall_value_to_double(flt[1]) == 0.5);
	void **flag = metacall_value_to_array(entries[2]);
	CHECK(metacall_value_id(flag[1]) == METACALL_BOOL && metacall_value_to_bool(flag[1]) == 1);
	void **matrix = metacall_value_to_array(entries[3]);
	CHECK(metacall_value_id(matrix[1]) == METACALL_ARRAY && metacall_value_count(matrix[1]) == 2);
	void **row1 = metacall_value_to_array(metacall_value_to_array(matrix[1])[1]);
	CHECK(metacall_value_to_long(row1[0]) == 2 && metacall_value_to_long(row1[1]) == 3);
	metacall_value_destroy(r);
}

static void handles(void)
{
	void *f = metacall_function("add");
	REQUIRE(f != NULL);
	CHECK(metacall_function("add") == f); /* cached: the same handle every time */
	for (long i = 0; i < 1000; ++i) {
		void *args[2] = { metacall_value_create_long(i), metacall_value_create_long(i) };
		void *r = metacallfv_s(f, args, 2);
		CHECK(metacall_value_to_long(r) == 2 * i);
		metacall_value_destroy(r);
		metacall_value_destroy(args[0]);
		metacall_value_destroy(args[1]);
	}
	/* Mixed types: Python decides (str + str). */
	void *args[2] = { metacall_value_create_string("ab", 2), metacall_value_create_string("cd", 2) };
	void *r = metacallfv_s(f, args, 2);
	CHECK(strcmp(metacall_value_to_string(r), "abcd") == 0);
	metacall_value_destroy(r);
	metacall_value_destroy(args[0]);
	metacall_value_destroy(args[1]);
}

/* [calls, errors] of name, as the runtime's Function.counts holds them. */
static void counts_of(const char *name, long *calls, long *errors)
{
	void *args[1] = { metacall_value_create_string(name, strlen(name)) };
	void *r = metacallv_s("counts_of", args, 1);
	metacall_value_destroy(args[0]);
	REQUIRE(metacall_value_id(r) == METACALL_ARRAY && metacall_value_count(r) == 2);
	*calls = metacall_value_to_long(metacall_value_to_array(r)[0]);
	*errors = metacall_value_to_long(metacall_value_to_array(r)[1]);
	metacall_value_destroy(r);
}

static void *ignore(void *value, void *data)
{
	(void)value;
	(void)data;
	return NULL;
}

/* Every C entry counts in the function's one pair of counters (TEAM contract 4). */
static void counters(void)
{
	long calls, errors;
	void *f = metacall_function("fail");
	for (int i = 0; i < 3; ++i)
		metacall_value_destroy(metacallfv_s(f, NULL, 0));
	metacall_value_destroy(metacallv_s("fail", NULL, 0));
	counts_of("fail", &calls, &errors);
	CHECK(calls == 4 && errors == 4);

	void *args[1] = { metacall_value_create_long(1) };
	metacall_await_callbacks cb = { ignore, ignore };
	metacall_value_destroy(metacallfv_await_struct_s(metacall_function("later"), args, 1, cb, NULL));
	metacall_value_destroy(metacallv_s("later", args, 1));
	metacall_value_destroy(args[0]);
	counts_of("later", &calls, &errors); /* a call counts when it starts */
	CHECK(calls == 2 && errors == 0);
	metacall_destroy(); /* waits for the pending await */
	REQUIRE(metacall_initialize() == 0);
	/* destroy cleared the table: load again and count from zero */
	REQUIRE(metacall_load_from_memory("py", script, sizeof(script), NULL) == 0);
	counts_of("counts_of", &calls, &errors);
	CHECK(calls == 1 && errors == 0); /* this very call */
}

/* Keys 1, 1.0 and True are one dict key in Python: a MAP with two of them is refused. */
static void equal_map_keys(void)
{
	const void *tuples[2] = {
		pair(metacall_value_create_long(1), metacall_value_create_string("int", 3)),
		pair(metacall_value_create_double(1.0), metacall_value_create_string("float", 5)),
	};
	void *r = call1(metacall_value_create_map(tuples, 2));
	struct metacall_exception_type ex;
	REQUIRE(metacall_value_id(r) == METACALL_THROWABLE && metacall_error_from_value(r, &ex) == 0);
	CHECK(strcmp(ex.label, "ValueError") == 0);
	CHECK(strstr(ex.message, "MAP keys 1 and 1.0 are equal in Python") != NULL);
	metacall_value_destroy(r);
}

int main(void)
{
	start_with(script);
	counters();
	equal_map_keys();
	scalars();
	strings();
	containers();
	numpy_values();
	handles();
	metacall_destroy();
	return check_done("calls");
}
