/*
 * runtime.c: the lifecycle of the embedded runtime (initialize, load, destroy) and the GIL.
 *
 * Python itself starts on the first `extern "Python"` call (cffi embedding, without signal
 * handlers) and is never finalised: neither cffi nor TensorFlow can restart it. So
 * metacall_destroy closes the MetaCall view of it instead: it waits for calls in flight,
 * clears the function table, and refuses calls until metacall_initialize runs again. This is
 * the one count of calls in flight and the one destroy timeout of every host (Go's Destroy
 * passes its DestroyTimeout to mlbridge_destroy).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <metacall/mlbridge.h>

#include "c_api.h"
#include "glue.h"
#include "python_api.h"

struct mlb_python mlb_py;

static pthread_mutex_t lifecycle_lock = PTHREAD_MUTEX_INITIALIZER;
static int python_ready;           /* under lifecycle_lock */
/* The call gate that glue.h's inline mlb_enter_call / mlb_leave_call use. */
atomic_int mlb_active;
atomic_long mlb_in_flight;
atomic_ulong mlb_generation;
_Thread_local long mlb_own_calls __attribute__((tls_model("initial-exec")));

int mlbridge_hold(void)
{
	atomic_fetch_add(&mlb_in_flight, 1);
	if (!atomic_load(&mlb_active)) {
		atomic_fetch_sub(&mlb_in_flight, 1);
		return 0;
	}
	return 1;
}

void mlbridge_release(void)
{
	atomic_fetch_sub(&mlb_in_flight, 1);
}

static int record_python_error(const char *context)
{
	void *throwable = mlb_throwable_from_pyerr();
	struct metacall_exception_type ex;
	if (metacall_error_from_value(throwable, &ex) == 0) {
		char message[1024];
		snprintf(message, sizeof(message), "%s: %s", context, ex.message);
		mlbridge_record_error(ex.label, message, ex.stacktrace);
	} else {
		mlbridge_record_error("mlbridge.InitializeError", context, "");
	}
	metacall_value_destroy(throwable);
	return 1;
}

/* A str attribute of module as an interned string (a new reference), or NULL. */
static PyObject *name_of(PyObject *module, const char *attribute)
{
	PyObject *name = PyObject_GetAttrString(module, attribute);
	if (name != NULL && !PyUnicode_CheckExact(name)) {
		PyErr_Format(PyExc_TypeError, "bridge._cabi.%s is not a str", attribute);
		Py_CLEAR(name);
	}
	if (name != NULL)
		PyUnicode_InternInPlace(&name);
	return name;
}

/* Under the GIL: everything the hot path looks up, once. Every Python name of ours comes
   from bridge._cabi (see the top of that module); the others are Python's and numpy's. */
static int import_python_objects(void)
{
	PyObject *cabi = PyImport_ImportModule("bridge._cabi");
	if (cabi == NULL)
		return -1;
	struct { PyObject **slot; const char *attribute; } objects[] = {
		{ &mlb_py.runtime, "RUNTIME" },
		{ &mlb_py.describe, "describe_exception" },
		{ &mlb_py.await_result, "await_result" },
		{ &mlb_py.submit_coroutine, "submit_coroutine" },
	};
	struct { PyObject **slot; const char *attribute; } names[] = {
		{ &mlb_py.s_table, "TABLE" },
		{ &mlb_py.s_callable, "CALLABLE" },
		{ &mlb_py.s_counts, "COUNTS" },
		{ &mlb_py.s_type_name, "DESCRIPTION_TYPE" },
		{ &mlb_py.s_message, "DESCRIPTION_MESSAGE" },
		{ &mlb_py.s_traceback, "DESCRIPTION_TRACEBACK" },
	};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < sizeof(objects) / sizeof(objects[0]); ++i)
		if ((*objects[i].slot = PyObject_GetAttrString(cabi, objects[i].attribute)) == NULL)
			rc = -1;
	for (size_t i = 0; rc == 0 && i < sizeof(names) / sizeof(names[0]); ++i)
		if ((*names[i].slot = name_of(cabi, names[i].attribute)) == NULL)
			rc = -1;
	Py_DECREF(cabi);
	/* The table is an instance attribute (tests/test_cabi.py checks it): reading it from
	   the instance dict skips the type lookup that PyObject_GetAttr makes first, on every
	   call. */
	if (rc == 0 && (mlb_py.runtime_dict = PyObject_GenericGetDict(mlb_py.runtime, NULL)) == NULL)
		rc = -1;
	struct { PyObject **slot; const char *text; } protocol[] = {
		{ &mlb_py.s_tolist, "tolist" },
		{ &mlb_py.s_add_done_callback, "add_done_callback" },
		{ &mlb_py.s_exception, "exception" },
		{ &mlb_py.s_result, "result" },
	};
	for (size_t i = 0; rc == 0 && i < sizeof(protocol) / sizeof(protocol[0]); ++i)
		if ((*protocol[i].slot = PyUnicode_InternFromString(protocol[i].text)) == NULL)
			rc = -1;
	return rc;
}

