package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Seen: one read key registered 1,000 distinct 32 KiB documents (mostly a comment) in
// 2.4 s, +33 MB of Redis kept for APQ_TTL, and requests answered RATE_LIMITED were
// registered too. Each key now registers at most APQ_REGISTRATIONS_PER_HOUR queries,
// and only for operations that were admitted.
func TestAbusePersistedQueryQuota(t *testing.T) {
	shared := newSharedRedis(t)
	newKey := func(label string) string {
		t.Helper()
		k, err := shared.apikey(t, "create", "-org", "1", "-role", "read", "-label", label)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + k
	}
	busy, other, limited := newKey("busy"), newKey("other"), newKey("limited")
	env := shared.env()
	env["APQ_REGISTRATIONS_PER_HOUR"] = "3"
	s := startServer(t, env)
	post := func(s *testServer, auth string, body map[string]any) *gqlResponse {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", auth)
		_, r, _ := raw(t, req)
		return r
	}
	// Large documents, as in the attack: a comment of nearly DOCUMENT_SIZE_LIMIT.
	query := func(who string, i int) string {
		return fmt.Sprintf("# %s %d %s\n{ __typename }", who, i, strings.Repeat("x", 30<<10))
	}
	apqKeys := func() int {
		n := 0
		for k := range shared.dump(t) {
			if strings.Contains(k, ":apq:") {
				n++
			}
		}
		return n
	}
	before := apqKeys()

	const sent = 20
	for i := range sent {
		// Past the quota the query still runs; it is only not stored.
		if r := post(s, busy, apqBody(query("busy", i))); len(r.Errors) > 0 || !strings.Contains(string(r.Data), "__typename") {
			t.Fatalf("query %d: data %s, errors %+v", i, r.Data, r.Errors)
		}
	}
	for i := range sent {
		r := hashOnly(t, s, busy, query("busy", i))
		switch {
		case i < 3 && len(r.Errors) > 0:
			t.Errorf("query %d, within the quota, was not registered: %+v", i, r.Errors)
		case i >= 3 && r.code() != "PERSISTED_QUERY_NOT_FOUND":
			t.Errorf("query %d, past the quota of 3, was registered: %+v", i, r.Errors)
		}
	}
	// Sending a registered query again costs nothing, and another key has its own quota.
	if r := post(s, busy, apqBody(query("busy", 0))); len(r.Errors) > 0 {
		t.Errorf("a registered query sent again: %+v", r.Errors)
	}
	if r := post(s, other, apqBody(query("other", 0))); len(r.Errors) > 0 {
		t.Fatalf("another key's query: %+v", r.Errors)
	}
	if r := hashOnly(t, s, other, query("other", 0)); len(r.Errors) > 0 {
		t.Errorf("another key could not register: %+v", r.Errors)
	}
	// The quota is shared by every instance.
	s2 := startServer(t, env)
	if post(s2, busy, apqBody(query("busy", 100))); hashOnly(t, s, busy, query("busy", 100)).code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Errorf("another instance registered past the key's quota")
	}
	if got := apqKeys() - before; got != 4 {
		t.Errorf("%d persisted queries stored in Redis after %d distinct ones of two keys, want 4 (3 + 1)", got, sent+2)
	}

	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("connectsession_apq_registrations_refused_total %d", sent-3); !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %q", want)
	}

	// An operation refused by admission (here API_KEY_RATE_LIMIT) registers nothing.
	env["API_KEY_RATE_LIMIT"] = "1"
	rl := startServer(t, env)
	refused := -1
	for i := 0; i < 20 && refused < 0; i++ {
		if r := post(rl, limited, apqBody(query("limited", i))); r.code() == "RATE_LIMITED" {
			refused = i
		} else if len(r.Errors) > 0 {
			t.Fatalf("query %d: %+v", i, r.Errors)
		}
	}
	if refused < 0 {
		t.Fatal("20 requests at once with a limit of 1 a second: none refused")
	}
	if r := hashOnly(t, s, limited, query("limited", refused)); r.code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Errorf("a query answered RATE_LIMITED was registered: %+v", r.Errors)
	}
}
