/* Destroying deep and cyclic values (issue 14 item 6): constant stack, each value freed once.
   Plain C: no Python starts. LeakSanitizer (the _asan build) checks that every value is freed. */
#include <pthread.h>

#include "check.h"

#define DEPTH 1000000
/* Far below the 2 MiB on which a recursive destroy crashed at 100,000 levels; room for ASan. */
#define SMALL_STACK (256 * 1024)

/* [[[ ... [ "leaf" ] ... ]]] DEPTH arrays deep; odd levels are MAPs of one [key, child] pair,
   so both container kinds are on the chain. Built bottom-up, no recursion. */
static void *deep_value(void)
{
	void *v = metacall_value_create_string("leaf", 4);
	for (long level = 0; level < DEPTH && v != NULL; ++level) {
		if (level % 2) {
			const void *pair[2] = { metacall_value_create_long(level), v };
			const void *tuple = metacall_value_create_array(pair, 2);
			v = metacall_value_create_map(&tuple, 1);
		} else {
			const void *items[1] = { v };
			v = metacall_value_create_array(items, 1);
		}
	}
	return v;
}

static void *destroy_on_thread(void *v)
{
	metacall_value_destroy(v);
	return NULL;
}

static void run_with_small_stack(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t thread;
	REQUIRE(pthread_attr_init(&attr) == 0);
	REQUIRE(pthread_attr_setstacksize(&attr, SMALL_STACK) == 0);
	REQUIRE(pthread_create(&thread, &attr, fn, arg) == 0);
	REQUIRE(pthread_join(thread, NULL) == 0);
	pthread_attr_destroy(&attr);
}

static void a_million_levels_on_a_small_stack(void)
{
	void *v = deep_value();
	REQUIRE(v != NULL);
	CHECK(metacall_value_id(v) == METACALL_MAP);
	run_with_small_stack(destroy_on_thread, v);
}

static void a_wide_value_with_empty_slots(void)
{
	enum { WIDTH = 10000 };
	void *v = metacall_value_create_array(NULL, WIDTH);
	REQUIRE(v != NULL);
	void **items = metacall_value_to_array(v);
	for (size_t i = 0; i < WIDTH; ++i) {
		void *inner = metacall_value_create_array(NULL, 2);
		void **pair = metacall_value_to_array(inner);
		pair[0] = metacall_value_create_buffer("xy", 2);
		pair[1] = (i % 3 == 0) ? NULL : metacall_value_create_null(); /* NULL slots are skipped */
		items[i] = inner;
	}
	run_with_small_stack(destroy_on_thread, v);
}

static void a_container_that_holds_itself(void)
{
	void *self = metacall_value_create_array(NULL, 2);
	void **slots = metacall_value_to_array(self);
	slots[0] = self;
	slots[1] = metacall_value_create_long(1);
	metacall_value_destroy(self); /* freed once: ASan reports a double free otherwise */

	/* a -> b -> a */
	void *a = metacall_value_create_array(NULL, 1);
	void *b = metacall_value_create_array(NULL, 2);
	metacall_value_to_array(a)[0] = b;
	metacall_value_to_array(b)[0] = a;
	metacall_value_to_array(b)[1] = metacall_value_create_string("x", 1);
	metacall_value_destroy(a);

	/* One child listed twice in a container. */
	void *shared = metacall_value_create_double(2.5);
	void *twice = metacall_value_create_array(NULL, 2);
	metacall_value_to_array(twice)[0] = shared;
	metacall_value_to_array(twice)[1] = shared;
	metacall_value_destroy(twice);
}

int main(void)
{
	a_million_levels_on_a_small_stack();
	a_wide_value_with_empty_slots();
	a_container_that_holds_itself();
	return check_done("deep_values");
}
