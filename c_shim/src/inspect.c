/*
 * inspect.c: MetaCall's introspection and the small API around calls: metacall_inspect and
 * metacall_inspect_value,
 * metacall_function_size / _async, metacallv / metacallfv / metacallhv (arguments counted by
 * the function's signature),
 * metacall_null_args, metacall_log_null, metacall_version_str, metacall_print_info.
 */
#include <stdlib.h>
#include <string.h>

#include "c_api.h"
#include "extra.h"

#ifndef MLBRIDGE_VERSION
#define MLBRIDGE_VERSION "0.0.0"
#endif

void *metacall_null_args[1] = { NULL };

void metacall_log_null(void)
{
	/* Nothing to silence: the shim never writes to stdout (errors go to metacall_error_last). */
}

const char *metacall_version_str(void)
{
	return MLBRIDGE_VERSION;
}

const char *metacall_print_info(void)
{
	static const char info[] = "mlbridge libmetacall " MLBRIDGE_VERSION
				   ": MetaCall's C API over one embedded CPython " PY_VERSION " runtime\n"
				   "Compiled as shared library type\n";
	return info;
}

enum function_fact { FUNCTION_SIZE, FUNCTION_ASYNC };

/* The fact about func that bridge.handles answers (its function_size or function_async); -1
   when func is no function of ours, not loaded, or not initialized (the reason recorded). */
static long function_fact(void *func, enum function_fact which)
{
	struct mlb_function *f = mlb_function_check(func);
	if (f == NULL) {
		mlbridge_record_error("mlbridge.InvalidArgument", "not a function handle (NULL or not from metacall_function)", "");
		return -1;
	}
	if (!mlb_enter_call()) {
		mlbridge_record_error("mlbridge.NotInitialized", "metacall is not initialized", "");
		return -1;
	}
	int taken = mlb_gil_take();
	const struct mlb_extra *x = mlb_extra();
	PyObject *entry = x ? mlb_function_entry(f) : NULL;
	PyObject *answer = NULL;
	if (entry != NULL)
		answer = PyObject_CallOneArg(which == FUNCTION_SIZE ? x->function_size : x->function_async, entry);
	long fact = answer ? PyLong_AsLong(answer) : -1;
	if (PyErr_Occurred()) {
		fact = -1;
		mlb_record_pyerr();
	}
	Py_XDECREF(answer);
	Py_XDECREF(entry);
	mlb_gil_give(taken);
	mlb_leave_call();
	return fact;
}

size_t metacall_function_size(void *func)
{
	long size = function_fact(func, FUNCTION_SIZE);
	return size < 0 ? 0 : (size_t)size;
}

int metacall_function_async(void *func)
{
	long is_async = function_fact(func, FUNCTION_ASYNC);
	return is_async < 0 ? -1 : is_async != 0;
}

void *metacallfv(void *func, void *args[])
{
	/* An unknown handle counts 0 arguments; metacallfv_s then answers why it is refused. */
	return metacallfv_s(func, args, metacall_function_size(func));
}

void *metacallv(const char *name, void *args[])
{
	if (name == NULL)
		return mlb_throwable_new("mlbridge.InvalidArgument", "metacallv: the name is NULL", "");
	void *f = metacall_function(name);
	return f ? metacallfv(f, args) : mlb_last_error_throwable();
}

void *metacallhv(void *handle, const char *name, void *args[])
{
	void *f = metacall_handle_function(handle, name);
	return f ? metacallfv(f, args) : mlb_last_error_throwable();
}

/* Under the GIL, with the call entered: inspect's text as UTF-8 bytes (a new reference), or
   NULL with an exception set. */
static PyObject *inspect_text(void)
{
	const struct mlb_extra *x = mlb_extra();
	PyObject *text = x ? PyObject_CallNoArgs(x->inspect_json) : NULL;
	PyObject *utf8 = text ? PyUnicode_AsUTF8String(text) : NULL;
	Py_XDECREF(text);
	return utf8;
}

char *metacall_inspect(size_t *size, void *allocator)
{
	if (size != NULL)
		*size = 0;
	PyObject *utf8 = NULL;
	const char *text = "{}"; /* not initialized: nothing is loaded */
	size_t length = 2;
	int entered = mlb_enter_call();
	int taken = 0;
	if (entered) {
		taken = mlb_gil_take();
		utf8 = inspect_text();
		if (utf8 == NULL) {
			mlb_record_pyerr();
			mlb_gil_give(taken);
			mlb_leave_call();
			return NULL;
		}
		text = PyBytes_AS_STRING(utf8);
		length = (size_t)PyBytes_GET_SIZE(utf8);
	}
	char *out = allocator ? metacall_allocator_alloc(allocator, length + 1) : malloc(length + 1);
	if (out != NULL) {
		memcpy(out, text, length + 1);
		if (size != NULL)
			*size = length + 1;
	} else {
		mlbridge_record_error("MemoryError", "metacall_inspect: the allocator gave no memory", "");
	}
	if (entered) {
		Py_DECREF(utf8);
		mlb_gil_give(taken);
		mlb_leave_call();
	}
	return out;
}

void *metacall_inspect_value(void)
{
	if (!mlb_enter_call())
		return metacall_value_create_map(NULL, 0); /* not initialized: nothing is loaded */
	int taken = mlb_gil_take();
	const struct mlb_extra *x = mlb_extra();
	PyObject *data = x ? PyObject_CallNoArgs(x->inspect_data) : NULL;
	void *v = data ? mlb_py_to_value(data) : NULL;
	Py_XDECREF(data);
	if (v == NULL)
		mlb_record_pyerr();
	mlb_gil_give(taken);
	mlb_leave_call();
	return v;
}
