/*
 * metacall.h: MetaCall's C API over mlbridge's one embedded Python runtime.
 *
 * The subset the upstream Go port uses, with MetaCall's prototypes and semantics:
 *  - every function may be called from any thread at any time; a call holds the GIL only
 *    while Python runs;
 *  - before metacall_initialize and after metacall_destroy every call fails cleanly
 *    (non-zero, NULL, or a THROWABLE value);
 *  - the caller destroys the arguments after a call, and the returned value.
 *
 * This header is the single source of truth of the ABI: the cffi build reads it.
 * Keep one declaration per line and no preprocessor logic between the guards.
 */
#ifndef METACALL_H
#define METACALL_H 1

#include <stddef.h>
#include <stdlib.h> /* as upstream's: programs (the Go port's cgo) use malloc/free through it */

#include <metacall/metacall_value.h>
#include <metacall/metacall_error.h>

#include <metacall/metacall_api.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void *(*metacall_await_callback)(void *, void *);

typedef struct metacall_await_callbacks_type {
	metacall_await_callback resolve;
	metacall_await_callback reject;
} metacall_await_callbacks;

/* Starts the embedded Python runtime once; 0 on success (also when already initialized),
   non-zero otherwise with the reason in metacall_error_last. */
METACALL_API int metacall_initialize(void);
/* Loads scripts (tag "py", or "mly" for model configurations) into the global scope;
   relative paths are looked up in LOADER_SCRIPT_PATH. 0 on success. *handle (if given) is
   set to NULL: every load goes into the global scope. */
METACALL_API int metacall_load_from_file(const char *tag, const char *paths[], size_t size, void **handle);
/* Loads a script from its source; size counts the terminating NUL, as upstream. */
METACALL_API int metacall_load_from_memory(const char *tag, const char *buffer, size_t size, void **handle);
/* A handle that stays valid for the life of the process; NULL if no such function is loaded. */
METACALL_API void *metacall_function(const char *name);
/* Calls func with size arguments; returns a new value (THROWABLE on failure) or NULL only
   when out of memory. The arguments stay owned by the caller. */
METACALL_API void *metacallfv_s(void *func, void *args[], size_t size);
/* The same as metacallfv_s with a lookup by name. */
METACALL_API void *metacallv_s(const char *name, void *args[], size_t size);
/* Calls func; when its result (a Python coroutine is awaited on the runtime's event loop
   thread) is ready, calls cb.resolve(value, data) or cb.reject(throwable, data) on that
   thread. Returns a FUTURE value (THROWABLE if the call could not start); the caller
   destroys it. The value given to a callback is destroyed after the callback returns. */
METACALL_API void *metacallfv_await_struct_s(void *func, void *args[], size_t size, metacall_await_callbacks cb, void *data);
/* Waits for calls in flight, forgets every loaded function and makes later calls fail until
   metacall_initialize is called again. The interpreter itself stays (it cannot restart). */
METACALL_API void metacall_destroy(void);

#ifdef __cplusplus
}
#endif

#endif /* METACALL_H */
