package main

import (
	"strings"
	"testing"

	"connectsession/internal/redistest"
)

// With REDIS_URL on one server, connectSession is answered from the read cache once read,
// a mutation's answer and the next read agree, and /metrics shows the cache's figures.
// Without a real single server (miniredis cannot track keys) the service says it runs
// without the cache.
func TestReadCacheThroughTheService(t *testing.T) {
	r := newSharedRedis(t)
	s := startServer(t, r.env())
	if rb := redistest.Real(t); rb == nil || rb.URL() == "" {
		if !strings.Contains(s.logs.String(), "read cache off") {
			t.Fatalf("on miniredis the service should log that the read cache is off:\n%s", s.logs.String())
		}
		t.Skip(redistest.NoRealRedis + " (a single server, for the read cache itself)")
	}
	key, err := r.apikey(t, "create", "-org", "1", "-role", "write")
	if err != nil {
		t.Fatal(err)
	}
	auth := "Bearer " + key
	var created struct {
		CreateConnectSession struct{ ConnectSession struct{ ID int } }
	}
	s.mustData(t, auth, `mutation { createConnectSession(input: {organizationId: 1, projectId: "rc", originOwnerId: "o", originOwnerName: "Before"}) { connectSession { id } } }`, nil, &created)
	id := created.CreateConnectSession.ConnectSession.ID
	read := `query($id: Int!) { connectSession(organizationId: 1, projectId: "rc", id: $id) { originOwnerName } }`
	vars := map[string]any{"id": id}
	var got struct {
		ConnectSession struct{ OriginOwnerName string }
	}
	for range 3 {
		s.mustData(t, auth, read, vars, &got)
	}
	if hits := s.scrape(t, "connectsession_read_cache_hits_total"); hits < 2 {
		t.Fatalf("three reads of one session: %v read cache hits, want at least 2", hits)
	}
	if n := s.scrape(t, "connectsession_read_cache_entries"); n < 1 {
		t.Fatalf("connectsession_read_cache_entries = %v", n)
	}
	s.mustData(t, auth, `mutation($id: Int!) { updateConnectSession(input: {organizationId: 1, projectId: "rc", id: $id, originOwnerName: "After"}) { id } }`, vars, nil)
	s.mustData(t, auth, read, vars, &got)
	if got.ConnectSession.OriginOwnerName != "After" {
		t.Fatalf("the read after an update shows %q", got.ConnectSession.OriginOwnerName)
	}
}
