/*
 * convert.c: values <-> Python objects with the CPython API, as MetaCall's Python loader maps
 * them (bool<->BOOL, int<->LONG, ...; the one table for every host is docs/values.md).
 * Anything with a .tolist() (numpy scalars and arrays) becomes the plain value of its list.
 * A dict result whose keys are not all str is an error (a TypeError naming the key), never a
 * MAP with other keys: MetaCall's programs (the upstream Go port) read every MAP key as a string.
 *
 * The Python -> host direction is one walker (mlb_export) over a sink, so MetaCall values and
 * the Go tape (tape.c) follow the same rules. Runs with the GIL held.
 * Over 400 lines because both directions of one mapping and the MetaCall sink are kept side by
 * side, each rule next to its inverse.
 */
#include <stdlib.h>
#include <string.h>

#include <metacall/mlbridge.h>

#include "glue.h"

/* --- MetaCall values -> Python ------------------------------------------------------------ */

static PyObject *to_py(void *v, size_t arg, int depth);

/* The key already in dict that equals key (a borrowed reference), or NULL. */
static PyObject *equal_key(PyObject *dict, PyObject *key)
{
	Py_ssize_t pos = 0;
	PyObject *k, *v;
	while (PyDict_Next(dict, &pos, &k, &v))
		if (PyObject_RichCompareBool(k, key, Py_EQ) == 1)
			return k;
	PyErr_Clear();
	return NULL;
}

int mlb_dict_add_new(PyObject *dict, PyObject *key, PyObject *value, size_t arg)
{
	Py_ssize_t before = PyDict_GET_SIZE(dict);
	PyObject *earlier = NULL;
	int found = PyDict_Contains(dict, key);
	if (found == 1)
		earlier = equal_key(dict, key);
	if (found == 1 && earlier != NULL) {
		PyErr_Format(PyExc_ValueError, "argument %zu: MAP keys %.100R and %.100R are equal in Python (one dict key)",
			     arg, earlier, key);
		return -1;
	}
	if (found < 0 || PyDict_SetItem(dict, key, value) < 0) {
		PyErr_Clear();
		PyErr_Format(PyExc_TypeError, "argument %zu: MAP key %.100R is not hashable", arg, key);
		return -1;
	}
	if (PyDict_GET_SIZE(dict) == before) { /* equal keys that the search above missed */
		PyErr_Format(PyExc_ValueError, "argument %zu: MAP key %.100R equals another key in Python", arg, key);
		return -1;
	}
	return 0;
}

static PyObject *array_to_py(struct mlb_value *value, size_t arg, int depth)
{
	void **items = (void **)value->data;
	PyObject *list = PyList_New((Py_ssize_t)value->count);
	if (list == NULL)
		return NULL;
	for (size_t i = 0; i < value->count; ++i) {
		PyObject *item = to_py(items[i], arg, depth + 1);
		if (item == NULL) {
			Py_DECREF(list);
			return NULL;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, item);
	}
	return list;
}

static PyObject *map_to_py(struct mlb_value *value, size_t arg, int depth)
{
	void **pairs = (void **)value->data;
	PyObject *dict = PyDict_New();
	if (dict == NULL)
		return NULL;
	for (size_t i = 0; i < value->count; ++i) {
		struct mlb_value *pair = mlb_value_check(pairs[i]);
		if (pair == NULL || pair->id != METACALL_ARRAY || pair->count != 2) {
			PyErr_Format(PyExc_TypeError,
				     "argument %zu: MAP entry %zu is not a 2-element ARRAY [key, value]", arg, i);
			goto fail;
		}
		void **kv = (void **)pair->data;
		PyObject *key = to_py(kv[0], arg, depth + 1);
		if (key == NULL)
			goto fail;
		PyObject *item = to_py(kv[1], arg, depth + 1);
		int rc = item ? mlb_dict_add_new(dict, key, item, arg) : -1;
		Py_DECREF(key);
		Py_XDECREF(item);
		if (rc < 0)
			goto fail;
	}
	return dict;
fail:
	Py_DECREF(dict);
	return NULL;
}

