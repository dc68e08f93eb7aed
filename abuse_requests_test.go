package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A malformed body used to come back in the error message, escaped: 1 MiB of `<` or of
// byte 0x01 after `{"query":` answered about 6 MB, without a key. Every transport now
// answers a short BAD_REQUEST whose size does not depend on the request.
func TestAbuseMalformedBodyEcho(t *testing.T) {
	s := startServer(t, nil)
	const limit = 1 << 20 // MAX_BODY_BYTES' default
	check := func(what string, resp *http.Response, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 10<<20))
		var body gqlResponse
		if len(raw) >= 1024 || json.Unmarshal(raw, &body) != nil || body.code() != "BAD_REQUEST" || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: %d, %d bytes %.300s; want 400 BAD_REQUEST under 1 KiB", what, resp.StatusCode, len(raw), raw)
		}
	}
	for _, fill := range []byte{'<', 0x01, '"'} {
		body := append([]byte(`{"query":`), bytes.Repeat([]byte{fill}, limit-len(`{"query":`))...)
		for _, accept := range []string{"", "application/json", "text/event-stream"} {
			req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if accept != "" {
				req.Header.Set("Accept", accept)
			}
			resp, err := http.DefaultClient.Do(req)
			check("POST of "+strings.Repeat(string(fill), 3)+"... with Accept "+accept, resp, err)
		}
	}
	// GET parameters: the same bound, and a code where gqlgen gave none.
	junk := strings.Repeat("<\x01", 60<<10) // 360 KiB once escaped, within the header limit
	for _, param := range []string{"variables", "extensions"} {
		q := url.Values{"query": {"{ __typename }"}, param: {`{"a":` + junk}}
		req, _ := http.NewRequest(http.MethodGet, s.url+"/graphql?"+q.Encode(), nil)
		req.Header.Set("Apollo-Require-Preflight", "true")
		resp, err := http.DefaultClient.Do(req)
		check("GET with a malformed "+param, resp, err)
	}
	req, _ := http.NewRequest(http.MethodGet, s.url+"/graphql?query=%zz", nil)
	req.Header.Set("Apollo-Require-Preflight", "true")
	resp, err := http.DefaultClient.Do(req)
	check("GET with a malformed query string", resp, err)
}

// Only what gqlgen serves as a stream counts as one. A GET naming text/event-stream in
// its Accept is an ordinary query: it takes no stream place and has REQUEST_TIMEOUT. A
// JSON POST naming it is served as SSE by gqlgen, so it is a stream (refused when they
// are full), and a query or mutation over it still has the deadline.
func TestAbuseStreamAcceptHeader(t *testing.T) {
	s := startServer(t, map[string]string{"MAX_STREAMS": "1", "REQUEST_TIMEOUT": "1ns"})
	key := s.devKey(t)
	const query = `{ connectSession(organizationId: 1, projectId: "demo", id: 1) { id } }`
	const accept = "application/json, text/event-stream"
	send := func(method string) (*http.Response, []byte) {
		t.Helper()
		var req *http.Request
		if method == http.MethodGet {
			req, _ = http.NewRequest(method, s.url+"/graphql?"+url.Values{"query": {query}}.Encode(), nil)
		} else {
			b, _ := json.Marshal(map[string]any{"query": query})
			req, _ = http.NewRequest(method, s.url+"/graphql", bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Accept", accept)
		req.Header.Set("Authorization", "Bearer "+key)
		return send(t, req)
	}
	// The deadline has passed before anything runs: the answer is UNAVAILABLE, or
	// nothing at all when gqlgen finds the context over before executing; without a
	// deadline it would be {"data":{"connectSession":null}}.
	timedOut := func(what string, raw []byte) {
		t.Helper()
		if bytes.Contains(raw, []byte(`"connectSession"`)) {
			t.Fatalf("%s: %s, want it cut by REQUEST_TIMEOUT", what, raw)
		}
	}

	// With the one stream place free: the POST is served as SSE, with the deadline.
	resp, raw := send(http.MethodPost)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("POST with Accept %q: %d %q %s, want an SSE answer", accept, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	timedOut("query over SSE", raw)

	// The place taken: the GET still runs, as an ordinary request; the POST is a stream.
	dialWS(t, s, protoTransportWS, nil, map[string]any{"Authorization": "Bearer " + key})
	resp, raw = send(http.MethodGet)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET with Accept %q while streams are full: %d %s", accept, resp.StatusCode, raw)
	}
	timedOut("GET naming text/event-stream", raw)
	if resp, raw = send(http.MethodPost); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("POST served as SSE while streams are full: %d %s, want 503", resp.StatusCode, raw)
	}
}
