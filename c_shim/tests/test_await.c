/* metacallfv_await_struct_s resolves a Python coroutine and calls resolve or reject. */
#include <pthread.h>
#include <time.h>

#include "check.h"

static const char script[] =
	"import asyncio\n"
	"async def slow_add(a, b):\n"
	"    await asyncio.sleep(0.01)\n"
	"    return a + b\n"
	"async def boom():\n"
	"    await asyncio.sleep(0)\n"
	"    raise KeyError('cork')\n"
	"async def quit():\n"
	"    raise SystemExit(9)\n"
	"def plain(x):\n"
	"    return [x]\n";

struct outcome {
	pthread_mutex_t lock;
	pthread_cond_t done;
	int finished;
	int resolved;
	long value;
	char label[64];
};

static void finish(struct outcome *o, int resolved, void *v)
{
	pthread_mutex_lock(&o->lock);
	o->resolved = resolved;
	if (resolved && metacall_value_id(v) == METACALL_LONG)
		o->value = metacall_value_to_long(v);
	else if (resolved && metacall_value_id(v) == METACALL_ARRAY)
		o->value = metacall_value_to_long(metacall_value_to_array(v)[0]);
	struct metacall_exception_type ex;
	if (!resolved && metacall_error_from_value(v, &ex) == 0)
		snprintf(o->label, sizeof(o->label), "%s", ex.label);
	o->finished = 1;
	pthread_cond_signal(&o->done);
	pthread_mutex_unlock(&o->lock);
}

static void *on_resolve(void *v, void *data)
{
	finish(data, 1, v);
	return NULL;
}

static void *on_reject(void *v, void *data)
{
	finish(data, 0, v);
	return NULL;
}

/* Waits at most 10 s: a callback that never runs (a dead event loop) is a failed check. */
static void wait_for(struct outcome *o)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	pthread_mutex_lock(&o->lock);
	while (!o->finished && pthread_cond_timedwait(&o->done, &o->lock, &deadline) == 0)
		;
	CHECK(o->finished);
	pthread_mutex_unlock(&o->lock);
}

static struct outcome *await_call(const char *name, void *args[], size_t n)
{
	static struct outcome o;
	memset(&o, 0, sizeof(o));
	pthread_mutex_init(&o.lock, NULL);
	pthread_cond_init(&o.done, NULL);
	metacall_await_callbacks cb = { on_resolve, on_reject };
	void *future = metacallfv_await_struct_s(metacall_function(name), args, n, cb, &o);
	CHECK(metacall_value_id(future) == METACALL_FUTURE);
	metacall_value_destroy(future);
	for (size_t i = 0; i < n; ++i)
		metacall_value_destroy(args[i]);
	wait_for(&o);
	return &o;
}

int main(void)
{
	start_with(script);

	void *args[2] = { metacall_value_create_long(40), metacall_value_create_long(2) };
	struct outcome *o = await_call("slow_add", args, 2);
	CHECK(o->resolved && o->value == 42);

	o = await_call("boom", NULL, 0);
	CHECK(!o->resolved && strcmp(o->label, "KeyError") == 0);

	/* Issue 14 item 1: a BaseException from a coroutine is a rejection, and the event loop
	   survives it: the next await still resolves. */
	o = await_call("quit", NULL, 0);
	CHECK(o->finished && !o->resolved && strcmp(o->label, "SystemExit") == 0);
	void *again[2] = { metacall_value_create_long(1), metacall_value_create_long(1) };
	o = await_call("slow_add", again, 2);
	CHECK(o->finished && o->resolved && o->value == 2);

	void *one[1] = { metacall_value_create_long(7) };
	o = await_call("plain", one, 1); /* not a coroutine: resolved at once */
	CHECK(o->resolved && o->value == 7);

	/* A coroutine called synchronously is awaited too. */
	void *sync_args[2] = { metacall_value_create_long(1), metacall_value_create_long(2) };
	void *r = metacallv_s("slow_add", sync_args, 2);
	CHECK(metacall_value_id(r) == METACALL_LONG && metacall_value_to_long(r) == 3);
	metacall_value_destroy(r);
	r = metacallv_s("boom", NULL, 0);
	CHECK(is_error(r, "KeyError", "cork"));
	metacall_value_destroy(r);
	metacall_value_destroy(sync_args[0]);
	metacall_value_destroy(sync_args[1]);

	/* bad input answers at once, without calling back */
	metacall_await_callbacks cb = { on_resolve, on_reject };
	r = metacallfv_await_struct_s(NULL, NULL, 0, cb, NULL);
	CHECK(is_error(r, "InvalidArgument", NULL));
	metacall_value_destroy(r);

	metacall_destroy();
	return check_done("await");
}
