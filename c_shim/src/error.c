/*
 * error.c: reading exceptions out of THROWABLE values, and the per-thread last error that
 * carries the reason of a failure that has no value to return (initialize, load, lookup).
 */
#include <stdlib.h>
#include <string.h>

#include "c_api.h"
#include "shim.h"

static char *copy(const char *s)
{
	return strdup(s ? s : "");
}

void mlbridge_record_error(const char *label, const char *message, const char *stacktrace)
{
	struct mlb_thread *t = mlb_thread_get();
	if (t == NULL)
		return;
	mlb_thread_forget_error(t);
	t->label = copy(label);
	t->message = copy(message);
	t->stacktrace = copy(stacktrace);
}

int metacall_error_last(metacall_exception ex)
{
	struct mlb_thread *t = mlb_thread_get();
	if (ex == NULL || t == NULL || t->message == NULL)
		return 1;
	ex->label = t->label;
	ex->message = t->message;
	ex->stacktrace = t->stacktrace;
	ex->code = -1;
	return 0;
}

void metacall_error_clear(void)
{
	struct mlb_thread *t = mlb_thread_get();
	if (t != NULL)
		mlb_thread_forget_error(t);
}

int metacall_error_from_value(void *v, metacall_exception ex)
{
	if (ex == NULL)
		return 1;
	void *exception = v;
	if (metacall_value_id(v) == METACALL_THROWABLE)
		exception = metacall_throwable_value(metacall_value_to_throwable(v));
	struct metacall_exception_type *source = metacall_value_to_exception(exception);
	if (source == NULL)
		return 1;
	*ex = *source;
	return 0;
}
