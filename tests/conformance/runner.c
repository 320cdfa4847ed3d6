/*
 * runner.c: the cross-host conformance table through MetaCall's C ABI (ctest c_conformance and
 * c_conformance_asan, and _threads). The cases come from cases.json through the generated
 * header conformance_cases.h; every case is called with metacallv_s (the global scope) and
 * metacallhv_s (the script loaded again into a private handle), async cases also with
 * metacallfv_await_struct_s, and each answer is checked against the table; so are the
 * function's counters (metacallv_s) and metacall_function_async.
 * Over 400 lines because it is one ctest program: reading the table's notation into MetaCall
 * values and checking answers against it are most of it, and serve only this runner.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <metacall/metacall.h>

#include "conformance_cases.h"

#define REASON_SIZE 512

/* --- building arguments ------------------------------------------------------------------ */

static void *build(const struct conf_value *v)
{
	switch (v->kind) {
	case CONF_NULL:
		return metacall_value_create_null();
	case CONF_BOOL:
		return metacall_value_create_bool((boolean)v->integer);
	case CONF_LONG:
		return metacall_value_create_long((long)v->integer);
	case CONF_CHAR:
		return metacall_value_create_char((char)v->integer);
	case CONF_SHORT:
		return metacall_value_create_short((short)v->integer);
	case CONF_INT:
		return metacall_value_create_int((int)v->integer);
	case CONF_DOUBLE:
		return metacall_value_create_double(v->real);
	case CONF_FLOAT:
		return metacall_value_create_float((float)v->real);
	case CONF_STRING:
		return metacall_value_create_string(v->bytes, v->size);
	case CONF_BUFFER:
		return metacall_value_create_buffer(v->bytes, v->size);
	case CONF_ARRAY:
	case CONF_MAP: {
		size_t n = v->count;
		const void **items = calloc(n ? n : 1, sizeof(*items));
		if (items == NULL)
			return NULL;
		for (size_t i = 0; i < n; ++i) {
			if (v->kind == CONF_ARRAY) {
				items[i] = build(&v->items[i]);
			} else {
				const void *pair[2] = { build(&v->items[2 * i]), build(&v->items[2 * i + 1]) };
				items[i] = metacall_value_create_array(pair, 2);
			}
		}
		void *container = v->kind == CONF_ARRAY ? metacall_value_create_array(items, n)
							: metacall_value_create_map(items, n);
		free(items);
		return container;
	}
	case CONF_UNCONVERTIBLE:
		return NULL; /* what a C caller can get wrong: not a value at all */
	}
	return NULL;
}

/* --- checking answers --------------------------------------------------------------------- */

static const char *const value_names[] = { "BOOL",  "CHAR",     "SHORT",    "INT",       "LONG",
					   "FLOAT", "DOUBLE",   "STRING",   "BUFFER",    "ARRAY",
					   "MAP",   "PTR",      "FUTURE",   "FUNCTION",  "NULL",
					   "CLASS", "OBJECT",   "EXCEPTION", "THROWABLE", "SIZE",
					   "INVALID" };

static const enum metacall_value_id wanted_ids[] = {
	[CONF_NULL] = METACALL_NULL,     [CONF_BOOL] = METACALL_BOOL,     [CONF_LONG] = METACALL_LONG,
	[CONF_DOUBLE] = METACALL_DOUBLE, [CONF_STRING] = METACALL_STRING, [CONF_BUFFER] = METACALL_BUFFER,
	[CONF_ARRAY] = METACALL_ARRAY,   [CONF_MAP] = METACALL_MAP,
};

