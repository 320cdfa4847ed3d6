/* check.h: the few helpers the C tests share. A failing CHECK reports and the test goes on. */
#ifndef MLBRIDGE_CHECK_H
#define MLBRIDGE_CHECK_H 1

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <metacall/metacall.h>

static int check_failures;

#define CHECK(cond)                                                                          \
	do {                                                                                     \
		if (!(cond)) {                                                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);         \
			++check_failures;                                                                \
		}                                                                                    \
	} while (0)

#define REQUIRE(cond)                                                                        \
	do {                                                                                     \
		if (!(cond)) {                                                                       \
			fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);       \
			exit(1);                                                                         \
		}                                                                                    \
	} while (0)

static inline int check_done(const char *name)
{
	if (check_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
		return 1;
	}
	fprintf(stderr, "%s: ok\n", name);
	return 0;
}

/* Initializes and loads a script from memory the MetaCall way (size counts the NUL). */
static inline void start_with(const char *script)
{
	REQUIRE(metacall_initialize() == 0);
	REQUIRE(metacall_load_from_memory("py", script, strlen(script) + 1, NULL) == 0);
}

/* True when v is a THROWABLE whose label contains `label` and message contains `message`. */
static inline int is_error(void *v, const char *label, const char *message)
{
	struct metacall_exception_type ex;
	if (metacall_value_id(v) != METACALL_THROWABLE || metacall_error_from_value(v, &ex) != 0)
		return 0;
	if (label && strstr(ex.label, label) == NULL) {
		fprintf(stderr, "  label %s does not contain %s (message: %s)\n", ex.label, label, ex.message);
		return 0;
	}
	if (message && strstr(ex.message, message) == NULL) {
		fprintf(stderr, "  message '%s' does not contain '%s'\n", ex.message, message);
		return 0;
	}
	return 1;
}

#endif
