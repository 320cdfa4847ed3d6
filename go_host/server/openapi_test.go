package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// openAPIDoc is the part of the OpenAPI document the test checks against the server.
type openAPIDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Responses map[string]openAPIResponse `json:"responses"`
	} `json:"components"`
}

type openAPIResponse struct {
	Ref     string                     `json:"$ref"`
	Content map[string]json.RawMessage `json:"content"`
}

type openAPIOperation struct {
	OperationID string                     `json:"operationId"`
	Responses   map[string]openAPIResponse `json:"responses"`
}

// contentTypes resolves a response (possibly a $ref) to the media types it documents.
func (d *openAPIDoc) contentTypes(r openAPIResponse) []string {
	if name, ok := strings.CutPrefix(r.Ref, "#/components/responses/"); ok {
		r = d.Components.Responses[name]
	}
	var out []string
	for mt := range r.Content {
		out = append(out, mt)
	}
	return out
}

func TestOpenAPIDocumentMatchesTheServer(t *testing.T) {
	s := startOps(t, OpsSettings{}, nil)
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	served := s.send(t, http.MethodGet, "/v1/api/openapi.json", "")
	if served.status != http.StatusOK || !bytes.Equal(served.body, file) {
		t.Fatalf("/v1/api/openapi.json: %d, %d bytes; want the repository's %d bytes", served.status, len(served.body), len(file))
	}
	var doc openAPIDoc
	if err := json.Unmarshal(file, &doc); err != nil {
		t.Fatal(err)
	}

	// Every route the server mounts is documented (the debug profiles only exist when
	// EnableCPUProf/EnableMemProf are set; the README lists them).
	routes := append([]string{"/v1/api/model/{id}/eval", "/v1/api/model/{id}/meta/{what}"}, s.ops.routes...)
	for _, route := range routes {
		if _, ok := doc.Paths[route]; !ok && !strings.HasPrefix(route, "/v1/api/debug/") {
			t.Errorf("route %s is served but not in openapi.json", route)
		}
	}

	// Every documented operation answers with a documented status and media type.
	fill := strings.NewReplacer("{id}", "sli", "{what}", "config", "{name}", "sliPerf")
	bodies := map[string]string{http.MethodPost: `{"sa":"doc","sl":"doc"}`, http.MethodPut: `{"batch_size":2,"sa":["a","b"],"sl":["c"]}`}
	operations := 0
	for path, methods := range doc.Paths {
		for method, raw := range methods {
			if method == "parameters" {
				continue
			}
			var op openAPIOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
			m := strings.ToUpper(method)
			url := fill.Replace(path)
			if m == http.MethodGet && strings.HasSuffix(path, "/eval") {
				url += "?sa=doc&sl=doc"
			}
			r := s.send(t, m, url, bodies[m])
			resp, ok := op.Responses[strconv.Itoa(r.status)]
			if !ok {
				t.Errorf("%s %s answered %d, which the document does not list (%s)", m, url, r.status, r.body)
				continue
			}
			types := doc.contentTypes(resp)
			got, _, _ := strings.Cut(r.header.Get("Content-Type"), ";")
			if len(types) > 0 && !slices.Contains(types, got) {
				t.Errorf("%s %s: Content-Type %q, documented %v", m, url, got, types)
			}
			operations++
		}
	}
	if operations < 12 {
		t.Fatalf("only %d operations in the document", operations)
	}

	// The document's limits are the server's.
	var limits struct {
		Components struct {
			Schemas struct {
				EvalRequest struct {
					Properties struct {
						BatchSize struct {
							Maximum int `json:"maximum"`
						} `json:"batch_size"`
					} `json:"properties"`
				} `json:"EvalRequest"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(file, &limits); err != nil {
		t.Fatal(err)
	}
	if got := limits.Components.Schemas.EvalRequest.Properties.BatchSize.Maximum; got != MaxBatchRows {
		t.Errorf("batch_size maximum %d in the document, %d in the server", got, MaxBatchRows)
	}

	// A path outside the document is a JSON 404.
	errorText(t, s.send(t, http.MethodGet, "/v1/api/nothing-here", ""), http.StatusNotFound)
}
