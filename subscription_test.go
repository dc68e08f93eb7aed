package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectsession/auth"
)

func TestEventsAcrossInstances(t *testing.T) {
	r := newSharedRedis(t)
	key, err := r.apikey(t, "create", "-org", "1", "-role", "write")
	if err != nil {
		t.Fatal(err)
	}
	key2, err := r.apikey(t, "create", "-org", "2", "-role", "write")
	if err != nil {
		t.Fatal(err)
	}
	a, b := startServer(t, r.env()), startServer(t, r.env())
	bearer := map[string]any{"Authorization": "Bearer " + key}

	onB := dialWS(t, b, protoTransportWS, nil, bearer)
	onB.subscribe("demo", eventsSubscription, map[string]any{"org": 1, "project": "demo"})
	otherProject := dialWS(t, b, protoTransportWS, nil, bearer)
	otherProject.subscribe("other", eventsSubscription, map[string]any{"org": 1, "project": "other"})
	otherOrg := dialWS(t, a, protoTransportWS, nil, map[string]any{"authorization": "Bearer " + key2})
	otherOrg.subscribe("org2", eventsSubscription, map[string]any{"org": 2, "project": "demo"})
	// A subscription is in place once its operation answers; a write makes sure of it.
	waitSubscribed(t, a, key, onB, "demo", 1, "demo")
	waitSubscribed(t, a, key, otherProject, "other", 1, "other")
	waitSubscribed(t, a, key2, otherOrg, "org2", 2, "demo")

	// Every kind of write, through instance A.
	var c created
	a.mustData(t, "Bearer "+key, createMutation, createVars(1, "demo", "evt"), &c)
	id := c.CreateConnectSession.ConnectSession.ID
	idVar := map[string]any{"id": id}
	a.mustData(t, "Bearer "+key, `mutation($id: Int!) { updateConnectSession(input: {organizationId: 1, projectId: "demo", id: $id, label: "new"}) { id } }`, idVar, nil)
	a.mustData(t, "", `mutation($t: String!) { authenticateConnectSession(token: $t) { id } }`, map[string]any{"t": c.CreateConnectSession.Token}, nil)
	a.mustData(t, "Bearer "+key, `mutation($id: Int!) { revokeConnectSession(organizationId: 1, projectId: "demo", id: $id) { id } }`, idVar, nil)
	a.mustData(t, "Bearer "+key, `mutation($id: Int!) { deleteConnectSession(organizationId: 1, projectId: "demo", id: $id) { deleted } }`, idVar, nil)

	want := []struct {
		typ, status string
	}{{"CREATED", "PENDING"}, {"UPDATED", "PENDING"}, {"AUTHENTICATED", "AUTHENTICATED"}, {"REVOKED", "REVOKED"}, {"DELETED", ""}}
	for i, w := range want {
		e := onB.nextEvent("demo")
		if e.Type != w.typ || e.ID != id {
			t.Fatalf("event %d on B: got %s %d, want %s %d", i, e.Type, e.ID, w.typ, id)
		}
		switch {
		case w.status == "" && e.ConnectSession != nil:
			t.Errorf("DELETED carries a session: %+v", e.ConnectSession)
		case w.status != "" && (e.ConnectSession == nil || e.ConnectSession.Status != w.status):
			t.Errorf("%s: session %+v, want status %s", w.typ, e.ConnectSession, w.status)
		}
		if w.typ == "UPDATED" && (e.ConnectSession.Label == nil || *e.ConnectSession.Label != "new") {
			t.Errorf("UPDATED does not show the new label: %+v", e.ConnectSession)
		}
	}
	// The other tenants saw none of it: the next thing each sees is a write of its own.
	for _, o := range []struct {
		c       *wsClient
		op, key string
		org     int
		project string
	}{{otherProject, "other", key, 1, "other"}, {otherOrg, "org2", key2, 2, "demo"}} {
		var fence created
		a.mustData(t, "Bearer "+o.key, createMutation, createVars(o.org, o.project, "fence"), &fence)
		if e := o.c.nextEvent(o.op); e.Type != "CREATED" || e.ID != fence.CreateConnectSession.ConnectSession.ID {
			t.Errorf("%s: first event %+v, want its own CREATED %d", o.op, e, fence.CreateConnectSession.ConnectSession.ID)
		}
	}
}

