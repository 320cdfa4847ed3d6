/*
 * convert.c: values <-> Python objects with the CPython API, as MetaCall's Python loader maps
 * them: bool<->BOOL, int<->LONG (CHAR/SHORT/INT come in as int), float<->DOUBLE (FLOAT comes in
 * as float), str<->STRING, bytes<->BUFFER, list/tuple<->ARRAY, dict<->MAP, None<->NULL.
 * A dict result whose keys are not all str is an error (a TypeError naming the key), never a
 * MAP with other keys: MetaCall's programs (the upstream Go port) read every MAP key as a string.
 * Anything with a .tolist() (numpy scalars and arrays) becomes the plain value of its list.
 * Runs with the GIL held.
 */
#include <stdlib.h>
#include <string.h>

#include "glue.h"

static PyObject *to_py(void *v, size_t arg);

static PyObject *array_to_py(struct mlb_value *value, size_t arg)
{
	void **items = (void **)value->data;
	PyObject *list = PyList_New((Py_ssize_t)value->count);
	if (list == NULL)
		return NULL;
	for (size_t i = 0; i < value->count; ++i) {
		PyObject *item = to_py(items[i], arg);
		if (item == NULL) {
			Py_DECREF(list);
			return NULL;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, item);
	}
	return list;
}

static PyObject *map_to_py(struct mlb_value *value, size_t arg)
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
		PyObject *key = to_py(kv[0], arg);
		if (key == NULL)
			goto fail;
		PyObject *item = to_py(kv[1], arg);
		if (item == NULL) {
			Py_DECREF(key);
			goto fail;
		}
		int rc = PyDict_SetItem(dict, key, item);
		Py_DECREF(key);
		Py_DECREF(item);
		if (rc < 0) {
			PyErr_Clear();
			PyErr_Format(PyExc_TypeError, "argument %zu: MAP key %zu is not hashable", arg, i);
			goto fail;
		}
	}
	return dict;
fail:
	Py_DECREF(dict);
	return NULL;
}

static PyObject *to_py(void *v, size_t arg)
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
	case METACALL_MAP: {
		if (Py_EnterRecursiveCall(" while converting a MetaCall value"))
			return NULL;
		PyObject *o = value->id == METACALL_ARRAY ? array_to_py(value, arg) : map_to_py(value, arg);
		Py_LeaveRecursiveCall();
		return o;
	}
	default:
		PyErr_Format(PyExc_TypeError, "argument %zu: values of id %d are not supported", arg, (int)value->id);
		return NULL;
	}
}

PyObject *mlb_value_to_py(void *v, size_t arg)
{
	return to_py(v, arg);
}

static void destroy_items(void **items, size_t n)
{
	for (size_t i = 0; i < n; ++i)
		metacall_value_destroy(items[i]);
}

static void *sequence_to_value(PyObject *o)
{
	PyObject *seq = PySequence_Fast(o, "not a sequence");
	if (seq == NULL)
		return NULL;
	Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
	void *array = metacall_value_create_array(NULL, (size_t)n);
	if (array == NULL) {
		Py_DECREF(seq);
		return PyErr_NoMemory();
	}
	void **items = metacall_value_to_array(array);
	for (Py_ssize_t i = 0; i < n; ++i) {
		/* A tolist() below may run Python code that shrinks a list under us. */
		if (i >= PySequence_Fast_GET_SIZE(seq)) {
			PyErr_SetString(PyExc_RuntimeError, "a list changed size while it was converted");
			goto fail;
		}
		items[i] = mlb_py_to_value(PySequence_Fast_GET_ITEM(seq, i));
		if (items[i] == NULL)
			goto fail;
	}
	Py_DECREF(seq);
	return array;
fail:
	Py_DECREF(seq);
	metacall_value_destroy(array);
	return NULL;
}

static void *dict_to_value(PyObject *o)
{
	PyObject *entries = PyDict_Items(o); /* a snapshot: conversions may run Python code */
	if (entries == NULL)
		return NULL;
	Py_ssize_t n = PyList_GET_SIZE(entries);
	void *map = metacall_value_create_map(NULL, (size_t)n);
	if (map == NULL) {
		Py_DECREF(entries);
		return PyErr_NoMemory();
	}
	void **pairs = metacall_value_to_map(map);
	for (Py_ssize_t i = 0; i < n; ++i) {
		PyObject *entry = PyList_GET_ITEM(entries, i);
		PyObject *key = PyTuple_GET_ITEM(entry, 0);
		/* MetaCall's own Python loader drops such entries silently, and the upstream Go port
		   panics on a key that is not a string: refuse the dict, naming the key. */
		if (!PyUnicode_Check(key)) {
			PyErr_Format(PyExc_TypeError, "dict key %.200R (%.100s) is not a string", key,
				     Py_TYPE(key)->tp_name);
			goto fail;
		}
		void *kv[2] = { mlb_py_to_value(key), NULL };
		if (kv[0] != NULL)
			kv[1] = mlb_py_to_value(PyTuple_GET_ITEM(entry, 1));
		if (kv[1] == NULL) {
			destroy_items(kv, 2);
			goto fail;
		}
		pairs[i] = metacall_value_create_array((const void **)kv, 2);
		if (pairs[i] == NULL) {
			destroy_items(kv, 2);
			PyErr_NoMemory();
			goto fail;
		}
	}
	Py_DECREF(entries);
	return map;
fail:
	Py_DECREF(entries);
	metacall_value_destroy(map);
	return NULL;
}

