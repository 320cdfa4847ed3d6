/*
 * c_api.h: C functions of the shim that bridge/_cabi.py calls through cffi's `lib`.
 */
#ifndef MLBRIDGE_C_API_H
#define MLBRIDGE_C_API_H 1

/* Records the error of the current thread, read back with metacall_error_last. */
void mlbridge_record_error(const char *label, const char *message, const char *stacktrace);

/* Bumps the models version of mlbridge.h (mlbridge_models_version): bridge/_cabi.py calls it
   after a served model's new version was swapped in. */
void mlbridge_models_changed(void);

#endif /* MLBRIDGE_C_API_H */
