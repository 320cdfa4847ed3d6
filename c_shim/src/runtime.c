/*
 * runtime.c: the lifecycle of the embedded runtime (initialize, load, destroy) and the GIL.
 *
 * Python itself starts on the first `extern "Python"` call (cffi embedding, without signal
 * handlers) and is never finalised: neither cffi nor TensorFlow can restart it. So
 * metacall_destroy closes the MetaCall view of it instead: it waits for calls in flight,
 * clears the function table, and refuses calls until metacall_initialize runs again.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "c_api.h"
#include "glue.h"
#include "python_api.h"

struct mlb_python mlb_py;

static pthread_mutex_t lifecycle_lock = PTHREAD_MUTEX_INITIALIZER;
static int python_ready;           /* under lifecycle_lock */
static atomic_int active;          /* initialized and not destroyed */
static atomic_long in_flight;      /* calls (and pending awaits) that entered */
static atomic_ulong generation;
static _Thread_local long own_calls; /* calls of this thread in flight: destroy skips them */

/* How long metacall_destroy waits for calls in flight before it clears the table anyway. */
#define DESTROY_WAIT_SECONDS 10

/*
 * The GIL. PyGILState_Ensure on a thread without a Python thread state creates one, and the
 * matching Release deletes it again: a thread state per call, which costs more than the call.
 * So the first time a foreign thread calls in, the shim keeps the thread state it got
 * (its gilstate count stays at 1) and from then on only swaps it in and out; the thread-exit
 * destructor in error.c deletes it. Threads that Python created keep their own state.
 */
int mlb_gil_take(void)
{
	PyThreadState *mine = PyGILState_GetThisThreadState();
	if (mine == NULL) {
		(void)PyGILState_Ensure();
		struct mlb_thread *t = mlb_thread_get();
		if (t != NULL)
			t->owned_tstate = PyThreadState_Get();
		return 1;
	}
#if PY_VERSION_HEX >= 0x030D0000
	if (PyThreadState_GetUnchecked() == mine)
#else
	if (_PyThreadState_UncheckedGet() == mine)
#endif
		return 0; /* re-entered from Python code that holds the GIL */
	PyEval_RestoreThread(mine);
	return 1;
}

void mlb_gil_give(int taken)
{
	if (taken)
		(void)PyEval_SaveThread();
}

void mlb_release_thread_state(void *tstate)
{
	if (!Py_IsInitialized())
		return;
	PyEval_RestoreThread((PyThreadState *)tstate);
	PyGILState_Release(PyGILState_UNLOCKED); /* count 1 -> 0: deletes it, drops the GIL */
}

int mlb_enter_call(void)
{
	atomic_fetch_add(&in_flight, 1);
	if (!atomic_load(&active)) {
		atomic_fetch_sub(&in_flight, 1);
		return 0;
	}
	++own_calls;
	return 1;
}

void mlb_leave_call(void)
{
	--own_calls;
	atomic_fetch_sub(&in_flight, 1);
}

void mlb_hold_call(void)
{
	atomic_fetch_add(&in_flight, 1);
}

void mlb_release_call(void)
{
	atomic_fetch_sub(&in_flight, 1);
}

unsigned long mlb_table_generation(void)
{
	return atomic_load(&generation);
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

static PyObject *attribute_of(const char *module, const char *name)
{
	PyObject *m = PyImport_ImportModule(module);
	if (m == NULL)
		return NULL;
	PyObject *attr = PyObject_GetAttrString(m, name);
	Py_DECREF(m);
	return attr;
}

/* Under the GIL: everything the hot path looks up, once. */
static int import_python_objects(void)
{
	struct { PyObject **slot; const char *text; } names[] = {
		{ &mlb_py.s_functions, "table" },
		{ &mlb_py.s_callable, "callable" },
		{ &mlb_py.s_type_name, "type_name" },
		{ &mlb_py.s_message, "message" },
		{ &mlb_py.s_traceback, "traceback" },
		{ &mlb_py.s_tolist, "tolist" },
		{ &mlb_py.s_call_async, "call_async" },
		{ &mlb_py.s_add_done_callback, "add_done_callback" },
		{ &mlb_py.s_exception, "exception" },
		{ &mlb_py.s_result, "result" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
		*names[i].slot = PyUnicode_InternFromString(names[i].text);
		if (*names[i].slot == NULL)
			return -1;
	}
	mlb_py.runtime = attribute_of("bridge.runtime", "RUNTIME");
	mlb_py.describe = attribute_of("bridge.errors", "describe_exception");
	mlb_py.await_result = attribute_of("bridge._cabi", "await_result");
	if (mlb_py.runtime == NULL || mlb_py.describe == NULL || mlb_py.await_result == NULL)
		return -1;
	return 0;
}

int metacall_initialize(void)
{
	int rc = 0;
	pthread_mutex_lock(&lifecycle_lock);
	if (atomic_load(&active))
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
	atomic_store(&active, 1);
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
	if (handle != NULL)
		*handle = NULL;
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
	int ok = mlbridge_py_load_from_file(tag, paths, size);
	mlb_leave_call();
	return ok ? 0 : 1;
}

int metacall_load_from_memory(const char *tag, const char *buffer, size_t size, void **handle)
{
	if (handle != NULL)
		*handle = NULL;
	if (tag == NULL || buffer == NULL || size == 0) {
		record("mlbridge.InvalidArgument", "metacall_load_from_memory: tag and a non-empty buffer are required");
		return 1;
	}
	if (!mlb_enter_call()) {
		record("mlbridge.NotInitialized", "metacall_load_from_memory: metacall is not initialized");
		return 1;
	}
	int ok = mlbridge_py_load_from_memory(tag, buffer, size);
	mlb_leave_call();
	return ok ? 0 : 1;
}

void metacall_destroy(void)
{
	pthread_mutex_lock(&lifecycle_lock);
	if (!atomic_load(&active)) {
		pthread_mutex_unlock(&lifecycle_lock);
		return;
	}
	atomic_store(&active, 0); /* new calls fail from here on */
	struct timespec tick = { 0, 1000000 };
	for (long waited = 0; atomic_load(&in_flight) > own_calls && waited < DESTROY_WAIT_SECONDS * 1000L; ++waited)
		nanosleep(&tick, NULL);
	atomic_fetch_add(&generation, 1);
	(void)mlbridge_py_clear();
	pthread_mutex_unlock(&lifecycle_lock);
}
