/* initialize is idempotent; calls before it and after destroy fail cleanly; destroy waits for
   calls in flight and never hangs, even while a load hangs; handles stay valid across destroy
   and initialize, and let go of what their functions read (the script's globals). */
#include <pthread.h>
#include <time.h>

#include <metacall/mlbridge.h>

#include "check.h"

static const char script[] =
	"import time\n"
	"def answer():\n"
	"    return 42\n"
	"def slow(seconds):\n"
	"    time.sleep(seconds)\n"
	"    return 'done'\n";

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void before_initialize(void)
{
	void *r = metacallv_s("answer", NULL, 0);
	CHECK(is_error(r, "NotInitialized", "not initialized"));
	metacall_value_destroy(r);
	CHECK(metacall_function("answer") == NULL);
	CHECK(metacall_load_from_memory("py", script, sizeof(script), NULL) != 0);
	const char *paths[1] = { "x.py" };
	CHECK(metacall_load_from_file("py", paths, 1, NULL) != 0);
	metacall_destroy(); /* nothing to destroy: a no-op */
}

static void *slow_call(void *out)
{
	void *args[1] = { metacall_value_create_double(0.3) };
	*(void **)out = metacallv_s("slow", args, 1);
	metacall_value_destroy(args[0]);
	return NULL;
}

/* A module that a load waits on until the test releases it (it outlives destroy: Python is
   never finalised, so the release can be called after initialize again). */
static const char gate[] =
	"import sys, threading, types\n"
	"g = sys.modules.get('lifecycle_gate')\n"
	"if g is None:\n"
	"    g = types.ModuleType('lifecycle_gate')\n"
	"    g.entered, g.release = threading.Event(), threading.Event()\n"
	"    sys.modules['lifecycle_gate'] = g\n"
	"def gate_entered():\n"
	"    return g.entered.wait(10)\n"
	"def gate_release():\n"
	"    g.release.set()\n";

struct load_outcome {
	int rc;
	char message[256];
};

static void *hung_load(void *out)
{
	static const char hung[] =
		"import lifecycle_gate as g\n"
		"g.entered.set()\n"
		"g.release.wait(30)\n"
		"def hung():\n"
		"    return 'loaded'\n";
	struct load_outcome *o = out;
	o->rc = metacall_load_from_memory("py", hung, sizeof(hung), NULL);
	struct metacall_exception_type ex;
	if (o->rc != 0 && metacall_error_last(&ex) == 0)
		snprintf(o->message, sizeof(o->message), "%s", ex.message);
	return NULL;
}

static void call_gate(const char *name)
{
	void *r = metacallv_s(name, NULL, 0);
	CHECK(metacall_value_id(r) != METACALL_THROWABLE);
	if (metacall_value_id(r) == METACALL_BOOL)
		CHECK(metacall_value_to_bool(r));
	metacall_value_destroy(r);
}

/* Issue 14 item 3: a load that never ends blocks neither other loads nor destroy, which keeps
   its bound (waiting for the load in flight as for a call, then clearing without it). */
static void destroy_during_a_hung_load(void)
{
	REQUIRE(metacall_initialize() == 0);
	REQUIRE(metacall_load_from_memory("py", gate, sizeof(gate), NULL) == 0);
	struct load_outcome outcome = { 0, "" };
	pthread_t thread;
	pthread_create(&thread, NULL, hung_load, &outcome);
	call_gate("gate_entered");

	double t0 = now();
	CHECK(metacall_load_from_memory("py", script, sizeof(script), NULL) == 0);
	void *r = metacallv_s("answer", NULL, 0);
	CHECK(metacall_value_to_long(r) == 42);
	metacall_value_destroy(r);
	CHECK(now() - t0 < 5.0);

	t0 = now();
	mlbridge_destroy(200);
	double waited = now() - t0;
	CHECK(waited >= 0.2 && waited < 5.0);

	REQUIRE(metacall_initialize() == 0);
	REQUIRE(metacall_load_from_memory("py", gate, sizeof(gate), NULL) == 0);
	call_gate("gate_release");
	pthread_join(thread, NULL);
	/* It began before destroy: refused, and nothing of it is registered. */
	CHECK(outcome.rc != 0 && strstr(outcome.message, "cleared") != NULL);
	CHECK(metacall_function("hung") == NULL);
	metacall_destroy();
}

/* A global script whose load holds something with a finalizer: it marks that the load was
   released (that nothing, the function handles included, keeps its functions alive). */
static const char held[] =
	"import builtins, weakref\n"
	"class _Held:\n"
	"    pass\n"
	"_held = _Held()\n"
	"weakref.finalize(_held, builtins.__dict__.setdefault('mlbridge_global_released', []).append, 'g')\n"
	"def held_answer():\n"
	"    return 7\n";

static const char released[] =
	"def global_released():\n"
	"    import builtins, gc\n"
	"    gc.collect()\n"
	"    return ''.join(sorted(getattr(builtins, 'mlbridge_global_released', [])))\n";

static const char *released_marks(char *text, size_t size)
{
	void *r = metacallv_s("global_released", metacall_null_args, 0);
	text[0] = '\0';
	if (metacall_value_id(r) == METACALL_STRING)
		snprintf(text, size, "%s", metacall_value_to_string(r));
	metacall_value_destroy(r);
	return text;
}

