package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// errorAnswer is what a test expects of an error answer of /graphql.
type errorAnswer struct {
	status      int
	contentType string // "" means application/json
	code        string
	message     string // a part of the message
	allow       string // the Allow header, when the status is 405
}

// checkErrorAnswer checks that an answer of /graphql has want's status, content type and
// code, and the one shape every error answer has: exactly {"errors":[one error with a
// message and extensions.code], "data": null}, nothing else, and nothing of what was
// sent (marker, when set) repeated back.
func checkErrorAnswer(t *testing.T, resp *http.Response, body []byte, want errorAnswer, marker string) {
	t.Helper()
	if want.contentType == "" {
		want.contentType = "application/json"
	}
	if resp.StatusCode != want.status || resp.Header.Get("Content-Type") != want.contentType {
		t.Errorf("got %d %q, want %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), want.status, want.contentType, body)
	}
	if want.allow != "" && resp.Header.Get("Allow") != want.allow {
		t.Errorf("Allow: got %q, want %q", resp.Header.Get("Allow"), want.allow)
	}
	if resp.Request != nil && resp.Request.Method == http.MethodHead {
		return // no body to read
	}
	var shape map[string]json.RawMessage
	if err := json.Unmarshal(body, &shape); err != nil {
		t.Fatalf("body is not one JSON object (%v): %s", err, body)
	}
	var errs []struct {
		Message    string
		Extensions map[string]json.RawMessage
	}
	if len(shape) != 2 || string(shape["data"]) != "null" || json.Unmarshal(shape["errors"], &errs) != nil || len(errs) != 1 {
		t.Fatalf(`body %s: want exactly {"errors":[one error],"data":null}`, body)
	}
	var code string
	_ = json.Unmarshal(errs[0].Extensions["code"], &code)
	if code != want.code || !strings.Contains(errs[0].Message, want.message) {
		t.Errorf("error %q %q, want %s with a message containing %q", code, errs[0].Message, want.code, want.message)
	}
	if marker != "" && bytes.Contains(body, []byte(marker)) {
		t.Errorf("the answer repeats what was sent: %s", body)
	}
}

// send does req and returns the answer with its body read.
func send(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// Every error answer of /graphql, over every transport, has one shape, an
// extensions.code, a status that says the same, and a message that says what to send
// instead; none repeats a malformed body.
func TestErrorAnswersHaveOneShape(t *testing.T) {
	s := startServer(t, map[string]string{"MAX_BODY_BYTES": "65536"})
	key := s.devKey(t)
	bearer := "Bearer " + key
	big := `{"query":"` + strings.Repeat(" ", 70000) + `{ __typename }"}`
	const marker = "MARKER-0123456789"
	howToSend := "Content-Type: application/json"
	mutationsNeedPOST := "send mutations as a POST"

	t.Run("POST", func(t *testing.T) {
		cases := []struct {
			name   string
			method string
			header map[string]string // Authorization is the key unless set here
			body   string
			want   errorAnswer
		}{
			{"no Content-Type", "POST", map[string]string{"Content-Type": ""}, `{"query":"{ __typename }"}`,
				errorAnswer{415, "", "BAD_REQUEST", "there is no Content-Type header: send a POST with the header " + howToSend, ""}},
			{"text/plain", "POST", map[string]string{"Content-Type": "text/plain"}, `{"query":"{ __typename }"}`,
				errorAnswer{415, "", "BAD_REQUEST", "the Content-Type text/plain is not supported", ""}},
			{"application/graphql", "POST", map[string]string{"Content-Type": "application/graphql"}, `{ __typename }`,
				errorAnswer{415, "", "BAD_REQUEST", "GET with the query string ?query=", ""}},
			{"a form without a key (CSRF)", "POST", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": ""},
				`query=x`, errorAnswer{400, "", "BAD_REQUEST", "cross-site request forgery", ""}},
			{"batched", "POST", nil, `[{"query":"{ __typename }"},{"query":"{ __typename }"}]`,
				errorAnswer{400, "", "BAD_REQUEST", "batched operations", ""}},
			{"over MAX_BODY_BYTES", "POST", nil, big, errorAnswer{413, "", "PAYLOAD_TOO_LARGE", "65536 bytes", ""}},
			{"malformed JSON", "POST", nil, `{"query": "` + marker + `"` + "\x01",
				errorAnswer{400, "", "BAD_REQUEST", "not valid JSON", ""}},
			{"malformed JSON, GraphQL response type asked", "POST", map[string]string{"Accept": "application/graphql-response+json"},
				`{"query":` + marker, errorAnswer{400, "application/graphql-response+json", "BAD_REQUEST", "not valid JSON", ""}},
			{"JSON but not an object", "POST", nil, `"` + marker + `"`, errorAnswer{400, "", "BAD_REQUEST", "must be a JSON object", ""}},
			{"a field of the wrong type", "POST", nil, `{"query":["` + marker + `"]}`, errorAnswer{400, "", "BAD_REQUEST", `"query" has the wrong type`, ""}},
			{"no operation", "POST", nil, `{}`, errorAnswer{422, "", "GRAPHQL_VALIDATION_FAILED", "no operation", ""}},
			{"a key without the Bearer scheme", "POST", map[string]string{"Authorization": key}, `{"query":"{ connectSession(organizationId: 1, projectId: \"demo\", id: 1) { id } }"}`,
				errorAnswer{200, "", "UNAUTHENTICATED", "lacks the Bearer scheme", ""}},
			{"PUT", "PUT", nil, `{"query":"{ __typename }"}`, errorAnswer{405, "", "BAD_REQUEST", "does not take PUT requests: send a POST", "GET, POST, OPTIONS"}},
			{"DELETE without a key", "DELETE", map[string]string{"Authorization": ""}, ``, errorAnswer{405, "", "BAD_REQUEST", "does not take DELETE", "GET, POST, OPTIONS"}},
			{"HEAD", "HEAD", nil, ``, errorAnswer{405, "", "BAD_REQUEST", "", "GET, POST, OPTIONS"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				req, _ := http.NewRequest(c.method, s.url+"/graphql", strings.NewReader(c.body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", bearer)
				for k, v := range c.header {
					if v == "" {
						req.Header.Del(k)
					} else {
						req.Header.Set(k, v)
					}
				}
				resp, body := send(t, req)
				checkErrorAnswer(t, resp, body, c.want, marker)
			})
		}
	})

	t.Run("GET", func(t *testing.T) {
		cases := []struct {
			name  string
			query string // the raw query string
			auth  string
			want  errorAnswer
		}{
			{"a mutation", url.Values{"query": {`mutation { authenticateConnectSession(token: "x") { id } }`}}.Encode(), bearer,
				errorAnswer{405, "", "BAD_REQUEST", mutationsNeedPOST, "POST"}},
			{"a subscription", url.Values{"query": {`subscription { connectSessionEvents(organizationId: 1, projectId: "demo") { id } }`}}.Encode(), bearer,
				errorAnswer{405, "", "BAD_REQUEST", "subscriptions over a WebSocket", "POST"}},
			{"malformed variables", url.Values{"query": {`{ __typename }`}, "variables": {`{"` + marker}}.Encode(), bearer,
				errorAnswer{400, "", "BAD_REQUEST", "variables parameter is not a JSON object", ""}},
			{"malformed extensions", url.Values{"query": {`{ __typename }`}, "extensions": {`[1]`}}.Encode(), bearer,
				errorAnswer{400, "", "BAD_REQUEST", "extensions parameter is not a JSON object", ""}},
			{"malformed query string", "query=%zz" + marker, bearer, errorAnswer{400, "", "BAD_REQUEST", "query string is not valid", ""}},
			{"no preflight header (CSRF)", url.Values{"query": {`{ __typename }`}}.Encode(), "",
				errorAnswer{400, "", "BAD_REQUEST", "cross-site request forgery", ""}},
			{"no query", "", bearer, errorAnswer{422, "", "GRAPHQL_VALIDATION_FAILED", "no operation", ""}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodGet, s.url+"/graphql?"+c.query, nil)
				if c.auth != "" {
					req.Header.Set("Authorization", c.auth)
				}
				resp, body := send(t, req)
				checkErrorAnswer(t, resp, body, c.want, marker)
			})
		}
	})

	t.Run("SSE", func(t *testing.T) {
		cases := []struct {
			name string
			body string
			want errorAnswer
		}{
			{"malformed JSON", `{"query": "` + marker + `"` + "\x01", errorAnswer{400, "", "BAD_REQUEST", "not valid JSON", ""}},
			{"JSON but not an object", `"` + marker + `"`, errorAnswer{400, "", "BAD_REQUEST", "must be a JSON object", ""}},
			{"batched", `[{"query":"{ __typename }"}]`, errorAnswer{400, "", "BAD_REQUEST", "batched operations", ""}},
			{"over MAX_BODY_BYTES", big, errorAnswer{413, "", "PAYLOAD_TOO_LARGE", "MAX_BODY_BYTES", ""}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", strings.NewReader(c.body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "text/event-stream")
				req.Header.Set("Authorization", bearer)
				resp, body := send(t, req)
				// An event-stream request that is refused before it starts gets the type a
				// POST with the same Accept gets: GraphQL's own, since it names no JSON type.
				c.want.contentType = "application/graphql-response+json"
				checkErrorAnswer(t, resp, body, c.want, marker)
			})
		}
	})

	t.Run("WebSocket upgrade", func(t *testing.T) {
		upgrade := map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "graphql-transport-ws"}
		cases := []struct {
			name   string
			method string
			change map[string]string // over upgrade; "" removes a header
			want   errorAnswer
		}{
			{"no Connection: Upgrade", "GET", map[string]string{"Connection": ""}, errorAnswer{426, "", "BAD_REQUEST", "Connection: Upgrade", ""}},
			{"a POST", "POST", nil, errorAnswer{405, "", "BAD_REQUEST", "must be a GET", "GET"}},
			{"no Sec-WebSocket-Key", "GET", map[string]string{"Sec-WebSocket-Key": ""}, errorAnswer{400, "", "BAD_REQUEST", "Sec-WebSocket-Key", ""}},
			{"another site's Origin", "GET", map[string]string{"Origin": "https://elsewhere.example"}, errorAnswer{403, "", "FORBIDDEN", "CORS_ALLOWED_ORIGINS", ""}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				req, _ := http.NewRequest(c.method, s.url+"/graphql", nil)
				for k, v := range upgrade {
					req.Header.Set(k, v)
				}
				for k, v := range c.change {
					if v == "" {
						req.Header.Del(k)
					} else {
						req.Header.Set(k, v)
					}
				}
				resp, body := send(t, req)
				checkErrorAnswer(t, resp, body, c.want, "")
				if resp.StatusCode == http.StatusUpgradeRequired && resp.Header.Get("Upgrade") != "websocket" {
					t.Errorf("426 without Upgrade: websocket")
				}
			})
		}
		// An Upgrade to anything else is ignored, as HTTP allows: curl --http2 on a
		// cleartext URL sends "Upgrade: h2c" and gets its answer in HTTP/1.1.
		req, _ := http.NewRequest(http.MethodGet, s.url+"/graphql?"+url.Values{"query": {`{ __typename }`}}.Encode(), nil)
		req.Header.Set("Authorization", bearer)
		req.Header.Set("Connection", "Upgrade, HTTP2-Settings")
		req.Header.Set("Upgrade", "h2c")
		if resp, body := send(t, req); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"__typename":"Query"`) {
			t.Errorf("Upgrade: h2c: got %d %s, want the query's answer", resp.StatusCode, body)
		}
	})

	t.Run("WebSocket connection_init", func(t *testing.T) {
		// A key without its scheme in connection_init is told so, as over HTTP.
		c := dialWS(t, s, protoTransportWS, nil, map[string]any{"Authorization": key})
		c.subscribe("1", eventsSubscription, map[string]any{"org": 1, "project": "demo"})
		m := c.next()
		if m.ID != "1" || !strings.Contains(string(m.Payload), "lacks the Bearer scheme") || !strings.Contains(string(m.Payload), "UNAUTHENTICATED") {
			t.Errorf("subscription with a key without Bearer: got %s %s, want UNAUTHENTICATED saying the scheme is missing", m.Type, m.Payload)
		}
	})
}

// The stream gate's refusal (MAX_STREAMS) has the same shape as every other.
func TestStreamRefusalHasTheErrorShape(t *testing.T) {
	s := startServer(t, map[string]string{"MAX_STREAMS": "1"})
	key := s.devKey(t)
	dialWS(t, s, protoTransportWS, nil, map[string]any{"Authorization": "Bearer " + key})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.url, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{protoTransportWS}})
	if err == nil || resp == nil {
		t.Fatalf("a second socket over MAX_STREAMS=1: err %v, want a refusal", err)
	}
	body, _ := io.ReadAll(resp.Body)
	checkErrorAnswer(t, resp, body, errorAnswer{503, "", "CONNECTION_LIMIT_EXCEEDED", "retry shortly", ""}, "")
}
