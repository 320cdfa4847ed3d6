// Command mlbridge-server serves the models of an mly configuration over mly's REST API, from
// one embedded Python runtime that holds the models and the prediction cache.
//
//	mlbridge-server -c config.yaml      (also --cfg, as mly)
//	mlbridge-server -c config.yaml -host 127.0.0.1 -port 0
//
// It listens on Endpoint.Host:Endpoint.Port, or on -host/-port when given (ours, not mly's:
// they override the file; port 0 picks a free port), at once: while the models load every
// path answers 503. Once every model is loaded and warmed it prints one line,
// "mlbridge-server: listening on http://HOST:PORT" (https with TLS.CertFile/KeyFile).
// SIGINT or SIGTERM drains it (server.Ops.Drain): readiness answers 503, new connections are
// refused, requests in flight are answered, the cache's background writes are flushed, and it
// exits 0 within Endpoint.WriteTimeoutMs (at least 1 s); a signal while the models load stops
// it at once with 0.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"mlbridge/go_host/metacall"
	"mlbridge/go_host/server"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		config, host string
		port         int
	)
	flags := flag.NewFlagSet("mlbridge-server", flag.ContinueOnError)
	flags.StringVar(&config, "c", "", "the mly configuration file (YAML or JSON)")
	flags.StringVar(&config, "cfg", "", "same as -c")
	flags.StringVar(&host, "host", "", "listen on this address instead of Endpoint.Host")
	flags.IntVar(&port, "port", -1, "listen on this port instead of Endpoint.Port (0: a free port)")
	if err := flags.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if config == "" || flags.NArg() > 0 || port > 65535 {
		fmt.Fprintln(os.Stderr, "usage: mlbridge-server -c CONFIG.yaml [-host ADDRESS] [-port N]")
		return 2
	}
	if err := metacall.Initialize(); err != nil {
		fmt.Fprintln(os.Stderr, "mlbridge-server:", err)
		return 1
	}
	defer metacall.Destroy()
	// The port opens before the models load: readiness (and every path) answers 503 until
	// they are loaded and warmed.
	pre, err := server.ReadPreview(config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mlbridge-server:", err)
		return 1
	}
	if host != "" {
		pre.Endpoint.Host = host
	}
	if port >= 0 {
		pre.Endpoint.Port = port
	}
	starting, err := server.Start(pre.Endpoint, pre.Ops)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mlbridge-server:", err)
		return 1
	}
	addr := starting.Scheme() + "://" + reachable(starting.Addr())
	// stdout keeps its one line (the listening one, once ready); this one goes to stderr.
	fmt.Fprintf(os.Stderr, "mlbridge-server: loading the models; %s/v1/api/ready answers 503 until they are ready\n", addr)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	desc, sig, err := load(config, signals)
	if sig != nil { // nothing was accepted yet: every request got a 503
		_ = starting.Close()
		fmt.Fprintf(os.Stderr, "mlbridge-server: %s while loading the models: stopping\n", sig)
		return 0
	}
	if err != nil {
		_ = starting.Close()
		fmt.Fprintln(os.Stderr, "mlbridge-server:", err)
		return 1
	}
	desc.Endpoint = pre.Endpoint // with -host/-port
	releaseLoadGarbage()
	srv := server.New(desc)
	ops, err := server.NewOps(srv) // health, readiness, metrics, access control, TLS, drain
	if err != nil {
		_ = starting.Close()
		fmt.Fprintln(os.Stderr, "mlbridge-server:", err)
		return 1
	}
	starting.Handover(ops)
	done := starting.Done()
	fmt.Printf("mlbridge-server: listening on %s\n", addr)

	select {
	case err := <-done:
		fmt.Fprintln(os.Stderr, "mlbridge-server:", err)
		return 1
	case sig := <-signals:
		fmt.Fprintf(os.Stderr, "mlbridge-server: %s: finishing the requests in flight\n", sig)
	}
	ctx, cancel := context.WithTimeout(context.Background(), server.DrainTimeout(desc.Endpoint))
	defer cancel()
	if err := ops.Drain(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "mlbridge-server: drain:", err)
		return 1
	}
	return 0
}

// load loads the configuration's models unless a signal comes first; then it returns the
// signal and leaves the load to metacall.Destroy (which waits for it a bounded time).
func load(config string, signals <-chan os.Signal) (*server.Description, os.Signal, error) {
	type loaded struct {
		desc *server.Description
		err  error
	}
	done := make(chan loaded, 1)
	go func() {
		desc, err := server.Load(config)
		done <- loaded{desc, err}
	}()
	select {
	case l := <-done:
		return l.desc, nil, l.err
	case sig := <-signals:
		return nil, sig, nil
	}
}

// reachable names addr so that a local client can use it: an unspecified IP (every
// interface) becomes localhost.
func reachable(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return addr.String()
	}
	return net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
}
