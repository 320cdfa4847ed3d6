package main

/*
#include <stdlib.h> // defines __GLIBC__ on glibc
#ifdef __GLIBC__
#include <malloc.h>
static void release_free_heap(void) { malloc_trim(0); }
#else
static void release_free_heap(void) {}
#endif
*/
import "C"

import "runtime/debug"

// releaseLoadGarbage gives back to the OS the memory that loading and warming the models
// allocated and freed: glibc keeps freed chunks in its arenas until malloc_trim (which also
// returns whole free pages inside them), and the Go heap keeps its freed spans a while.
// Measured on make bench-http's model: ~10 MB free in glibc's heap after the load, ~6 MB of
// RSS returned (the rest is in partly used pages). The peak RSS of a run is reached later,
// while serving, so what is returned here is room for that growth.
func releaseLoadGarbage() {
	debug.FreeOSMemory()
	C.release_free_heap()
}
