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
