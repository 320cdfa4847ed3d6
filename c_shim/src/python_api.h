/*
 * python_api.h: the shim's entry points that are written in Python (bridge/_cabi.py).
 *
 * cffi declares these as `extern "Python"` (embedding_api): the first call starts the
 * interpreter. None of them is on the hot path of a call. Each returns 1 on success and 0 on
 * failure, because cffi answers 0 when the Python side is missing (its init code failed).
 */
#ifndef MLBRIDGE_PYTHON_API_H
#define MLBRIDGE_PYTHON_API_H 1

#include <stddef.h>

int mlbridge_py_start(void);
int mlbridge_py_load_from_file(const char *tag, const char *paths[], size_t size);
int mlbridge_py_load_from_memory(const char *tag, const char *buffer, size_t size);
int mlbridge_py_clear(void);

#endif /* MLBRIDGE_PYTHON_API_H */
