#include "wire.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <metacall/metacall.h>
#include <metacall/metacall_error.h>
#include <metacall/metacall_value.h>

/* --- arguments: tape -> values ------------------------------------------------------------ */

typedef struct reader {
	const unsigned char *p;
	const unsigned char *end;
} reader;

static int read_bytes(reader *r, void *dst, size_t n)
{
	if ((size_t)(r->end - r->p) < n) {
		return 0;
	}
	memcpy(dst, r->p, n);
	r->p += n;
	return 1;
}

static void *build_value(reader *r, int depth);

static void *build_array(reader *r, int depth)
{
	uint64_t n;
	if (!read_bytes(r, &n, sizeof n) || n > (uint64_t)(r->end - r->p)) {
		return NULL;
	}
	void *array = metacall_value_create_array(NULL, (size_t)n);
	if (array == NULL) {
		return NULL;
	}
	void **slots = metacall_value_to_array(array);
	for (uint64_t i = 0; i < n; i++) {
		slots[i] = build_value(r, depth + 1);
		if (slots[i] == NULL) {
			/* Fill the rest with nulls so that destroying the array is well defined. */
			for (uint64_t j = i; j < n; j++) {
				slots[j] = metacall_value_create_null();
			}
			metacall_value_destroy(array);
			return NULL;
		}
	}
	return array;
}

static void *build_map(reader *r, int depth)
{
	uint64_t n;
	if (!read_bytes(r, &n, sizeof n) || n > (uint64_t)(r->end - r->p)) {
		return NULL;
	}
	void **tuples = malloc((n ? n : 1) * sizeof(void *));
	if (tuples == NULL) {
		return NULL;
	}
	uint64_t built = 0;
	for (; built < n; built++) {
		void *pair[2];
		pair[0] = build_value(r, depth + 1);
		pair[1] = pair[0] ? build_value(r, depth + 1) : NULL;
		if (pair[1] == NULL) {
			if (pair[0] != NULL) {
				metacall_value_destroy(pair[0]);
			}
			break;
		}
		tuples[built] = metacall_value_create_array((const void **)pair, 2);
		if (tuples[built] == NULL) {
			metacall_value_destroy(pair[0]);
			metacall_value_destroy(pair[1]);
			break;
		}
	}
	void *map = NULL;
	if (built == n) {
		map = metacall_value_create_map((const void **)tuples, (size_t)n);
	}
	if (map == NULL) {
		for (uint64_t i = 0; i < built; i++) {
			metacall_value_destroy(tuples[i]);
		}
	}
	free(tuples); /* the map owns the tuples, not this array of pointers */
	return map;
}

static void *build_value(reader *r, int depth)
{
	unsigned char tag;
	if (depth > 1000 || !read_bytes(r, &tag, 1)) {
		return NULL;
	}
	switch (tag) {
	case 'n':
		return metacall_value_create_null();
	case 't':
		return metacall_value_create_bool(1);
	case 'f':
		return metacall_value_create_bool(0);
	case 'l': {
		int64_t l;
		return read_bytes(r, &l, sizeof l) ? metacall_value_create_long((long)l) : NULL;
	}
	case 'g': {
		float f;
		return read_bytes(r, &f, sizeof f) ? metacall_value_create_float(f) : NULL;
	}
	case 'd': {
		double d;
		return read_bytes(r, &d, sizeof d) ? metacall_value_create_double(d) : NULL;
	}
	case 's':
	case 'b': {
		uint64_t n;
		if (!read_bytes(r, &n, sizeof n) || n > (uint64_t)(r->end - r->p)) {
			return NULL;
		}
		const char *bytes = (const char *)r->p;
		r->p += n;
		return tag == 's' ? metacall_value_create_string(bytes, (size_t)n)
				  : metacall_value_create_buffer(bytes, (size_t)n);
	}
	case 'a':
		return build_array(r, depth);
	case 'm':
		return build_map(r, depth);
	default:
		return NULL;
	}
}

/* --- results: value -> tape --------------------------------------------------------------- */

typedef struct writer {
	unsigned char *out;
	size_t cap;
	size_t len; /* keeps counting past cap, so the caller learns the size it needs */
} writer;

