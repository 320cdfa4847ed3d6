// Package interop checks mlbridge's HTTP server against viant/mly's own Go client
// (github.com/viant/mly/shared/client v1.0.1 from the Go module proxy, built with
// CGO_ENABLED=0). It is a module of its own so that mly's dependencies never reach
// mlbridge/go_host's go.mod. The tests start build/bin/mlbridge-server (make go) as a child
// process on a free loopback port, with viant/mly's fixture models (MLBRIDGE_MLY_MODELS).
package interop
