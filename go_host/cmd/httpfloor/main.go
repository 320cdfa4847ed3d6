// Command httpfloor is the floor of the HTTP benchmark (make bench-http): a Go net/http
// handler that reads the request body and answers one fixed JSON body, with no model, no
// cache and no decoding. What a server does per request beyond this is its own cost.
//
//	httpfloor -body FILE [-addr 127.0.0.1:0]
//
// It serves HTTP/1.1 and HTTP/2 cleartext (as mlbridge-server does), prints
// "httpfloor: listening on http://HOST:PORT" once ready and stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	os.Exit(run())
}

func run() int {
	flags := flag.NewFlagSet("httpfloor", flag.ContinueOnError)
	addr := flags.String("addr", "127.0.0.1:0", "address to listen on (port 0: a free port)")
	bodyFile := flags.String("body", "", "the file whose bytes every answer carries")
	if err := flags.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if *bodyFile == "" || flags.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: httpfloor -body FILE [-addr HOST:PORT]")
		return 2
	}
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpfloor:", err)
		return 1
	}
	length := strconv.Itoa(len(body))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{length}
		_, _ = w.Write(body)
	})
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: handler, Protocols: protocols, ReadHeaderTimeout: 10 * time.Second}
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpfloor:", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(listener) }()
	fmt.Printf("httpfloor: listening on http://%s\n", listener.Addr())

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-done:
		fmt.Fprintln(os.Stderr, "httpfloor:", err)
		return 1
	case <-signals:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return 1
	}
	return 0
}
