package server

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI document of the whole API (openapi.json beside this file; a test
// checks it against the server, and schemathesis runs against it).
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, openAPI) }