// waitSubscribed writes probe sessions into the subscribed tenant through s until the
// subscription delivers one, then reads the events of the probes written after it, so
// that the subscription is live and its stream is drained. (No protocol message says
// that a subscription is in place.)
func waitSubscribed(t *testing.T, s *testServer, key string, c *wsClient, op string, org int, project string) {
	t.Helper()
	var probes []int
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var probe created
		s.mustData(t, "Bearer "+key, createMutation, createVars(org, project, "probe"), &probe)
		probes = append(probes, probe.CreateConnectSession.ConnectSession.ID)
		select {
		case m, ok := <-c.msgs:
			if !ok {
				t.Fatalf("%s: websocket closed", op)
			}
			if c.stray(m, op) {
				continue
			}
			e := c.parse(m, op)
			at := slices.Index(probes, e.ID)
			if e.Type != "CREATED" || at < 0 {
				t.Fatalf("%s: got %+v, want a probe's CREATED", op, e)
			}
			for _, later := range probes[at+1:] {
				if e := c.nextEvent(op); e.Type != "CREATED" || e.ID != later {
					t.Fatalf("%s: got %+v, want probe %d", op, e, later)
				}
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s: subscription delivered nothing within 5s", op)
}

func TestSubscriptionTransports(t *testing.T) {
	s := startServer(t, nil)
	key := s.devKey(t)
	vars := map[string]any{"org": 1, "project": "demo"}
	create := func() int {
		var c created
		s.mustData(t, "Bearer "+key, createMutation, createVars(1, "demo", "transport"), &c)
		return c.CreateConnectSession.ConnectSession.ID
	}

	t.Run("graphql-transport-ws, key in connection_init", func(t *testing.T) {
		c := dialWS(t, s, protoTransportWS, nil, map[string]any{"Authorization": "Bearer " + key})
		c.subscribe("1", eventsSubscription, vars)
		waitSubscribed(t, s, key, c, "1", 1, "demo")
		id := create()
		if e := c.nextEvent("1"); e.Type != "CREATED" || e.ID != id {
			t.Errorf("got %+v, want CREATED %d", e, id)
		}
		c.stop("1")
		// The connection stays usable after a stop.
		c.subscribe("2", eventsSubscription, vars)
		waitSubscribed(t, s, key, c, "2", 1, "demo")
	})
	t.Run("graphql-ws, key in the upgrade header", func(t *testing.T) {
		c := dialWS(t, s, protoGraphQLWS, http.Header{"Authorization": {"Bearer " + key}}, nil)
		c.subscribe("1", eventsSubscription, vars)
		waitSubscribed(t, s, key, c, "1", 1, "demo")
		id := create()
		if e := c.nextEvent("1"); e.Type != "CREATED" || e.ID != id {
			t.Errorf("got %+v, want CREATED %d", e, id)
		}
		c.stop("1")
	})
	t.Run("server-sent events", func(t *testing.T) {
		st := subscribeSSE(t, s, "Bearer "+key, vars)
		// No message tells an SSE client it is subscribed: write until one arrives.
		deadline := time.Now().Add(5 * time.Second)
		var got event
		for got.Type == "" && time.Now().Before(deadline) {
			id := create()
			select {
			case got = <-st.events:
				if got.Type != "CREATED" || got.ID > id {
					t.Fatalf("got %+v", got)
				}
			case <-time.After(100 * time.Millisecond):
			}
		}
		if got.Type == "" {
			t.Fatalf("no event over SSE")
		}
		id := create()
		for e := st.next(t); e.ID != id; e = st.next(t) {
			if e.Type != "CREATED" {
				t.Fatalf("got %+v", e)
			}
		}
	})
	t.Run("refusals", func(t *testing.T) {
		c := dialWS(t, s, protoTransportWS, nil, nil)
		c.subscribe("nokey", eventsSubscription, vars)
		if e := c.nextEvent("nokey"); e.Code != "UNAUTHENTICATED" {
			t.Errorf("no key: got %+v, want UNAUTHENTICATED", e)
		}
		k := dialWS(t, s, protoTransportWS, nil, map[string]any{"headers": map[string]any{"Authorization": "Bearer " + key}})
		k.subscribe("org2", eventsSubscription, map[string]any{"org": 2, "project": "demo"})
		if e := k.nextEvent("org2"); e.Code != "FORBIDDEN" {
			t.Errorf("other organization: got %+v, want FORBIDDEN", e)
		}
		k.subscribe("bad", eventsSubscription, map[string]any{"org": 1, "project": ""})
		if e := k.nextEvent("bad"); e.Code != "BAD_USER_INPUT" {
			t.Errorf("empty project: got %+v, want BAD_USER_INPUT", e)
		}
	})
}

// A revoked key ends its subscriptions within about two seconds with one last result,
// the root field's error as a query's would be (path [the field's alias], data null,
// UNAUTHENTICATED), whatever the client selected and in the same bytes over
// graphql-transport-ws, graphql-ws and SSE; then the operation completes.
func TestSubscriptionEndsWhenKeyRevoked(t *testing.T) {
	r := newSharedRedis(t)
	read, err := r.apikey(t, "create", "-org", "1", "-role", "read")
	if err != nil {
		t.Fatal(err)
	}
	write, _ := r.apikey(t, "create", "-org", "1", "-role", "write")
	s := startServer(t, r.env())
	vars := map[string]any{"org": 1, "project": "demo"}
	selections := []struct{ name, alias, query string }{
		{"every field", "connectSessionEvents", eventsSubscription},
		// Without "type", the field the last result used to come out of.
		{"id alone, aliased", "events", `subscription($org: Int!, $project: String!) {
  events: connectSessionEvents(organizationId: $org, projectId: $project) { id }
}`},
	}
	type stream struct {
		name, alias string
		msgs        <-chan wsMessage // "next" (WebSocket "data" too) with the result, or "complete"
		live        bool
	}
	var streams []*stream
	for _, sel := range selections {
		for _, proto := range []string{protoTransportWS, protoGraphQLWS} {
			c := dialWS(t, s, proto, nil, map[string]any{"Authorization": "Bearer " + read})
			c.subscribe("1", sel.query, vars)
			streams = append(streams, &stream{name: sel.name + " over " + proto, alias: sel.alias, msgs: c.msgs})
		}
		streams = append(streams, &stream{name: sel.name + " over SSE", alias: sel.alias, msgs: rawSSE(t, s, "Bearer "+read, sel.query, vars)})
	}
	// No message says a subscription is live: write until each has delivered an event.
	deadline := time.Now().Add(5 * time.Second)
	for waiting := len(streams); waiting > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions delivered nothing within 5s", waiting)
		}
		s.mustData(t, "Bearer "+write, createMutation, createVars(1, "demo", "probe"), nil)
		for _, st := range streams {
			select {
			case m := <-st.msgs:
				if !st.live && strings.Contains(string(m.Payload), `"errors"`) {
					t.Fatalf("%s: %s %s before the revocation", st.name, m.Type, m.Payload)
				}
				if !st.live {
					st.live = true
					waiting--
				}
			case <-time.After(20 * time.Millisecond):
			}
		}
	}

	id, _ := auth.ParseKey(read)
	if _, err := r.apikey(t, "revoke", id); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	last := map[string][]byte{} // selection name -> the last result, to compare transports
	for _, st := range streams {
		m := nextMsg(t, st.msgs, st.name)
		for m.Type != "complete" && !strings.Contains(string(m.Payload), `"errors"`) {
			m = nextMsg(t, st.msgs, st.name) // events written before the revocation
		}
		var res struct {
			Errors []struct {
				Message    string
				Path       []any
				Locations  []struct{ Line, Column int }
				Extensions map[string]any
			}
			Data json.RawMessage
		}
		var keys map[string]json.RawMessage
		if m.Type == "complete" || json.Unmarshal(m.Payload, &res) != nil || json.Unmarshal(m.Payload, &keys) != nil {
			t.Fatalf("%s after the revocation: got %s %s, want the last result", st.name, m.Type, m.Payload)
		}
		if len(keys) != 2 || string(res.Data) != "null" || len(res.Errors) != 1 || res.Errors[0].Extensions["code"] != "UNAUTHENTICATED" ||
			!slices.Equal(res.Errors[0].Path, []any{st.alias}) || len(res.Errors[0].Locations) != 1 || res.Errors[0].Message == "" {
			t.Errorf(`%s: last result %s, want {"errors":[{...,"path":[%q],"extensions":{"code":"UNAUTHENTICATED"}}],"data":null}`,
				st.name, m.Payload, st.alias)
		}
		sel := st.name[:strings.Index(st.name, " over ")]
		if prev, ok := last[sel]; ok && !bytes.Equal(prev, m.Payload) {
			t.Errorf("%s: last result %s differs from another transport's %s", st.name, m.Payload, prev)
		}
		last[sel] = m.Payload
		if m := nextMsg(t, st.msgs, st.name); m.Type != "complete" {
			t.Errorf("%s after the last result: got %s %s, want complete", st.name, m.Type, m.Payload)
		}
	}
	t.Logf("subscriptions ended %v after the revocation", time.Since(start))
}

