/*
 * call.c: function handles (the one name cache of every host) and the core call routine that
 * metacallfv_s, metacallv_s, metacallfv_await_struct_s and the Go tape call (tape.c) share.
 * All in C with the CPython API: no Python code runs between the host and the function.
 * Over 400 lines because the handle cache, the synchronous call and the await path share
 * struct mlb_function and its refresh (counters, table epoch), which stay private to this file.
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
	char *name; /* NUL-terminated, and without a NUL inside */
	size_t length;
	PyObject *owner;    /* whose table holds the name: NULL for RUNTIME, else a private handle's scope */
	PyObject *name_obj; /* under the GIL from here on */
	PyObject *entry;    /* the bridge Function last seen under this name */
	PyObject *callable; /* entry.callable */
	Py_buffer counts;   /* entry.counts: int64 [calls, errors] */
	atomic_ulong verified; /* generation + 1 at which the name was last found loaded */
	unsigned long epoch;   /* under the GIL: table_epoch when entry was read from the table */
};

/* Under the GIL: the table RUNTIME held at the last call (a strong reference), and a count
   bumped each time it was another. The runtime replaces its table and never changes one
   (bridge/runtime.py), so an entry read from this table in this epoch is still current. */
static PyObject *seen_table;
static unsigned long table_epoch = 1; /* a new handle's epoch, 0, is never current */

static struct mlb_function *_Atomic buckets[BUCKETS];
static pthread_mutex_t insert_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const not_initialized =
	"metacall is not initialized (call metacall_initialize; after metacall_destroy calls fail until it is called again)";

/* The bucket of a name, from its length and at most its first and last 8 bytes: it runs on
   every call by name, and names that share a bucket are told apart by the chain's memcmp. */
