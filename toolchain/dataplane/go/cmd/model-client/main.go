// model-client is the test load generator: a proxyless gRPC client that takes its routes from
// istiod over xDS (grpc-go's xds resolver, istiod's "grpc" generator) and sends Predict requests
// to xds:///<service>.<namespace>.svc.cluster.local:<port> at a steady rate, with or without
// headers, counting which version answered each.
//
//	model-client --xds 127.0.0.1:15010 --target xds:///model-service.default.svc.cluster.local:80 \
//	    --admin 127.0.0.1:0
//
// Once its admin endpoint listens it prints one JSON line to stdout: {"admin":"127.0.0.1:PORT"}.
//
// Admin (HTTP, loopback):
//
//	POST /send    {"count":N,"rps":R,"headers":{"x-canary-version":"v2"}} sends N requests at R per
//	              second and answers when all are done: {"sent":N,"versions":{"v1":n},"errors":{"Unavailable":n},"peers":{"127.0.0.2:P":n}}
//	POST /stream  {"rps":R,"headers":{...}} starts a steady stream in the background (one at a time)
//	GET  /stream  what the stream has seen so far, plus lastSeenMs: the Unix time (ms) of the last
//	              successful answer from each version, and lastPeerMs: of the last answer (or
//	              failure) from each backend address
//	DELETE /stream  stops the stream and answers with its final counts
//
// Every connection it opens, to istiod and to the backends, is refused unless the address is in
// 127.0.0.0/8: no request can leave the machine. It stops on SIGTERM or SIGINT.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"model-canary/toolchain/dataplane/internal/loopback"
	"model-canary/toolchain/dataplane/internal/model"
	"model-canary/toolchain/dataplane/internal/serve"

	_ "google.golang.org/grpc/xds" // registers the xds:/// resolver and balancers
)

const maxInFlight = 256

type tally struct {
	mu       sync.Mutex
	Sent     int              `json:"sent"`
	Versions map[string]int   `json:"versions"`
	Errors   map[string]int   `json:"errors"`
	Peers    map[string]int   `json:"peers"`
	LastSeen map[string]int64 `json:"lastSeenMs"`
	LastPeer map[string]int64 `json:"lastPeerMs"`
}

func newTally() *tally {
	return &tally{Versions: map[string]int{}, Errors: map[string]int{}, Peers: map[string]int{}, LastSeen: map[string]int64{}, LastPeer: map[string]int64{}}
}

func (t *tally) record(version string, p *peer.Peer, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.Sent++
	if p != nil && p.Addr != nil {
		t.Peers[p.Addr.String()]++
		t.LastPeer[p.Addr.String()] = time.Now().UnixMilli()
	}
	if err != nil {
		t.Errors[status.Code(err).String()]++
		return
	}
	t.Versions[version]++
	t.LastSeen[version] = time.Now().UnixMilli()
}

func (t *tally) snapshot() map[string]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	return map[string]any{"sent": t.Sent, "versions": maps.Clone(t.Versions), "errors": maps.Clone(t.Errors), "peers": maps.Clone(t.Peers), "lastSeenMs": maps.Clone(t.LastSeen), "lastPeerMs": maps.Clone(t.LastPeer)}
}

type load struct {
	Count   int               `json:"count"`
	RPS     float64           `json:"rps"`
	Headers map[string]string `json:"headers"`
}

func (l load) validate(stream bool) error {
	if !stream && (l.Count < 1 || l.Count > 1_000_000) {
		return fmt.Errorf("`count` must be an integer from 1 to 1000000, got %d", l.Count)
	}
	if math.IsNaN(l.RPS) || l.RPS <= 0 || l.RPS > 20000 {
		return fmt.Errorf("`rps` must be a number above 0 and at most 20000, got %v", l.RPS)
	}
	return nil
}

type client struct {
	conn *grpc.ClientConn
}

func (c *client) predict(ctx context.Context, headers map[string]string, t *tally) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if len(headers) > 0 {
		pairs := make([]string, 0, 2*len(headers))
		for k, v := range headers {
			pairs = append(pairs, k, v)
		}
		ctx = metadata.AppendToOutgoingContext(ctx, pairs...)
	}
	req, _ := structpb.NewStruct(map[string]any{"x": 1.0})
	resp := new(structpb.Struct)
	var p peer.Peer
	err := c.conn.Invoke(ctx, model.PredictMethod, req, resp, grpc.Peer(&p))
	version := ""
	if err == nil {
		version = resp.GetFields()["version"].GetStringValue()
	}
	t.record(version, &p, err)
}

// pace sends requests at rps until count is reached (count 0: until ctx ends), at most
// maxInFlight at once, and waits for the last answer.
func (c *client) pace(ctx context.Context, l load, t *tally) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxInFlight)
	start := time.Now()
	interval := time.Duration(float64(time.Second) / l.RPS)
	for i := 0; l.Count == 0 || i < l.Count; i++ {
		wait := time.Until(start.Add(time.Duration(i) * interval))
		if wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			c.predict(context.Background(), l.Headers, t)
		}()
	}
	wg.Wait()
}

