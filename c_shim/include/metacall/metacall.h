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

#include <metacall/metacall_allocator.h>
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

/* { NULL }: the args of a call without arguments, as upstream's. */
METACALL_API extern void *metacall_null_args[1];

/* Upstream silences its default log to stdout with this; ours never logs to stdout, so it does
   nothing (and may be called at any time). */
METACALL_API void metacall_log_null(void);
/* Starts the embedded Python runtime once; 0 on success (also when already initialized),
   non-zero otherwise with the reason in metacall_error_last. */
METACALL_API int metacall_initialize(void);
/* Loads scripts (tag "py", or "mly" for model configurations); relative paths are looked up
   in LOADER_SCRIPT_PATH. 0 on success, else non-zero with the reason in metacall_error_last.
   handle NULL: into the global scope (a name taken there fails the load). A void * set to
   NULL: into a new private handle, stored in it on success; its functions are called through
   it only (metacallhv_s, metacall_handle_function) and collide with nothing outside it. A
   handle already loaded: into that handle. */
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
/* metacallv_s with as many arguments as the function has parameters (metacall_function_size). */
METACALL_API void *metacallv(const char *name, void *args[]);
/* metacallfv_s with as many arguments as the function has parameters. */
METACALL_API void *metacallfv(void *func, void *args[]);
/* metacallv_s on a function of a private handle. */
METACALL_API void *metacallhv_s(void *handle, const char *name, void *args[], size_t size);
/* metacallhv_s with as many arguments as the function has parameters. */
METACALL_API void *metacallhv(void *handle, const char *name, void *args[]);
/* A function of a private handle for metacallfv_s and the others, or NULL (not a live handle,
   or no such function in it; the reason in metacall_error_last). Valid for the life of the
   process: once the handle is cleared, calls through it fail with a LookupError. */
METACALL_API void *metacall_handle_function(void *handle, const char *name);
/* A MAP of the handle's functions: name (STRING) -> FUNCTION value (metacall_value_to_function
   gives a handle for metacallfv_s); the caller destroys it. NULL for a handle that is not live. */
METACALL_API void *metacall_handle_export(void *handle);
/* Unloads a private handle (its functions go, and what their load holds is released).
   0 on success, non-zero for something that is not a live handle. */
METACALL_API int metacall_clear(void *handle);
/* The number of parameters of func's signature (every parameter, *args and **kwargs
   included, as upstream's Python loader counts them); 0 for NULL or an unloaded function. */
METACALL_API size_t metacall_function_size(void *func);
/* 1 for an async def, 0 for a plain function, -1 for NULL or not a function. */
METACALL_API int metacall_function_async(void *func);
/* Every load (global and private) as MetaCall's JSON text, allocated with allocator (NULL:
   malloc); *size (if given) counts its terminating NUL. "{}" before metacall_initialize.
   Free it with metacall_allocator_free(allocator, text) (with free() when allocator is
   NULL). NULL when out of memory or when reading the runtime failed (reason recorded). */
METACALL_API char *metacall_inspect(size_t *size, void *allocator);
/* The same as a value: a MAP (tag -> ARRAY of loads, each a MAP as in the text) the caller
   destroys; an empty MAP before metacall_initialize; NULL on failure (reason recorded). */
METACALL_API void *metacall_inspect_value(void);
/* Calls func; when its result (a Python coroutine is awaited on the runtime's event loop
   thread) is ready, calls cb.resolve(value, data) or cb.reject(throwable, data) on that
   thread. Returns a FUTURE value (THROWABLE if the call could not start); the caller
   destroys it. The value given to a callback is destroyed after the callback returns. */
METACALL_API void *metacallfv_await_struct_s(void *func, void *args[], size_t size, metacall_await_callbacks cb, void *data);
/* Waits for calls in flight, forgets every loaded function and makes later calls fail until
   metacall_initialize is called again. The interpreter itself stays (it cannot restart). */
METACALL_API void metacall_destroy(void);

/* The library's version ("MAJOR.MINOR.PATCH", mlbridge's), a static string. */
METACALL_API const char *metacall_version_str(void);
/* A static text naming the library, its version and the embedded Python. */
METACALL_API const char *metacall_print_info(void);

#ifdef __cplusplus
}
#endif

#endif /* METACALL_H */