// nextMsg returns the next message of msgs, failing the test after 5 seconds.
func nextMsg(t *testing.T, msgs <-chan wsMessage, name string) wsMessage {
	t.Helper()
	select {
	case m, ok := <-msgs:
		if !ok {
			t.Fatalf("%s: closed", name)
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: nothing within 5s", name)
	}
	return wsMessage{}
}

// rawSSE subscribes over SSE and returns its results as they come: "next" with the
// result's bytes, or "complete".
func rawSSE(t *testing.T, s *testServer, auth, query string, vars map[string]any) <-chan wsMessage {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("sse: %v %v", err, resp)
	}
	t.Cleanup(func() { resp.Body.Close() })
	msgs := make(chan wsMessage, 64)
	go func() {
		defer close(msgs)
		sc := bufio.NewScanner(resp.Body)
		event := ""
		for sc.Scan() {
			switch line := sc.Text(); {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
				if event == "complete" {
					msgs <- wsMessage{Type: "complete"}
				}
			case strings.HasPrefix(line, "data: ") && event == "next":
				msgs <- wsMessage{Type: "next", Payload: json.RawMessage(strings.TrimPrefix(line, "data: "))}
			}
		}
	}()
	return msgs
}

func TestShutdownCompletesSubscriptions(t *testing.T) {
	s := startServer(t, nil)
	key := s.devKey(t)
	c := dialWS(t, s, protoTransportWS, nil, map[string]any{"Authorization": "Bearer " + key})
	c.subscribe("1", eventsSubscription, map[string]any{"org": 1, "project": "demo"})
	waitSubscribed(t, s, key, c, "1", 1, "demo")
	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	// The operation completes, or the connection closes normally, whichever the client
	// sees first; both end the subscription cleanly.
	select {
	case m, ok := <-c.msgs:
		if ok && (m.ID != "1" || m.Type != "complete") {
			t.Errorf("on shutdown: got %+v, want complete", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no complete and no close within 5s of shutdown")
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("shutdown with an open subscription took over 10s")
	}
}
