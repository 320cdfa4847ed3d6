/*
 * handle.c: MetaCall's private handles. A load given a handle puts its functions in a scope of
 * their own (bridge.handles.PrivateScope), reached through the handle only: metacallhv_s,
 * metacall_handle_function, metacall_handle_export; metacall_clear unloads one. The calls go
 * through the one core call routine of call.c, with function handles that read the handle's
 * table instead of the global one.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "c_api.h"
#include "extra.h"

/* One function of a handle, made on first use and kept (never freed, as global ones). */
struct handle_function {
	struct handle_function *next;
	char *name;
	struct mlb_function *f;
};

/* A private handle. The struct is never freed (a few bytes), so that any pointer a host
   passes can be checked; clearing it (metacall_clear, metacall_destroy) lets go of its scope
   and of everything its functions read from it, and calls through it then fail. */
struct mlb_handle {
	struct mlb_handle *next;
	PyObject *scope;                   /* a bridge.handles.PrivateScope; NULL once cleared */
	/* Prepended under the GIL with a release store, never removed: read without the GIL. */
	struct handle_function *_Atomic functions;
};

static const char *const cleared = "this handle was cleared (metacall_clear or metacall_destroy)";

/* Every handle made, newest first: prepended under handles_lock with a release store, never
   removed, so readers walk it without the lock. */
static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mlb_handle *_Atomic handles;

static struct mlb_extra extra;
static int extra_ready; /* under the GIL */

const struct mlb_extra *mlb_extra(void)
{
	if (extra_ready)
		return &extra;
	PyObject *cabi = PyImport_ImportModule("bridge._cabi");
	if (cabi == NULL)
		return NULL;
	struct { PyObject **slot; const char *attribute; } names[] = {
		{ &extra.load, "handle_load" },
		{ &extra.close, "handle_close" },
		{ &extra.export_names, "handle_export" },
		{ &extra.inspect_json, "inspect_json" },
		{ &extra.inspect_data, "inspect_data" },
		{ &extra.function_size, "function_size" },
		{ &extra.function_async, "function_async" },
	};
	size_t count = sizeof(names) / sizeof(names[0]), i = 0;
	while (i < count && (*names[i].slot = PyObject_GetAttrString(cabi, names[i].attribute)) != NULL)
		++i;
	Py_DECREF(cabi);
	if (i < count) {
		for (size_t j = 0; j < i; ++j)
			Py_CLEAR(*names[j].slot);
		return NULL;
	}
	extra_ready = 1;
	return &extra;
}

void *mlb_last_error_throwable(void)
{
	struct metacall_exception_type ex;
	if (metacall_error_last(&ex) == 0)
		return mlb_throwable_new(ex.label, ex.message, ex.stacktrace);
	return mlb_throwable_new("mlbridge.Error", "failed (no reason recorded)", "");
}

/* The handle h points at, or NULL. A lookup, as MetaCall validates handles, so that any
   pointer value may be passed. */
static struct mlb_handle *find_handle(void *h)
{
	struct mlb_handle *found = atomic_load_explicit(&handles, memory_order_acquire);
	while (found != NULL && (void *)found != h)
		found = found->next;
	return found;
}

/* h's function handle for name if it was looked up before, else NULL; without the GIL (whether
   it is still loaded is checked by the call). */
static struct mlb_function *find_known(struct mlb_handle *h, const char *name)
{
	struct handle_function *known = atomic_load_explicit(&h->functions, memory_order_acquire);
	while (known != NULL && strcmp(known->name, name) != 0)
		known = known->next;
	return known ? known->f : NULL;
}

static struct mlb_handle *checked_handle(void *h, const char *who)
{
	struct mlb_handle *found = h ? find_handle(h) : NULL;
	if (found == NULL) {
		char message[160];
		snprintf(message, sizeof(message), "%s: not a handle (from metacall_load_from_* with a handle)", who);
		mlbridge_record_error("mlbridge.InvalidArgument", message, "");
	}
	return found;
}

static int enter(const char *who)
{
	if (mlb_enter_call())
		return 1;
	char message[160];
	snprintf(message, sizeof(message), "%s: metacall is not initialized", who);
	mlbridge_record_error("mlbridge.NotInitialized", message, "");
	return 0;
}

/* Under the GIL: the scope after loading into into's scope (or a new one): a new reference,
   or NULL with an exception set. */
