package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"connectsession/internal/redistest"
)

// scaleOutRedis is the Redis that several instances share in TestAnyInstanceServesAnyRequest:
// the cluster at REDIS_CLUSTER_ADDRS when set, else what newSharedRedis picks (REDIS_URL
// or a miniredis on a loopback port).
type scaleOutRedis struct {
	env map[string]string
}

func newScaleOutRedis(t *testing.T) *scaleOutRedis {
	t.Helper()
	if addrs := os.Getenv("REDIS_CLUSTER_ADDRS"); addrs != "" {
		_, prefix := redistest.NeedCluster(t)
		return &scaleOutRedis{env: map[string]string{"REDIS_CLUSTER_ADDRS": addrs, "REDIS_KEY_PREFIX": prefix}}
	}
	return &scaleOutRedis{env: newSharedRedis(t).env()}
}

// apikey runs the apikey command against the shared Redis and returns the key.
func (r *scaleOutRedis) apikey(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"connectsession", "apikey"}, args...),
		func(k string) string { return r.env[k] }, &stdout, &stderr)
	if err != nil {
		t.Fatalf("apikey %v: %v\n%s", args, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	return lines[len(lines)-1]
}

// drainUntil reads operation op's events up to and including the CREATED event of id
// (writes of other tests' probes may come first).
func drainUntil(t *testing.T, c *wsClient, op string, id int) {
	t.Helper()
	for {
		e := c.nextEvent(op)
		if e.Code != "" {
			t.Fatalf("%s: subscription ended with %s", op, e.Code)
		}
		if e.Type == "CREATED" && e.ID == id {
			return
		}
	}
}

// TestAnyInstanceServesAnyRequest runs two instances of the service on one Redis (or the
// cluster at REDIS_CLUSTER_ADDRS) and checks that neither holds state the other needs:
// a session created on A is read, paginated, authenticated, updated and deleted on B;
// subscribers on both see every write in order; a persisted query registered on A is
// known on B by its hash.
func TestAnyInstanceServesAnyRequest(t *testing.T) {
	r := newScaleOutRedis(t)
	key := r.apikey(t, "create", "-org", "1", "-role", "write", "-label", "scale-out")
	bearer := "Bearer " + key
	// A minute's read-cache backstop: within the second A is polled below, only Redis's
	// invalidation can make it see B's writes.
	env := maps.Clone(r.env)
	env["READ_CACHE_MAX_STALENESS"] = "1m"
	a, b := startServer(t, env), startServer(t, env)
	const project = "scale{out}:1" // braces and a colon: the hash tag must survive them
	vars := func(extra map[string]any) map[string]any {
		v := map[string]any{"org": 1, "project": project}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}

	// Subscribers on both instances, each proven live by probe writes through the other
	// instance; a fence write then drains what the first one saw of the second's probes.
	subs := map[string]*wsClient{}
	for _, s := range []struct {
		name        string
		on, writeTo *testServer
	}{{"A", a, b}, {"B", b, a}} {
		c := dialWS(t, s.on, protoTransportWS, nil, map[string]any{"Authorization": bearer})
		c.subscribe(s.name, eventsSubscription, vars(nil))
		waitSubscribed(t, s.writeTo, key, c, s.name, 1, project)
		subs[s.name] = c
	}
	var fence created
	a.mustData(t, bearer, createMutation, createVars(1, project, "fence"), &fence)
	for name, c := range subs {
		drainUntil(t, c, name, fence.CreateConnectSession.ConnectSession.ID)
	}

	// Three sessions of one owner, created on A.
	var ids []int
	var token string
	for range 3 {
		var c created
		a.mustData(t, bearer, createMutation, createVars(1, project, "scale-owner"), &c)
		ids = append(ids, c.CreateConnectSession.ConnectSession.ID)
		token = c.CreateConnectSession.Token
	}
	last := ids[2]

	// Read on B.
	var one struct {
		ConnectSession *struct {
			ID        int
			ProjectID string
			Label     *string
			Status    string
		}
	}
	const read = `query($org: Int!, $project: String!, $id: Int!) { connectSession(organizationId: $org, projectId: $project, id: $id) { id projectId label status } }`
	b.mustData(t, bearer, read, vars(map[string]any{"id": last}), &one)
	if one.ConnectSession == nil || one.ConnectSession.ID != last || one.ConnectSession.ProjectID != project {
		t.Fatalf("read on B: %+v", one.ConnectSession)
	}

	// Paginate on B, newest first, filtered on the owner (an index in the tenant's slot).
	type page struct {
		ConnectSessions struct {
			TotalCount int
			Nodes      []struct{ ID int }
			PageInfo   struct {
				HasNextPage bool
				EndCursor   *string
			}
		}
	}
	const list = `query($org: Int!, $project: String!, $after: String) {
  connectSessions(organizationId: $org, projectId: $project, first: 2, after: $after, filter: {originOwnerId: "scale-owner"}) {
    totalCount nodes { id } pageInfo { hasNextPage endCursor }
  }
}`
	var p1, p2 page
	b.mustData(t, bearer, list, vars(nil), &p1)
	if got := p1.ConnectSessions; got.TotalCount != 3 || len(got.Nodes) != 2 || got.Nodes[0].ID != ids[2] || got.Nodes[1].ID != ids[1] || !got.PageInfo.HasNextPage {
		t.Fatalf("page 1 on B: %+v, want %d and %d of 3", got, ids[2], ids[1])
	}
	// The cursor B handed out works on A.
	a.mustData(t, bearer, list, vars(map[string]any{"after": *p1.ConnectSessions.PageInfo.EndCursor}), &p2)
	if got := p2.ConnectSessions; len(got.Nodes) != 1 || got.Nodes[0].ID != ids[0] || got.PageInfo.HasNextPage {
		t.Fatalf("page 2 on A: %+v, want %d alone", got, ids[0])
	}

	// Update and authenticate on B, seen on A.
	b.mustData(t, bearer, `mutation($org: Int!, $project: String!, $id: Int!) { updateConnectSession(input: {organizationId: $org, projectId: $project, id: $id, label: "from B"}) { id } }`, vars(map[string]any{"id": last}), nil)
	b.mustData(t, "", `mutation($t: String!) { authenticateConnectSession(token: $t) { id } }`, map[string]any{"t": token}, nil)
	// A may answer from its read cache until Redis's invalidation reaches it (a few
	// milliseconds: README, "Read cache"), so A is polled, for a second at most.
	pollWithin(t, time.Second, "A to see B's update and authenticate", func() (bool, string) {
		a.mustData(t, bearer, read, vars(map[string]any{"id": last}), &one)
		c := one.ConnectSession
		return c != nil && c.Label != nil && *c.Label == "from B" && c.Status == "AUTHENTICATED", fmt.Sprintf("%+v", c)
	})

	// Delete on B: gone on A, and a second delete on A finds nothing.
	var del struct{ DeleteConnectSession struct{ Deleted bool } }
	const remove = `mutation($org: Int!, $project: String!, $id: Int!) { deleteConnectSession(organizationId: $org, projectId: $project, id: $id) { deleted } }`
	b.mustData(t, bearer, remove, vars(map[string]any{"id": last}), &del)
	if !del.DeleteConnectSession.Deleted {
		t.Fatalf("delete on B: not deleted")
	}
	pollWithin(t, time.Second, "A to see B's delete", func() (bool, string) {
		a.mustData(t, bearer, read, vars(map[string]any{"id": last}), &one)
		return one.ConnectSession == nil, fmt.Sprintf("%+v", one.ConnectSession)
	})
	a.mustData(t, bearer, remove, vars(map[string]any{"id": last}), &del)
	if del.DeleteConnectSession.Deleted {
		t.Fatalf("second delete on A: deleted again")
	}

	// Both subscribers saw every write, from either instance, in write order.
	want := []struct {
		typ string
		id  int
	}{{"CREATED", ids[0]}, {"CREATED", ids[1]}, {"CREATED", ids[2]}, {"UPDATED", last}, {"AUTHENTICATED", last}, {"DELETED", last}}
	for name, c := range subs {
		for i, w := range want {
			if e := c.nextEvent(name); e.Type != w.typ || e.ID != w.id {
				t.Fatalf("event %d on %s: got %s %d (%s), want %s %d", i, name, e.Type, e.ID, e.Code, w.typ, w.id)
			}
		}
	}

	// A persisted query registered on A is known on B by its hash alone.
	query := `query ScaleOutAPQ { connectSessions(organizationId: 1, projectId: "scale{out}:1", filter: {originOwnerId: "scale-owner"}) { totalCount } }`
	hash := sha(query)
	if got := apqRequest(t, b, key, http.MethodPost, "", hash); got.code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("unknown hash on B: %+v", got.Errors)
	}
	if got := apqRequest(t, a, key, http.MethodPost, query, hash); len(got.Errors) > 0 {
		t.Fatalf("registering on A: %+v", got.Errors)
	}
	if got := apqRequest(t, b, key, http.MethodGet, "", hash); len(got.Errors) > 0 || string(got.Data) != `{"connectSessions":{"totalCount":2}}` {
		t.Fatalf("hash only on B: data %s errors %+v", got.Data, got.Errors)
	}

	// A key revoked with the apikey command is refused by both instances (announced over
	// Redis pub/sub, plain on a cluster too: a rare, global message).
	id := strings.SplitN(strings.TrimPrefix(key, "csk_"), "_", 2)[0]
	r.apikey(t, "revoke", id)
	for name, s := range map[string]*testServer{"A": a, "B": b} {
		deadline := time.Now().Add(3 * time.Second)
		for {
			res := s.post(t, bearer, read, vars(map[string]any{"id": ids[0]}))
			if res.code() == "UNAUTHENTICATED" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("revoked key still accepted on %s: %s %+v", name, res.Data, res.Errors)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
