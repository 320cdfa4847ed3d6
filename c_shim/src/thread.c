/*
 * thread.c: what the shim keeps per OS thread, and the GIL.
 *
 * Each thread that calls in gets a context (its last recorded error, and the Python thread
 * state the shim made for it), freed by a thread-exit destructor. Kept in one file so that
 * error.c (which records errors) and runtime.c (which takes the GIL) depend on it and not on
 * each other.
 */
#include <pthread.h>
#include <stdlib.h>

#include "glue.h"

static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;

void mlb_thread_forget_error(struct mlb_thread *t)
{
	free(t->label);
	free(t->message);
	free(t->stacktrace);
	t->label = t->message = t->stacktrace = NULL;
}

/* Deletes the thread state the shim kept for this thread (see mlb_gil_take). */
static void release_thread_state(PyThreadState *tstate)
{
	if (!Py_IsInitialized())
		return;
	PyEval_RestoreThread(tstate);
	PyGILState_Release(PyGILState_UNLOCKED); /* count 1 -> 0: deletes it, drops the GIL */
}

static void thread_exit(void *p)
{
	struct mlb_thread *t = p;
	if (t->owned_tstate != NULL)
		release_thread_state(t->owned_tstate);
	mlb_thread_forget_error(t);
	free(t);
}

static void thread_key_create(void)
{
	(void)pthread_key_create(&thread_key, thread_exit);
}

struct mlb_thread *mlb_thread_get(void)
{
	(void)pthread_once(&thread_key_once, thread_key_create);
	struct mlb_thread *t = pthread_getspecific(thread_key);
	if (t == NULL) {
		t = calloc(1, sizeof(*t));
		if (t != NULL && pthread_setspecific(thread_key, t) != 0) {
			free(t);
			t = NULL;
		}
	}
	return t;
}

/*
 * PyGILState_Ensure on a thread without a Python thread state creates one, and the matching
 * Release deletes it again: a thread state per call, which costs more than the call. So the
 * first time a foreign thread calls in, the shim keeps the thread state it got (its gilstate
 * count stays at 1) and from then on only swaps it in and out; the thread-exit destructor
 * deletes it. Threads that Python created keep their own state.
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