static PyObject *load_scope(struct mlb_handle *into, const char *tag, const char *paths[], size_t count,
			    const char *buffer, size_t size)
{
	const struct mlb_extra *x = mlb_extra();
	if (x == NULL)
		return NULL;
	if (into != NULL && into->scope == NULL) {
		PyErr_SetString(PyExc_LookupError, cleared);
		return NULL;
	}
	if (size > (size_t)PY_SSIZE_T_MAX || count > (size_t)PY_SSIZE_T_MAX)
		return PyErr_NoMemory();
	PyObject *source = paths ? PyList_New((Py_ssize_t)count) : PyBytes_FromStringAndSize(buffer, (Py_ssize_t)size);
	for (size_t i = 0; paths != NULL && source != NULL && i < count; ++i) {
		PyObject *path = PyBytes_FromString(paths[i]);
		if (path == NULL)
			Py_CLEAR(source);
		else
			PyList_SET_ITEM(source, (Py_ssize_t)i, path);
	}
	PyObject *tag_obj = PyBytes_FromString(tag);
	PyObject *scope = NULL;
	if (source != NULL && tag_obj != NULL)
		scope = PyObject_CallFunctionObjArgs(x->load, into ? into->scope : Py_None, tag_obj,
						     paths ? Py_True : Py_False, source, NULL);
	Py_XDECREF(source);
	Py_XDECREF(tag_obj);
	return scope;
}

int mlb_handle_load(const char *tag, const char *paths[], size_t count, const char *buffer, size_t size, void **handle)
{
	struct mlb_handle *into = NULL;
	if (*handle != NULL && (into = checked_handle(*handle, "metacall_load_from_*")) == NULL)
		return 0;
	struct mlb_handle *made = NULL;
	int taken = mlb_gil_take();
	PyObject *scope = load_scope(into, tag, paths, count, buffer, size);
	if (scope != NULL && into == NULL) {
		made = calloc(1, sizeof(*made));
		if (made == NULL) { /* loaded, but no handle to reach it: unload it again */
			PyObject *closed = PyObject_CallOneArg(extra.close, scope);
			Py_XDECREF(closed);
			Py_CLEAR(scope);
			PyErr_NoMemory();
		} else {
			made->scope = scope; /* the handle keeps this reference */
		}
	} else {
		Py_XDECREF(scope); /* into keeps its own */
	}
	int ok = into != NULL ? scope != NULL : made != NULL;
	if (!ok)
		mlb_record_pyerr();
	mlb_gil_give(taken);
	if (made != NULL) {
		pthread_mutex_lock(&handles_lock);
		made->next = atomic_load_explicit(&handles, memory_order_relaxed);
		atomic_store_explicit(&handles, made, memory_order_release);
		pthread_mutex_unlock(&handles_lock);
		*handle = made;
	}
	return ok;
}

/* Under the GIL: h's function handle for name, made on first use; NULL with an exception set
   when h has no such function (any more). */
static struct mlb_function *handle_function(struct mlb_handle *h, const char *name)
{
	if (h->scope == NULL) {
		PyErr_Format(PyExc_LookupError, "function not found: '%s' (%s)", name, cleared);
		return NULL;
	}
	for (struct handle_function *known = atomic_load(&h->functions); known != NULL; known = known->next) {
		if (strcmp(known->name, name) == 0) {
			PyObject *entry = mlb_function_entry(known->f); /* still loaded? */
			if (entry == NULL)
				return NULL;
			Py_DECREF(entry);
			return known->f;
		}
	}
	struct mlb_function *f = mlb_function_new_in(h->scope, name, strlen(name));
	if (f == NULL)
		return NULL;
	struct handle_function *known = malloc(sizeof(*known));
	char *copy = strdup(name);
	if (known == NULL || copy == NULL) { /* not kept: the next lookup makes another */
		free(known);
		free(copy);
		return f;
	}
	known->name = copy;
	known->f = f;
	known->next = atomic_load_explicit(&h->functions, memory_order_relaxed);
	atomic_store_explicit(&h->functions, known, memory_order_release);
	return f;
}