/* depth: how many containers hold v. */
static PyObject *to_py(void *v, size_t arg, int depth)
{
	struct mlb_value *value = mlb_value_check(v);
	if (value == NULL) {
		PyErr_Format(PyExc_TypeError,
			     "argument %zu: not a value (NULL, destroyed, or not made by metacall_value_create_*)", arg);
		return NULL;
	}
	switch (value->id) {
	case METACALL_NULL:
		Py_RETURN_NONE;
	case METACALL_BOOL:
		return PyBool_FromLong(value->scalar.b);
	case METACALL_CHAR:
		return PyLong_FromLong(value->scalar.c);
	case METACALL_SHORT:
		return PyLong_FromLong(value->scalar.s);
	case METACALL_INT:
		return PyLong_FromLong(value->scalar.i);
	case METACALL_LONG:
		return PyLong_FromLong(value->scalar.l);
	case METACALL_FLOAT:
		return PyFloat_FromDouble(value->scalar.f);
	case METACALL_DOUBLE:
		return PyFloat_FromDouble(value->scalar.d);
	case METACALL_STRING: {
		PyObject *s = PyUnicode_DecodeUTF8((const char *)value->data, (Py_ssize_t)(value->size - 1), "strict");
		if (s == NULL) {
			PyErr_Clear();
			PyErr_Format(PyExc_ValueError, "argument %zu: STRING value is not valid UTF-8", arg);
		}
		return s;
	}
	case METACALL_BUFFER:
		return PyBytes_FromStringAndSize((const char *)value->data, (Py_ssize_t)value->size);
	case METACALL_ARRAY:
	case METACALL_MAP:
		if (depth >= MLBRIDGE_MAX_DEPTH) { /* a container that holds itself ends here too */
			PyErr_Format(PyExc_ValueError, "argument %zu: nested deeper than %d levels", arg,
				     MLBRIDGE_MAX_DEPTH);
			return NULL;
		}
		return value->id == METACALL_ARRAY ? array_to_py(value, arg, depth) : map_to_py(value, arg, depth);
	default:
		PyErr_Format(PyExc_TypeError, "argument %zu: values of id %d are not supported", arg, (int)value->id);
		return NULL;
	}
}

PyObject *mlb_value_to_py(void *v, size_t arg)
{
	return to_py(v, arg, 0);
}

/* --- Python -> a sink: the rules -------------------------------------------------------- */

static int export(PyObject *o, struct mlb_sink *sink, int depth);

static int export_sequence(PyObject *o, struct mlb_sink *sink, int depth)
{
	PyObject *seq = PySequence_Fast(o, "not a sequence");
	if (seq == NULL)
		return -1;
	Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
	int rc = sink->open(sink, METACALL_ARRAY, (size_t)n);
	for (Py_ssize_t i = 0; rc == 0 && i < n; ++i) {
		/* A tolist() below may run Python code that shrinks a list under us. */
		if (i >= PySequence_Fast_GET_SIZE(seq)) {
			PyErr_SetString(PyExc_RuntimeError, "a list changed size while it was converted");
			rc = -1;
		} else {
			rc = export(PySequence_Fast_GET_ITEM(seq, i), sink, depth + 1);
		}
	}
	Py_DECREF(seq);
	return rc == 0 ? sink->close(sink) : -1;
}

