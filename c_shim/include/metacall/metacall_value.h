/*
 * metacall_value.h: MetaCall's value API (the subset the upstream Go port uses).
 *
 * Same enum numbers and ownership rules as MetaCall:
 *  - every metacall_value_create_* returns a new value the caller owns (NULL when out of memory);
 *  - a container (ARRAY, MAP) owns its children: metacall_value_create_array/_map take
 *    ownership of the values passed in, and metacall_value_destroy recurses;
 *  - a STRING copies its bytes and its size counts the terminating NUL;
 *  - metacall_value_to_* on a value of another id (or a NULL / foreign pointer) returns 0/NULL.
 *
 * This header is the single source of truth of the ABI: the cffi build reads it.
 * Keep one declaration per line and no preprocessor logic between the guards.
 */
#ifndef METACALL_VALUE_H
#define METACALL_VALUE_H 1

#include <stddef.h>
#include <stdlib.h> /* as upstream's: programs (the Go port's cgo) use malloc/free through it */
#include <stdint.h>

#include <metacall/metacall_api.h>

#ifndef boolean
#define boolean unsigned char
#endif

#ifdef __cplusplus
extern "C" {
#endif

enum metacall_value_id {
	METACALL_BOOL = 0,
	METACALL_CHAR = 1,
	METACALL_SHORT = 2,
	METACALL_INT = 3,
	METACALL_LONG = 4,
	METACALL_FLOAT = 5,
	METACALL_DOUBLE = 6,
	METACALL_STRING = 7,
	METACALL_BUFFER = 8,
	METACALL_ARRAY = 9,
	METACALL_MAP = 10,
	METACALL_PTR = 11,
	METACALL_FUTURE = 12,
	METACALL_FUNCTION = 13,
	METACALL_NULL = 14,
	METACALL_CLASS = 15,
	METACALL_OBJECT = 16,
	METACALL_EXCEPTION = 17,
	METACALL_THROWABLE = 18,
	METACALL_SIZE = 19,
	METACALL_INVALID = 20
};

METACALL_API void *metacall_value_create_bool(boolean b);
METACALL_API void *metacall_value_create_char(char c);
METACALL_API void *metacall_value_create_short(short s);
METACALL_API void *metacall_value_create_int(int i);
METACALL_API void *metacall_value_create_long(long l);
METACALL_API void *metacall_value_create_float(float f);
METACALL_API void *metacall_value_create_double(double d);
/* Copies length bytes and appends a NUL; str may be NULL (zero-filled). */
METACALL_API void *metacall_value_create_string(const char *str, size_t length);
/* Copies size bytes; buffer may be NULL (zero-filled). */
METACALL_API void *metacall_value_create_buffer(const void *buffer, size_t size);
/* Takes ownership of the values; values == NULL gives size NULL slots to fill through
   metacall_value_to_array. */
METACALL_API void *metacall_value_create_array(const void *values[], size_t size);
/* tuples are 2-element ARRAY values [key, value]; the map takes ownership of them. */
METACALL_API void *metacall_value_create_map(const void *tuples[], size_t size);
METACALL_API void *metacall_value_create_null(void);

/* A FUNCTION value holding f (a function handle of metacall_function and the others). */
METACALL_API void *metacall_value_create_function(void *f);

/* Bytes of the payload (a STRING counts its NUL), 0 for an invalid value. */
METACALL_API size_t metacall_value_size(void *v);
/* Elements of an ARRAY or MAP, 0 otherwise. */
METACALL_API size_t metacall_value_count(void *v);
/* METACALL_INVALID for NULL or a pointer that is not a live value of ours. */
METACALL_API enum metacall_value_id metacall_value_id(void *v);

METACALL_API boolean metacall_value_to_bool(void *v);
METACALL_API char metacall_value_to_char(void *v);
METACALL_API short metacall_value_to_short(void *v);
METACALL_API int metacall_value_to_int(void *v);
METACALL_API long metacall_value_to_long(void *v);
METACALL_API float metacall_value_to_float(void *v);
METACALL_API double metacall_value_to_double(void *v);
METACALL_API char *metacall_value_to_string(void *v);
METACALL_API void *metacall_value_to_buffer(void *v);
METACALL_API void **metacall_value_to_array(void *v);
/* An array of metacall_value_count(v) 2-element ARRAY values [key, value]. */
METACALL_API void **metacall_value_to_map(void *v);
/* The function handle a FUNCTION value holds, NULL for another value. */
METACALL_API void *metacall_value_to_function(void *v);

/* Destroys v and, for containers, its children. NULL and foreign pointers are ignored. */
METACALL_API void metacall_value_destroy(void *v);

#ifdef __cplusplus
}
#endif

#endif /* METACALL_VALUE_H */
