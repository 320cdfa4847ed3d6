/*
 * glue.h: what the shim's CPython-facing C files share (thread.c, runtime.c, convert.c,
 * tape.c, call.c).
 */
#ifndef MLBRIDGE_GLUE_H
#define MLBRIDGE_GLUE_H 1

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdatomic.h>

#include "shim.h"

#pragma GCC visibility push(hidden) /* as in shim.h: the shim's own, called directly */

/* Python objects the hot path needs, read from bridge._cabi once when the runtime starts
   (then immortal for the shim: the interpreter is never finalised). */
struct mlb_python {
	PyObject *runtime;          /* RUNTIME */
	PyObject *runtime_dict;     /* vars(RUNTIME): where the table attribute lives */
	PyObject *describe;         /* describe_exception(exc) -> .type_name, .message, .traceback */
	PyObject *await_result;     /* await_result(name, coroutine) -> its value */
	PyObject *submit_coroutine; /* submit_coroutine(name, coroutine) -> a Future */
	PyObject *s_table;          /* RUNTIME.<table>: name -> Function */
	PyObject *s_callable;       /* Function.<callable> */
	PyObject *s_counts;         /* Function.<counts>: array('q', [calls, errors]) */
	PyObject *s_type_name;
	PyObject *s_message;
	PyObject *s_traceback;
	PyObject *s_tolist;
	PyObject *s_add_done_callback;
	PyObject *s_exception;
	PyObject *s_result;
};
extern struct mlb_python mlb_py;

/* GIL (thread.c): take it for this call and give it back. */
int mlb_gil_take(void);
void mlb_gil_give(int taken);

/* Calls in flight (defined in runtime.c, inline here: they are on every call). A call only
   starts while the runtime is initialized; metacall_destroy clears mlb_active, then waits
   until mlb_in_flight is down to its own thread's mlb_own_calls. */
extern atomic_int mlb_active;         /* initialized and not destroyed */
extern atomic_long mlb_in_flight;     /* calls (and pending awaits) that entered */
extern atomic_ulong mlb_generation;   /* bumped by metacall_destroy */
/* Calls of this thread in flight: destroy skips them. initial-exec: no __tls_get_addr call on
   the hot path (the library is linked, not dlopen()ed, by every host). */
extern _Thread_local long mlb_own_calls __attribute__((tls_model("initial-exec")));

static inline int mlb_enter_call(void)
{
	atomic_fetch_add(&mlb_in_flight, 1);
	if (!atomic_load(&mlb_active)) {
		atomic_fetch_sub(&mlb_in_flight, 1);
		return 0;
	}
	++mlb_own_calls;
	return 1;
}

static inline void mlb_leave_call(void)
{
	--mlb_own_calls;
	atomic_fetch_sub(&mlb_in_flight, 1);
}

/* Counts work that outlives its call (a pending await) while a call is in flight. */
static inline void mlb_hold_call(void)
{
	atomic_fetch_add(&mlb_in_flight, 1);
}

static inline void mlb_release_call(void)
{
	atomic_fetch_sub(&mlb_in_flight, 1);
}

/* Function handles verified in an earlier generation must be checked again. */
static inline unsigned long mlb_table_generation(void)
{
	return atomic_load(&mlb_generation);
}

/* Function handles (call.c). Under the GIL: the handle of name[0..length), NULL with a Python
   exception set (LookupError when it is not loaded). */
struct mlb_function;
struct mlb_function *mlb_function_lookup(const char *name, size_t length);
/* A call's arguments: new references in a vector (a vectorcall makes no tuple). */
#define MLB_STACK_ARGS 8
struct mlb_args {
	PyObject **items;
	size_t count; /* filled so far */
	PyObject *stack[MLB_STACK_ARGS];
};
/* Room for n arguments; 0, or -1 with MemoryError set. */
int mlb_args_init(struct mlb_args *a, size_t n);
/* Releases the arguments filled so far and the room. */
void mlb_args_clear(struct mlb_args *a);
/* Private handles (handle.c) use these. Under the GIL: a function handle that reads name from
   owner's table (a bridge.handles.PrivateScope) instead of the global one; not cached by name
   and never freed (the caller keeps it); NULL with a Python exception set. */
