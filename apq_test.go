package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
)

// apqRequest sends an APQ request: the hash, and the query when query is not "".
func apqRequest(t *testing.T, s *testServer, key, method, query, hash string) *gqlResponse {
	t.Helper()
	ext := `{"persistedQuery":{"version":1,"sha256Hash":"` + hash + `"}}`
	var req *http.Request
	if method == http.MethodGet {
		v := url.Values{"extensions": {ext}}
		if query != "" {
			v.Set("query", query)
		}
		req, _ = http.NewRequest(http.MethodGet, s.url+"/graphql?"+v.Encode(), nil)
	} else {
		body := map[string]any{"extensions": json.RawMessage(ext)}
		if query != "" {
			body["query"] = query
		}
		b, _ := json.Marshal(body)
		req, _ = http.NewRequest(http.MethodPost, s.url+"/graphql", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %d: %s", method, resp.StatusCode, raw)
	}
	out.status = resp.StatusCode
	return &out
}

func sha(q string) string {
	sum := sha256.Sum256([]byte(q))
	return hex.EncodeToString(sum[:])
}

func TestPersistedQueriesSharedAcrossInstances(t *testing.T) {
	r := newSharedRedis(t)
	key, err := r.apikey(t, "create", "-org", "1", "-role", "read")
	if err != nil {
		t.Fatal(err)
	}
	a, b := startServer(t, r.env()), startServer(t, r.env())
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		t.Run(method, func(t *testing.T) {
			query := `query APQ` + method + ` { connectSessions(organizationId: 1, projectId: "demo") { totalCount } }`
			hash := sha(query)
			if got := apqRequest(t, a, key, method, "", hash); got.code() != "PERSISTED_QUERY_NOT_FOUND" {
				t.Fatalf("unknown hash: got %+v, want PERSISTED_QUERY_NOT_FOUND", got.Errors)
			}
			if got := apqRequest(t, a, key, method, query, hash); len(got.Errors) > 0 {
				t.Fatalf("registering: %+v", got.Errors)
			}
			// Registered on A, known on A and on B by hash alone.
			for name, s := range map[string]*testServer{"A": a, "B": b} {
				got := apqRequest(t, s, key, method, "", hash)
				if len(got.Errors) > 0 || string(got.Data) != `{"connectSessions":{"totalCount":0}}` {
					t.Errorf("hash only on %s: data %s errors %+v", name, got.Data, got.Errors)
				}
			}
		})
	}
	t.Run("hash mismatch", func(t *testing.T) {
		query := `{ connectSessions(organizationId: 1, projectId: "demo") { totalCount } }`
		got := apqRequest(t, a, key, http.MethodPost, query, sha(query+" "))
		if got.code() != "BAD_REQUEST" {
			t.Errorf("mismatched hash: got %+v, want BAD_REQUEST", got.Errors)
		}
		if again := apqRequest(t, b, key, http.MethodPost, "", sha(query+" ")); again.code() != "PERSISTED_QUERY_NOT_FOUND" {
			t.Errorf("a mismatched hash was registered: %+v", again.Errors)
		}
	})
	t.Run("not a hash", func(t *testing.T) {
		if got := apqRequest(t, a, key, http.MethodPost, "", "../../etc"); got.code() != "PERSISTED_QUERY_NOT_FOUND" {
			t.Errorf("got %+v, want PERSISTED_QUERY_NOT_FOUND", got.Errors)
		}
	})
}
