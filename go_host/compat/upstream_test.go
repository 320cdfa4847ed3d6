// Package compat checks that the unmodified upstream MetaCall Go port builds against our
// headers and libmetacall.so, and that a program using it gets the answers it would get from
// MetaCall, without a panic on anything our library returns.
//
// The port comes from, in this order:
//
//   - MLBRIDGE_METACALL_GO_PORT: a local directory holding the port, either its module
//     directory (the go.mod naming github.com/metacall/core/source/ports/go_port/source) or a
//     checkout of metacall/core; the test program uses it through a replace line;
//   - the Go module proxy, at the version the published wine-review example pins.
//
// With neither, the test is skipped and says so (the proxy answers 403 "This module version is
// not available" for the port today).
package compat

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	upstreamModule = "github.com/metacall/core/source/ports/go_port/source"
	// The version that the published wine-review example pins.
	upstreamVersion = "v0.0.0-20250203214145-ce9b9e66eb48"
	// portEnv names a local copy of the port.
	portEnv = "MLBRIDGE_METACALL_GO_PORT"
)

// script holds the Python functions that the program calls through the port.
const script = `def process_batch(texts):
    return [{'label': 'POSITIVE' if 'good' in t else 'NEGATIVE', 'score': 0.5} for t in texts]

def echo(x):
    return x

def int_keys():
    return {1: 'one', 2: 'two'}

def str_keys():
    return {'a': 1, 'b': 2}

def fails(message):
    raise ValueError(message)
`

// program prints one line per call, "name: answer", flushed before the next call, so that a
// crash still shows which call it was in. An error that the port returns as the call's
// value (how it hands over an exception) prints as "error value: ...".
const program = `package main

import (
	"fmt"
	"os"

	metacall "` + upstreamModule + `"
)

func show(name string, v interface{}, err error) {
	switch {
	case err != nil:
		fmt.Printf("%s: error: %v\n", name, err)
	case v == nil:
		fmt.Printf("%s: nil\n", name)
	default:
		if e, ok := v.(error); ok {
			fmt.Printf("%s: error value: %v\n", name, e)
		} else {
			fmt.Printf("%s: %v\n", name, v)
		}
	}
	os.Stdout.Sync()
}

func main() {
	if err := metacall.Initialize(); err != nil {
		fmt.Println("initialize:", err)
		os.Exit(1)
	}
	defer metacall.Destroy()
	if err := metacall.LoadFromMemory("py", os.Getenv("COMPAT_SCRIPT")); err != nil {
		fmt.Println("load:", err)
		os.Exit(1)
	}
	call := func(name, function string, args ...interface{}) {
		v, err := metacall.Call(function, args...)
		show(name, v, err)
	}
	call("process_batch", "process_batch", []string{"good wine", "bad wine"})
	call("int", "echo", int(7))
	call("int8", "echo", int8(7))
	call("int16", "echo", int16(7))
	call("int32", "echo", int32(7))
	call("int64", "echo", int64(7))
	call("uint", "echo", uint(7))
	call("uint8", "echo", uint8(7))
	call("uint16", "echo", uint16(7))
	call("uint32", "echo", uint32(7))
	call("uint64", "echo", uint64(7))
	call("int64 max", "echo", int64(9223372036854775807))
	call("str_keys", "str_keys")
	call("int_keys", "int_keys")
	call("exception", "fails", "no such vintage")
	call("after", "echo", "still works")
	fmt.Println("done")
}
`

// The Go int kinds that every version of the port converts. The others some versions do not
// convert: they pass no value (NULL), and our library answers that call with a THROWABLE.
var (
	convertedKinds = []string{"int", "int16", "int64", "uint8"}
	otherKinds     = []string{"int8", "int32", "uint", "uint16", "uint32", "uint64"}
)

