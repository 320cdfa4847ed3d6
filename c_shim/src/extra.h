/*
 * extra.h: what handle.c and inspect.c share: the Python half of MetaCall's API beyond calls
 * (bridge.handles, through the names bridge._cabi declares for it).
 */
#ifndef MLBRIDGE_EXTRA_H
#define MLBRIDGE_EXTRA_H 1

#include "glue.h"

struct mlb_extra {
	PyObject *load;           /* handle_load(scope | None, tag, is_file, paths | script) -> scope */
	PyObject *close;          /* handle_close(scope) */
	PyObject *export_names;   /* handle_export(scope) -> [name, ...] */
	PyObject *inspect_json;   /* inspect_json() -> str */
	PyObject *inspect_data;   /* inspect_data() -> dict */
	PyObject *function_size;  /* function_size(Function) -> int */
	PyObject *function_async; /* function_async(Function) -> bool */
};

/* Under the GIL: the objects above, read from bridge._cabi on first use (then kept: the
   interpreter is never finalised); NULL with a Python exception set. */
const struct mlb_extra *mlb_extra(void);

/* A THROWABLE of this thread's last recorded error (what a failed lookup recorded). */
void *mlb_last_error_throwable(void);

#endif /* MLBRIDGE_EXTRA_H */