static void *text_to_value(PyObject *o)
{
	Py_ssize_t n;
	const char *utf8 = PyUnicode_AsUTF8AndSize(o, &n);
	if (utf8 == NULL)
		return NULL; /* lone surrogates: a UnicodeEncodeError becomes the THROWABLE */
	void *v = metacall_value_create_string(utf8, (size_t)n);
	return v ? v : PyErr_NoMemory();
}

static void *convert(PyObject *o)
{
	void *v = NULL;
	if (o == Py_None)
		v = metacall_value_create_null();
	else if (PyBool_Check(o))
		v = metacall_value_create_bool(o == Py_True);
	else if (PyLong_Check(o)) {
		long l = PyLong_AsLong(o);
		if (l == -1 && PyErr_Occurred())
			return NULL; /* OverflowError: beyond the 64-bit range of LONG */
		v = metacall_value_create_long(l);
	} else if (PyFloat_Check(o))
		v = metacall_value_create_double(PyFloat_AS_DOUBLE(o));
	else if (PyUnicode_Check(o))
		return text_to_value(o);
	else if (PyBytes_Check(o))
		v = metacall_value_create_buffer(PyBytes_AS_STRING(o), (size_t)PyBytes_GET_SIZE(o));
	else if (PyByteArray_Check(o))
		v = metacall_value_create_buffer(PyByteArray_AS_STRING(o), (size_t)PyByteArray_GET_SIZE(o));
	else if (PyList_Check(o) || PyTuple_Check(o))
		return sequence_to_value(o);
	else if (PyDict_Check(o))
		return dict_to_value(o);
	else {
		/* numpy scalars and arrays (and anything else list-like) travel as plain values. */
		PyObject *tolist = NULL;
#if PY_VERSION_HEX >= 0x030D0000
		if (PyObject_GetOptionalAttr(o, mlb_py.s_tolist, &tolist) < 0)
#else
		if (_PyObject_LookupAttr(o, mlb_py.s_tolist, &tolist) < 0)
#endif
			return NULL;
		if (tolist == NULL) {
			PyErr_Format(PyExc_TypeError, "cannot convert a Python %.200s to a MetaCall value",
				     Py_TYPE(o)->tp_name);
			return NULL;
		}
		PyObject *plain = PyObject_CallNoArgs(tolist);
		Py_DECREF(tolist);
		if (plain == NULL)
			return NULL;
		v = mlb_py_to_value(plain);
		Py_DECREF(plain);
		return v;
	}
	return v ? v : PyErr_NoMemory();
}

void *mlb_py_to_value(PyObject *o)
{
	if (Py_EnterRecursiveCall(" while converting a Python result"))
		return NULL;
	void *v = convert(o);
	Py_LeaveRecursiveCall();
	return v;
}

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

void *mlb_throwable_from_exception(PyObject *exc)
{
	char *label = NULL, *message = NULL, *trace = NULL;
	PyObject *info = PyObject_CallOneArg(mlb_py.describe, exc);
	if (info != NULL) {
		label = utf8_attribute(info, mlb_py.s_type_name);
		message = utf8_attribute(info, mlb_py.s_message);
		trace = utf8_attribute(info, mlb_py.s_traceback);
		Py_DECREF(info);
	}
	PyErr_Clear();
	void *throwable = mlb_throwable_new(label ? label : Py_TYPE(exc)->tp_name,
					    message ? message : "(the exception could not be described)",
					    trace ? trace : "");
	free(label);
	free(message);
	free(trace);
	return throwable;
}

void *mlb_throwable_from_pyerr(void)
{
	PyObject *type, *value, *tb;
	PyErr_Fetch(&type, &value, &tb);
	if (type == NULL)
		return mlb_throwable_new("SystemError", "a call failed without setting an exception", "");
	PyErr_NormalizeException(&type, &value, &tb);
	if (tb != NULL && value != NULL)
		PyException_SetTraceback(value, tb);
	void *throwable = value != NULL ? mlb_throwable_from_exception(value)
					: mlb_throwable_new("SystemError", "an exception could not be created", "");
	Py_XDECREF(type);
	Py_XDECREF(value);
	Py_XDECREF(tb);
	return throwable;
}
