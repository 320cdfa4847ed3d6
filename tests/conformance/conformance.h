/*
 * conformance.h: the shapes of the C runner's table (the data is generated from cases.json by
 * gen_c.py into conformance_cases.h; runner.c reads it).
 */
#ifndef MLBRIDGE_CONFORMANCE_H
#define MLBRIDGE_CONFORMANCE_H 1

#include <stddef.h>

enum conf_kind {
	CONF_NULL,
	CONF_BOOL,
	CONF_LONG,
	CONF_DOUBLE,
	CONF_STRING, /* bytes[0..size) (not necessarily UTF-8: the table's $utf8) */
	CONF_BUFFER,
	CONF_ARRAY,
	CONF_MAP, /* items: key, value, key, value…; count: pairs */
	CONF_CHAR, /* arguments only: the C ABI's narrower types */
	CONF_SHORT,
	CONF_INT,
	CONF_FLOAT,
	CONF_UNCONVERTIBLE /* arguments only: a NULL value pointer */
};

struct conf_value {
	enum conf_kind kind;
	long long integer; /* BOOL, LONG, CHAR, SHORT, INT */
	double real;       /* DOUBLE, FLOAT */
	const char *bytes; /* STRING, BUFFER */
	size_t size;
	const struct conf_value *items; /* ARRAY, MAP */
	size_t count;
};

enum conf_outcome {
	CONF_RESULT,    /* result[0] */
	CONF_EXCEPTION, /* a THROWABLE labelled error_type */
	CONF_NOT_FOUND, /* a THROWABLE labelled LookupError */
	CONF_ARGUMENT   /* a THROWABLE naming argument `position` (when >= 0) */
};

struct conf_case {
	const char *id;
	const char *function;
	const struct conf_value *args;
	size_t argc;
	int is_async;
	enum conf_outcome outcome;
	const struct conf_value *result;
	const char *error_type;
	const char *message; /* the exact message, or NULL */
	const char *const *contains;
	size_t ncontains;
	const char *traceback; /* in the stack trace, or NULL */
	int position;
	int counted; /* calls and errors: what one metacallv_s adds to the function's counters */
	long long calls, errors;
};

struct conf_skipped {
	const char *id;
	const char *why;
};

#endif
