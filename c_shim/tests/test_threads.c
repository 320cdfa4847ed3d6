/* 16 threads call at once, with no locking of their own; every result is checked. */
#include <pthread.h>

#include "check.h"

#define THREADS 16
#define CALLS 2000

static const char script[] =
	"import time\n"
	"def add(a, b):\n"
	"    return a + b\n"
	"def label(i, text):\n"
	"    if i % 97 == 0:\n"
	"        raise KeyError(i)\n"
	"    return {'i': i, 'text': text.upper()}\n"
	"def nap(i):\n"
	"    time.sleep(0.001)\n"
	"    return i\n";

static int failures[THREADS];

static void *worker(void *arg)
{
	long t = (long)arg;
	void *add = metacall_function("add");
	void *label = metacall_function("label");
	if (add == NULL || label == NULL) {
		failures[t] = CALLS;
		return NULL;
	}
	for (long i = 0; i < CALLS; ++i) {
		void *args[2] = { metacall_value_create_long(i), metacall_value_create_long(t * 1000000) };
		void *r = metacallfv_s(add, args, 2);
		if (metacall_value_id(r) != METACALL_LONG || metacall_value_to_long(r) != i + t * 1000000)
			++failures[t];
		metacall_value_destroy(r);
		metacall_value_destroy(args[0]);
		metacall_value_destroy(args[1]);

		if (i % 10 == 0) {
			void *largs[2] = { metacall_value_create_long(i), metacall_value_create_string("pinot", 5) };
			r = metacallfv_s(label, largs, 2);
			if (i % 97 == 0) {
				if (!is_error(r, "KeyError", NULL))
					++failures[t];
			} else {
				void **entries = metacall_value_to_map(r);
				if (metacall_value_count(r) != 2 ||
				    metacall_value_to_long(metacall_value_to_array(entries[0])[1]) != i ||
				    strcmp(metacall_value_to_string(metacall_value_to_array(entries[1])[1]), "PINOT") != 0)
					++failures[t];
			}
			metacall_value_destroy(r);
			metacall_value_destroy(largs[0]);
			metacall_value_destroy(largs[1]);
		}
		if (i % 200 == 0) { /* releases the GIL inside Python: other threads run meanwhile */
			void *nargs[1] = { metacall_value_create_long(i) };
			r = metacallv_s("nap", nargs, 1);
			if (metacall_value_to_long(r) != i)
				++failures[t];
			metacall_value_destroy(r);
			metacall_value_destroy(nargs[0]);
		}
	}
	return NULL;
}

int main(void)
{
	start_with(script);
	pthread_t threads[THREADS];
	for (long t = 0; t < THREADS; ++t)
		REQUIRE(pthread_create(&threads[t], NULL, worker, (void *)t) == 0);
	for (int t = 0; t < THREADS; ++t)
		pthread_join(threads[t], NULL);
	for (int t = 0; t < THREADS; ++t) {
		if (failures[t])
			fprintf(stderr, "thread %d: %d wrong results\n", t, failures[t]);
		CHECK(failures[t] == 0);
	}
	/* Threads that exited released their Python thread states; a second round works too. */
	for (long t = 0; t < 4; ++t)
		REQUIRE(pthread_create(&threads[t], NULL, worker, (void *)t) == 0);
	for (int t = 0; t < 4; ++t) {
		pthread_join(threads[t], NULL);
		CHECK(failures[t] == 0);
	}
	metacall_destroy();
	return check_done("threads");
}
