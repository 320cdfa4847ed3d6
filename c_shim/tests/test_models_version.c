/* The models version (mlbridge.h): readable at one address before initialize, bumped once per
   model swap by the runtime (bridge.versions, whose listener bridge._cabi points at the shim's
   counter), and by nothing else: a call, a load or destroy leaves it alone. The HTTP server
   drops its memo of answers when it moves (go_host/server/memo.go). */
#include <metacall/mlbridge.h>

#include "check.h"

static const char script[] =
	"def swap_twice():\n"
	"    from bridge.versions import models_changed\n" /* what ModelService.install calls */
	"    models_changed()\n"
	"    models_changed()\n"
	"    return 0\n"
	"def answer():\n"
	"    return 42\n";

static uint64_t version(void)
{
	return __atomic_load_n(mlbridge_models_version(), __ATOMIC_SEQ_CST);
}

int main(void)
{
	const uint64_t *at = mlbridge_models_version();
	REQUIRE(at != NULL);
	CHECK(mlbridge_models_version() == at); /* one address for the life of the process */
	uint64_t before = version();

	start_with(script);
	void *r = metacallv_s("answer", metacall_null_args, 0);
	CHECK(metacall_value_to_long(r) == 42);
	metacall_value_destroy(r);
	CHECK(version() == before); /* loads and calls are not swaps */

	r = metacallv_s("swap_twice", metacall_null_args, 0);
	CHECK(metacall_value_id(r) == METACALL_LONG);
	metacall_value_destroy(r);
	CHECK(version() == before + 2);

	metacall_destroy();
	CHECK(version() == before + 2);
	CHECK(mlbridge_models_version() == at);
	return check_done("models_version");
}
