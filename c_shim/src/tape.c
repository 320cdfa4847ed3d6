/*
 * tape.c: the Go host's crossing (mlbridge_tape_call, see include/metacall/mlbridge.h). The
 * argument tape becomes Python objects directly and the result becomes a tape directly, with
 * no MetaCall values in between; the call itself is the core routine of call.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <metacall/mlbridge.h>

#include "glue.h"


/* --- arguments: tape -> Python ------------------------------------------------------------- */

struct reader {
	const unsigned char *start, *p, *end;
	size_t arg;
};

static int malformed(struct reader *r, const char *what)
{
	PyErr_Format(PyExc_ValueError, "argument %zu: malformed argument tape at byte %zu (%s)", r->arg,
		     (size_t)(r->p - r->start), what);
	return -1;
}

static int read_bytes(struct reader *r, void *dst, size_t n)
{
	if ((size_t)(r->end - r->p) < n)
		return malformed(r, "truncated");
	memcpy(dst, r->p, n);
	r->p += n;
	return 0;
}

/* A u64 count of items or bytes that the rest of the tape can hold (each item is >= 1 byte). */
static int read_count(struct reader *r, size_t *n)
{
	uint64_t u;
	if (read_bytes(r, &u, sizeof u) != 0)
		return -1;
	if (u > (uint64_t)(r->end - r->p))
		return malformed(r, "a count beyond the end of the tape");
	*n = (size_t)u;
	return 0;
}

static PyObject *read_value(struct reader *r, int depth);

/* A container at depth (how many containers hold it) within the limit of every host; Go's
   encoder refuses deeper values first, this keeps a malformed tape from recursing forever. */
static int within_depth(struct reader *r, int depth)
{
	if (depth < MLBRIDGE_MAX_DEPTH)
		return 1;
	PyErr_Format(PyExc_ValueError, "argument %zu: nested deeper than %d levels", r->arg, MLBRIDGE_MAX_DEPTH);
	return 0;
}

static PyObject *read_list(struct reader *r, int depth)
{
	size_t n;
	if (!within_depth(r, depth))
		return NULL;
	if (read_count(r, &n) != 0)
		return NULL;
	PyObject *list = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; list != NULL && i < n; ++i) {
		PyObject *item = read_value(r, depth + 1);
		if (item == NULL)
			Py_CLEAR(list);
		else
			PyList_SET_ITEM(list, (Py_ssize_t)i, item);
	}
	return list;
}

static PyObject *read_dict(struct reader *r, int depth)
{
	size_t n;
	if (!within_depth(r, depth))
		return NULL;
	if (read_count(r, &n) != 0)
		return NULL;
	PyObject *dict = PyDict_New();
	for (size_t i = 0; dict != NULL && i < n; ++i) {
		PyObject *key = read_value(r, depth + 1);
		PyObject *item = key ? read_value(r, depth + 1) : NULL;
		if (item == NULL || mlb_dict_add_new(dict, key, item, r->arg) != 0)
			Py_CLEAR(dict);
		Py_XDECREF(key);
		Py_XDECREF(item);
	}
	return dict;
}

static PyObject *read_value(struct reader *r, int depth)
{
	unsigned char tag;
	if (read_bytes(r, &tag, 1) != 0)
		return NULL;
	switch (tag) {
	case 'n':
		Py_RETURN_NONE;
	case 't':
		Py_RETURN_TRUE;
	case 'f':
		Py_RETURN_FALSE;
	case 'l': {
		int64_t l;
		return read_bytes(r, &l, sizeof l) == 0 ? PyLong_FromLongLong(l) : NULL;
	}
	case 'g': {
		float f;
		return read_bytes(r, &f, sizeof f) == 0 ? PyFloat_FromDouble(f) : NULL;
	}
	case 'd': {
		double d;
		return read_bytes(r, &d, sizeof d) == 0 ? PyFloat_FromDouble(d) : NULL;
	}
	case 's':
	case 'b': {
		size_t n;
		if (read_count(r, &n) != 0)
			return NULL;
		const char *bytes = (const char *)r->p;
		r->p += n;
		if (tag == 'b')
			return PyBytes_FromStringAndSize(bytes, (Py_ssize_t)n);
		PyObject *s = PyUnicode_DecodeUTF8(bytes, (Py_ssize_t)n, "strict");
		if (s == NULL) {
			PyErr_Clear();
			PyErr_Format(PyExc_ValueError, "argument %zu: a string is not valid UTF-8", r->arg);
		}
		return s;
	}
	case 'a':
		return read_list(r, depth);
	case 'm':
		return read_dict(r, depth);
	default:
		malformed(r, "unknown tag");
		return NULL;
	}
}

/* The arguments; 0, or -1 with an exception naming the argument (args cleared). */
static int read_arguments(const unsigned char *tape, size_t length, size_t argc, struct mlb_args *args)
{
	struct reader r = { tape, tape, tape + length, 0 };
	if (argc > length) /* every argument takes at least one byte */
		return malformed(&r, "more arguments than bytes");
	if (mlb_args_init(args, argc) != 0)
		return -1;
	for (size_t i = 0; i < argc; ++i) {
		r.arg = i;
		PyObject *o = read_value(&r, 0);
		if (o == NULL) {
			mlb_args_clear(args);
			return -1;
		}
		args->items[args->count++] = o;
	}
	if (r.p != r.end) {
		mlb_args_clear(args);
		return malformed(&r, "bytes after the last argument");
	}
	return 0;
}

