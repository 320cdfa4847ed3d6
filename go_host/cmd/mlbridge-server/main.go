// Command mlbridge-server serves the models of an mly configuration over mly's REST API, from
// one embedded Python runtime that holds the models and the prediction cache.
//
//	mlbridge-server -c config.yaml      (also --cfg, as mly)
//
// It listens on Endpoint.Host:Endpoint.Port (port 0 picks a free port) and prints one line,
// "mlbridge-server: listening on http://HOST:PORT", once it is ready. SIGINT or SIGTERM stops
// it: requests in flight are answered first.
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
	"time"

	"mlbridge/go_host/metacall"
	"mlbridge/go_host/server"
)

func main() {
	os.Exit(run())
}

func run() int {
	var config string
	flags := flag.NewFlagSet("mlbridge-server", flag.ContinueOnError)
	flags.StringVar(&config, "c", "", "the mly configuration file (YAML or JSON)")
	flags.StringVar(&config, "cfg", "", "same as -c")
	if err := flags.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if config == "" || flags.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: mlbridge-server -c CONFIG.yaml")
		return 2
	}
	if err := metacall.Initialize(); err != nil {
		fmt.Fprintln(os.Stderr, "mlbridge-server:", err)
		return 1
	}
	defer metacall.Destroy()
	desc, err := server.Load(config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mlbridge-server:", err)
		return 1
	}
	srv := server.New(desc)
	listener, err := srv.Listen()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mlbridge-server:", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(listener) }()
	fmt.Printf("mlbridge-server: listening on http://%s\n", reachable(listener.Addr()))

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-done:
		fmt.Fprintln(os.Stderr, "mlbridge-server:", err)
		return 1
	case sig := <-signals:
		fmt.Fprintf(os.Stderr, "mlbridge-server: %s: finishing the requests in flight\n", sig)
	}
	grace := desc.Endpoint.WriteTimeout() + time.Second
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "mlbridge-server: shutdown:", err)
		return 1
	}
	return 0
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
