// Command mly-server is viant/mly v1.0.1's example server, unchanged: the real mly, built from
// the Go module proxy, as a benchmark and interop peer for mlbridge's server and client.
//
// It links TensorFlow's C API from the tensorflow-cpu wheel in .venv (see the Makefile's
// mly-peer target); it is a separate module so that go_host never depends on mly or TensorFlow.
package main

import (
	"log"
	"os"

	"github.com/viant/mly/example/server"
)

// Version is what mly-server -v prints.
var Version = "v1.0.1"

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	server.RunApp(Version, os.Args[1:])
}