struct mlb_function *mlb_function_new_in(PyObject *owner, const char *name, size_t length);
/* Under the GIL: f's handle was cleared; f lets go of what it read from the handle (the
   Function, and with it the script's module) and answers LookupError from now on. */
void mlb_function_close(struct mlb_function *f);
/* metacall_destroy cleared every private handle (handle.c; takes the GIL). */
void mlb_handles_forget(void);
/* metacall_destroy cleared the global table: every cached global function handle lets go of
   the Function it read, and with it the script's module and what it loaded (takes the GIL). */
void mlb_functions_forget(void);
/* func as a function handle of ours, or NULL. */
struct mlb_function *mlb_function_check(void *func);
/* Under the GIL: the bridge Function now behind f (a new reference), or NULL with an exception
   set (LookupError when its name is no longer loaded). */
PyObject *mlb_function_entry(struct mlb_function *f);
/* Records the pending Python exception (cleared) as this thread's last error. */
void mlb_record_pyerr(void);
/* A load into a private handle (handle.c), with the call entered: paths[0..count) when paths
   is not NULL, else the script buffer[0..size) (size counts the NUL). *handle NULL: a new
   handle, stored there on success; else the handle to load into. 1 on success, 0 with the
   error recorded. */
int mlb_handle_load(const char *tag, const char *paths[], size_t count, const char *buffer, size_t size, void **handle);

/* The core call routine of every entry (metacallfv_s, the tape call, the await path), under
   the GIL: calls f with the arguments and counts the call (and its failure) in the
   function's counters. A coroutine result is awaited when await_coroutine is set, else
   returned as is. A new reference, or NULL with a Python exception set. */
PyObject *mlb_invoke(struct mlb_function *f, const struct mlb_args *args, int await_coroutine);

/* Where a Python result goes: MetaCall values (convert.c) or a tape (tape.c). mlb_export
   walks the object and calls these in order; each returns 0, or -1 with an exception set. */
struct mlb_sink {
	int (*null)(struct mlb_sink *);
	int (*truth)(struct mlb_sink *, int);
	int (*integer)(struct mlb_sink *, long);
	int (*real)(struct mlb_sink *, double);
	int (*text)(struct mlb_sink *, const char *, size_t);
	int (*bytes)(struct mlb_sink *, const char *, size_t);
	/* An ARRAY or MAP of count elements (a MAP's are key, value, key, value, ...). */
	int (*open)(struct mlb_sink *, enum metacall_value_id, size_t count);
	int (*close)(struct mlb_sink *);
};
/* The conversion rules of every host's results, in one place (convert.c). */
int mlb_export(PyObject *o, struct mlb_sink *sink);

/* Adds key: value to dict, refusing a key equal in Python to one already there (1, 1.0 and
   True are one dict key): a ValueError naming both keys and argument arg. Steals nothing. */
int mlb_dict_add_new(PyObject *dict, PyObject *key, PyObject *value, size_t arg);

/* Value -> new Python object; NULL with a Python exception naming argument `arg`. */
PyObject *mlb_value_to_py(void *v, size_t arg);
/* Python object -> new value; NULL with a Python exception set. */
void *mlb_py_to_value(PyObject *o);

/* An exception's type name, message and traceback as malloc'd UTF-8 (each may be NULL when
   it could not be read); clears any exception raised while describing it. */
struct mlb_description {
	char *label;
	char *message;
	char *traceback;
};
void mlb_describe(PyObject *exc, struct mlb_description *d);
void mlb_description_free(struct mlb_description *d);
/* The pending Python exception (cleared) as a new reference, normalised, with its traceback. */
PyObject *mlb_fetch_exception(void);
/* The pending Python exception as a THROWABLE value (clears it). */
void *mlb_throwable_from_pyerr(void);
/* exc (an exception instance) as a THROWABLE value. */
void *mlb_throwable_from_exception(PyObject *exc);

#pragma GCC visibility pop

#endif /* MLBRIDGE_GLUE_H */
