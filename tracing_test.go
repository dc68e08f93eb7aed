package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

func TestTracesReachTheCollector(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/v1/traces" && r.Header.Get("Content-Type") == "application/x-protobuf" {
			mu.Lock()
			bodies = append(bodies, b)
			mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()

	s := startServer(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "OTEL_SERVICE_NAME": "cs-under-test"})
	key := s.devKey(t)
	s.mustData(t, "Bearer "+key, `{ connectSessions(organizationId: 1, projectId: "demo") { totalCount } }`, nil, nil)
	if err := s.stop(); err != nil { // flushes the batch
		t.Fatal(err)
	}
	mu.Lock()
	all := bytes.Join(bodies, nil)
	mu.Unlock()
	// OTLP protobuf carries names as plain bytes.
	for _, want := range []string{"cs-under-test", "graphql connectSessions", "POST /graphql", "evalsha"} {
		if !bytes.Contains(all, []byte(want)) {
			t.Errorf("exported spans lack %q (%d bytes from %d exports)", want, len(all), len(bodies))
		}
	}
}
