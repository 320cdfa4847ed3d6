/*
 * metacall_allocator.h: MetaCall's allocator API, with its prototypes and enum numbers.
 *
 * metacall_inspect returns its text in memory from an allocator made here:
 *
 *     struct metacall_allocator_std_type std_ctx = { &malloc, &realloc, &free };
 *     void *allocator = metacall_allocator_create(METACALL_ALLOCATOR_STD, &std_ctx);
 *     ...
 *     metacall_allocator_free(allocator, text);
 *     metacall_allocator_destroy(allocator);
 *
 * Only METACALL_ALLOCATOR_STD is provided: creating a METACALL_ALLOCATOR_NGINX allocator
 * returns NULL (the reason in metacall_error_last). An allocator may be used from any thread.
 */
#ifndef METACALL_ALLOCATOR_H
#define METACALL_ALLOCATOR_H 1

#include <stdlib.h>
#include <stdint.h>

#include <metacall/metacall_api.h>

#ifdef __cplusplus
extern "C" {
#endif

enum metacall_allocator_id {
	METACALL_ALLOCATOR_STD = 0,
	METACALL_ALLOCATOR_NGINX = 1
};

typedef struct metacall_allocator_std_type *metacall_allocator_std;

/* The context of a METACALL_ALLOCATOR_STD allocator (copied by metacall_allocator_create). */
struct metacall_allocator_std_type {
	void *(*malloc)(size_t);
	void *(*realloc)(void *, size_t);
	void (*free)(void *);
};

/* A new allocator of that kind from ctx, or NULL (an unknown or unsupported kind, a NULL ctx or
   function pointer, out of memory). */
METACALL_API void *metacall_allocator_create(enum metacall_allocator_id allocator_id, void *ctx);
/* size bytes from the allocator, or NULL. */
METACALL_API void *metacall_allocator_alloc(void *allocator, size_t size);
/* data (of size bytes) grown or shrunk to new_size bytes, or NULL. */
METACALL_API void *metacall_allocator_realloc(void *allocator, void *data, size_t size, size_t new_size);
/* Frees data that the allocator (or metacall_inspect with it) returned. */
METACALL_API void metacall_allocator_free(void *allocator, void *data);
/* Destroys the allocator (not the memory it gave out). */
METACALL_API void metacall_allocator_destroy(void *allocator);

#ifdef __cplusplus
}
#endif

#endif /* METACALL_ALLOCATOR_H */