void *metacall_handle_function(void *handle, const char *name)
{
	struct mlb_handle *h = checked_handle(handle, "metacall_handle_function");
	if (h == NULL)
		return NULL;
	if (name == NULL) {
		mlbridge_record_error("mlbridge.InvalidArgument", "metacall_handle_function: the name is NULL", "");
		return NULL;
	}
	if (!enter("metacall_handle_function"))
		return NULL;
	int taken = mlb_gil_take();
	struct mlb_function *f = handle_function(h, name);
	if (f == NULL)
		mlb_record_pyerr();
	mlb_gil_give(taken);
	mlb_leave_call();
	return f;
}

void *metacallhv_s(void *handle, const char *name, void *args[], size_t size)
{
	/* A function called before needs no GIL to find: one crossing, as metacallv_s. */
	struct mlb_handle *h = name ? find_handle(handle) : NULL;
	void *f = h ? find_known(h, name) : NULL;
	if (f == NULL)
		f = metacall_handle_function(handle, name);
	return f ? metacallfv_s(f, args, size) : mlb_last_error_throwable();
}

/* Under the GIL: the MAP name -> FUNCTION of names (a list of str), or NULL with an
   exception set. */
static void *export_map(struct mlb_handle *h, PyObject *names)
{
	Py_ssize_t n = PyList_GET_SIZE(names);
	void *map = metacall_value_create_map(NULL, (size_t)n);
	void **tuples = metacall_value_to_map(map);
	if (map == NULL)
		return PyErr_NoMemory();
	for (Py_ssize_t i = 0; i < n; ++i) {
		Py_ssize_t length;
		const char *name = PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(names, i), &length);
		struct mlb_function *f = name ? handle_function(h, name) : NULL;
		if (f == NULL) {
			metacall_value_destroy(map);
			return NULL;
		}
		const void *pair[2] = { metacall_value_create_string(name, (size_t)length), metacall_value_create_function(f) };
		tuples[i] = pair[0] && pair[1] ? metacall_value_create_array(pair, 2) : NULL;
		if (tuples[i] == NULL) {
			metacall_value_destroy((void *)pair[0]);
			metacall_value_destroy((void *)pair[1]);
			metacall_value_destroy(map);
			return PyErr_NoMemory();
		}
	}
	return map;
}

void *metacall_handle_export(void *handle)
{
	struct mlb_handle *h = checked_handle(handle, "metacall_handle_export");
	if (h == NULL || !enter("metacall_handle_export"))
		return NULL;
	void *map = NULL;
	int taken = mlb_gil_take();
	const struct mlb_extra *x = mlb_extra();
	if (x != NULL && h->scope == NULL)
		PyErr_SetString(PyExc_LookupError, cleared);
	PyObject *names = x && h->scope ? PyObject_CallOneArg(x->export_names, h->scope) : NULL;
	if (names != NULL && !PyList_Check(names)) {
		PyErr_SetString(PyExc_TypeError, "bridge._cabi.handle_export did not return a list");
		Py_CLEAR(names);
	}
	if (names != NULL)
		map = export_map(h, names);
	Py_XDECREF(names);
	if (map == NULL)
		mlb_record_pyerr();
	mlb_gil_give(taken);
	mlb_leave_call();
	return map;
}

/* Under the GIL: h lets go of its scope (closed already) and its functions of what they read. */
static void let_go(struct mlb_handle *h)
{
	for (struct handle_function *known = atomic_load(&h->functions); known != NULL; known = known->next)
		mlb_function_close(known->f);
	Py_CLEAR(h->scope);
}

int metacall_clear(void *handle)
{
	struct mlb_handle *h = checked_handle(handle, "metacall_clear");
	if (h == NULL || !enter("metacall_clear"))
		return 1;
	int taken = mlb_gil_take();
	const struct mlb_extra *x = mlb_extra();
	if (x != NULL && h->scope == NULL)
		PyErr_SetString(PyExc_LookupError, cleared);
	PyObject *closed = x && h->scope ? PyObject_CallOneArg(x->close, h->scope) : NULL;
	if (closed == NULL)
		mlb_record_pyerr();
	else
		let_go(h);
	Py_XDECREF(closed);
	mlb_gil_give(taken);
	mlb_leave_call();
	return closed == NULL;
}

void mlb_handles_forget(void)
{
	struct mlb_handle *first = atomic_load_explicit(&handles, memory_order_acquire);
	if (first == NULL)
		return;
	int taken = mlb_gil_take();
	for (struct mlb_handle *h = first; h != NULL; h = h->next)
		let_go(h);
	mlb_gil_give(taken);
}