static void put(writer *w, const void *src, size_t n)
{
	if (w->len + n <= w->cap) {
		memcpy(w->out + w->len, src, n);
	}
	w->len += n;
}

static void put_tag(writer *w, char tag)
{
	put(w, &tag, 1);
}

static void put_u64(writer *w, uint64_t u)
{
	put(w, &u, sizeof u);
}

static void put_i64(writer *w, int64_t i)
{
	put(w, &i, sizeof i);
}

static void put_double(writer *w, double d)
{
	put(w, &d, sizeof d);
}

static void put_text(writer *w, const char *s, size_t n)
{
	put_u64(w, n);
	if (n > 0) {
		put(w, s, n);
	}
}

static void put_cstring(writer *w, const char *s)
{
	put_text(w, s ? s : "", s ? strlen(s) : 0);
}

static void encode_value(writer *w, void *v, int depth);

static void encode_exception(writer *w, void *v)
{
	struct metacall_exception_type ex;
	memset(&ex, 0, sizeof ex);
	if (metacall_error_from_value(v, &ex) != 0) {
		put_tag(w, 'x');
		put_i64(w, 0);
		put_cstring(w, "");
		put_cstring(w, "exception could not be read from the returned value");
		put_cstring(w, "");
		return;
	}
	put_tag(w, 'x');
	put_i64(w, (int64_t)ex.code);
	put_cstring(w, ex.label);
	put_cstring(w, ex.message);
	put_cstring(w, ex.stacktrace);
}

static void encode_value(writer *w, void *v, int depth)
{
	if (v == NULL || depth > 1000) {
		put_tag(w, 'u');
		unsigned char id = METACALL_INVALID;
		put(w, &id, 1);
		return;
	}
	enum metacall_value_id id = metacall_value_id(v);
	switch (id) {
	case METACALL_NULL:
		put_tag(w, 'n');
		return;
	case METACALL_BOOL:
		put_tag(w, metacall_value_to_bool(v) ? 't' : 'f');
		return;
	case METACALL_CHAR:
		put_tag(w, 'l');
		put_i64(w, metacall_value_to_char(v));
		return;
	case METACALL_SHORT:
		put_tag(w, 'l');
		put_i64(w, metacall_value_to_short(v));
		return;
	case METACALL_INT:
		put_tag(w, 'l');
		put_i64(w, metacall_value_to_int(v));
		return;
	case METACALL_LONG:
		put_tag(w, 'l');
		put_i64(w, metacall_value_to_long(v));
		return;
	case METACALL_FLOAT:
		put_tag(w, 'd');
		put_double(w, metacall_value_to_float(v));
		return;
	case METACALL_DOUBLE:
		put_tag(w, 'd');
		put_double(w, metacall_value_to_double(v));
		return;
	case METACALL_STRING: {
		/* The size counts the NUL; use it rather than strlen so embedded NULs survive. */
		size_t size = metacall_value_size(v);
		const char *s = metacall_value_to_string(v);
		put_tag(w, 's');
		put_text(w, s, size > 0 ? size - 1 : 0);
		return;
	}
	case METACALL_BUFFER:
		put_tag(w, 'b');
		put_text(w, metacall_value_to_buffer(v), metacall_value_size(v));
		return;
	case METACALL_ARRAY: {
		size_t n = metacall_value_count(v);
		void **items = metacall_value_to_array(v);
		put_tag(w, 'a');
		put_u64(w, n);
		for (size_t i = 0; i < n; i++) {
			encode_value(w, items[i], depth + 1);
		}
		return;
	}
	case METACALL_MAP: {
		size_t n = metacall_value_count(v);
		void **tuples = metacall_value_to_map(v);
		put_tag(w, 'm');
		put_u64(w, n);
		for (size_t i = 0; i < n; i++) {
			void **pair = metacall_value_to_array(tuples[i]);
			encode_value(w, pair[0], depth + 1);
			encode_value(w, pair[1], depth + 1);
		}
		return;
	}
	case METACALL_THROWABLE:
	case METACALL_EXCEPTION:
		encode_exception(w, v);
		return;
	default: {
		unsigned char raw = (unsigned char)id;
		put_tag(w, 'u');
		put(w, &raw, 1);
		return;
	}
	}
}

