/* load_from_file finds relative paths through LOADER_SCRIPT_PATH (':'-separated), as MetaCall;
   like MetaCall, the variable is read when the runtime initializes. */
#include "check.h"

int main(void)
{
	const char *scripts = getenv("MLBRIDGE_TEST_SCRIPTS");
	REQUIRE(scripts != NULL);
	char search[4096];
	snprintf(search, sizeof(search), "/nonexistent/dir:%s", scripts);
	setenv("LOADER_SCRIPT_PATH", search, 1);
	REQUIRE(metacall_initialize() == 0);

	const char *missing[1] = { "not_there.py" };
	CHECK(metacall_load_from_file("py", missing, 1, NULL) != 0);
	struct metacall_exception_type ex;
	CHECK(metacall_error_last(&ex) == 0 && strstr(ex.message, "LOADER_SCRIPT_PATH") != NULL);

	const char *paths[1] = { "echo_script.py" };
	REQUIRE(metacall_load_from_file("py", paths, 1, NULL) == 0);
	void *args[1] = { metacall_value_create_string("found", 5) };
	void *r = metacallv_s("echo", args, 1);
	CHECK(strcmp(metacall_value_to_string(r), "found") == 0);
	metacall_value_destroy(r);
	metacall_value_destroy(args[0]);

	r = metacallv_s("where", NULL, 0);
	CHECK(metacall_value_id(r) == METACALL_STRING && strstr(metacall_value_to_string(r), scripts) != NULL);
	metacall_value_destroy(r);

	/* loading it again would register the same names: refused, the first load stays */
	CHECK(metacall_load_from_file("py", paths, 1, NULL) != 0);
	/* into a private handle it loads again (its names are its own), found the same way */
	void *handle = NULL;
	CHECK(metacall_load_from_file("py", paths, 1, &handle) == 0 && handle != NULL);
	r = metacallhv_s(handle, "where", NULL, 0);
	CHECK(metacall_value_id(r) == METACALL_STRING && strstr(metacall_value_to_string(r), scripts) != NULL);
	metacall_value_destroy(r);
	metacall_destroy();
	return check_done("script_path");
}
