/*
 * allocator.c: MetaCall's allocator API (metacall_allocator.h). Only the standard kind: an
 * allocator is a copy of the host's malloc, realloc and free, which metacall_inspect uses for
 * the text it returns.
 */
#include <stdint.h>
#include <stdlib.h>

#include <metacall/metacall_allocator.h>

#include "c_api.h"

#define MLB_ALLOCATOR_MAGIC 0x4c414c4du /* "MLAL" */

struct mlb_allocator {
	uint32_t magic;
	struct metacall_allocator_std_type std;
};

static struct mlb_allocator *as_allocator(void *allocator)
{
	struct mlb_allocator *a = allocator;
	if (a == NULL || ((uintptr_t)allocator % sizeof(void *)) != 0 || a->magic != MLB_ALLOCATOR_MAGIC)
		return NULL;
	return a;
}

void *metacall_allocator_create(enum metacall_allocator_id allocator_id, void *ctx)
{
	if (allocator_id != METACALL_ALLOCATOR_STD) {
		mlbridge_record_error("mlbridge.InvalidArgument",
				      "metacall_allocator_create: only METACALL_ALLOCATOR_STD is supported", "");
		return NULL;
	}
	const struct metacall_allocator_std_type *std = ctx;
	if (std == NULL || std->malloc == NULL || std->realloc == NULL || std->free == NULL) {
		mlbridge_record_error("mlbridge.InvalidArgument",
				      "metacall_allocator_create: ctx must point at malloc, realloc and free", "");
		return NULL;
	}
	struct mlb_allocator *a = malloc(sizeof(*a));
	if (a != NULL) {
		a->magic = MLB_ALLOCATOR_MAGIC;
		a->std = *std;
	}
	return a;
}

void *metacall_allocator_alloc(void *allocator, size_t size)
{
	struct mlb_allocator *a = as_allocator(allocator);
	return a ? a->std.malloc(size) : NULL;
}

void *metacall_allocator_realloc(void *allocator, void *data, size_t size, size_t new_size)
{
	(void)size; /* the standard kind does not need the old size */
	struct mlb_allocator *a = as_allocator(allocator);
	return a ? a->std.realloc(data, new_size) : NULL;
}

void metacall_allocator_free(void *allocator, void *data)
{
	struct mlb_allocator *a = as_allocator(allocator);
	if (a != NULL && data != NULL)
		a->std.free(data);
}

void metacall_allocator_destroy(void *allocator)
{
	struct mlb_allocator *a = as_allocator(allocator);
	if (a != NULL) {
		a->magic = 0;
		free(a);
	}
}
