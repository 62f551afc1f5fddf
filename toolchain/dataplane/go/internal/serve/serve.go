// Package serve is what model-server and model-client share around their servers: the ready
// line the process that started them waits for, running until SIGTERM or SIGINT, a bounded HTTP
// shutdown, and JSON in and out of their HTTP endpoints.
package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Run starts each serve function in its own goroutine, prints ready to stdout as one JSON line
// ({"grpc":"127.0.0.2:PORT",...}, keys sorted), and waits: for SIGTERM or SIGINT, and then returns
// nil so that the caller stops its servers; or for a serve function to return, and then returns
// what it returned.
func Run(ready map[string]string, serves ...func() error) error {
	// Before the ready line: whoever reads it may signal at once, and a signal that came before
	// Notify would end the process without stopping its servers.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)

	errs := make(chan error, len(serves))
	for _, serve := range serves {
		go func() { errs <- serve() }()
	}
	line, _ := json.Marshal(ready)
	fmt.Println(string(line))

	select {
	case <-sig:
		return nil
	case err := <-errs:
		return err
	}
}

// Shutdown stops hs, giving the requests it is answering a second to finish.
func Shutdown(hs *http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return hs.Shutdown(ctx)
}

// DecodeJSON reads a request body into v, refusing fields v does not have.
func DecodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// WriteJSON answers with code and v as JSON.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
