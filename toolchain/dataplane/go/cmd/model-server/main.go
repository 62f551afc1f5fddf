// model-server is a test model backend: a gRPC server on a loopback address that answers
// Predict with its version and a score, and an HTTP server (same address, another port) with
// Istio's standard request metrics for what it answered, a prediction histogram, and an admin
// endpoint to change its behaviour while it runs.
//
//	model-server --grpc 127.0.0.2:0 --http 127.0.0.2:0 --app model --version v2 \
//	    --workload model-v2 --namespace default --service model-service
//
// Once both listen it prints one JSON line to stdout: {"grpc":"127.0.0.2:PORT","http":"127.0.0.2:PORT"}.
//
// HTTP:
//
//	GET /metrics      Prometheus text format (istio_requests_total, istio_request_duration_milliseconds,
//	                  model_prediction_score)
//	GET /behaviour    the current behaviour as JSON
//	PUT /behaviour    change it: {"errorRatio":0.05,"latencyMs":20,"predictionShift":0.2,"errorCode":14}
//	GET /counts       requests answered so far, and when /metrics was last served:
//	                  {"ok":N,"failed":N,"scrapes":N,"lastScrapeMs":UNIX_MS}
//
// It refuses to listen outside 127.0.0.0/8 and stops on SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"model-canary/toolchain/dataplane/internal/loopback"
	"model-canary/toolchain/dataplane/internal/model"
	"model-canary/toolchain/dataplane/internal/serve"
)

// Istio's default request duration buckets (ms).
var istioDurationBuckets = []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// behaviour is what the admin endpoint changes.
type behaviour struct {
	// Share of requests answered with errorCode, 0 to 1; exact over any run of requests
	// (request n fails when floor(n*ratio) steps up), not random.
	ErrorRatio float64 `json:"errorRatio"`
	// Added to every request's handling time.
	LatencyMs float64 `json:"latencyMs"`
	// Added to every prediction score (scores are clamped to 0..1).
	PredictionShift float64 `json:"predictionShift"`
	// gRPC status code of failing requests (14 = UNAVAILABLE).
	ErrorCode int `json:"errorCode"`
}

func (b behaviour) validate() error {
	switch {
	case math.IsNaN(b.ErrorRatio) || b.ErrorRatio < 0 || b.ErrorRatio > 1:
		return fmt.Errorf("`errorRatio` must be a number from 0 to 1, got %v", b.ErrorRatio)
	case math.IsNaN(b.LatencyMs) || b.LatencyMs < 0 || b.LatencyMs > 60000:
		return fmt.Errorf("`latencyMs` must be a number from 0 to 60000, got %v", b.LatencyMs)
	case math.IsNaN(b.PredictionShift) || b.PredictionShift < -1 || b.PredictionShift > 1:
		return fmt.Errorf("`predictionShift` must be a number from -1 to 1, got %v", b.PredictionShift)
	case b.ErrorCode < 1 || b.ErrorCode > 16:
		return fmt.Errorf("`errorCode` must be a gRPC status code from 1 to 16, got %d", b.ErrorCode)
	}
	return nil
}

type server struct {
	version, workload string

	mu       sync.Mutex
	b        behaviour
	served   uint64 // requests handled, for the exact error share
	ok       uint64
	failed   uint64
	scraped  int64 // Unix ms of the last /metrics response
	scrapes  uint64
	rng      *rand.Rand
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	scores   prometheus.Observer
}

func (s *server) Predict(ctx context.Context, req *structpb.Struct) (*structpb.Struct, error) {
	start := time.Now()
	s.mu.Lock()
	b := s.b
	n := s.served
	s.served++
	fail := math.Floor(float64(n+1)*b.ErrorRatio) > math.Floor(float64(n)*b.ErrorRatio)
	// A triangular distribution on 0..1 (mean of two uniforms), moved by the shift.
	score := (s.rng.Float64()+s.rng.Float64())/2 + b.PredictionShift
	s.mu.Unlock()
	score = math.Min(1, math.Max(0, score))

	if b.LatencyMs > 0 {
		select {
		case <-time.After(time.Duration(b.LatencyMs * float64(time.Millisecond))):
		case <-ctx.Done():
		}
	}
	code := codes.OK
	if fail {
		code = codes.Code(b.ErrorCode)
	}
	// As Istio reports gRPC: the HTTP status is 200 whatever the gRPC status (it travels in the
	// trailers), and grpc_response_status carries the gRPC code.
	labels := prometheus.Labels{"response_code": "200", "grpc_response_status": strconv.Itoa(int(code))}
	s.requests.With(labels).Inc()
	s.duration.With(labels).Observe(float64(time.Since(start).Microseconds()) / 1000)
	s.mu.Lock()
	if fail {
		s.failed++
	} else {
		s.ok++
	}
	s.mu.Unlock()
	if fail {
		return nil, status.Errorf(code, "%s fails %.4g of its requests", s.workload, b.ErrorRatio)
	}
	s.scores.Observe(score)
	return structpb.NewStruct(map[string]any{"version": s.version, "workload": s.workload, "score": score})
}

