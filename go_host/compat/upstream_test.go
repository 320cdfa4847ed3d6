// Package compat checks that the unmodified upstream MetaCall Go port builds against our
// libmetacall.so and calls a Python function through it.
package compat

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	upstreamModule = "github.com/metacall/core/source/ports/go_port/source"
	// The version that the published wine-review example pins.
	upstreamVersion = "v0.0.0-20250203214145-ce9b9e66eb48"
)

const program = `package main

import (
	"fmt"
	"os"

	metacall "` + upstreamModule + `"
)

const script = "def process_batch(texts):\n" +
	"    return [{'label': 'POSITIVE' if 'good' in t else 'NEGATIVE', 'score': 0.5} for t in texts]\n"

func main() {
	if err := metacall.Initialize(); err != nil {
		fmt.Println("initialize:", err)
		os.Exit(1)
	}
	defer metacall.Destroy()
	if err := metacall.LoadFromMemory("py", script); err != nil {
		fmt.Println("load:", err)
		os.Exit(1)
	}
	result, err := metacall.Call("process_batch", []string{"good wine", "bad wine"})
	if err != nil {
		fmt.Println("call:", err)
		os.Exit(1)
	}
	for _, r := range result.([]interface{}) {
		fmt.Println(r.(map[string]interface{})["label"])
	}
}
`

// TestUpstreamGoPortCallsProcessBatch fetches the upstream port from the Go module proxy,
// builds a program with it against build/lib/libmetacall.so and runs process_batch through
// it. It is skipped, with the proxy's answer as the reason, when the proxy cannot serve the
// module (it answers 403 "This module version is not available" for it today).
func TestUpstreamGoPortCallsProcessBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("fetches from the Go module proxy; not in -short mode")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(repo, "build", "lib")
	if _, err := os.Stat(filepath.Join(lib, "libmetacall.so")); err != nil {
		t.Fatalf("build/lib/libmetacall.so is missing (run make shim): %v", err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module compatcheck\n\ngo 1.23\n")
	writeFile(t, filepath.Join(dir, "main.go"), program)
	env := append(os.Environ(),
		"GOFLAGS=-mod=mod",
		"GOWORK=off",
		"CGO_ENABLED=1",
		"CGO_CFLAGS=-I"+filepath.Join(repo, "c_shim", "include"),
		"CGO_LDFLAGS=-L"+lib+" -Wl,-rpath,"+lib,
	)

	out, err := goCommand(t, dir, env, 30*time.Second, "get", upstreamModule+"@"+upstreamVersion)
	if err != nil {
		t.Skipf("the Go module proxy cannot serve %s@%s: %s", upstreamModule, upstreamVersion, reason(out, err))
	}
	if out, err := goCommand(t, dir, env, 5*time.Minute, "build", "-o", "upstream", "."); err != nil {
		t.Fatalf("the upstream port does not build against our headers and library:\n%s", out)
	}
	cmd := exec.Command(filepath.Join(dir, "upstream"))
	cmd.Env = env
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("running the upstream port: %v\n%s", err, got)
	}
	if lines := strings.Fields(string(got)); len(lines) < 2 || lines[len(lines)-2] != "POSITIVE" || lines[len(lines)-1] != "NEGATIVE" {
		t.Fatalf("process_batch through the upstream port printed:\n%s", got)
	}
}

func goCommand(t *testing.T, dir string, env []string, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}
	return string(out), err
}

// reason is the useful part of a failed go get: the proxy's answer.
func reason(out string, err error) string {
	out = strings.TrimSpace(out)
	if out == "" {
		return err.Error()
	}
	return strings.Join(strings.Fields(out), " ")
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
