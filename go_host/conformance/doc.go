// Package conformance holds the Go runner of mlbridge's cross-host conformance table
// (tests/conformance/cases.json in the repository): every case the table gives the "go" host
// is called through metacall.Call (and, for async functions, metacall.Await) and its answer
// checked against the table, the same answers the Python (pytest) and C (ctest) runners
// assert. It has no code of its own outside its test: run it with `go test ./conformance/`.
package conformance