int metacall_initialize(void)
{
	int rc = 0;
	pthread_mutex_lock(&lifecycle_lock);
	if (atomic_load(&mlb_active))
		goto done;
	if (!python_ready) {
		metacall_error_clear();
		if (!mlbridge_py_start()) {
			struct metacall_exception_type ex;
			if (metacall_error_last(&ex) != 0)
				mlbridge_record_error("mlbridge.InitializeError",
						      "the embedded Python runtime failed to start (its error is on stderr)",
						      "");
			rc = 1;
			goto done;
		}
		int taken = mlb_gil_take();
		if (import_python_objects() != 0)
			rc = record_python_error("cannot import the bridge runtime");
		mlb_gil_give(taken);
		if (rc != 0)
			goto done;
		python_ready = 1;
	}
	atomic_store(&mlb_active, 1);
done:
	pthread_mutex_unlock(&lifecycle_lock);
	return rc;
}

static void record(const char *label, const char *message)
{
	mlbridge_record_error(label, message, "");
}

int metacall_load_from_file(const char *tag, const char *paths[], size_t size, void **handle)
{
	if (tag == NULL || paths == NULL || size == 0) {
		record("mlbridge.InvalidArgument", "metacall_load_from_file: tag and at least one path are required");
		return 1;
	}
	for (size_t i = 0; i < size; ++i) {
		if (paths[i] == NULL) {
			record("mlbridge.InvalidArgument", "metacall_load_from_file: a path is NULL");
			return 1;
		}
	}
	if (!mlb_enter_call()) {
		record("mlbridge.NotInitialized", "metacall_load_from_file: metacall is not initialized");
		return 1;
	}
	/* A handle: a private scope (handle.c); NULL: the global table. */
	int ok = handle ? mlb_handle_load(tag, paths, size, NULL, 0, handle) : mlbridge_py_load_from_file(tag, paths, size);
	mlb_leave_call();
	return ok ? 0 : 1;
}

int metacall_load_from_memory(const char *tag, const char *buffer, size_t size, void **handle)
{
	if (tag == NULL || buffer == NULL || size == 0) {
		record("mlbridge.InvalidArgument", "metacall_load_from_memory: tag and a non-empty buffer are required");
		return 1;
	}
	if (!mlb_enter_call()) {
		record("mlbridge.NotInitialized", "metacall_load_from_memory: metacall is not initialized");
		return 1;
	}
	int ok = handle ? mlb_handle_load(tag, NULL, 0, buffer, size, handle) : mlbridge_py_load_from_memory(tag, buffer, size);
	mlb_leave_call();
	return ok ? 0 : 1;
}

void metacall_destroy(void)
{
	mlbridge_destroy(MLBRIDGE_DESTROY_TIMEOUT_MS);
}

void mlbridge_destroy(long timeout_ms)
{
	pthread_mutex_lock(&lifecycle_lock);
	if (!atomic_load(&mlb_active)) {
		pthread_mutex_unlock(&lifecycle_lock);
		return;
	}
	atomic_store(&mlb_active, 0); /* new calls fail from here on */
	struct timespec tick = { 0, 1000000 };
	for (long waited = 0; atomic_load(&mlb_in_flight) > mlb_own_calls && waited < timeout_ms; ++waited)
		nanosleep(&tick, NULL);
	atomic_fetch_add(&mlb_generation, 1);
	(void)mlbridge_py_clear();
	mlb_functions_forget(); /* the C side of the global table that clear emptied */
	mlb_handles_forget();   /* the C side of the private handles that clear closed */
	pthread_mutex_unlock(&lifecycle_lock);
}

/* The models version (mlbridge.h): plain storage read and bumped only with atomic operations,
   so that a Go host can load it through the address without a cgo call. */
static _Alignas(8) uint64_t models_version; /* 8-aligned on 32-bit ABIs too: Go loads it atomically */

const uint64_t *mlbridge_models_version(void)
{
	return &models_version;
}

void mlbridge_models_changed(void)
{
	__atomic_add_fetch(&models_version, 1, __ATOMIC_SEQ_CST);
}
