/*
 * The one C crossing of a Go call.
 *
 * Go encodes the arguments into a flat byte "tape" (no pointers), mlb_call builds the
 * MetaCall values from it, calls the function, encodes the result (or the exception) into a
 * second tape in Go's buffer and destroys every value, all in one cgo call. A cgo crossing
 * costs about as much as the whole no-op Python call, so one crossing per call is the budget.
 *
 * Tape encoding (native byte order, no alignment):
 *   'n'                 null
 *   't' / 'f'           true / false
 *   'l' int64           integer (every integer kind travels as LONG)
 *   'g' float32         float32 (FLOAT)
 *   'd' double          float64 (DOUBLE)
 *   's' u64 len, bytes  string (no NUL; may contain NULs)
 *   'b' u64 len, bytes  []byte (BUFFER)
 *   'a' u64 n, n values array
 *   'm' u64 n, n (key, value) pairs   map
 * Results only:
 *   'x' i64 code, then label, message, traceback as (u64 len, bytes)   exception
 *   'u' u8 id           a value of a type Go has no counterpart for
 */
#ifndef MLBRIDGE_GO_WIRE_H
#define MLBRIDGE_GO_WIRE_H

#include <stddef.h>

enum mlb_status {
	MLB_OK = 0,          /* the result tape is complete (or needs a larger buffer: see needed) */
	MLB_NO_VALUE = 1,    /* metacallfv_s returned NULL */
	MLB_BAD_ARGS = 2     /* the argument tape could not be turned into values */
};

typedef struct mlb_result {
	size_t needed;  /* bytes the result tape needs; more than out_cap: see pending */
	void *pending;  /* the result value, kept alive when it did not fit; pass to mlb_encode_pending */
	int status;     /* enum mlb_status */
} mlb_result;

mlb_result mlb_call(void *func, const unsigned char *tape, size_t tape_len, size_t argc,
		    unsigned char *out, size_t out_cap);

/* Encodes a pending result into out (which must hold mlb_result.needed bytes) and destroys it. */
size_t mlb_encode_pending(void *value, unsigned char *out, size_t out_cap);

/*
 * Lifecycle and loading with the error message read on the same OS thread (the shim records
 * errors per thread, and a goroutine may change threads between two cgo calls). On failure
 * they return non-zero and write "Label: message" (NUL-terminated, truncated) into err.
 */
int mlb_initialize(char *err, size_t err_cap);
/* metacall_function; when it returns NULL, the reason's label and message (NUL-terminated,
   truncated) go into label and message. */
void *mlb_function(const char *name, char *label, size_t label_cap, char *message, size_t message_cap);
int mlb_load_from_file(const char *tag, const char *paths[], size_t size, char *err, size_t err_cap);
int mlb_load_from_memory(const char *tag, const char *buffer, size_t size, char *err, size_t err_cap);

#endif
