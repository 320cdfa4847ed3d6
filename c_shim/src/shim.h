/*
 * shim.h: what the shim's C files share. Not installed; the ABI is include/metacall/.
 */
#ifndef MLBRIDGE_SHIM_H
#define MLBRIDGE_SHIM_H 1

#include <stddef.h>
#include <stdint.h>

#include <metacall/metacall.h>

/* Nothing declared here leaves the library: calls between the shim's files are direct, not
   through the PLT (the exported API is what include/metacall/ marks METACALL_API). */
#pragma GCC visibility push(hidden)

/* A value as MetaCall lays it out: one malloc block, a header with a magic tag, then the
   payload (bytes of a STRING/BUFFER, child pointers of an ARRAY/MAP, the exception struct and
   its strings of an EXCEPTION, the inner EXCEPTION of a THROWABLE). */
struct mlb_value {
	uint32_t magic;
	enum metacall_value_id id;
	size_t size;
	size_t count;
	union {
		unsigned char b;
		char c;
		short s;
		int i;
		long l;
		float f;
		double d;
	} scalar;
	_Alignas(16) unsigned char data[];
};

#define MLB_VALUE_MAGIC 0x564c424du /* "MBLV" */
#define MLB_DEAD_MAGIC 0x44414544u  /* "DEAD": destroyed, so a double destroy is ignored */

/* The value behind v, or NULL when v is NULL or not a live value of ours. Like MetaCall's
   value_validate: the magic tag tells our values from anything else. */
static inline struct mlb_value *mlb_value_check(void *v)
{
	struct mlb_value *value = v;
	if (value == NULL || ((uintptr_t)v % sizeof(void *)) != 0 || value->magic != MLB_VALUE_MAGIC)
		return NULL;
	return value;
}

/* A THROWABLE wrapping an EXCEPTION with these strings (NULL counts as ""). */
void *mlb_throwable_new(const char *label, const char *message, const char *stacktrace);
/* An opaque FUTURE value (the answer of metacallfv_await_struct_s). */
void *mlb_future_new(void);

/* The per-thread context (thread.c): the last recorded error and the Python thread state
   that the shim created for this thread (kept until the thread exits, see mlb_gil_take). */
struct mlb_thread {
	void *owned_tstate;
	char *label;
	char *message;
	char *stacktrace;
};

/* This thread's context, created on first use; NULL only when out of memory. */
struct mlb_thread *mlb_thread_get(void);
/* Frees the last error of t and leaves it empty. */
void mlb_thread_forget_error(struct mlb_thread *t);

#pragma GCC visibility pop

#endif /* MLBRIDGE_SHIM_H */
