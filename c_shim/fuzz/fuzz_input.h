/*
 * fuzz_input.h: turns fuzzer bytes into MetaCall values, for the fuzz targets in this folder.
 *
 * The bytes are a small program: each value starts with an opcode byte (low 4 bits) followed by
 * its payload. Containers recurse up to MAX_DEPTH levels; the NEST opcode wraps a value in up to
 * MAX_NEST ARRAYs without recursion, which is how deep values reach the conversion. Running out
 * of bytes gives NULL values, so every input decodes. When `checks` is set, each value is read
 * back right after it is made and a mismatch aborts (a finding).
 */
#ifndef MLBRIDGE_FUZZ_INPUT_H
#define MLBRIDGE_FUZZ_INPUT_H 1

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <metacall/metacall.h>

#define MAX_DEPTH 24
#define MAX_NEST 20000
#define MAX_ITEMS 16
#define MAX_VALUES 20000

enum fuzz_op {
	OP_NULL, OP_BOOL, OP_CHAR, OP_SHORT, OP_INT, OP_LONG, OP_FLOAT, OP_DOUBLE,
	OP_STRING, OP_BUFFER, OP_ARRAY, OP_MAP, OP_NEST, OP_BAD_MAP, OP_HOLES, OP_SAME_KEYS
};

struct fuzz_reader {
	const uint8_t *p;
	size_t n;
	size_t values; /* made so far: bounds the work of one input */
	int checks;
};

static inline void fuzz_require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz invariant broken: %s\n", what);
		abort();
	}
}

static inline uint64_t fuzz_take(struct fuzz_reader *r, size_t bytes)
{
	uint64_t x = 0;
	for (size_t i = 0; i < bytes; ++i) {
		x <<= 8;
		if (r->n > 0) {
			x |= *r->p++;
			--r->n;
		}
	}
	return x;
}

static inline const uint8_t *fuzz_bytes(struct fuzz_reader *r, size_t *len)
{
	size_t want = (size_t)fuzz_take(r, 2) % 4096;
	*len = want < r->n ? want : r->n;
	const uint8_t *at = r->p;
	r->p += *len;
	r->n -= *len;
	return at;
}

static inline void *fuzz_value(struct fuzz_reader *r, int depth);

static inline void *fuzz_container(struct fuzz_reader *r, int depth, int map)
{
	size_t count = (size_t)fuzz_take(r, 1) % MAX_ITEMS;
	void *v = map ? metacall_value_create_map(NULL, count) : metacall_value_create_array(NULL, count);
	if (v == NULL)
		return NULL;
	void **slots = map ? metacall_value_to_map(v) : metacall_value_to_array(v);
	if (r->checks)
		fuzz_require(metacall_value_count(v) == count && (count == 0 || slots != NULL), "container count");
	for (size_t i = 0; i < count; ++i) {
		if (map) {
			void *pair = metacall_value_create_array(NULL, 2);
			if (pair == NULL)
				break;
			void **kv = metacall_value_to_array(pair);
			kv[0] = fuzz_value(r, depth + 1);
			kv[1] = fuzz_value(r, depth + 1);
			slots[i] = pair;
		} else {
			slots[i] = fuzz_value(r, depth + 1);
		}
	}
	return v;
}

