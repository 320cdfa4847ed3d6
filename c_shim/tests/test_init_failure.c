/* When the Python environment cannot be used, initialize fails with a readable reason, calls
   fail cleanly, and nothing crashes. */
#include "check.h"

int main(void)
{
	setenv("MLBRIDGE_VENV", "/nonexistent/venv", 1);
	CHECK(metacall_initialize() != 0);
	struct metacall_exception_type ex;
	CHECK(metacall_error_last(&ex) == 0);
	CHECK(strstr(ex.message, "/nonexistent/venv") != NULL);
	CHECK(strstr(ex.message, "bridge") != NULL);
	fprintf(stderr, "reason given: %s\n", ex.message);
	CHECK(metacall_initialize() != 0); /* still failing, still no crash */

	void *r = metacallv_s("anything", NULL, 0);
	CHECK(is_error(r, "NotInitialized", NULL));
	metacall_value_destroy(r);
	CHECK(metacall_function("anything") == NULL);
	const char script[] = "def f():\n    return 1\n";
	CHECK(metacall_load_from_memory("py", script, sizeof(script), NULL) != 0);
	metacall_destroy();
	return check_done("init_failure");
}