func TestUpstreamGoPort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the upstream port (and may fetch it); not in -short mode")
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
	env := append(os.Environ(),
		"GOFLAGS=-mod=mod",
		"GOWORK=off",
		"CGO_ENABLED=1",
		"CGO_CFLAGS=-I"+filepath.Join(repo, "c_shim", "include"),
		"CGO_LDFLAGS=-L"+lib+" -Wl,-rpath,"+lib,
	)
	writeFile(t, filepath.Join(dir, "main.go"), program)
	if local := os.Getenv(portEnv); local != "" {
		module, err := portModule(local)
		if err != nil {
			t.Fatalf("%s=%s: %v", portEnv, local, err)
		}
		t.Logf("the upstream port from %s (replace)", module)
		writeFile(t, filepath.Join(dir, "go.mod"), goMod(module))
	} else {
		writeFile(t, filepath.Join(dir, "go.mod"), goMod(""))
		out, err := goCommand(t, dir, env, 30*time.Second, "get", upstreamModule+"@"+upstreamVersion)
		if err != nil {
			t.Skipf("no upstream Go port: %s is not set (a local copy of the port) and the Go module proxy cannot serve %s@%s: %s",
				portEnv, upstreamModule, upstreamVersion, reason(out, err))
		}
		t.Logf("the upstream port %s@%s from the Go module proxy", upstreamModule, upstreamVersion)
	}
	if out, err := goCommand(t, dir, env, 5*time.Minute, "build", "-o", "upstream", "."); err != nil {
		t.Fatalf("the upstream port does not build against our headers and library:\n%s", out)
	}

	cmd := exec.Command(filepath.Join(dir, "upstream"))
	cmd.Env = append(env, "COMPAT_SCRIPT="+script)
	out, err := cmd.CombinedOutput()
	lines := answers(string(out))
	if _, done := lines["done"]; err != nil || !done {
		t.Fatalf("the program using the upstream port did not finish (%v):\n%s", err, out)
	}
	check := func(name string, want *regexp.Regexp) {
		t.Helper()
		if got, ok := lines[name]; !ok || !want.MatchString(got) {
			t.Errorf("%s: got %q, want %s", name, got, want)
		}
	}
	check("process_batch", regexp.MustCompile(`^\[map\[label:POSITIVE score:0\.5\] map\[label:NEGATIVE score:0\.5\]\]$`))
	for _, kind := range convertedKinds {
		check(kind, regexp.MustCompile(`^7$`))
	}
	// A THROWABLE is the call's value: an error value where the port converts throwables (its
	// later versions), nil where it does not.
	for _, kind := range otherKinds {
		check(kind, regexp.MustCompile(`^(7|nil|error value: .+)$`))
	}
	check("int64 max", regexp.MustCompile(`^9223372036854775807$`))
	check("str_keys", regexp.MustCompile(`^map\[a:1 b:2\]$`))
	// Our rule for a dict with a key that is not a str is a THROWABLE naming the key (MetaCall
	// drops such entries; a LONG key made the port panic and end the program). The exception
	// shows whether this port converts throwables, and so what that call must print.
	if strings.HasPrefix(lines["exception"], "error value: ") {
		check("exception", regexp.MustCompile(`^error value: .*no such vintage`))
		check("int_keys", regexp.MustCompile(`^error value: .*dict key 1 \(int\) is not a string`))
	} else {
		check("exception", regexp.MustCompile(`^nil$`))
		check("int_keys", regexp.MustCompile(`^nil$`))
	}
	check("after", regexp.MustCompile(`^still works$`))
	t.Logf("the program printed:\n%s", out)
}

// goMod is the test program's go.mod; with module set, the port comes from that directory.
func goMod(module string) string {
	text := "module compatcheck\n\ngo 1.24\n"
	if module != "" {
		text += fmt.Sprintf("\nrequire %s v0.0.0-00010101000000-000000000000\n\nreplace %s => %s\n",
			upstreamModule, upstreamModule, module)
	}
	return text
}

// portModule finds the port's module directory in dir: dir itself, or the port's place in a
// checkout of metacall/core.
func portModule(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for _, candidate := range []string{dir, filepath.Join(dir, "source", "ports", "go_port", "source")} {
		text, err := os.ReadFile(filepath.Join(candidate, "go.mod"))
		if err == nil && modulePath(string(text)) == upstreamModule {
			return candidate, nil
		}
	}
	return "", errors.New("no go.mod of " + upstreamModule + " there, nor under source/ports/go_port/source")
}

// modulePath is the path a go.mod's module line declares.
func modulePath(goMod string) string {
	for _, line := range strings.Split(goMod, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// answers maps each "name: answer" line of the program's output to its answer ("done" maps
// to "").
func answers(out string) map[string]string {
	lines := map[string]string{}
	scanner := bufio.NewScanner(strings.NewReader(out))
	for scanner.Scan() {
		line := scanner.Text()
		if line == "done" {
			lines["done"] = ""
			continue
		}
		if name, answer, ok := strings.Cut(line, ": "); ok {
			lines[name] = answer
		}
	}
	return lines
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
