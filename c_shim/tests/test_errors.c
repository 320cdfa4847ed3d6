/* Python exceptions come back as THROWABLE values; bad input never crashes and the next call
   works. Nothing is printed on stdout. */
#include <fcntl.h>
#include <unistd.h>

#include "check.h"

static const char script[] =
	"def fail(message):\n"
	"    raise ValueError(message)\n"
	"def identity(x):\n"
	"    return x\n"
	"def two(a, b):\n"
	"    return [a, b]\n"
	"def opaque():\n"
	"    return object()\n"
	"def huge():\n"
	"    return 2 ** 70\n"
	"def surrogate():\n"
	"    return '\\udcff'\n"
	"def cycle():\n"
	"    x = []\n"
	"    x.append(x)\n"
	"    return x\n"
	"class Endless:\n"
	"    def tolist(self):\n"
	"        return self\n"
	"def endless():\n"
	"    return [Endless()]\n"
	"def chatty():\n"
	"    print('to stdout from Python')\n"
	"    return 1\n";

static void *call(const char *name, void *args[], size_t n)
{
	void *r = metacallv_s(name, args, n);
	for (size_t i = 0; i < n; ++i)
		metacall_value_destroy(args[i]);
	return r;
}

static void python_exception(void)
{
	void *args[1] = { metacall_value_create_string("bad vintage", 11) };
	void *r = call("fail", args, 1);
	CHECK(is_error(r, "ValueError", "bad vintage"));
	struct metacall_exception_type ex;
	/* Through the throwable as upstream code reads it, too. */
	void *exception = metacall_throwable_value(metacall_value_to_throwable(r));
	CHECK(metacall_value_id(exception) == METACALL_EXCEPTION);
	CHECK(metacall_error_from_value(exception, &ex) == 0);
	CHECK(strstr(ex.stacktrace, "Traceback") != NULL);
	CHECK(strstr(ex.stacktrace, "in fail") != NULL);
	CHECK(strcmp(ex.label, "ValueError") == 0);
	metacall_value_destroy(r);

	/* the next call works */
	void *ok[1] = { metacall_value_create_long(5) };
	r = call("identity", ok, 1);
	CHECK(metacall_value_to_long(r) == 5);
	metacall_value_destroy(r);
}

static void bad_calls(void)
{
	long foreign[8] = { 0 };
	void *r = metacallfv_s(NULL, NULL, 0);
	CHECK(is_error(r, "InvalidArgument", "not a function handle"));
	metacall_value_destroy(r);
	r = metacallfv_s(foreign, NULL, 0);
	CHECK(is_error(r, "InvalidArgument", "not a function handle"));
	metacall_value_destroy(r);

	CHECK(metacall_function(NULL) == NULL);
	CHECK(metacall_function("no_such_function") == NULL);
	struct metacall_exception_type ex;
	CHECK(metacall_error_last(&ex) == 0 && strstr(ex.message, "no_such_function") != NULL);
	CHECK(metacall_function("\xff\xfe") == NULL);
	r = metacallv_s("no_such_function", NULL, 0);
	CHECK(is_error(r, NULL, "function not found"));
	metacall_value_destroy(r);
	r = metacallv_s(NULL, NULL, 0);
	CHECK(is_error(r, "InvalidArgument", NULL));
	metacall_value_destroy(r);

	void *f = metacall_function("two");
	REQUIRE(f != NULL);
	/* wrong argument count: Python's TypeError */
	void *one[1] = { metacall_value_create_long(1) };
	r = metacallfv_s(f, one, 1);
	CHECK(is_error(r, "TypeError", "argument"));
	metacall_value_destroy(r);
	/* args NULL with a size, a NULL value, a value that is not ours */
	r = metacallfv_s(f, NULL, 2);
	CHECK(is_error(r, "InvalidArgument", "args is NULL"));
	metacall_value_destroy(r);
	void *with_null[2] = { one[0], NULL };
	r = metacallfv_s(f, with_null, 2);
	CHECK(is_error(r, "InvalidArgument", "argument 1"));
	metacall_value_destroy(r);
	void *with_foreign[2] = { foreign, one[0] };
	r = metacallfv_s(f, with_foreign, 2);
	CHECK(is_error(r, "InvalidArgument", "argument 0"));
	metacall_value_destroy(r);
	metacall_value_destroy(one[0]);

	/* an argument of an unsupported id (a THROWABLE) */
	void *throwable = metacallv_s("no_such_function", NULL, 0);
	void *unsupported[1] = { throwable };
	r = call("identity", unsupported, 1);
	CHECK(is_error(r, "TypeError", "not supported"));
	metacall_value_destroy(r);

	/* invalid UTF-8 in a STRING */
	void *bad_text[1] = { metacall_value_create_string("caf\xc3", 4) };
	r = call("identity", bad_text, 1);
	CHECK(is_error(r, "ValueError", "UTF-8"));
	metacall_value_destroy(r);

	/* a MAP whose entry is not a [key, value] pair, and an unhashable key */
	const void *not_pairs[1] = { metacall_value_create_long(1) };
	void *bad_map[1] = { metacall_value_create_map(not_pairs, 1) };
	r = call("identity", bad_map, 1);
	CHECK(is_error(r, "TypeError", "MAP entry 0"));
	metacall_value_destroy(r);
	const void *kv[2] = { metacall_value_create_array(NULL, 0), metacall_value_create_null() };
	const void *pairs[1] = { metacall_value_create_array(kv, 2) };
	void *unhashable[1] = { metacall_value_create_map(pairs, 1) };
	r = call("identity", unhashable, 1);
	CHECK(is_error(r, "TypeError", "not hashable"));
	metacall_value_destroy(r);
	/* an ARRAY with a slot never filled */
	void *holey[1] = { metacall_value_create_array(NULL, 2) };
	r = call("identity", holey, 1);
	CHECK(is_error(r, "TypeError", "not a value"));
	metacall_value_destroy(r);
}

