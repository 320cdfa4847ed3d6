/* Values are plain C: built, read and destroyed without starting Python. */
#include <float.h>
#include <limits.h>
#include <stdint.h>

#include "check.h"

static void scalars(void)
{
	void *v = metacall_value_create_bool(7);
	CHECK(metacall_value_id(v) == METACALL_BOOL && metacall_value_to_bool(v) == 1);
	metacall_value_destroy(v);
	v = metacall_value_create_char('x');
	CHECK(metacall_value_id(v) == METACALL_CHAR && metacall_value_to_char(v) == 'x');
	metacall_value_destroy(v);
	v = metacall_value_create_short(SHRT_MIN);
	CHECK(metacall_value_id(v) == METACALL_SHORT && metacall_value_to_short(v) == SHRT_MIN);
	metacall_value_destroy(v);
	v = metacall_value_create_int(INT_MAX);
	CHECK(metacall_value_id(v) == METACALL_INT && metacall_value_to_int(v) == INT_MAX);
	CHECK(metacall_value_size(v) == sizeof(int));
	metacall_value_destroy(v);
	v = metacall_value_create_long(LONG_MIN);
	CHECK(metacall_value_id(v) == METACALL_LONG && metacall_value_to_long(v) == LONG_MIN);
	metacall_value_destroy(v);
	v = metacall_value_create_float(1.5f);
	CHECK(metacall_value_id(v) == METACALL_FLOAT && metacall_value_to_float(v) == 1.5f);
	metacall_value_destroy(v);
	v = metacall_value_create_double(DBL_MAX);
	CHECK(metacall_value_id(v) == METACALL_DOUBLE && metacall_value_to_double(v) == DBL_MAX);
	metacall_value_destroy(v);
	v = metacall_value_create_null();
	CHECK(metacall_value_id(v) == METACALL_NULL);
	metacall_value_destroy(v);
}

static void strings_and_buffers(void)
{
	char source[] = "hello";
	void *s = metacall_value_create_string(source, 5);
	source[0] = 'J'; /* the value copied its bytes */
	CHECK(strcmp(metacall_value_to_string(s), "hello") == 0);
	CHECK(metacall_value_size(s) == 6); /* counts the NUL */
	metacall_value_destroy(s);

	s = metacall_value_create_string("", 0);
	CHECK(metacall_value_id(s) == METACALL_STRING && strcmp(metacall_value_to_string(s), "") == 0);
	CHECK(metacall_value_size(s) == 1);
	metacall_value_destroy(s);

	const char bytes[] = { 'a', 0, 'b', 0 };
	void *b = metacall_value_create_buffer(bytes, sizeof(bytes));
	CHECK(metacall_value_id(b) == METACALL_BUFFER && metacall_value_size(b) == 4);
	CHECK(memcmp(metacall_value_to_buffer(b), bytes, 4) == 0);
	metacall_value_destroy(b);

	b = metacall_value_create_buffer(NULL, 0);
	CHECK(metacall_value_id(b) == METACALL_BUFFER && metacall_value_size(b) == 0);
	metacall_value_destroy(b);
}

static void containers(void)
{
	/* An array built empty and filled through to_array, as the Go port does. */
	void *array = metacall_value_create_array(NULL, 3);
	CHECK(metacall_value_count(array) == 3);
	void **items = metacall_value_to_array(array);
	items[0] = metacall_value_create_long(1);
	items[1] = metacall_value_create_string("two", 3);
	items[2] = metacall_value_create_array(NULL, 0);
	CHECK(metacall_value_to_long(metacall_value_to_array(array)[0]) == 1);

	/* A map of [key, value] tuples owns them. */
	const void *kv[2] = { metacall_value_create_string("k", 1), array };
	const void *tuples[1] = { metacall_value_create_array(kv, 2) };
	void *map = metacall_value_create_map(tuples, 1);
	CHECK(metacall_value_id(map) == METACALL_MAP && metacall_value_count(map) == 1);
	void **pair = metacall_value_to_array(metacall_value_to_map(map)[0]);
	CHECK(strcmp(metacall_value_to_string(pair[0]), "k") == 0);
	CHECK(pair[1] == array);
	metacall_value_destroy(map); /* frees everything above: LeakSanitizer checks */
}

static void bad_input(void)
{
	long foreign[8] = { 0 };
	CHECK(metacall_value_id(NULL) == METACALL_INVALID);
	CHECK(metacall_value_id(foreign) == METACALL_INVALID);
	CHECK(metacall_value_size(foreign) == 0 && metacall_value_count(NULL) == 0);
	CHECK(metacall_value_to_long(NULL) == 0 && metacall_value_to_string(foreign) == NULL);
	metacall_value_destroy(NULL);
	metacall_value_destroy(foreign); /* not ours: ignored */

	void *d = metacall_value_create_double(2.0);
	CHECK(metacall_value_to_long(d) == 0);       /* the wrong accessor reads nothing */
	CHECK(metacall_value_to_array(d) == NULL);
	CHECK(metacall_value_count(d) == 0);
	metacall_value_destroy(d);

	/* An array with NULL slots (never filled) destroys cleanly. */
	metacall_value_destroy(metacall_value_create_array(NULL, 4));
	CHECK(metacall_value_create_string(NULL, SIZE_MAX) == NULL);
	/* Sizes whose allocation would wrap around are refused, not truncated. */
	CHECK(metacall_value_create_string(NULL, SIZE_MAX - 8) == NULL);
	CHECK(metacall_value_create_buffer(NULL, SIZE_MAX - 8) == NULL);

	/* error_from_value on something that is not an error. */
	struct metacall_exception_type ex;
	void *n = metacall_value_create_null();
	CHECK(metacall_error_from_value(n, &ex) != 0);
	CHECK(metacall_error_from_value(NULL, &ex) != 0);
	CHECK(metacall_value_to_throwable(n) == NULL);
	metacall_value_destroy(n);
}

int main(void)
{
	scalars();
	strings_and_buffers();
	containers();
	bad_input();
	return check_done("values");
}