static unsigned hash_name(const char *name, size_t length)
{
	uint64_t h = (uint64_t)length * 0x9e3779b97f4a7c15u;
	if (length >= 8) {
		uint64_t head, tail;
		memcpy(&head, name, 8);
		memcpy(&tail, name + length - 8, 8);
		h ^= head * 0xff51afd7ed558ccdu;
		h ^= tail * 0xc4ceb9fe1a85ec53u;
	} else {
		for (size_t i = 0; i < length; ++i)
			h = (h ^ (unsigned char)name[i]) * 0x100000001b3u;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9u;
	return (unsigned)((h >> 32) % BUCKETS); /* high bits: those the products mixed */
}

/* Lock-free: entries are only ever prepended, with a release store, and never removed. */
static struct mlb_function *find_cached(const char *name, size_t length, unsigned bucket)
{
	for (struct mlb_function *f = atomic_load_explicit(&buckets[bucket], memory_order_acquire); f; f = f->next)
		if (f->length == length && memcmp(f->name, name, length) == 0)
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

/* Under the GIL: entry.counts as a writable buffer of two int64 (a new export in view). */
static int counts_of(PyObject *entry, Py_buffer *view)
{
	PyObject *counts = PyObject_GetAttr(entry, mlb_py.s_counts);
	if (counts == NULL)
		return -1;
	int rc = PyObject_GetBuffer(counts, view, PyBUF_WRITABLE | PyBUF_FORMAT);
	Py_DECREF(counts);
	if (rc != 0)
		return -1;
	if (view->itemsize != 8 || view->len < 16 || view->format == NULL || strcmp(view->format, "q") != 0) {
		PyBuffer_Release(view);
		PyErr_SetString(PyExc_TypeError, "Function.counts is not an array('q', [calls, errors])");
		return -1;
	}
	return 0;
}

/* Under the GIL: makes f's entry, callable and counts those of the Function under its name in
   table; 0, or -1 with a Python exception set (LookupError when it is not there). */
static int refresh_from(struct mlb_function *f, PyObject *table)
{
	PyObject *entry = PyDict_GetItemWithError(table, f->name_obj);
	if (entry == NULL) {
		/* An empty global table: say what to do (bridge.errors.NOTHING_LOADED, the same words). */
		int nothing_loaded = f->owner == NULL && PyDict_Check(table) && PyDict_GET_SIZE(table) == 0;
		if (!PyErr_Occurred())
			PyErr_Format(PyExc_LookupError, "function not found: '%s'%s", f->name,
				     nothing_loaded ? " (nothing is loaded: load a script or configuration first)" : "");
		return -1;
	}
	/* Our own reference: reading attributes may run Python code, and with it a reload on
	   another thread that replaces the table and drops this entry. */
	Py_INCREF(entry);
	if (entry == f->entry) {
		Py_DECREF(entry);
		return 0;
	}
	Py_buffer counts;
	PyObject *callable = PyObject_GetAttr(entry, mlb_py.s_callable);
	if (callable == NULL || counts_of(entry, &counts) != 0) {
		Py_XDECREF(callable);
		Py_DECREF(entry);
		return -1;
	}
	/* Swap all in before dropping the old ones: a release can run Python code, and another
	   thread must never see an entry with the callable or counters of another. */
	PyObject *old_entry = f->entry, *old_callable = f->callable;
	Py_buffer old_counts = f->counts;
	f->entry = entry;
	f->callable = callable;
	f->counts = counts;
	if (old_entry != NULL)
		PyBuffer_Release(&old_counts);
	Py_XDECREF(old_entry);
	Py_XDECREF(old_callable);
	return 0;
}

/* Under the GIL: makes f's entry, callable and counts those of the Function now loaded under
   its name; 0, or -1 with a Python exception set (LookupError when it is not loaded). */
static int refresh_once(struct mlb_function *f)
{
	if (f->owner == Py_None) { /* its private handle was cleared (mlb_function_close) */
		PyErr_Format(PyExc_LookupError, "function not found: '%s' (its handle was cleared)", f->name);
		return -1;
	}
	if (f->owner != NULL) { /* a private handle's function (handle.c): its scope's table */
		PyObject *scope_table = PyObject_GetAttr(f->owner, mlb_py.s_table);
		int rc = scope_table ? refresh_from(f, scope_table) : -1;
		Py_XDECREF(scope_table);
		return rc;
	}
	PyObject *table = PyDict_GetItemWithError(mlb_py.runtime_dict, mlb_py.s_table);
	if (table == NULL) { /* Runtime always has its table: the seam's names changed under us */
		if (!PyErr_Occurred())
			PyErr_Format(PyExc_AttributeError,
				     "bridge.RUNTIME has no attribute %R (bridge._cabi.TABLE): libmetacall.so and the bridge "
				     "package it imports do not match; rebuild the library (make shim) from the same "
				     "checkout, or fix bridge/_cabi.py",
				     mlb_py.s_table);
		return -1;
	}
	if (table == seen_table && f->epoch == table_epoch)
		return 0; /* the hot path: one dict lookup */
	PyObject *old_table = NULL;
	if (table != seen_table) {
		/* The old table is released last: its entries' deallocation may run Python code. */
		old_table = seen_table;
		Py_INCREF(table);
		seen_table = table;
		++table_epoch;
	}
	unsigned long epoch = table_epoch;
	int rc = refresh_from(f, table);
	if (rc == 0)
		f->epoch = epoch; /* a table swapped meanwhile bumped table_epoch: read again */
	Py_XDECREF(old_table);
	return rc;
}

/* refresh_once, and f's entry still there: releasing what it replaced can run Python code, and
   with it another thread's destroy or clear (mlb_functions_forget, mlb_function_close), which
   lets go of f's entry before the caller reads it. */
static int refresh(struct mlb_function *f)
{
	int rc = refresh_once(f);
	if (rc == 0 && f->entry == NULL) {
		PyErr_Format(PyExc_LookupError, "function not found: '%s' (the runtime was destroyed or its handle cleared meanwhile)",
			     f->name);
		return -1;
	}
	return rc;
}

static void discard(struct mlb_function *f)
{
	Py_XDECREF(f->owner);
	Py_XDECREF(f->name_obj);
	free(f->name);
	free(f);
}

/* Under the GIL: a new, unpublished handle for name (no NUL inside), or NULL with an
   exception set. */
static struct mlb_function *new_function(const char *name, size_t length)
{
	struct mlb_function *f = calloc(1, sizeof(*f));
	if (f == NULL || (f->name = malloc(length + 1)) == NULL) {
		free(f);
		PyErr_NoMemory();
		return NULL;
	}
	memcpy(f->name, name, length);
	f->name[length] = '\0';
	f->length = length;
	f->name_obj = PyUnicode_DecodeUTF8(name, (Py_ssize_t)length, "strict");
	if (f->name_obj == NULL) {
		PyErr_Clear();
		PyErr_SetString(PyExc_ValueError, "the function name is not valid UTF-8");
		discard(f);
		return NULL;
	}
	PyUnicode_InternInPlace(&f->name_obj);
	f->magic = MLB_FUNCTION_MAGIC;
	return f;
}

struct mlb_function *mlb_function_lookup(const char *name, size_t length)
{
	unsigned bucket = hash_name(name, length);
	unsigned long gen = mlb_table_generation();
	struct mlb_function *f = find_cached(name, length, bucket);
	/* Loads only add names, so a handle seen loaded in this generation still is; only
	   metacall_destroy (a new generation) makes us ask Python again. */
	if (f != NULL && atomic_load(&f->verified) == gen + 1)
		return f;
	struct mlb_function *fresh = f ? f : new_function(name, length);
	if (fresh == NULL)
		return NULL;
	if (refresh(fresh) != 0) {
		if (fresh != f) /* refresh set nothing in it */
			discard(fresh);
		return NULL;
	}
	atomic_store(&fresh->verified, gen + 1);
	if (fresh == f)
		return f;
	pthread_mutex_lock(&insert_lock);
	struct mlb_function *raced = find_cached(name, length, bucket);
	if (raced == NULL) {
		fresh->next = atomic_load_explicit(&buckets[bucket], memory_order_relaxed);
		atomic_store_explicit(&buckets[bucket], fresh, memory_order_release);
	}
	pthread_mutex_unlock(&insert_lock);
	if (raced == NULL)
		return fresh;
	/* another thread cached it first: keep theirs */
	PyBuffer_Release(&fresh->counts);
	Py_DECREF(fresh->entry);
	Py_DECREF(fresh->callable);
	discard(fresh);
	return raced;
}

struct mlb_function *mlb_function_new_in(PyObject *owner, const char *name, size_t length)
{
	struct mlb_function *f = new_function(name, length);
	if (f == NULL)
		return NULL;
	Py_INCREF(owner);
	f->owner = owner;
	if (refresh(f) != 0) {
		discard(f);
		return NULL;
	}
	return f;
}

/* Under the GIL: f lets go of the Function it read (entry, callable, counts); the next refresh
   reads the table again. A call in flight holds its own references to them (mlb_invoke). */
static void let_go_of_entry(struct mlb_function *f)
{
	PyObject *entry = f->entry, *callable = f->callable;
	Py_buffer counts = f->counts;
	f->entry = NULL;
	f->callable = NULL;
	memset(&f->counts, 0, sizeof(f->counts));
	f->epoch = 0; /* never current */
	if (entry != NULL)
		PyBuffer_Release(&counts);
	Py_XDECREF(entry);
	Py_XDECREF(callable);
}

void mlb_function_close(struct mlb_function *f)
{
	PyObject *owner = f->owner;
	Py_INCREF(Py_None);
	f->owner = Py_None;
	let_go_of_entry(f);
	Py_XDECREF(owner);
}

void mlb_functions_forget(void)
{
	int taken = mlb_gil_take();
	/* The table last seen holds every Function of before the clear: it goes first (a new
	   epoch), so no handle's entry counts as current any more. */
	PyObject *old_table = seen_table;
	seen_table = NULL;
	++table_epoch;
	for (unsigned b = 0; b < BUCKETS; ++b)
		for (struct mlb_function *f = atomic_load_explicit(&buckets[b], memory_order_acquire); f; f = f->next)
			let_go_of_entry(f);
	Py_XDECREF(old_table);
	mlb_gil_give(taken);
}

struct mlb_function *mlb_function_check(void *func)
{
	return as_function(func);
}

PyObject *mlb_function_entry(struct mlb_function *f)
{
	if (refresh(f) != 0)
		return NULL;
	Py_INCREF(f->entry);
	return f->entry;
}

int mlb_args_init(struct mlb_args *a, size_t n)
{
	a->count = 0;
	a->items = a->stack;
	if (n > MLB_STACK_ARGS && (a->items = malloc(n * sizeof(PyObject *))) == NULL) {
		a->items = a->stack;
		PyErr_NoMemory();
		return -1;
	}
	return 0;
}

void mlb_args_clear(struct mlb_args *a)
{
	for (size_t i = 0; i < a->count; ++i)
		Py_DECREF(a->items[i]);
	if (a->items != a->stack)
		free(a->items);
	a->items = a->stack;
	a->count = 0;
}

PyObject *mlb_invoke(struct mlb_function *f, const struct mlb_args *args, int await_coroutine)
{
	if (refresh(f) != 0)
		return NULL;
	/* Our own references: a reload on another thread may replace f's entry mid-call. The
	   entry keeps its counts array (never resized) alive, so the pointer stays good. */
	PyObject *entry = f->entry, *callable = f->callable;
	int64_t *counts = f->counts.buf;
	Py_INCREF(entry);
	Py_INCREF(callable);
	++counts[0];
	PyObject *result = PyObject_Vectorcall(callable, args->items, args->count, NULL);
	if (result != NULL && await_coroutine && PyCoro_CheckExact(result)) /* an async def */
		Py_SETREF(result, PyObject_CallFunctionObjArgs(mlb_py.await_result, f->name_obj, result, NULL));
	if (result == NULL)
		++counts[1];
	Py_DECREF(callable);
	Py_DECREF(entry);
	return result;
}

void mlb_record_pyerr(void)
{
	void *throwable = mlb_throwable_from_pyerr();
	struct metacall_exception_type ex;
	if (metacall_error_from_value(throwable, &ex) == 0)
		mlbridge_record_error(ex.label, ex.message, ex.stacktrace);
	metacall_value_destroy(throwable);
}

/* Entered, without the GIL: the handle of name, or NULL with the reason recorded. The GIL
   is taken only when the name has not been seen loaded in this generation. */
static struct mlb_function *handle_of(const char *name)
{
	size_t length = strlen(name);
	struct mlb_function *f = find_cached(name, length, hash_name(name, length));
	if (f == NULL || atomic_load(&f->verified) != mlb_table_generation() + 1) {
		int taken = mlb_gil_take();
		f = mlb_function_lookup(name, length);
		if (f == NULL)
			mlb_record_pyerr();
		mlb_gil_give(taken);
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
	struct mlb_function *f = handle_of(name);
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

/* Under the GIL: the MetaCall values as arguments; 0, or -1 with an exception set (args is
   cleared either way on failure). */
static int build_args(void *values[], size_t size, struct mlb_args *args)
{
	if (mlb_args_init(args, size) != 0)
		return -1;
	for (size_t i = 0; i < size; ++i) {
		PyObject *o = mlb_value_to_py(values[i], i);
		if (o == NULL) {
			mlb_args_clear(args);
			return -1;
		}
		args->items[args->count++] = o;
	}
	return 0;
}

/* Entered, without the GIL: calls f with the MetaCall values args; a new value. */
static void *call_values(struct mlb_function *f, void *args[], size_t size)
{
	void *ret = NULL;
	int taken = mlb_gil_take();
	struct mlb_args argv;
	PyObject *result = NULL;
	if (build_args(args, size, &argv) == 0) {
		result = mlb_invoke(f, &argv, 1);
		mlb_args_clear(&argv);
	}
	if (result != NULL) {
		ret = mlb_py_to_value(result);
		Py_DECREF(result);
	}
	if (ret == NULL)
		ret = mlb_throwable_from_pyerr();
	mlb_gil_give(taken);
	return ret;
}

void *metacallfv_s(void *func, void *args[], size_t size)
{
	struct mlb_function *f = as_function(func);
	void *invalid = check_call("metacallfv_s", f, args, size);
	if (invalid != NULL)
		return invalid;
	if (!mlb_enter_call())
		return mlb_throwable_new("mlbridge.NotInitialized", not_initialized, "");
	void *ret = call_values(f, args, size);
	mlb_leave_call();
	return ret;
}

void *metacallv_s(const char *name, void *args[], size_t size)
{
	if (name == NULL)
		return mlb_throwable_new("mlbridge.InvalidArgument", "metacallv_s: the name is NULL", "");
	/* metacall_function and metacallfv_s in one entry: one count in flight, not two. */
	if (!mlb_enter_call())
		return mlb_throwable_new("mlbridge.NotInitialized", not_initialized, "");
	struct mlb_function *f = handle_of(name);
	void *ret = NULL;
	if (f == NULL) {
		struct metacall_exception_type ex;
		if (metacall_error_last(&ex) == 0)
			ret = mlb_throwable_new(ex.label, ex.message, ex.stacktrace);
		else
			ret = mlb_throwable_new("LookupError", "function not found", "");
	} else {
		ret = check_call("metacallv_s", f, args, size);
		if (ret == NULL)
			ret = call_values(f, args, size);
	}
	mlb_leave_call();
	return ret;
}

/* What a pending await needs when its result is ready. */
struct await_context {
	metacall_await_callbacks callbacks;
	void *data;
	PyObject *entry; /* the Function called: its counters count a failed coroutine */
	int64_t *counts;
};

static void free_await_context(PyObject *capsule)
{
	struct await_context *ctx = PyCapsule_GetPointer(capsule, "mlbridge.await");
	Py_XDECREF(ctx->entry);
	free(ctx);
}

/* With the GIL: hands value (a new value) to the resolve or reject callback, without the
   GIL, then destroys it; ends the hold that metacallfv_await_struct_s took. */
static void deliver(struct await_context *ctx, void *value, int failed)
{
	metacall_await_callback callback = failed ? ctx->callbacks.reject : ctx->callbacks.resolve;
	void *data = ctx->data;
	/* The host's callback may call back into metacall or block: it runs without the GIL. */
	Py_BEGIN_ALLOW_THREADS
	void *answer = callback ? callback(value, data) : NULL;
	if (answer != NULL && answer != value)
		metacall_value_destroy(answer);
	metacall_value_destroy(value);
	Py_END_ALLOW_THREADS
	mlb_release_call();
}

/* future.add_done_callback target; runs where the coroutine completes, with the GIL. */
static PyObject *await_done(PyObject *capsule, PyObject *future)
{
	struct await_context *ctx = PyCapsule_GetPointer(capsule, "mlbridge.await");
	if (ctx == NULL)
		return NULL;
	void *value = NULL;
	int failed = 1;
	PyObject *exc = PyObject_CallMethodNoArgs(future, mlb_py.s_exception);
	if (exc == NULL) { /* cancelled */
		++ctx->counts[1];
		value = mlb_throwable_from_pyerr();
	} else if (exc != Py_None) {
		++ctx->counts[1];
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
	deliver(ctx, value, failed);
	Py_RETURN_NONE;
}

static PyMethodDef await_done_def = { "mlbridge_await_done", (PyCFunction)await_done, METH_O, NULL };

/* Under the GIL, with the call entered: starts f and arranges for ctx's callbacks to run;
   the answer is a FUTURE value, or NULL with an exception set (then no callback runs). */
static void *start_await(struct mlb_function *f, void *args[], size_t size, PyObject *capsule,
			 struct await_context *ctx)
{
	struct mlb_args argv;
	if (build_args(args, size, &argv) != 0)
		return NULL;
	if (refresh(f) != 0) {
		mlb_args_clear(&argv);
		return NULL;
	}
	ctx->entry = f->entry;
	Py_INCREF(ctx->entry);
	ctx->counts = f->counts.buf;
	PyObject *result = mlb_invoke(f, &argv, 0);
	mlb_args_clear(&argv);
	if (result != NULL && PyCoro_CheckExact(result)) {
		PyObject *future = PyObject_CallFunctionObjArgs(mlb_py.submit_coroutine, f->name_obj, result, NULL);
		Py_DECREF(result);
		PyObject *done = future ? PyCFunction_New(&await_done_def, capsule) : NULL;
		void *ret = NULL;
		if (done != NULL) {
			/* The pending await counts as a call in flight until its callback has run
			   (which may be right now, inside add_done_callback, if it is done). */
			mlb_hold_call();
			PyObject *r = PyObject_CallMethodOneArg(future, mlb_py.s_add_done_callback, done);
			if (r == NULL)
				mlb_release_call();
			else
				ret = mlb_future_new();
			Py_XDECREF(r);
			Py_DECREF(done);
		}
		Py_XDECREF(future);
		return ret;
	}
	/* It raised (counted by mlb_invoke), or it was not async: the callback runs now. */
	void *value = result ? mlb_py_to_value(result) : NULL;
	int failed = value == NULL;
	Py_XDECREF(result);
	mlb_hold_call();
	deliver(ctx, failed ? mlb_throwable_from_pyerr() : value, failed);
	return mlb_future_new();
}

void *metacallfv_await_struct_s(void *func, void *args[], size_t size, metacall_await_callbacks cb, void *data)
{
	struct mlb_function *f = as_function(func);
	void *invalid = check_call("metacallfv_await_struct_s", f, args, size);
	if (invalid != NULL)
		return invalid;
	struct await_context *ctx = calloc(1, sizeof(*ctx));
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
	else
		ret = start_await(f, args, size, capsule, ctx);
	if (ret == NULL)
		ret = mlb_throwable_from_pyerr();
	Py_XDECREF(capsule);
	mlb_gil_give(taken);
	mlb_leave_call();
	return ret;
}