static inline void *fuzz_value(struct fuzz_reader *r, int depth)
{
	if (r->n == 0 || depth > MAX_DEPTH || r->values >= MAX_VALUES)
		return metacall_value_create_null();
	++r->values;
	unsigned op = (unsigned)fuzz_take(r, 1) & 0x0f;
	void *v = NULL;
	switch (op) {
	case OP_NULL:
		v = metacall_value_create_null();
		break;
	case OP_BOOL: {
		unsigned char b = (unsigned char)fuzz_take(r, 1);
		v = metacall_value_create_bool(b);
		if (r->checks && v)
			fuzz_require(metacall_value_to_bool(v) == (b ? 1 : 0), "bool");
		break;
	}
	case OP_CHAR: {
		char c = (char)fuzz_take(r, 1);
		v = metacall_value_create_char(c);
		if (r->checks && v)
			fuzz_require(metacall_value_to_char(v) == c && metacall_value_to_long(v) == 0, "char");
		break;
	}
	case OP_SHORT: {
		short s = (short)(uint16_t)fuzz_take(r, 2);
		v = metacall_value_create_short(s);
		if (r->checks && v)
			fuzz_require(metacall_value_to_short(v) == s, "short");
		break;
	}
	case OP_INT: {
		int i = (int)(uint32_t)fuzz_take(r, 4);
		v = metacall_value_create_int(i);
		if (r->checks && v)
			fuzz_require(metacall_value_to_int(v) == i && metacall_value_size(v) == sizeof(int), "int");
		break;
	}
	case OP_LONG: {
		long l = (long)fuzz_take(r, 8);
		v = metacall_value_create_long(l);
		if (r->checks && v)
			fuzz_require(metacall_value_to_long(v) == l && metacall_value_id(v) == METACALL_LONG, "long");
		break;
	}
	case OP_FLOAT: {
		uint32_t bits = (uint32_t)fuzz_take(r, 4);
		float f;
		memcpy(&f, &bits, sizeof(f));
		v = metacall_value_create_float(f);
		if (r->checks && v) {
			float back = metacall_value_to_float(v);
			fuzz_require(memcmp(&back, &f, sizeof(f)) == 0, "float bits");
		}
		break;
	}
	case OP_DOUBLE: {
		uint64_t bits = fuzz_take(r, 8);
		double d;
		memcpy(&d, &bits, sizeof(d));
		v = metacall_value_create_double(d);
		if (r->checks && v) {
			double back = metacall_value_to_double(v);
			fuzz_require(memcmp(&back, &d, sizeof(d)) == 0, "double bits");
		}
		break;
	}
	case OP_STRING: {
		size_t len;
		const uint8_t *at = fuzz_bytes(r, &len);
		v = metacall_value_create_string((const char *)at, len);
		if (r->checks && v) {
			const char *s = metacall_value_to_string(v);
			fuzz_require(metacall_value_size(v) == len + 1 && s != NULL && s[len] == '\0' &&
					     memcmp(s, at, len) == 0 && metacall_value_to_buffer(v) == NULL,
				     "string bytes, size and NUL");
		}
		break;
	}
	case OP_BUFFER: {
		size_t len;
		const uint8_t *at = fuzz_bytes(r, &len);
		v = metacall_value_create_buffer(at, len);
		if (r->checks && v)
			fuzz_require(metacall_value_size(v) == len &&
					     (len == 0 || memcmp(metacall_value_to_buffer(v), at, len) == 0),
				     "buffer bytes and size");
		break;
	}
	case OP_ARRAY:
		v = fuzz_container(r, depth, 0);
		break;
	case OP_MAP:
		v = fuzz_container(r, depth, 1);
		break;
	case OP_NEST: {
		size_t levels = (size_t)fuzz_take(r, 2) % MAX_NEST;
		v = fuzz_value(r, depth + 1);
		for (size_t i = 0; i < levels && v != NULL; ++i) {
			const void *one[1] = { v };
			void *outer = metacall_value_create_array(one, 1);
			if (outer == NULL)
				metacall_value_destroy(v);
			v = outer;
		}
		break;
	}
	case OP_BAD_MAP: { /* entries that are not [key, value] pairs */
		const void *entries[2] = { fuzz_value(r, depth + 1), fuzz_value(r, depth + 1) };
		v = metacall_value_create_map(entries, 2);
		break;
	}
	case OP_HOLES: /* slots left NULL, as metacall_value_create_array(NULL, n) gives them */
		v = metacall_value_create_array(NULL, (size_t)fuzz_take(r, 1) % MAX_ITEMS);
		break;
	case OP_SAME_KEYS: { /* 1, 1.0 and true: keys that are equal in Python */
		const void *keys[3] = { metacall_value_create_long(1), metacall_value_create_double(1.0),
					metacall_value_create_bool(1) };
		const void *pairs[3];
		for (int i = 0; i < 3; ++i) {
			const void *kv[2] = { keys[i], fuzz_value(r, depth + 1) };
			pairs[i] = metacall_value_create_array(kv, 2);
		}
		v = metacall_value_create_map(pairs, 3);
		break;
	}
	}
	if (v == NULL) /* out of memory under the fuzzer's limit: keep going with NULL */
		v = metacall_value_create_null();
	return v;
}

#endif