static int export_dict(PyObject *o, struct mlb_sink *sink, int depth)
{
	PyObject *entries = PyDict_Items(o); /* a snapshot: conversions may run Python code */
	if (entries == NULL)
		return -1;
	Py_ssize_t n = PyList_GET_SIZE(entries);
	/* MetaCall's own Python loader drops such entries silently, and the upstream Go port
	   panics on a key that is not a string: refuse the dict, naming the key. */
	for (Py_ssize_t i = 0; i < n; ++i) {
		PyObject *key = PyTuple_GET_ITEM(PyList_GET_ITEM(entries, i), 0);
		if (!PyUnicode_Check(key)) {
			PyErr_Format(PyExc_TypeError, "dict key %.200R (%.100s) is not a string", key,
				     Py_TYPE(key)->tp_name);
			Py_DECREF(entries);
			return -1;
		}
	}
	int rc = sink->open(sink, METACALL_MAP, (size_t)n);
	for (Py_ssize_t i = 0; rc == 0 && i < n; ++i) {
		PyObject *entry = PyList_GET_ITEM(entries, i);
		rc = export(PyTuple_GET_ITEM(entry, 0), sink, depth + 1);
		if (rc == 0)
			rc = export(PyTuple_GET_ITEM(entry, 1), sink, depth + 1);
	}
	Py_DECREF(entries);
	return rc == 0 ? sink->close(sink) : -1;
}

/* numpy scalars and arrays (and anything else list-like) travel as plain values. */
static int export_tolist(PyObject *o, struct mlb_sink *sink, int depth)
{
	PyObject *tolist = NULL;
#if PY_VERSION_HEX >= 0x030D0000
	if (PyObject_GetOptionalAttr(o, mlb_py.s_tolist, &tolist) < 0)
#else
	if (_PyObject_LookupAttr(o, mlb_py.s_tolist, &tolist) < 0)
#endif
		return -1;
	if (tolist == NULL) {
		PyErr_Format(PyExc_TypeError, "cannot convert a Python %.200s to a MetaCall value", Py_TYPE(o)->tp_name);
		return -1;
	}
	PyObject *plain = PyObject_CallNoArgs(tolist);
	Py_DECREF(tolist);
	if (plain == NULL)
		return -1;
	/* One step: a tolist() that gives something that needs tolist() again could go on forever. */
	if (!(plain == Py_None || PyBool_Check(plain) || PyLong_Check(plain) || PyFloat_Check(plain) ||
	      PyUnicode_Check(plain) || PyBytes_Check(plain) || PyByteArray_Check(plain) || PyList_Check(plain) ||
	      PyTuple_Check(plain) || PyDict_Check(plain))) {
		PyErr_Format(PyExc_TypeError, "cannot convert a Python %.200s to a MetaCall value (its tolist() gave a %.200s)",
			     Py_TYPE(o)->tp_name, Py_TYPE(plain)->tp_name);
		Py_DECREF(plain);
		return -1;
	}
	int rc = export(plain, sink, depth); /* its list is the container, at o's depth */
	Py_DECREF(plain);
	return rc;
}

/* An int travels as a LONG: 0, or -1 with OverflowError beyond its 64-bit range. */
static int int_of(PyObject *o, long *l)
{
	*l = PyLong_AsLong(o);
	return *l == -1 && PyErr_Occurred() ? -1 : 0;
}

/* depth: how many containers hold o. */
static int export(PyObject *o, struct mlb_sink *sink, int depth)
{
	if (o == Py_None)
		return sink->null(sink);
	if (PyBool_Check(o))
		return sink->truth(sink, o == Py_True);
	if (PyLong_Check(o)) {
		long l;
		return int_of(o, &l) == 0 ? sink->integer(sink, l) : -1;
	}
	if (PyFloat_Check(o))
		return sink->real(sink, PyFloat_AS_DOUBLE(o));
	if (PyUnicode_Check(o)) {
		Py_ssize_t n;
		const char *utf8 = PyUnicode_AsUTF8AndSize(o, &n);
		/* lone surrogates: a UnicodeEncodeError */
		return utf8 ? sink->text(sink, utf8, (size_t)n) : -1;
	}
	if (PyBytes_Check(o))
		return sink->bytes(sink, PyBytes_AS_STRING(o), (size_t)PyBytes_GET_SIZE(o));
	if (PyByteArray_Check(o))
		return sink->bytes(sink, PyByteArray_AS_STRING(o), (size_t)PyByteArray_GET_SIZE(o));
	int container = PyList_Check(o) || PyTuple_Check(o) || PyDict_Check(o);
	if (container && depth >= MLBRIDGE_MAX_DEPTH) { /* a list that holds itself ends here too */
		PyErr_Format(PyExc_ValueError, "the result is nested deeper than %d levels", MLBRIDGE_MAX_DEPTH);
		return -1;
	}
	if (PyList_Check(o) || PyTuple_Check(o))
		return export_sequence(o, sink, depth);
	if (PyDict_Check(o))
		return export_dict(o, sink, depth);
	return export_tolist(o, sink, depth);
}