/* --- results: Python -> tape ------------------------------------------------------------- */

/* Writes into the caller's buffer while the tape fits, then into a malloc'd one. */
struct tape_sink {
	struct mlb_sink base;
	unsigned char *buffer;
	size_t length, capacity;
	unsigned char *heap;
};

static int put(struct tape_sink *t, const void *p, size_t n)
{
	if (n > t->capacity - t->length) {
		size_t capacity = t->capacity * 2 > t->length + n ? t->capacity * 2 : t->length + n;
		unsigned char *heap = realloc(t->heap, capacity);
		if (heap == NULL) {
			PyErr_NoMemory();
			return -1;
		}
		if (t->heap == NULL && t->length > 0)
			memcpy(heap, t->buffer, t->length);
		t->heap = t->buffer = heap;
		t->capacity = capacity;
	}
	memcpy(t->buffer + t->length, p, n);
	t->length += n;
	return 0;
}

static int put_tagged(struct tape_sink *t, char tag, const void *p, size_t n)
{
	return put(t, &tag, 1) == 0 && put(t, p, n) == 0 ? 0 : -1;
}

static int put_text(struct tape_sink *t, char tag, const char *p, size_t n)
{
	uint64_t u = n;
	return put_tagged(t, tag, &u, sizeof u) == 0 && put(t, p, n) == 0 ? 0 : -1;
}

static int ts_null(struct mlb_sink *b)
{
	return put((struct tape_sink *)b, "n", 1);
}

static int ts_boolean(struct mlb_sink *b, int x)
{
	return put((struct tape_sink *)b, x ? "t" : "f", 1);
}

static int ts_integer(struct mlb_sink *b, long x)
{
	int64_t l = x;
	return put_tagged((struct tape_sink *)b, 'l', &l, sizeof l);
}

static int ts_real(struct mlb_sink *b, double x)
{
	return put_tagged((struct tape_sink *)b, 'd', &x, sizeof x);
}

static int ts_text(struct mlb_sink *b, const char *p, size_t n)
{
	return put_text((struct tape_sink *)b, 's', p, n);
}

static int ts_bytes(struct mlb_sink *b, const char *p, size_t n)
{
	return put_text((struct tape_sink *)b, 'b', p, n);
}

static int ts_open(struct mlb_sink *b, enum metacall_value_id id, size_t count)
{
	uint64_t u = count;
	return put_tagged((struct tape_sink *)b, id == METACALL_MAP ? 'm' : 'a', &u, sizeof u);
}

static int ts_close(struct mlb_sink *b)
{
	(void)b;
	return 0;
}

/* Replaces whatever was written with an 'x' record of the pending exception. */
static void put_exception(struct tape_sink *t)
{
	PyObject *exc = mlb_fetch_exception();
	struct mlb_description d = { NULL, NULL, NULL };
	if (exc != NULL)
		mlb_describe(exc, &d);
	Py_XDECREF(exc);
	const char *fields[3] = { d.label ? d.label : "SystemError",
				  d.message ? d.message : "(the exception could not be described)",
				  d.traceback ? d.traceback : "" };
	int64_t code = -1;
	t->length = 0;
	int rc = put_tagged(t, 'x', &code, sizeof code);
	for (int i = 0; rc == 0 && i < 3; ++i) {
		uint64_t n = strlen(fields[i]);
		rc = put(t, &n, sizeof n) == 0 && put(t, fields[i], n) == 0 ? 0 : -1;
	}
	PyErr_Clear();
	mlb_description_free(&d);
}

struct mlbridge_tape_result mlbridge_tape_call(const char *name, size_t name_length, const unsigned char *args,
					       size_t args_length, size_t argc, unsigned char *out, size_t out_capacity,
					       int held)
{
	struct mlbridge_tape_result res = { 0, NULL, MLBRIDGE_TAPE_OK };
	if (!held && !mlb_enter_call()) {
		res.status = MLBRIDGE_TAPE_NOT_INITIALIZED;
		return res;
	}
	int taken = mlb_gil_take();
	struct tape_sink sink = {
		{ ts_null, ts_boolean, ts_integer, ts_real, ts_text, ts_bytes, ts_open, ts_close },
		out, 0, out_capacity, NULL,
	};
	struct mlb_function *f = NULL;
	if (name == NULL || memchr(name, '\0', name_length) != NULL)
		PyErr_SetString(PyExc_ValueError, "the function name contains a NUL byte");
	else
		f = mlb_function_lookup(name, name_length);
	struct mlb_args argv;
	PyObject *result = NULL;
	if (f != NULL && read_arguments(args, args_length, argc, &argv) == 0) {
		result = mlb_invoke(f, &argv, 1);
		mlb_args_clear(&argv);
	}
	if (result == NULL || mlb_export(result, &sink.base) != 0)
		put_exception(&sink);
	Py_XDECREF(result);
	mlb_gil_give(taken);
	if (held)
		mlb_release_call();
	else
		mlb_leave_call();
	if (sink.length == 0) /* a tape is never empty: not even the 'x' record fitted */
		res.status = MLBRIDGE_TAPE_NO_MEMORY;
	res.length = sink.length;
	res.heap = sink.heap;
	return res;
}