/* --- the call ------------------------------------------------------------------------------ */

enum { STACK_ARGS = 16 };

mlb_result mlb_call(void *func, const unsigned char *tape, size_t tape_len, size_t argc,
		    unsigned char *out, size_t out_cap)
{
	mlb_result res = { 0, NULL, MLB_OK };
	void *stack_args[STACK_ARGS];
	void **args = stack_args;
	if (argc > STACK_ARGS) {
		args = malloc(argc * sizeof(void *));
		if (args == NULL) {
			res.status = MLB_BAD_ARGS;
			return res;
		}
	}
	reader r = { tape, tape + tape_len };
	size_t built = 0;
	for (; built < argc; built++) {
		args[built] = build_value(&r, 0);
		if (args[built] == NULL) {
			break;
		}
	}
	void *ret = NULL;
	if (built == argc) {
		ret = metacallfv_s(func, args, argc);
	} else {
		res.status = MLB_BAD_ARGS;
	}
	/* The callee may have replaced args[i] (a type cast); whatever is there is ours. */
	for (size_t i = 0; i < built; i++) {
		if (args[i] != NULL) {
			metacall_value_destroy(args[i]);
		}
	}
	if (args != stack_args) {
		free(args);
	}
	if (res.status != MLB_OK) {
		return res;
	}
	if (ret == NULL) {
		res.status = MLB_NO_VALUE;
		return res;
	}
	writer w = { out, out_cap, 0 };
	encode_value(&w, ret, 0);
	res.needed = w.len;
	if (w.len > out_cap) {
		res.pending = ret;
	} else {
		metacall_value_destroy(ret);
	}
	return res;
}

size_t mlb_encode_pending(void *value, unsigned char *out, size_t out_cap)
{
	writer w = { out, out_cap, 0 };
	encode_value(&w, value, 0);
	metacall_value_destroy(value);
	return w.len;
}

/* --- lifecycle and loading ------------------------------------------------------------------ */

static void last_error(char *err, size_t err_cap)
{
	struct metacall_exception_type ex;
	memset(&ex, 0, sizeof ex);
	if (err_cap == 0) {
		return;
	}
	err[0] = '\0';
	if (metacall_error_last(&ex) != 0) {
		return;
	}
	if (ex.label != NULL && ex.label[0] != '\0') {
		snprintf(err, err_cap, "%s: %s", ex.label, ex.message ? ex.message : "");
	} else {
		snprintf(err, err_cap, "%s", ex.message ? ex.message : "");
	}
}

int mlb_initialize(char *err, size_t err_cap)
{
	metacall_error_clear();
	int rc = metacall_initialize();
	if (rc != 0) {
		last_error(err, err_cap);
	}
	return rc;
}

void *mlb_function(const char *name, char *label, size_t label_cap, char *message, size_t message_cap)
{
	metacall_error_clear();
	void *fn = metacall_function(name);
	if (fn != NULL || label_cap == 0 || message_cap == 0) {
		return fn;
	}
	struct metacall_exception_type ex;
	memset(&ex, 0, sizeof ex);
	if (metacall_error_last(&ex) != 0) {
		ex.message = "function not found";
	}
	snprintf(label, label_cap, "%s", ex.label ? ex.label : "");
	snprintf(message, message_cap, "%s", ex.message ? ex.message : "");
	return NULL;
}

int mlb_load_from_file(const char *tag, const char *paths[], size_t size, char *err, size_t err_cap)
{
	metacall_error_clear();
	int rc = metacall_load_from_file(tag, paths, size, NULL);
	if (rc != 0) {
		last_error(err, err_cap);
	}
	return rc;
}

int mlb_load_from_memory(const char *tag, const char *buffer, size_t size, char *err, size_t err_cap)
{
	metacall_error_clear();
	int rc = metacall_load_from_memory(tag, buffer, size, NULL);
	if (rc != 0) {
		last_error(err, err_cap);
	}
	return rc;
}
