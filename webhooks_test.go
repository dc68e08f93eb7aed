package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// The service delivers webhooks as configured: the settings reach the dispatcher and the
// resolvers (a plain http URL to a loopback receiver needs both WEBHOOK_ALLOW_ settings),
// and the metrics count the attempts.
func TestServiceDeliversWebhooks(t *testing.T) {
	var mu sync.Mutex
	var got []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Header.Get("webhook-id")+" "+string(body))
		mu.Unlock()
	}))
	defer recv.Close()

	strict := startServer(t, nil)
	key := strict.devKey(t)
	create := `mutation($url: String!) { createWebhookEndpoint(input: {organizationId: 1, projectId: "hooks", url: $url}) { secret endpoint { id } } }`
	if code := strict.post(t, "Bearer "+key, create, map[string]any{"url": recv.URL}).code(); code != "BAD_USER_INPUT" {
		t.Fatalf("plain http by default: %q, want BAD_USER_INPUT", code)
	}
	_ = strict.stop()

	s := startServer(t, map[string]string{"WEBHOOK_ALLOW_HTTP": "true", "WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_POLL_INTERVAL": "20ms"})
	key = s.devKey(t)
	var made struct {
		CreateWebhookEndpoint struct{ Secret string }
	}
	s.mustData(t, "Bearer "+key, create, map[string]any{"url": recv.URL}, &made)
	s.mustData(t, "Bearer "+key, createMutation, createVars(1, "hooks", "owner"), nil)
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !strings.Contains(got[0], `"type":"CREATED"`) || !strings.Contains(got[0], `"originOwnerId":"owner"`) {
		t.Fatalf("received %q, want the one CREATED event; the server's log:\n%s", got, s.logs.String())
	}
	// The attempt is counted once its answer is read, just after the receiver saw it.
	var body []byte
	for {
		resp, err := http.Get(s.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), `connectsession_webhook_deliveries_total{outcome="success"} 1`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, want := range []string{
		`connectsession_webhook_deliveries_total{outcome="success"} 1`,
		`connectsession_webhook_deliveries_total{outcome="refused"} 0`,
		"connectsession_webhook_delivery_duration_seconds_count 1",
		"connectsession_webhook_lag_seconds",
		"connectsession_webhook_endpoints_delivering",
		"connectsession_webhook_endpoints_disabled_total 0",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
