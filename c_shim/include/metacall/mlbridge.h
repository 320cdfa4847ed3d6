/*
 * mlbridge.h: mlbridge's additions to MetaCall's C API (not part of MetaCall).
 *
 * The tape call is the Go host's one crossing per call: Go writes the arguments into a flat
 * byte tape (no pointers, so cgo may pass it), the shim decodes it straight into Python
 * objects, calls the function through the same core routine as metacallfv_s, and encodes the
 * result (or the exception) straight from the Python objects into a second tape.
 *
 * Tape encoding (native byte order, no alignment):
 *   'n'                 None
 *   't' / 'f'           True / False
 *   'l' int64           int
 *   'g' float32         float (arguments only: Go's float32)
 *   'd' double          float
 *   's' u64 len, bytes  str (UTF-8; NULs allowed)
 *   'b' u64 len, bytes  bytes
 *   'a' u64 n, n values list
 *   'm' u64 n, n (key, value) pairs   dict
 * Results only:
 *   'x' i64 code, then label, message, traceback as (u64 len, bytes)   the call failed
 */
#ifndef MLBRIDGE_H
#define MLBRIDGE_H 1

#include <stddef.h>
#include <stdint.h>

#include <metacall/metacall_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How long metacall_destroy waits for calls in flight before it clears the table anyway. */
#define MLBRIDGE_DESTROY_TIMEOUT_MS 10000L

/* The nesting limit of every host: at most this many containers (ARRAY, MAP; Go slices, arrays,
   maps and structs; Python lists, tuples and dicts) inside one another in an argument or a
   result. Deeper (or cyclic) values are refused with an error naming the limit. */
#define MLBRIDGE_MAX_DEPTH 200

enum mlbridge_tape_status {
	MLBRIDGE_TAPE_OK = 0,              /* the result tape is complete (see heap) */
	MLBRIDGE_TAPE_NOT_INITIALIZED = 1, /* before metacall_initialize / after metacall_destroy */
	MLBRIDGE_TAPE_NO_MEMORY = 2        /* the result did not fit and no memory was left for it */
};

struct mlbridge_tape_result {
	size_t length;       /* bytes of the result tape */
	unsigned char *heap; /* NULL: the tape is in out; else a malloc'd tape the caller frees */
	int status;          /* enum mlbridge_tape_status */
};

/* Calls the function named by name[0..name_length) with argc arguments read from the tape
   args[0..args_length), and writes the result tape into out (or, when it does not fit, into
   a malloc'd buffer returned in heap). A name with a NUL, an unknown function, a malformed
   tape, a Python exception and a result with no tape form all come back as an 'x' record.
   held: the call was counted in flight by mlbridge_hold, which this call ends. */
METACALL_API struct mlbridge_tape_result mlbridge_tape_call(const char *name, size_t name_length, const unsigned char *args, size_t args_length, size_t argc, unsigned char *out, size_t out_capacity, int held);

/* Counts a call that will start later (a Go call waiting for its turn) as in flight, so that
   destroy waits for it too: 1, or 0 when the runtime is not initialized. The hold ends with
   mlbridge_tape_call(..., held = 1) or mlbridge_release. */
METACALL_API int mlbridge_hold(void);
METACALL_API void mlbridge_release(void);

/* metacall_destroy with another bound on the wait for calls in flight. */
METACALL_API void mlbridge_destroy(long timeout_ms);

/* The runtime's models version: a counter bumped every time a served model's version changes
   (a hot reload swapped it in), after the swap. A host that keeps answers of a model (the HTTP
   server's memo) reads it with an atomic 64-bit load at this address, which stays valid for
   the life of the process (before metacall_initialize too): no call, no GIL. */
METACALL_API const uint64_t *mlbridge_models_version(void);

#ifdef __cplusplus
}
#endif

#endif /* MLBRIDGE_H */
