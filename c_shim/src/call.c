/*
 * call.c: function handles and the call path (metacall_function, metacallfv_s, metacallv_s,
 * metacallfv_await_struct_s), all in C with the CPython API: no Python code runs between the
 * host and the called function.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "c_api.h"
#include "glue.h"

#define MLB_FUNCTION_MAGIC 0x4e464c4du /* "MLFN" */
#define BUCKETS 256

/* A function handle. Handles are never freed, so a pointer a host keeps stays valid for the
   life of the process; the bridge Function behind the name is re-read when it changes. */
struct mlb_function {
	uint32_t magic;
	struct mlb_function *next;
	char *name;
	PyObject *name_obj; /* under the GIL from here on */
	PyObject *entry;    /* the bridge Function last seen under this name */
	PyObject *callable; /* entry.callable */
	atomic_ulong verified; /* generation + 1 at which the name was last found loaded */
};

static struct mlb_function *_Atomic buckets[BUCKETS];
static pthread_mutex_t insert_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const not_initialized =
	"metacall is not initialized (call metacall_initialize; after metacall_destroy calls fail until it is called again)";

static unsigned hash_name(const char *name)
{
	unsigned h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)name; *p; ++p)
		h = (h ^ *p) * 16777619u;
	return h % BUCKETS;
}

