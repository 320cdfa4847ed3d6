/* initialize is idempotent; calls before it and after destroy fail cleanly; destroy waits for
   calls in flight and never hangs; handles stay valid across destroy and initialize. */
#include <pthread.h>
#include <time.h>

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

int main(void)
{
	before_initialize();

	CHECK(metacall_initialize() == 0);
	CHECK(metacall_initialize() == 0); /* idempotent */
	void *handle = (void *)1;
	REQUIRE(metacall_load_from_memory("py", script, sizeof(script), &handle) == 0);
	CHECK(handle == NULL); /* every load goes into the global scope */
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

	/* initialize again: the table is empty until the script is loaded again */
	CHECK(metacall_initialize() == 0);
	CHECK(metacall_function("answer") == NULL);
	r = metacallfv_s(f, NULL, 0);
	CHECK(is_error(r, NULL, "function not found"));
	metacall_value_destroy(r);
	REQUIRE(metacall_load_from_memory("py", script, sizeof(script), NULL) == 0);
	CHECK(metacall_function("answer") == f);
	r = metacallfv_s(f, NULL, 0);
	CHECK(metacall_value_to_long(r) == 42);
	metacall_value_destroy(r);
	metacall_destroy();
	return check_done("lifecycle");
}
