package metacall

// #include <metacall/mlbridge.h>
import "C"

import (
	"sync/atomic"
	"unsafe"
)

// modelsVersion is the shim's models version counter (mlbridge.h: mlbridge_models_version),
// a static of libmetacall.so: its address is valid before Initialize and after Destroy.
var modelsVersion = (*uint64)(unsafe.Pointer(C.mlbridge_models_version()))

// ModelsVersion is the runtime's models version: it changes, after the swap, every time a
// served model's version changes (a hot reload, from any host's point of view). It is one
// atomic load, with no cgo call and no GIL, so a host may read it on every request: an answer
// kept since version v is still the model's answer while ModelsVersion() == v. Read it before
// the call whose answer is kept.
func ModelsVersion() uint64 { return atomic.LoadUint64(modelsVersion) }
