/*
 * metacall_error.h: reading a Python exception that crossed into C.
 *
 * A call whose Python function raised returns a THROWABLE value. It wraps an EXCEPTION value
 * with the exception's type name (label), message and formatted traceback (stacktrace).
 * The strings belong to the value: they live until it is destroyed.
 *
 * Errors that have no value to carry them (a failed initialize or load, a function that is
 * not found) are recorded per thread and read with metacall_error_last.
 */
#ifndef METACALL_ERROR_H
#define METACALL_ERROR_H 1

#include <stdint.h>

#include <metacall/metacall_api.h>

#ifdef __cplusplus
extern "C" {
#endif

struct metacall_exception_type {
	const char *message;
	const char *label;
	int64_t code;
	const char *stacktrace;
};

typedef struct metacall_exception_type *metacall_exception;

/* Fills ex from a THROWABLE or EXCEPTION value; 0 on success, 1 otherwise. */
METACALL_API int metacall_error_from_value(void *v, metacall_exception ex);
/* Fills ex with the last error recorded on this thread; 0 if there is one, 1 otherwise.
   The strings stay valid until the next failing call on this thread. */
METACALL_API int metacall_error_last(metacall_exception ex);
/* Forgets the last error of this thread. */
METACALL_API void metacall_error_clear(void);

/* The throwable inside a THROWABLE value (NULL otherwise); owned by the value. */
METACALL_API void *metacall_value_to_throwable(void *v);
/* The EXCEPTION value that a throwable carries; owned by the THROWABLE value. */
METACALL_API void *metacall_throwable_value(void *th);
/* The exception struct of an EXCEPTION value (NULL otherwise); owned by the value. */
METACALL_API void *metacall_value_to_exception(void *v);

#ifdef __cplusplus
}
#endif

#endif /* METACALL_ERROR_H */