int mlb_export(PyObject *o, struct mlb_sink *sink)
{
	return export(o, sink, 0);
}

/* --- the sink that builds MetaCall values ------------------------------------------------ */

/* An open container: the next slot to fill, and a MAP's key waiting for its value. */
struct frame {
	void **slots;
	size_t next;
	int is_map;
	void *key;
};

struct value_sink {
	struct mlb_sink base;
	struct frame *frames;
	size_t depth, capacity;
	void *root;
};

/* Gives v to the innermost open container (or makes it the root); takes ownership. */
static int place(struct value_sink *s, void *v)
{
	if (v == NULL) {
		PyErr_NoMemory();
		return -1;
	}
	if (s->depth == 0) {
		s->root = v;
		return 0;
	}
	struct frame *top = &s->frames[s->depth - 1];
	if (top->is_map && top->key == NULL) {
		top->key = v;
		return 0;
	}
	if (top->is_map) {
		const void *kv[2] = { top->key, v };
		void *pair = metacall_value_create_array(kv, 2);
		if (pair == NULL) {
			metacall_value_destroy(v); /* the key stays in the frame, freed by the caller */
			PyErr_NoMemory();
			return -1;
		}
		top->key = NULL;
		v = pair;
	}
	top->slots[top->next++] = v;
	return 0;
}

static int vs_null(struct mlb_sink *b)
{
	return place((struct value_sink *)b, metacall_value_create_null());
}

static int vs_boolean(struct mlb_sink *b, int x)
{
	return place((struct value_sink *)b, metacall_value_create_bool((boolean)x));
}

static int vs_integer(struct mlb_sink *b, long x)
{
	return place((struct value_sink *)b, metacall_value_create_long(x));
}

static int vs_real(struct mlb_sink *b, double x)
{
	return place((struct value_sink *)b, metacall_value_create_double(x));
}

static int vs_text(struct mlb_sink *b, const char *p, size_t n)
{
	return place((struct value_sink *)b, metacall_value_create_string(p, n));
}

static int vs_bytes(struct mlb_sink *b, const char *p, size_t n)
{
	return place((struct value_sink *)b, metacall_value_create_buffer(p, n));
}

static int vs_open(struct mlb_sink *b, enum metacall_value_id id, size_t count)
{
	struct value_sink *s = (struct value_sink *)b;
	if (s->depth == s->capacity) {
		size_t capacity = s->capacity ? 2 * s->capacity : 16;
		struct frame *frames = realloc(s->frames, capacity * sizeof(*frames));
		if (frames == NULL) {
			PyErr_NoMemory();
			return -1;
		}
		s->frames = frames;
		s->capacity = capacity;
	}
	void *container = id == METACALL_MAP ? metacall_value_create_map(NULL, count)
					     : metacall_value_create_array(NULL, count);
	if (place(s, container) != 0) /* the parent owns it from here */
		return -1;
	struct frame *f = &s->frames[s->depth++];
	f->slots = id == METACALL_MAP ? metacall_value_to_map(container) : metacall_value_to_array(container);
	f->next = 0;
	f->is_map = id == METACALL_MAP;
	f->key = NULL;
	return 0;
}

static int vs_close(struct mlb_sink *b)
{
	--((struct value_sink *)b)->depth;
	return 0;
}

