/*
 * value.c: MetaCall values as plain C, no Python involved, so that a host can build and read
 * values on any thread without the GIL.
 */
#include <stdlib.h>
#include <string.h>

#include "shim.h"

#define SMALL_VALUE 256

static struct mlb_value *value_new(enum metacall_value_id id, size_t payload)
{
	/* A size near SIZE_MAX would wrap the allocation to a few bytes and leave a value whose
	   size claims the rest: refuse it as out of memory. */
	if (payload > SIZE_MAX - sizeof(struct mlb_value))
		return NULL;
	size_t total = sizeof(struct mlb_value) + payload;
	/* glibc's calloc goes past the per-thread cache of small blocks; a value is made on every
	   call, so small ones (scalars, short strings) are malloc'd and zeroed here. */
	struct mlb_value *value = total <= SMALL_VALUE ? malloc(total) : calloc(1, total);
	if (value == NULL)
		return NULL;
	if (total <= SMALL_VALUE)
		memset(value, 0, total);
	value->magic = MLB_VALUE_MAGIC;
	value->id = id;
	return value;
}

void *metacall_value_create_bool(boolean b)
{
	struct mlb_value *v = value_new(METACALL_BOOL, 0);
	if (v) {
		v->scalar.b = b ? 1 : 0;
		v->size = sizeof(boolean);
	}
	return v;
}

void *metacall_value_create_char(char c)
{
	struct mlb_value *v = value_new(METACALL_CHAR, 0);
	if (v) {
		v->scalar.c = c;
		v->size = sizeof(char);
	}
	return v;
}

void *metacall_value_create_short(short s)
{
	struct mlb_value *v = value_new(METACALL_SHORT, 0);
	if (v) {
		v->scalar.s = s;
		v->size = sizeof(short);
	}
	return v;
}

void *metacall_value_create_int(int i)
{
	struct mlb_value *v = value_new(METACALL_INT, 0);
	if (v) {
		v->scalar.i = i;
		v->size = sizeof(int);
	}
	return v;
}

void *metacall_value_create_long(long l)
{
	struct mlb_value *v = value_new(METACALL_LONG, 0);
	if (v) {
		v->scalar.l = l;
		v->size = sizeof(long);
	}
	return v;
}

void *metacall_value_create_float(float f)
{
	struct mlb_value *v = value_new(METACALL_FLOAT, 0);
	if (v) {
		v->scalar.f = f;
		v->size = sizeof(float);
	}
	return v;
}

void *metacall_value_create_double(double d)
{
	struct mlb_value *v = value_new(METACALL_DOUBLE, 0);
	if (v) {
		v->scalar.d = d;
		v->size = sizeof(double);
	}
	return v;
}

void *metacall_value_create_string(const char *str, size_t length)
{
	if (length == SIZE_MAX) /* the NUL would not fit */
		return NULL;
	struct mlb_value *v = value_new(METACALL_STRING, length + 1);
	if (v == NULL)
		return NULL;
	if (str != NULL && length > 0)
		memcpy(v->data, str, length);
	v->data[length] = '\0';
	v->size = length + 1;
	return v;
}

void *metacall_value_create_buffer(const void *buffer, size_t size)
{
	struct mlb_value *v = value_new(METACALL_BUFFER, size);
	if (v == NULL)
		return NULL;
	if (buffer != NULL && size > 0)
		memcpy(v->data, buffer, size);
	v->size = size;
	return v;
}

static void *create_container(enum metacall_value_id id, const void *items[], size_t size)
{
	if (size > (SIZE_MAX - sizeof(struct mlb_value)) / sizeof(void *))
		return NULL;
	struct mlb_value *v = value_new(id, size * sizeof(void *));
	if (v == NULL)
		return NULL;
	if (items != NULL && size > 0)
		memcpy(v->data, items, size * sizeof(void *));
	v->size = size * sizeof(void *);
	v->count = size;
	return v;
}

