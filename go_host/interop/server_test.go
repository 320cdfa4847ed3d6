package interop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// server is build/bin/mlbridge-server running as a child process of the test.
type server struct {
	cmd    *exec.Cmd
	host   string
	port   int
	stderr *lockedBuffer
	done   chan struct{}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// modelsDir is viant/mly's fixture models (MLBRIDGE_MLY_MODELS); the test is skipped without.
func modelsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MLBRIDGE_MLY_MODELS")
	if dir == "" {
		t.Skip("MLBRIDGE_MLY_MODELS is not set (viant/mly's fixture models)")
	}
	return dir
}

// serverBinary is $MLBRIDGE_SERVER or the repository's build/bin/mlbridge-server.
func serverBinary(t *testing.T) string {
	t.Helper()
	path := os.Getenv("MLBRIDGE_SERVER")
	if path == "" {
		abs, err := filepath.Abs(filepath.Join("..", "..", "build", "bin", "mlbridge-server"))
		if err != nil {
			t.Fatal(err)
		}
		path = abs
	}
	if info, err := os.Stat(path); err != nil || info.Mode()&0o111 == 0 {
		t.Skipf("%s is not built (make go builds it)", path)
	}
	return path
}

// startServer writes config into a temporary directory and runs the server on it; the
// configuration must listen on port 0 of 127.0.0.1. The server is stopped when the test ends.
func startServer(t *testing.T, config string) *server {
	t.Helper()
	binary := serverBinary(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "-c", path)
	cmd.Env = append(os.Environ(), "TF_CPP_MIN_LOG_LEVEL=2")
	// The server dies with the test process, even when the test is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s := &server{cmd: cmd, stderr: new(lockedBuffer), done: make(chan struct{})}
	cmd.Stderr = s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.stop(t) })

	const prefix = "mlbridge-server: listening on http://"
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, prefix) {
				addr <- strings.TrimPrefix(line, prefix)
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case a := <-addr:
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatalf("server address %q: %v", a, err)
		}
		s.host = host
		s.port, _ = strconv.Atoi(port)
	case <-s.done:
		t.Fatalf("the server exited before listening: %v\n%s", cmd.ProcessState, s.stderr)
	case <-time.After(120 * time.Second):
		t.Fatalf("the server did not listen within 120 s\n%s", s.stderr)
	}
	return s
}

// stop sends SIGTERM (the server answers the requests in flight, then exits), then SIGKILL
// if it is still running 10 s later.
func (s *server) stop(t *testing.T) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		t.Errorf("the server did not stop on SIGTERM within 10 s\n%s", s.stderr)
	}
}

func (s *server) url(path string) string {
	return "http://" + net.JoinHostPort(s.host, strconv.Itoa(s.port)) + path
}

// stats are the server's counters for one model (its /meta/stats), as far as the tests read
// them.
type stats struct {
	Requests int64 `json:"requests"` // HTTP eval requests that reached the model's queue
	Runtime  struct {
		Server struct {
			Requests              int64 `json:"requests"`
			CacheKeyDisagreements int64 `json:"cache_key_disagreements"`
		} `json:"server"`
		Model struct {
			Rows          int64 `json:"rows"`
			RowsEvaluated int64 `json:"rows_evaluated"`
		} `json:"model"`
	} `json:"runtime"`
}

func (s *server) stats(t *testing.T, model string) stats {
	t.Helper()
	resp, err := http.Get(s.url("/v1/api/model/" + model + "/meta/stats"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stats: %d %s", resp.StatusCode, body)
	}
	var st stats
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("stats %s: %v", body, err)
	}
	return st
}

func (st stats) String() string {
	return fmt.Sprintf("%d requests, %d rows, %d rows evaluated, %d cache_key disagreements",
		st.Runtime.Server.Requests, st.Runtime.Model.Rows, st.Runtime.Model.RowsEvaluated,
		st.Runtime.Server.CacheKeyDisagreements)
}