/* destroy lets go of the Function (and with it the script's globals, and for a script loaded
   from its file its module) that a global function called from C read: by name, and through a
   handle the program keeps. */
static void destroy_releases_what_calls_read(void)
{
	char text[64], path[4096];
	const char *dir = getenv("MLBRIDGE_TEST_SCRIPTS");
	REQUIRE(dir != NULL);
	snprintf(path, sizeof(path), "%s/held_file.py", dir);
	const char *paths[1] = { path };
	start_with(held);
	REQUIRE(metacall_load_from_memory("py", released, sizeof(released), NULL) == 0);
	REQUIRE(metacall_load_from_file("py", paths, 1, NULL) == 0);
	void *r = metacallv_s("held_file_answer", metacall_null_args, 0);
	CHECK(metacall_value_to_long(r) == 8);
	metacall_value_destroy(r);
	r = metacallv_s("held_answer", metacall_null_args, 0);
	CHECK(metacall_value_to_long(r) == 7);
	metacall_value_destroy(r);
	void *f = metacall_function("held_answer");
	REQUIRE(f != NULL);
	r = metacallfv_s(f, metacall_null_args, 0);
	CHECK(metacall_value_to_long(r) == 7);
	metacall_value_destroy(r);
	CHECK(strcmp(released_marks(text, sizeof(text)), "") == 0); /* loaded: held */
	metacall_destroy();

	start_with(released);
	CHECK(strcmp(released_marks(text, sizeof(text)), "fg") == 0);
	/* the kept handle still calls the function once it is loaded again */
	r = metacallfv_s(f, metacall_null_args, 0);
	CHECK(is_error(r, "LookupError", "held_answer"));
	metacall_value_destroy(r);
	REQUIRE(metacall_load_from_memory("py", held, sizeof(held), NULL) == 0);
	r = metacallfv_s(f, metacall_null_args, 0);
	CHECK(metacall_value_to_long(r) == 7);
	metacall_value_destroy(r);
	metacall_destroy();
}

int main(void)
{
	before_initialize();

	CHECK(metacall_initialize() == 0);
	CHECK(metacall_initialize() == 0); /* idempotent */
	REQUIRE(metacall_load_from_memory("py", script, sizeof(script), NULL) == 0);
	void *f = metacall_function("answer");
	REQUIRE(f != NULL);
	void *r = metacallfv_s(f, NULL, 0);
	CHECK(metacall_value_to_long(r) == 42);
	metacall_value_destroy(r);

	/* destroy waits for the call in flight, which completes normally */
	void *slow_result = NULL;
	pthread_t thread;
	pthread_create(&thread, NULL, slow_call, &slow_result);
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	nanosleep(&pause, NULL);
	double t0 = now();
	metacall_destroy();
	double waited = now() - t0;
	pthread_join(thread, NULL);
	CHECK(waited > 0.1 && waited < 5.0);
	CHECK(metacall_value_id(slow_result) == METACALL_STRING);
	CHECK(slow_result && strcmp(metacall_value_to_string(slow_result), "done") == 0);
	metacall_value_destroy(slow_result);

	/* after destroy: clean failures, the handle is still a handle */
	r = metacallfv_s(f, NULL, 0);
	CHECK(is_error(r, "NotInitialized", NULL));
	metacall_value_destroy(r);
	CHECK(metacall_function("answer") == NULL);
	CHECK(metacall_load_from_memory("py", script, sizeof(script), NULL) != 0);
	metacall_destroy(); /* twice: a no-op */

	/* initialize again: the table is empty until the script is loaded again, and says so */
	CHECK(metacall_initialize() == 0);
	CHECK(metacall_function("answer") == NULL);
	struct metacall_exception_type ex;
	CHECK(metacall_error_last(&ex) == 0 &&
	      strcmp(ex.message, "function not found: 'answer' (nothing is loaded: load a script or configuration first)") == 0);
	r = metacallfv_s(f, NULL, 0);
	CHECK(is_error(r, "LookupError", "function not found: 'answer' (nothing is loaded"));
	metacall_value_destroy(r);
	REQUIRE(metacall_load_from_memory("py", script, sizeof(script), NULL) == 0);
	CHECK(metacall_function("answer") == f);
	r = metacallfv_s(f, NULL, 0);
	CHECK(metacall_value_to_long(r) == 42);
	metacall_value_destroy(r);

	/* another function under the same name: the kept handle calls the new one, by handle
	   and by name, with nothing looked up in between */
	metacall_destroy();
	CHECK(metacall_initialize() == 0);
	static const char other[] = "def answer():\n    return 43\n";
	REQUIRE(metacall_load_from_memory("py", other, sizeof(other), NULL) == 0);
	r = metacallfv_s(f, NULL, 0);
	CHECK(metacall_value_to_long(r) == 43);
	metacall_value_destroy(r);
	r = metacallv_s("answer", NULL, 0);
	CHECK(metacall_value_to_long(r) == 43);
	metacall_value_destroy(r);
	metacall_destroy();

	destroy_during_a_hung_load();
	destroy_releases_what_calls_read();
	return check_done("lifecycle");
}