func main() {
	grpcAddr := flag.String("grpc", "127.0.0.2:0", "gRPC listen address (127.0.0.0/8 only)")
	httpAddr := flag.String("http", "", "HTTP listen address for /metrics and /behaviour (127.0.0.0/8 only; default: the gRPC host, any port)")
	app := flag.String("app", "model", "the app label (destination_app)")
	version := flag.String("version", "", "the model version this backend serves (destination_version, the prediction histogram's version label)")
	workload := flag.String("workload", "", "destination_workload (default <app>-<version>, the Deployment's name)")
	namespace := flag.String("namespace", "default", "destination_workload_namespace")
	service := flag.String("service", "", "the Kubernetes Service name (destination_service_name)")
	seed := flag.Uint64("seed", 1, "seed of the prediction scores")
	flag.Parse()
	if err := run(*grpcAddr, *httpAddr, *app, *version, *workload, *namespace, *service, *seed); err != nil {
		fmt.Fprintf(os.Stderr, "model-server: %v\n", err)
		os.Exit(1)
	}
}

func run(grpcAddr, httpAddr, app, version, workload, namespace, service string, seed uint64) error {
	if version == "" {
		return errors.New("--version is required")
	}
	if workload == "" {
		workload = app + "-" + version
	}
	if httpAddr == "" {
		host, _, err := net.SplitHostPort(grpcAddr)
		if err != nil {
			return err
		}
		httpAddr = host + ":0"
	}
	registry := prometheus.NewRegistry()
	destination := prometheus.Labels{
		"reporter":                       "destination",
		"source_workload":                "unknown",
		"source_workload_namespace":      "unknown",
		"destination_app":                app,
		"destination_version":            version,
		"destination_workload":           workload,
		"destination_workload_namespace": namespace,
		"destination_service":            fmt.Sprintf("%s.%s.svc.cluster.local", service, namespace),
		"destination_service_name":       service,
		"destination_service_namespace":  namespace,
		"destination_canonical_service":  app,
		"destination_canonical_revision": version,
		"request_protocol":               "grpc",
		"response_flags":                 "-",
		"connection_security_policy":     "none",
	}
	s := &server{
		version:  version,
		workload: workload,
		b:        behaviour{ErrorCode: int(codes.Unavailable)},
		rng:      rand.New(rand.NewPCG(seed, 0x6d6f64656c)),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "istio_requests_total", Help: "Requests answered, as Istio's destination proxy counts them.", ConstLabels: destination},
			[]string{"response_code", "grpc_response_status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "istio_request_duration_milliseconds", Help: "Request duration (ms), as Istio's destination proxy measures it.", ConstLabels: destination, Buckets: istioDurationBuckets},
			[]string{"response_code", "grpc_response_status"}),
	}
	scores := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "model_prediction_score", Help: "Scores of the predictions this backend answered.",
		ConstLabels: prometheus.Labels{"app": app, "workload": workload},
		Buckets:     []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}}, []string{"namespace", "version"})
	s.scores = scores.WithLabelValues(namespace, version)
	registry.MustRegister(s.requests, s.duration, scores)

	gl, err := loopback.Listen(grpcAddr)
	if err != nil {
		return fmt.Errorf("--grpc: %w", err)
	}
	hl, err := loopback.Listen(httpAddr)
	if err != nil {
		return fmt.Errorf("--http: %w", err)
	}
	gs := grpc.NewServer()
	model.Register(gs, s)

	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(registry, promhttp.HandlerOpts{})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		metrics.ServeHTTP(w, r)
		s.mu.Lock()
		s.scraped = time.Now().UnixMilli()
		s.scrapes++
		s.mu.Unlock()
	})
	mux.HandleFunc("GET /behaviour", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		b := s.b
		s.mu.Unlock()
		serve.WriteJSON(w, http.StatusOK, b)
	})
	mux.HandleFunc("PUT /behaviour", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		b := s.b
		s.mu.Unlock()
		if err := serve.DecodeJSON(r, &b); err != nil {
			serve.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "the body must be a JSON object with errorRatio, latencyMs, predictionShift, errorCode: " + err.Error()})
			return
		}
		if err := b.validate(); err != nil {
			serve.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		s.mu.Lock()
		s.b = b
		s.mu.Unlock()
		serve.WriteJSON(w, http.StatusOK, b)
	})
	mux.HandleFunc("GET /counts", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		serve.WriteJSON(w, http.StatusOK, map[string]any{"ok": s.ok, "failed": s.failed, "scrapes": s.scrapes, "lastScrapeMs": s.scraped})
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	err = serve.Run(map[string]string{"grpc": gl.Addr().String(), "http": hl.Addr().String()},
		func() error { return gs.Serve(gl) },
		func() error { return hs.Serve(hl) })
	if err != nil {
		return err
	}
	gs.Stop()
	return serve.Shutdown(hs)
}
