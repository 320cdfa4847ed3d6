package server

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"mlbridge/go_host/metacall"
)

// The runtime functions this package calls (registered by bridge/mly/meta.py when a
// configuration is loaded with the "mly-server" tag).
const (
	loaderTag    = "mly-server"
	describeFunc = "mlbridge.server.describe"
	metaFunc     = "mlbridge.server.meta"
	serveSuffix  = ".serve"
)

// Description is what the runtime says about a loaded configuration: the endpoint settings
// and, per model, its fields and batching settings. The YAML is parsed by the runtime only.
type Description struct {
	Source   string             `json:"source"`
	Endpoint Endpoint           `json:"endpoint"`
	Models   []ModelDescription `json:"models"`
}

// Endpoint is mly's Endpoint section (with mly's defaults applied by the runtime) plus Host.
type Endpoint struct {
	Port           int    `json:"port"`
	Host           string `json:"host"`
	BufferSize     int    `json:"bufferSize"`
	ReadTimeoutMs  int    `json:"readTimeoutMs"`
	WriteTimeoutMs int    `json:"writeTimeoutMs"`
	MaxHeaderBytes int    `json:"maxHeaderBytes"`
}

// ReadTimeout is ReadTimeoutMs as a duration.
func (e Endpoint) ReadTimeout() time.Duration {
	return time.Duration(e.ReadTimeoutMs) * time.Millisecond
}

// WriteTimeout is WriteTimeoutMs as a duration.
func (e Endpoint) WriteTimeout() time.Duration {
	return time.Duration(e.WriteTimeoutMs) * time.Millisecond
}

// ModelDescription describes one served model.
type ModelDescription struct {
	ID       string   `json:"id"`
	DictHash int64    `json:"dictHash"`
	Fields   []Field  `json:"fields"`
	Outputs  []string `json:"outputs"`
	Batch    *Batch   `json:"batch"`
	// MemoTTLMs is how long the server may keep an answer in its memo (memo.go): the
	// datastore's shortest TimeToLiveMs; 0 without a datastore (no memo: every request is
	// evaluated).
	MemoTTLMs int64 `json:"memoTtlMs"`
}

// Field is one field a row may carry.
type Field struct {
	Name string `json:"name"`
	// Kind is "string", "int", "float", "bool" or "any"; GET query values are converted by it.
	Kind     string `json:"kind"`
	Input    bool   `json:"input"`
	Required bool   `json:"required"`
}

// Batch is mly's per-model Batch section (or GlobalBatching), as the runtime resolved it.
type Batch struct {
	MaxBatchSize            int `json:"maxBatchSize"`
	BatchWaitMicros         int `json:"batchWaitMicros"`
	MaxEvaluatorConcurrency int `json:"maxEvaluatorConcurrency"`
	MaxQueuedBatches        int `json:"maxQueuedBatches"`
}

// Load loads the configuration at path into the runtime (metacall must be initialized) and
// returns the runtime's description of it.
func Load(path string) (*Description, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := metacall.LoadFromFile(loaderTag, []string{abs}); err != nil {
		return nil, err
	}
	return Describe()
}

// Describe asks the runtime for the description of the loaded configuration.
func Describe() (*Description, error) {
	out, err := metacall.Call(describeFunc)
	if err != nil {
		return nil, err
	}
	text, ok := out.(string)
	if !ok {
		return nil, fmt.Errorf("%s returned %T, want a JSON string", describeFunc, out)
	}
	var d Description
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		return nil, fmt.Errorf("%s: %w", describeFunc, err)
	}
	return &d, nil
}

// meta asks the runtime for one of a model's descriptions in mly's shape, as JSON text.
func meta(id, what string) (string, error) {
	out, err := metacall.Call(metaFunc, id, what)
	if err != nil {
		return "", err
	}
	text, ok := out.(string)
	if !ok {
		return "", fmt.Errorf("%s returned %T, want a JSON string", metaFunc, out)
	}
	return text, nil
}