void *metacall_value_create_array(const void *values[], size_t size)
{
	return create_container(METACALL_ARRAY, values, size);
}

void *metacall_value_create_map(const void *tuples[], size_t size)
{
	return create_container(METACALL_MAP, tuples, size);
}

void *metacall_value_create_null(void)
{
	return value_new(METACALL_NULL, 0);
}

void *mlb_future_new(void)
{
	return value_new(METACALL_FUTURE, 0);
}

void *metacall_value_create_function(void *f)
{
	struct mlb_value *v = value_new(METACALL_FUNCTION, sizeof(void *));
	if (v != NULL) {
		memcpy(v->data, &f, sizeof(void *));
		v->size = sizeof(void *);
	}
	return v;
}

void *mlb_throwable_new(const char *label, const char *message, const char *stacktrace)
{
	const char *parts[3] = { label ? label : "", message ? message : "", stacktrace ? stacktrace : "" };
	size_t lengths[3];
	size_t total = sizeof(struct metacall_exception_type);
	for (int i = 0; i < 3; ++i) {
		lengths[i] = strlen(parts[i]);
		total += lengths[i] + 1;
	}
	struct mlb_value *exception = value_new(METACALL_EXCEPTION, total);
	struct mlb_value *throwable = value_new(METACALL_THROWABLE, sizeof(void *));
	if (exception == NULL || throwable == NULL) {
		free(exception);
		free(throwable);
		return NULL;
	}
	struct metacall_exception_type *ex = (struct metacall_exception_type *)exception->data;
	char *cursor = (char *)exception->data + sizeof(*ex);
	const char **fields[3] = { &ex->label, &ex->message, &ex->stacktrace };
	for (int i = 0; i < 3; ++i) {
		memcpy(cursor, parts[i], lengths[i] + 1);
		*fields[i] = cursor;
		cursor += lengths[i] + 1;
	}
	ex->code = -1;
	exception->size = total;
	memcpy(throwable->data, &exception, sizeof(void *));
	throwable->size = sizeof(void *);
	throwable->count = 1;
	return throwable;
}

size_t metacall_value_size(void *v)
{
	struct mlb_value *value = mlb_value_check(v);
	return value ? value->size : 0;
}

size_t metacall_value_count(void *v)
{
	struct mlb_value *value = mlb_value_check(v);
	if (value == NULL || (value->id != METACALL_ARRAY && value->id != METACALL_MAP))
		return 0;
	return value->count;
}

enum metacall_value_id metacall_value_id(void *v)
{
	struct mlb_value *value = mlb_value_check(v);
	return value ? value->id : METACALL_INVALID;
}

static struct mlb_value *typed(void *v, enum metacall_value_id id)
{
	struct mlb_value *value = mlb_value_check(v);
	return (value != NULL && value->id == id) ? value : NULL;
}

boolean metacall_value_to_bool(void *v)
{
	struct mlb_value *value = typed(v, METACALL_BOOL);
	return value ? value->scalar.b : 0;
}

char metacall_value_to_char(void *v)
{
	struct mlb_value *value = typed(v, METACALL_CHAR);
	return value ? value->scalar.c : 0;
}

short metacall_value_to_short(void *v)
{
	struct mlb_value *value = typed(v, METACALL_SHORT);
	return value ? value->scalar.s : 0;
}

int metacall_value_to_int(void *v)
{
	struct mlb_value *value = typed(v, METACALL_INT);
	return value ? value->scalar.i : 0;
}

long metacall_value_to_long(void *v)
{
	struct mlb_value *value = typed(v, METACALL_LONG);
	return value ? value->scalar.l : 0;
}

float metacall_value_to_float(void *v)
{
	struct mlb_value *value = typed(v, METACALL_FLOAT);
	return value ? value->scalar.f : 0.0f;
}

double metacall_value_to_double(void *v)
{
	struct mlb_value *value = typed(v, METACALL_DOUBLE);
	return value ? value->scalar.d : 0.0;
}