func main() {
	xdsAddr := flag.String("xds", "127.0.0.1:15010", "istiod's plaintext xDS address (127.0.0.0/8 only)")
	target := flag.String("target", "", "xds:///<service>.<namespace>.svc.cluster.local:<service port>")
	admin := flag.String("admin", "127.0.0.1:0", "admin HTTP listen address (127.0.0.0/8 only)")
	namespace := flag.String("namespace", "default", "the namespace the client presents to istiod")
	name := flag.String("name", "model-client", "the workload name the client presents to istiod (its node id is sidecar~127.0.0.1~<name>.<namespace>~...)")
	flag.Parse()
	if err := run(*xdsAddr, *target, *admin, *namespace, *name); err != nil {
		fmt.Fprintf(os.Stderr, "model-client: %v\n", err)
		os.Exit(1)
	}
}

func run(xdsAddr, target, admin, namespace, name string) error {
	if target == "" {
		return errors.New("--target is required")
	}
	if err := loopback.Check(xdsAddr); err != nil {
		return fmt.Errorf("--xds: %w", err)
	}
	// istiod's "grpc" generator answers proxyless clients; without it istiod sends Envoy
	// listeners that grpc-go rejects.
	bootstrap, _ := json.Marshal(map[string]any{
		"xds_servers": []any{map[string]any{
			"server_uri":      xdsAddr,
			"channel_creds":   []any{map[string]string{"type": "insecure"}},
			"server_features": []string{"xds_v3"},
		}},
		"node": map[string]any{
			"id":       fmt.Sprintf("sidecar~127.0.0.1~%s.%s~%s.svc.cluster.local", name, namespace, namespace),
			"metadata": map[string]any{"GENERATOR": "grpc", "NAMESPACE": namespace, "INSTANCE_IPS": "127.0.0.1"},
			"locality": map[string]any{},
		},
	})
	// grpc-go reads its bootstrap from the environment when it initialises, before main runs:
	// with a different (or no) bootstrap there, start this program again with ours, in place
	// (same process id).
	if os.Getenv("GRPC_XDS_BOOTSTRAP_CONFIG") != string(bootstrap) || os.Getenv("GRPC_XDS_BOOTSTRAP") != "" {
		env := []string{"GRPC_XDS_BOOTSTRAP_CONFIG=" + string(bootstrap)}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "GRPC_XDS_BOOTSTRAP=") && !strings.HasPrefix(kv, "GRPC_XDS_BOOTSTRAP_CONFIG=") {
				env = append(env, kv)
			}
		}
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("cannot find this program to start it with the xDS bootstrap: %w", err)
		}
		return syscall.Exec(self, os.Args, env)
	}

	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(loopback.Dial))
	if err != nil {
		return fmt.Errorf("cannot create a client for %s: %w", target, err)
	}
	defer conn.Close()
	c := &client{conn: conn}

	var (
		mu           sync.Mutex
		streamTally  *tally
		streamCancel context.CancelFunc
		streamDone   chan struct{}
	)
	decode := func(w http.ResponseWriter, r *http.Request, stream bool) (load, bool) {
		var l load
		if err := serve.DecodeJSON(r, &l); err != nil {
			serve.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "the body must be a JSON object with count, rps and headers: " + err.Error()})
			return l, false
		}
		if err := l.validate(stream); err != nil {
			serve.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return l, false
		}
		return l, true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /send", func(w http.ResponseWriter, r *http.Request) {
		l, ok := decode(w, r, false)
		if !ok {
			return
		}
		t := newTally()
		c.pace(r.Context(), l, t)
		serve.WriteJSON(w, http.StatusOK, t.snapshot())
	})
	mux.HandleFunc("POST /stream", func(w http.ResponseWriter, r *http.Request) {
		l, ok := decode(w, r, true)
		if !ok {
			return
		}
		l.Count = 0
		mu.Lock()
		defer mu.Unlock()
		if streamCancel != nil {
			serve.WriteJSON(w, http.StatusConflict, map[string]string{"error": "a stream is already running; DELETE /stream first"})
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		t, done := newTally(), make(chan struct{})
		streamTally, streamCancel, streamDone = t, cancel, done
		go func() {
			defer close(done)
			c.pace(ctx, l, t)
		}()
		serve.WriteJSON(w, http.StatusOK, map[string]any{"rps": l.RPS, "headers": l.Headers})
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		t := streamTally
		mu.Unlock()
		if t == nil {
			serve.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "no stream has run; POST /stream starts one"})
			return
		}
		serve.WriteJSON(w, http.StatusOK, t.snapshot())
	})
	mux.HandleFunc("DELETE /stream", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cancel, done, t := streamCancel, streamDone, streamTally
		streamCancel = nil
		mu.Unlock()
		if cancel == nil {
			serve.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "no stream is running"})
			return
		}
		cancel()
		<-done
		serve.WriteJSON(w, http.StatusOK, t.snapshot())
	})

	al, err := loopback.Listen(admin)
	if err != nil {
		return fmt.Errorf("--admin: %w", err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if err := serve.Run(map[string]string{"admin": al.Addr().String()}, func() error { return hs.Serve(al) }); err != nil {
		return err
	}
	mu.Lock()
	if streamCancel != nil {
		streamCancel()
	}
	mu.Unlock()
	return serve.Shutdown(hs)
}