/* 1 if got is the value want describes; else 0 and the difference in reason. */
static int same(const struct conf_value *want, void *got, const char *path, char *reason)
{
	enum metacall_value_id id = metacall_value_id(got);
	if (want->kind > CONF_MAP || id != wanted_ids[want->kind]) {
		snprintf(reason, REASON_SIZE, "result%s: a %s value, not %s", path, value_names[id],
			 want->kind > CONF_MAP ? "an argument kind" : value_names[wanted_ids[want->kind]]);
		return 0;
	}
	int ok = 1;
	switch (want->kind) {
	case CONF_BOOL:
		ok = metacall_value_to_bool(got) == (boolean)want->integer;
		break;
	case CONF_LONG:
		ok = metacall_value_to_long(got) == want->integer;
		break;
	case CONF_DOUBLE: {
		double d = metacall_value_to_double(got);
		ok = isnan(want->real) ? isnan(d) : d == want->real && signbit(d) == signbit(want->real);
		break;
	}
	case CONF_STRING: /* a STRING's size counts its terminating NUL */
		ok = metacall_value_size(got) == want->size + 1 &&
		     memcmp(metacall_value_to_string(got), want->bytes, want->size) == 0;
		break;
	case CONF_BUFFER:
		ok = metacall_value_size(got) == want->size &&
		     (want->size == 0 || memcmp(metacall_value_to_buffer(got), want->bytes, want->size) == 0);
		break;
	case CONF_ARRAY:
	case CONF_MAP:
		if (metacall_value_count(got) != want->count) {
			snprintf(reason, REASON_SIZE, "result%s: %zu elements, not %zu", path,
				 metacall_value_count(got), want->count);
			return 0;
		}
		break;
	default:
		break;
	}
	if (!ok && (want->kind == CONF_BOOL || want->kind == CONF_LONG)) {
		snprintf(reason, REASON_SIZE, "result%s: %ld, not %lld", path,
			 want->kind == CONF_BOOL ? (long)metacall_value_to_bool(got) : metacall_value_to_long(got),
			 want->integer);
		return 0;
	}
	if (!ok && want->kind == CONF_DOUBLE) {
		snprintf(reason, REASON_SIZE, "result%s: %.17g, not %.17g", path, metacall_value_to_double(got),
			 want->real);
		return 0;
	}
	if (!ok) {
		snprintf(reason, REASON_SIZE, "result%s: the %s value differs", path, value_names[id]);
		return 0;
	}
	char inner[256];
	if (want->kind == CONF_ARRAY) {
		void **items = metacall_value_to_array(got);
		for (size_t i = 0; i < want->count; ++i) {
			snprintf(inner, sizeof(inner), "%s[%zu]", path, i);
			if (!same(&want->items[i], items[i], inner, reason))
				return 0;
		}
	} else if (want->kind == CONF_MAP) { /* by key: a Go map has no order either */
		void **pairs = metacall_value_to_map(got);
		for (size_t i = 0; i < want->count; ++i) {
			const struct conf_value *key = &want->items[2 * i];
			void *found = NULL;
			for (size_t j = 0; j < want->count && found == NULL; ++j) {
				void **kv = metacall_value_to_array(pairs[j]);
				char scratch[REASON_SIZE];
				if (same(key, kv[0], path, scratch))
					found = kv[1];
			}
			snprintf(inner, sizeof(inner), "%s[%.*s]", path, (int)key->size, key->bytes);
			if (found == NULL) {
				snprintf(reason, REASON_SIZE, "result%s: missing", inner);
				return 0;
			}
			if (!same(&want->items[2 * i + 1], found, inner, reason))
				return 0;
		}
	}
	return 1;
}

static const char *const kind_names[] = { "a result", "an exception", "function not found", "an argument error" };

/* 1 if v (owned by the caller) is the case's expected answer; else 0 and why in reason. */
static int check(const struct conf_case *c, void *v, char *reason)
{
	if (c->outcome == CONF_RESULT) {
		struct metacall_exception_type ex;
		if (metacall_value_id(v) == METACALL_THROWABLE && metacall_error_from_value(v, &ex) == 0) {
			snprintf(reason, REASON_SIZE, "raised %s: %s", ex.label, ex.message);
			return 0;
		}
		return same(c->result, v, "", reason);
	}
	struct metacall_exception_type ex;
	if (metacall_value_id(v) != METACALL_THROWABLE || metacall_error_from_value(v, &ex) != 0) {
		snprintf(reason, REASON_SIZE, "%s expected, got a %s value", kind_names[c->outcome],
			 value_names[metacall_value_id(v)]);
		return 0;
	}
	const char *label = c->outcome == CONF_EXCEPTION ? c->error_type
			    : c->outcome == CONF_NOT_FOUND ? "LookupError"
							   : NULL;
	if (label != NULL && strcmp(ex.label, label) != 0) {
		snprintf(reason, REASON_SIZE, "label %s, not %s (message: %s)", ex.label, label, ex.message);
		return 0;
	}
	if (c->message != NULL && strcmp(ex.message, c->message) != 0) {
		snprintf(reason, REASON_SIZE, "message '%s', not '%s'", ex.message, c->message);
		return 0;
	}
	for (size_t i = 0; i < c->ncontains; ++i) {
		if (strstr(ex.message, c->contains[i]) == NULL) {
			snprintf(reason, REASON_SIZE, "message '%s' does not contain '%s'", ex.message, c->contains[i]);
			return 0;
		}
	}
	if (c->outcome == CONF_ARGUMENT && c->position >= 0) {
		char where[32];
		snprintf(where, sizeof(where), "argument %d", c->position);
		if (strstr(ex.message, where) == NULL) {
			snprintf(reason, REASON_SIZE, "message '%s' does not name %s", ex.message, where);
			return 0;
		}
	}
	if (c->traceback != NULL && (ex.stacktrace == NULL || strstr(ex.stacktrace, c->traceback) == NULL)) {
		snprintf(reason, REASON_SIZE, "the traceback does not contain '%s'", c->traceback);
		return 0;
	}
	return 1;
}