char *metacall_value_to_string(void *v)
{
	struct mlb_value *value = typed(v, METACALL_STRING);
	return value ? (char *)value->data : NULL;
}

void *metacall_value_to_buffer(void *v)
{
	struct mlb_value *value = typed(v, METACALL_BUFFER);
	return value ? (void *)value->data : NULL;
}

void **metacall_value_to_array(void *v)
{
	struct mlb_value *value = typed(v, METACALL_ARRAY);
	return value ? (void **)value->data : NULL;
}

void **metacall_value_to_map(void *v)
{
	struct mlb_value *value = typed(v, METACALL_MAP);
	return value ? (void **)value->data : NULL;
}

void *metacall_value_to_function(void *v)
{
	struct mlb_value *value = typed(v, METACALL_FUNCTION);
	void *f = NULL;
	if (value != NULL)
		memcpy(&f, value->data, sizeof(void *));
	return f;
}

void *metacall_value_to_throwable(void *v)
{
	struct mlb_value *value = typed(v, METACALL_THROWABLE);
	void *inner = NULL;
	if (value != NULL)
		memcpy(&inner, value->data, sizeof(void *));
	return inner;
}

void *metacall_throwable_value(void *th)
{
	return typed(th, METACALL_EXCEPTION) ? th : NULL;
}

void *metacall_value_to_exception(void *v)
{
	struct mlb_value *value = typed(v, METACALL_EXCEPTION);
	return value ? (void *)value->data : NULL;
}

/* The children a value owns: the items of an ARRAY or MAP, the EXCEPTION of a THROWABLE. */
static void **owned_children(struct mlb_value *value, size_t *count)
{
	if (value->id == METACALL_ARRAY || value->id == METACALL_MAP) {
		*count = value->count;
		return (void **)value->data;
	}
	if (value->id == METACALL_THROWABLE) {
		*count = 1;
		return (void **)value->data;
	}
	*count = 0;
	return NULL;
}

/* A dead value's scalar slot (no longer read) links it into destroy's work lists: no
   allocation, so destroy cannot fail, and no recursion, so nesting depth costs no stack. */
_Static_assert(sizeof(((struct mlb_value *)0)->scalar) >= sizeof(void *), "the scalar slot holds a link");

static void push_dead(struct mlb_value **top, struct mlb_value *value)
{
	memcpy(&value->scalar, top, sizeof(void *));
	*top = value;
}

static struct mlb_value *pop_dead(struct mlb_value **top)
{
	struct mlb_value *value = *top;
	memcpy(top, &value->scalar, sizeof(void *));
	return value;
}

/*
 * Iterative (issue 14 item 6): an ARRAY nested a million deep is destroyed in constant stack.
 * Every value is marked dead when first reached and freed only at the end, so a container that
 * holds itself (or an ancestor), or a child listed twice, is freed once and no freed memory is
 * read, as with MetaCall's recursive destroy.
 */
void metacall_value_destroy(void *v)
{
	struct mlb_value *value = mlb_value_check(v);
	if (value == NULL)
		return;
	value->magic = MLB_DEAD_MAGIC;
	struct mlb_value *pending = NULL; /* dead containers whose children are still to visit */
	struct mlb_value *visited = NULL; /* dead values to free */
	push_dead(&pending, value);
	while (pending != NULL) {
		value = pop_dead(&pending);
		size_t count;
		void **children = owned_children(value, &count);
		for (size_t i = 0; i < count; ++i) {
			struct mlb_value *child = mlb_value_check(children[i]);
			if (child == NULL)
				continue;
			child->magic = MLB_DEAD_MAGIC;
			size_t grandchildren;
			if (owned_children(child, &grandchildren) != NULL && grandchildren > 0)
				push_dead(&pending, child);
			else
				push_dead(&visited, child);
		}
		push_dead(&visited, value);
	}
	while (visited != NULL)
		free(pop_dead(&visited));
}
