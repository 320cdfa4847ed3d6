/*
 * glue.h: what the shim's CPython-facing C files share (runtime.c, convert.c, call.c).
 */
#ifndef MLBRIDGE_GLUE_H
#define MLBRIDGE_GLUE_H 1

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "shim.h"

/* Python objects the hot path needs, imported once when the runtime starts (then immortal
   for the shim: the interpreter is never finalised). */
struct mlb_python {
	PyObject *runtime;          /* bridge.runtime.RUNTIME */
	PyObject *describe;         /* bridge.errors.describe_exception */
	PyObject *await_result;     /* bridge._cabi.await_result (runs a coroutine to its end) */
	PyObject *s_functions;      /* "table": RUNTIME's name -> Function table */
	PyObject *s_callable;
	PyObject *s_type_name;
	PyObject *s_message;
	PyObject *s_traceback;
	PyObject *s_tolist;
	PyObject *s_call_async;
	PyObject *s_add_done_callback;
	PyObject *s_exception;
	PyObject *s_result;
};
extern struct mlb_python mlb_py;

/* GIL: take it for this call and give it back (see runtime.c for the thread-state policy). */
int mlb_gil_take(void);
void mlb_gil_give(int taken);

/* Calls in flight; a call only starts while the runtime is initialized. */
int mlb_enter_call(void);
void mlb_leave_call(void);
/* Counts work that outlives its call (a pending await) while a call is in flight. */
void mlb_hold_call(void);
void mlb_release_call(void);
/* Bumped by metacall_destroy: function handles verified before must be checked again. */
unsigned long mlb_table_generation(void);

/* Value -> new Python object; NULL with a Python exception naming argument `arg`. */
PyObject *mlb_value_to_py(void *v, size_t arg);
/* Python object -> new value; NULL with a Python exception set. */
void *mlb_py_to_value(PyObject *o);
/* The pending Python exception as a THROWABLE value (clears it). */
void *mlb_throwable_from_pyerr(void);
/* exc (an exception instance) as a THROWABLE value. */
void *mlb_throwable_from_exception(PyObject *exc);

#endif /* MLBRIDGE_GLUE_H */