/* Lock-free: entries are only ever prepended, with a release store, and never removed. */
static struct mlb_function *find_cached(const char *name, unsigned bucket)
{
	for (struct mlb_function *f = atomic_load_explicit(&buckets[bucket], memory_order_acquire); f; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static struct mlb_function *as_function(void *func)
{
	struct mlb_function *f = func;
	if (f == NULL || ((uintptr_t)func % sizeof(void *)) != 0 || f->magic != MLB_FUNCTION_MAGIC)
		return NULL;
	return f;
}

/* Under the GIL: the current callable of f, or NULL with a Python exception set. */
static PyObject *current_callable(struct mlb_function *f)
{
	PyObject *table = PyObject_GetAttr(mlb_py.runtime, mlb_py.s_functions);
	if (table == NULL)
		return NULL;
	PyObject *entry = PyDict_GetItemWithError(table, f->name_obj);
	if (entry == NULL) {
		Py_DECREF(table);
		if (!PyErr_Occurred())
			PyErr_Format(PyExc_LookupError, "function not found: '%s'", f->name);
		return NULL;
	}
	/* Our own reference: getting .callable may run Python code, and with it a reload on
	   another thread that drops this entry from the table. */
	Py_INCREF(entry);
	Py_DECREF(table);
	if (entry == f->entry) {
		Py_DECREF(entry);
		return f->callable;
	}
	PyObject *callable = PyObject_GetAttr(entry, mlb_py.s_callable);
	if (callable == NULL) {
		Py_DECREF(entry);
		return NULL;
	}
	/* Swap both in before dropping the old pair: a release can run Python code, and another
	   thread must never see an entry with the callable of another. */
	PyObject *old_entry = f->entry, *old_callable = f->callable;
	f->entry = entry;
	f->callable = callable;
	Py_XDECREF(old_entry);
	Py_XDECREF(old_callable);
	return f->callable;
}

static void record_pyerr(void)
{
	void *throwable = mlb_throwable_from_pyerr();
	struct metacall_exception_type ex;
	if (metacall_error_from_value(throwable, &ex) == 0)
		mlbridge_record_error(ex.label, ex.message, ex.stacktrace);
	metacall_value_destroy(throwable);
}

/* Under the GIL: the handle of name if it is loaded now, else NULL (error recorded). */
static struct mlb_function *verify(struct mlb_function *known, const char *name, unsigned bucket,
				   unsigned long gen)
{
	struct mlb_function *f = known;
	if (f == NULL) {
		f = calloc(1, sizeof(*f));
		if (f == NULL || (f->name = strdup(name)) == NULL) {
			free(f);
			mlbridge_record_error("MemoryError", "out of memory", "");
			return NULL;
		}
		f->name_obj = PyUnicode_DecodeUTF8(name, (Py_ssize_t)strlen(name), "strict");
		if (f->name_obj == NULL) {
			PyErr_Clear();
			free(f->name);
			free(f);
			mlbridge_record_error("ValueError", "metacall_function: the name is not valid UTF-8", "");
			return NULL;
		}
		PyUnicode_InternInPlace(&f->name_obj);
		f->magic = MLB_FUNCTION_MAGIC;
	}
	if (current_callable(f) == NULL) {
		record_pyerr();
		if (f != known) {
			Py_DECREF(f->name_obj);
			free(f->name);
			free(f);
		}
		return NULL;
	}
	atomic_store(&f->verified, gen + 1);
	if (f != known) {
		pthread_mutex_lock(&insert_lock);
		struct mlb_function *raced = find_cached(name, bucket);
		if (raced == NULL) {
			f->next = atomic_load_explicit(&buckets[bucket], memory_order_relaxed);
			atomic_store_explicit(&buckets[bucket], f, memory_order_release);
		}
		pthread_mutex_unlock(&insert_lock);
		if (raced != NULL) { /* another thread cached it first: keep theirs */
			Py_XDECREF(f->entry);
			Py_XDECREF(f->callable);
			Py_DECREF(f->name_obj);
			free(f->name);
			free(f);
			f = raced;
		}
	}
	return f;
}

void *metacall_function(const char *name)
{
	if (name == NULL) {
		mlbridge_record_error("mlbridge.InvalidArgument", "metacall_function: the name is NULL", "");
		return NULL;
	}
	if (!mlb_enter_call()) {
		mlbridge_record_error("mlbridge.NotInitialized", not_initialized, "");
		return NULL;
	}
	unsigned bucket = hash_name(name);
	unsigned long gen = mlb_table_generation();
	struct mlb_function *f = find_cached(name, bucket);
	/* Loads only add names, so a handle seen loaded in this generation still is; only
	   metacall_destroy (a new generation) makes us ask Python again. */
	if (f == NULL || atomic_load(&f->verified) != gen + 1) {
		int taken = mlb_gil_take();
		f = verify(f, name, bucket, gen);
		mlb_gil_give(taken);
	}
	mlb_leave_call();
	return f;
}

/* Checks what can be checked without Python; a THROWABLE describing the problem, or NULL. */
static void *check_call(const char *who, struct mlb_function *f, void *args[], size_t size)
{
	char message[256];
	if (f == NULL) {
		snprintf(message, sizeof(message), "%s: not a function handle (NULL or not from metacall_function)", who);
		return mlb_throwable_new("mlbridge.InvalidArgument", message, "");
	}
	if (size > 0 && args == NULL) {
		snprintf(message, sizeof(message), "%s: args is NULL but size is %zu", who, size);
		return mlb_throwable_new("mlbridge.InvalidArgument", message, "");
	}
	for (size_t i = 0; i < size; ++i) {
		if (mlb_value_check(args[i]) == NULL) {
			snprintf(message, sizeof(message),
				 "%s: argument %zu is not a value (NULL, destroyed, or not made by metacall_value_create_*)",
				 who, i);
			return mlb_throwable_new("mlbridge.InvalidArgument", message, "");
		}
	}
	return NULL;
}

/* Under the GIL: the argument tuple, leaving `skip` leading slots for the caller. */
static PyObject *build_args(void *args[], size_t size, size_t skip)
{
	PyObject *tuple = PyTuple_New((Py_ssize_t)(size + skip));
	if (tuple == NULL)
		return NULL;
	for (size_t i = 0; i < size; ++i) {
		PyObject *o = mlb_value_to_py(args[i], i);
		if (o == NULL) {
			Py_DECREF(tuple);
			return NULL;
		}
		PyTuple_SET_ITEM(tuple, (Py_ssize_t)(i + skip), o);
	}
	return tuple;
}

void *metacallfv_s(void *func, void *args[], size_t size)
{
	struct mlb_function *f = as_function(func);
	void *invalid = check_call("metacallfv_s", f, args, size);
	if (invalid != NULL)
		return invalid;
	if (!mlb_enter_call())
		return mlb_throwable_new("mlbridge.NotInitialized", not_initialized, "");
	void *ret = NULL;
	int taken = mlb_gil_take();
	/* Our own reference: a reload on another thread may replace f->callable mid-call. */
	PyObject *callable = current_callable(f);
	Py_XINCREF(callable);
	PyObject *tuple = callable ? build_args(args, size, 0) : NULL;
	PyObject *result = tuple ? PyObject_Call(callable, tuple, NULL) : NULL;
	Py_XDECREF(tuple);
	Py_XDECREF(callable);
	if (result != NULL && PyCoro_CheckExact(result)) /* an async def: wait for its value */
		Py_SETREF(result, PyObject_CallFunctionObjArgs(mlb_py.await_result, f->name_obj, result, NULL));
	if (result != NULL) {
		ret = mlb_py_to_value(result);
		Py_DECREF(result);
	}
	if (ret == NULL)
		ret = mlb_throwable_from_pyerr();
	mlb_gil_give(taken);
	mlb_leave_call();
	return ret;
}

void *metacallv_s(const char *name, void *args[], size_t size)
{
	if (name == NULL)
		return mlb_throwable_new("mlbridge.InvalidArgument", "metacallv_s: the name is NULL", "");
	void *func = metacall_function(name);
	if (func == NULL) {
		struct metacall_exception_type ex;
		if (metacall_error_last(&ex) == 0)
			return mlb_throwable_new(ex.label, ex.message, ex.stacktrace);
		return mlb_throwable_new("LookupError", "function not found", "");
	}
	return metacallfv_s(func, args, size);
}

/* What a pending await needs when its Python future completes. */
struct await_context {
	metacall_await_callbacks callbacks;
	void *data;
};

static void free_await_context(PyObject *capsule)
{
	free(PyCapsule_GetPointer(capsule, "mlbridge.await"));
}

/* future.add_done_callback target; runs where the future completes, with the GIL. */
static PyObject *await_done(PyObject *capsule, PyObject *future)
{
	struct await_context *ctx = PyCapsule_GetPointer(capsule, "mlbridge.await");
	if (ctx == NULL)
		return NULL;
	void *value = NULL;
	int failed = 1;
	PyObject *exc = PyObject_CallMethodNoArgs(future, mlb_py.s_exception);
	if (exc == NULL) { /* cancelled */
		value = mlb_throwable_from_pyerr();
	} else if (exc != Py_None) {
		value = mlb_throwable_from_exception(exc);
	} else {
		PyObject *result = PyObject_CallMethodNoArgs(future, mlb_py.s_result);
		value = result ? mlb_py_to_value(result) : NULL;
		Py_XDECREF(result);
		failed = value == NULL;
		if (value == NULL)
			value = mlb_throwable_from_pyerr();
	}
	Py_XDECREF(exc);
	metacall_await_callback callback = failed ? ctx->callbacks.reject : ctx->callbacks.resolve;
	void *data = ctx->data;
	/* The host's callback may call back into metacall or block: it runs without the GIL. */
	Py_BEGIN_ALLOW_THREADS
	void *answer = callback ? callback(value, data) : NULL;
	if (answer != NULL && answer != value)
		metacall_value_destroy(answer);
	metacall_value_destroy(value);
	Py_END_ALLOW_THREADS
	mlb_release_call(); /* held by metacallfv_await_struct_s */
	Py_RETURN_NONE;
}

static PyMethodDef await_done_def = { "mlbridge_await_done", (PyCFunction)await_done, METH_O, NULL };

void *metacallfv_await_struct_s(void *func, void *args[], size_t size, metacall_await_callbacks cb, void *data)
{
	struct mlb_function *f = as_function(func);
	void *invalid = check_call("metacallfv_await_struct_s", f, args, size);
	if (invalid != NULL)
		return invalid;
	struct await_context *ctx = malloc(sizeof(*ctx));
	if (ctx == NULL)
		return mlb_throwable_new("MemoryError", "out of memory", "");
	ctx->callbacks = cb;
	ctx->data = data;
	if (!mlb_enter_call()) {
		free(ctx);
		return mlb_throwable_new("mlbridge.NotInitialized", not_initialized, "");
	}
	void *ret = NULL;
	int taken = mlb_gil_take();
	PyObject *capsule = PyCapsule_New(ctx, "mlbridge.await", free_await_context);
	if (capsule == NULL)
		free(ctx);
	PyObject *call_args = capsule ? build_args(args, size, 1) : NULL;
	PyObject *future = NULL;
	if (call_args != NULL) {
		Py_INCREF(f->name_obj);
		PyTuple_SET_ITEM(call_args, 0, f->name_obj);
		PyObject *call_async = PyObject_GetAttr(mlb_py.runtime, mlb_py.s_call_async);
		future = call_async ? PyObject_Call(call_async, call_args, NULL) : NULL;
		Py_XDECREF(call_async);
		Py_DECREF(call_args);
	}
	PyObject *done = future ? PyCFunction_New(&await_done_def, capsule) : NULL;
	if (done != NULL) {
		/* The pending await counts as a call in flight until its callback has run (which
		   may be right now, inside add_done_callback, if the function was not async). */
		mlb_hold_call();
		PyObject *r = PyObject_CallMethodOneArg(future, mlb_py.s_add_done_callback, done);
		if (r == NULL)
			mlb_release_call();
		else
			ret = mlb_future_new();
		Py_XDECREF(r);
		Py_DECREF(done);
	}
	if (ret == NULL)
		ret = mlb_throwable_from_pyerr();
	Py_XDECREF(future);
	Py_XDECREF(capsule);
	mlb_gil_give(taken);
	mlb_leave_call();
	return ret;
}