static void bad_results(void)
{
	void *r = metacallv_s("opaque", NULL, 0);
	CHECK(is_error(r, "TypeError", "cannot convert a Python object"));
	metacall_value_destroy(r);
	r = metacallv_s("huge", NULL, 0);
	CHECK(is_error(r, "OverflowError", NULL));
	metacall_value_destroy(r);
	r = metacallv_s("surrogate", NULL, 0);
	CHECK(is_error(r, "UnicodeEncodeError", NULL));
	metacall_value_destroy(r);
	r = metacallv_s("cycle", NULL, 0);
	CHECK(is_error(r, "ValueError", "nested deeper than 200 levels"));
	metacall_value_destroy(r);
	r = metacallv_s("endless", NULL, 0); /* a tolist() that never gives a plain value */
	CHECK(is_error(r, "TypeError", "its tolist() gave a Endless"));
	metacall_value_destroy(r);
}

static void load_errors(void)
{
	struct metacall_exception_type ex;
	const char syntax[] = "def broken(:\n    pass\n";
	CHECK(metacall_load_from_memory("py", syntax, sizeof(syntax), NULL) != 0);
	CHECK(metacall_error_last(&ex) == 0 && strstr(ex.message, "syntax error") != NULL);

	const char raises[] = "raise RuntimeError('at import')\n";
	CHECK(metacall_load_from_memory("py", raises, sizeof(raises), NULL) != 0);
	CHECK(metacall_error_last(&ex) == 0 && strstr(ex.message, "at import") != NULL);

	const char duplicate[] = "def identity(x):\n    return None\n";
	CHECK(metacall_load_from_memory("py", duplicate, sizeof(duplicate), NULL) != 0);
	CHECK(metacall_error_last(&ex) == 0 && strstr(ex.message, "identity") != NULL);

	const char fine[] = "def other(x):\n    return x\n";
	CHECK(metacall_load_from_memory("cobol", fine, sizeof(fine), NULL) != 0);
	CHECK(metacall_error_last(&ex) == 0 && strstr(ex.message, "cobol") != NULL);
	CHECK(metacall_load_from_memory(NULL, fine, sizeof(fine), NULL) != 0);
	CHECK(metacall_load_from_memory("py", NULL, 10, NULL) != 0);
	CHECK(metacall_load_from_memory("py", fine, 0, NULL) != 0);
	const char bad_utf8[] = "def x():\n    return '\xff'\n";
	CHECK(metacall_load_from_memory("py", bad_utf8, sizeof(bad_utf8), NULL) != 0);
	/* The whole text reaches compile(), which refuses a NUL: no half-loaded script. */
	const char with_nul[] = "def before_nul():\n    return 1\n\0def after_nul():\n    return 2\n";
	CHECK(metacall_load_from_memory("py", with_nul, sizeof(with_nul), NULL) != 0);
	CHECK(metacall_error_last(&ex) == 0 && strstr(ex.message, "null bytes") != NULL);
	void *r0 = metacallv_s("before_nul", NULL, 0);
	CHECK(is_error(r0, NULL, "before_nul"));
	metacall_value_destroy(r0);

	const char *missing[1] = { "/nonexistent/script.py" };
	CHECK(metacall_load_from_file("py", missing, 1, NULL) != 0);
	CHECK(metacall_error_last(&ex) == 0 && strstr(ex.message, "no such file") != NULL);
	const char *null_path[1] = { NULL };
	CHECK(metacall_load_from_file("py", null_path, 1, NULL) != 0);
	CHECK(metacall_load_from_file("py", NULL, 0, NULL) != 0);
	metacall_error_clear();
	CHECK(metacall_error_last(&ex) != 0);

	/* the identity of before is still the one loaded first, and works */
	void *args[1] = { metacall_value_create_long(9) };
	void *r = call("identity", args, 1);
	CHECK(metacall_value_to_long(r) == 9);
	metacall_value_destroy(r);
}

int main(void)
{
	/* Capture stdout: the library must not write to it. */
	fflush(stdout);
	char path[] = "/tmp/mlbridge-stdout-XXXXXX";
	int capture = mkstemp(path);
	REQUIRE(capture >= 0);
	int saved = dup(STDOUT_FILENO);
	dup2(capture, STDOUT_FILENO);

	start_with(script);
	python_exception();
	bad_calls();
	bad_results();
	load_errors();
	metacall_destroy();

	fflush(stdout);
	off_t written = lseek(capture, 0, SEEK_END);
	dup2(saved, STDOUT_FILENO);
	close(capture);
	unlink(path);
	CHECK(written == 0);
	return check_done("errors");
}
