/*
 * METACALL_API: marks the functions libmetacall.so exports (MetaCall generates this header at
 * build time; ours is fixed). Define it before including a metacall header to override it.
 */
#ifndef METACALL_API_H
#define METACALL_API_H 1

#ifndef METACALL_API
#define METACALL_API __attribute__((visibility("default")))
#endif

#endif