/* --- the two call paths ------------------------------------------------------------------- */

/* The script loaded a second time, into a private handle (metacallhv_s calls it there). */
static void *private_handle;

struct awaited {
	const struct conf_case *c;
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	int done, ok;
	char reason[REASON_SIZE];
};

/* resolve and reject: the value is destroyed by the runtime after the callback returns. */
static void *settle(void *value, void *data)
{
	struct awaited *a = data;
	pthread_mutex_lock(&a->lock);
	a->ok = check(a->c, value, a->reason);
	a->done = 1;
	pthread_cond_signal(&a->done_cond);
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* 1 if the awaited call of c gives its expected answer (to a callback, or as the THROWABLE
   of a call that could not start). */
static int run_awaited(const struct conf_case *c, void *args[], char *reason)
{
	void *func = metacall_function(c->function);
	if (func == NULL) { /* no value to check: the reason is this thread's last error */
		struct metacall_exception_type ex;
		int ok = c->outcome == CONF_NOT_FOUND && metacall_error_last(&ex) == 0 &&
			 strcmp(ex.label, "LookupError") == 0;
		if (!ok)
			snprintf(reason, REASON_SIZE, "metacall_function found no function");
		return ok;
	}
	struct awaited a = { .c = c, .done = 0, .ok = 0 };
	pthread_mutex_init(&a.lock, NULL);
	pthread_cond_init(&a.done_cond, NULL);
	metacall_await_callbacks callbacks = { settle, settle };
	void *future = metacallfv_await_struct_s(func, args, c->argc, callbacks, &a);
	int ok;
	if (metacall_value_id(future) == METACALL_THROWABLE) {
		ok = check(c, future, reason);
	} else {
		struct timespec deadline;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += 60;
		pthread_mutex_lock(&a.lock);
		int rc = 0;
		while (!a.done && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&a.done_cond, &a.lock, &deadline);
		ok = a.done && a.ok;
		if (!a.done)
			snprintf(reason, REASON_SIZE, "no callback within 60 s");
		else if (!a.ok)
			memcpy(reason, a.reason, REASON_SIZE);
		pthread_mutex_unlock(&a.lock);
	}
	metacall_value_destroy(future);
	pthread_cond_destroy(&a.done_cond);
	pthread_mutex_destroy(&a.lock);
	return ok;
}

/* --- the function's counters ------------------------------------------------------------- */

/* [calls, errors] of the function name (through the script's counts_of); 0 on success. */
static int counts_of(const char *name, long long counts[2])
{
	void *arg = metacall_value_create_string(name, strlen(name));
	void *r = metacallv_s("counts_of", &arg, 1);
	metacall_value_destroy(arg);
	int rc = 1;
	if (metacall_value_id(r) == METACALL_ARRAY && metacall_value_count(r) == 2) {
		void **items = metacall_value_to_array(r);
		counts[0] = metacall_value_to_long(items[0]);
		counts[1] = metacall_value_to_long(items[1]);
		rc = 0;
	}
	metacall_value_destroy(r);
	return rc;
}

/* One pass over the table: the number of failed checks (each reported). */
struct pass {
	int thread;
	int count; /* also check the function's counters (a pass alone) */
	size_t checks;
	int failures;
};

static void fail(struct pass *p, const struct conf_case *c, const char *how, const char *reason)
{
	fprintf(stderr, "FAIL %s (%s, thread %d): %s\n", c->id, how, p->thread, reason);
	++p->failures;
}

static void *run_pass(void *arg)
{
	struct pass *p = arg;
	for (size_t i = 0; i < conf_case_count; ++i) {
		const struct conf_case *c = &conf_cases[i];
		void *args[32] = { NULL };
		if (c->argc > sizeof(args) / sizeof(args[0])) {
			fail(p, c, "setup", "more arguments than the runner has room for");
			continue;
		}
		for (size_t j = 0; j < c->argc; ++j)
			args[j] = build(&c->args[j]);
		char reason[REASON_SIZE] = "";
		/* Counters move under other threads' calls too: only a pass of its own checks them. */
		long long before[2], after[2];
		int count = p->count && c->counted;
		if (count && counts_of(c->function, before) != 0) {
			fail(p, c, "counts_of", "cannot read the counters");
			count = 0;
		}
		void *v = metacallv_s(c->function, args, c->argc);
		++p->checks;
		if (!check(c, v, reason))
			fail(p, c, "metacallv_s", reason);
		metacall_value_destroy(v);
		if (count && counts_of(c->function, after) == 0 &&
		    (after[0] - before[0] != c->calls || after[1] - before[1] != c->errors)) {
			snprintf(reason, REASON_SIZE, "counted [%lld, %lld], not [%lld, %lld]", after[0] - before[0],
				 after[1] - before[1], c->calls, c->errors);
			fail(p, c, "counters", reason);
		}
		/* The same answers from the script's private copy (counted in its own Functions). */
		v = metacallhv_s(private_handle, c->function, args, c->argc);
		++p->checks;
		if (!check(c, v, reason))
			fail(p, c, "metacallhv_s", reason);
		metacall_value_destroy(v);
		void *func = metacall_function(c->function);
		p->checks += func != NULL;
		if (func != NULL && metacall_function_async(func) != c->is_async)
			fail(p, c, "metacall_function_async", c->is_async ? "not async" : "async");
		if (c->is_async) {
			++p->checks;
			if (!run_awaited(c, args, reason))
				fail(p, c, "metacallfv_await_struct_s", reason);
		}
		for (size_t j = 0; j < c->argc; ++j)
			metacall_value_destroy(args[j]); /* the caller owns the arguments */
	}
	return NULL;
}

/* c_conformance_runner [THREADS]: every case once, or THREADS passes over the table at once
   (each a thread of its own), each answer checked. */
int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 1;
	if (threads < 1 || threads > 64) {
		fprintf(stderr, "usage: %s [THREADS (1-64)]\n", argv[0]);
		return 2;
	}
	struct metacall_exception_type ex;
	if (metacall_initialize() != 0) {
		int known = metacall_error_last(&ex) == 0;
		fprintf(stderr, "metacall_initialize failed: %s: %s\n", known ? ex.label : "?", known ? ex.message : "?");
		return 1;
	}
	const char *paths[] = { conf_script };
	if (metacall_load_from_file("py", paths, 1, NULL) != 0) {
		metacall_error_last(&ex);
		fprintf(stderr, "loading %s failed: %s: %s\n", conf_script, ex.label, ex.message);
		return 1;
	}
	if (metacall_load_from_file("py", paths, 1, &private_handle) != 0 || private_handle == NULL) {
		metacall_error_last(&ex);
		fprintf(stderr, "loading %s into a private handle failed: %s: %s\n", conf_script, ex.label, ex.message);
		return 1;
	}
	struct pass passes[64];
	pthread_t ids[64];
	for (int t = 0; t < threads; ++t) {
		passes[t] = (struct pass){ .thread = t, .count = threads == 1 };
		if (threads == 1)
			run_pass(&passes[t]);
		else if (pthread_create(&ids[t], NULL, run_pass, &passes[t]) != 0)
			return 1;
	}
	size_t checks = 0;
	int failures = 0;
	for (int t = 0; t < threads; ++t) {
		if (threads > 1)
			pthread_join(ids[t], NULL);
		checks += passes[t].checks;
		failures += passes[t].failures;
	}
	for (size_t i = 0; i < conf_skipped_count; ++i)
		fprintf(stderr, "not for C: %s (%s)\n", conf_skipped_cases[i].id, conf_skipped_cases[i].why);
	metacall_destroy();
	fprintf(stderr, "conformance (C): %zu cases, %d thread(s), %zu checks, %d failed\n", conf_case_count,
		threads, checks, failures);
	return failures != 0;
}