/* An int result as a LONG without the sink (the same rule: int_of); NULL with an exception. */
static void *long_value(PyObject *o)
{
	long l;
	if (int_of(o, &l) != 0)
		return NULL;
	void *v = metacall_value_create_long(l);
	if (v == NULL)
		PyErr_NoMemory();
	return v;
}

void *mlb_py_to_value(PyObject *o)
{
	if (PyLong_CheckExact(o)) /* the most common result, on the hot path */
		return long_value(o);
	struct value_sink s = {
		{ vs_null, vs_boolean, vs_integer, vs_real, vs_text, vs_bytes, vs_open, vs_close },
		NULL, 0, 0, NULL,
	};
	int rc = mlb_export(o, &s.base);
	if (rc != 0) {
		/* Containers own what was placed in them; only keys still waiting are loose. */
		for (size_t i = 0; i < s.depth; ++i)
			metacall_value_destroy(s.frames[i].key);
		metacall_value_destroy(s.root);
		s.root = NULL;
	}
	free(s.frames);
	return s.root;
}

/* --- exceptions ----------------------------------------------------------------------------- */

static char *utf8_attribute(PyObject *info, PyObject *name)
{
	PyObject *text = PyObject_GetAttr(info, name);
	if (text == NULL)
		return NULL;
	PyObject *bytes = PyUnicode_Check(text) ? PyUnicode_AsEncodedString(text, "utf-8", "replace") : NULL;
	Py_DECREF(text);
	if (bytes == NULL)
		return NULL;
	char *copy = strdup(PyBytes_AS_STRING(bytes));
	Py_DECREF(bytes);
	return copy;
}

void mlb_describe(PyObject *exc, struct mlb_description *d)
{
	d->label = d->message = d->traceback = NULL;
	/* While metacall_initialize imports the seam (bridge._cabi), a name it lacks is reported
	   through here before the describer and its attribute names are all loaded. */
	int seam = mlb_py.describe && mlb_py.s_type_name && mlb_py.s_message && mlb_py.s_traceback;
	PyObject *info = seam ? PyObject_CallOneArg(mlb_py.describe, exc) : NULL;
	if (info != NULL) {
		d->label = utf8_attribute(info, mlb_py.s_type_name);
		d->message = utf8_attribute(info, mlb_py.s_message);
		d->traceback = utf8_attribute(info, mlb_py.s_traceback);
		Py_DECREF(info);
	}
	PyErr_Clear();
	if (d->label == NULL)
		d->label = strdup(Py_TYPE(exc)->tp_name);
	if (d->message == NULL) {
		PyObject *text = PyObject_Str(exc);
		const char *utf8 = text ? PyUnicode_AsUTF8(text) : NULL;
		d->message = utf8 ? strdup(utf8) : NULL;
		Py_XDECREF(text);
		PyErr_Clear();
	}
}

void mlb_description_free(struct mlb_description *d)
{
	free(d->label);
	free(d->message);
	free(d->traceback);
}

void *mlb_throwable_from_exception(PyObject *exc)
{
	struct mlb_description d;
	mlb_describe(exc, &d);
	void *throwable = mlb_throwable_new(d.label, d.message ? d.message : "(the exception could not be described)",
					    d.traceback ? d.traceback : "");
	mlb_description_free(&d);
	return throwable;
}

PyObject *mlb_fetch_exception(void)
{
	PyObject *type, *value, *tb;
	PyErr_Fetch(&type, &value, &tb);
	if (type == NULL)
		return NULL;
	PyErr_NormalizeException(&type, &value, &tb);
	if (tb != NULL && value != NULL)
		PyException_SetTraceback(value, tb);
	Py_XDECREF(type);
	Py_XDECREF(tb);
	return value;
}

void *mlb_throwable_from_pyerr(void)
{
	PyObject *value = mlb_fetch_exception();
	if (value == NULL)
		return mlb_throwable_new("SystemError", "a call failed without setting an exception", "");
	void *throwable = mlb_throwable_from_exception(value);
	Py_DECREF(value);
	return throwable;
}
