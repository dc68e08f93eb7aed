package main

import (
	"encoding/base64"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"connectsession/auth"
)

// keySet is one key per situation the authorization matrix covers.
type keySet struct {
	write, read, otherOrg, otherProject, revoked, revokedID string
}

func issueKeys(t *testing.T, r *sharedRedis) keySet {
	t.Helper()
	mk := func(args ...string) string {
		k, err := r.apikey(t, append([]string{"create"}, args...)...)
		if err != nil || !devKeyPattern.MatchString(k) {
			t.Fatalf("apikey create %v: %q, %v", args, k, err)
		}
		return k
	}
	ks := keySet{
		write:        mk("-org", "1", "-role", "write"),
		read:         mk("-org", "1", "-role", "read"),
		otherOrg:     mk("-org", "2", "-role", "write"),
		otherProject: mk("-org", "1", "-project", "other", "-project", "more", "-role", "write"),
		revoked:      mk("-org", "1", "-role", "write"),
	}
	ks.revokedID, _ = auth.ParseKey(ks.revoked)
	if _, err := r.apikey(t, "revoke", ks.revokedID); err != nil {
		t.Fatal(err)
	}
	return ks
}

// operations lists every query and mutation of the API, on organization 1, project
// "demo", session id; write says whether a read key is refused.
func operations(id int) []struct {
	name, query string
	vars        map[string]any
	write       bool
} {
	v := map[string]any{"id": id}
	return []struct {
		name, query string
		vars        map[string]any
		write       bool
	}{
		{"connectSession", `query($id: Int!) { connectSession(organizationId: 1, projectId: "demo", id: $id) { id } }`, v, false},
		{"connectSessions", `{ connectSessions(organizationId: 1, projectId: "demo") { totalCount nodes { id } } }`, nil, false},
		{"createConnectSession", createMutation, createVars(1, "demo", "matrix"), true},
		{"updateConnectSession", `mutation($id: Int!) { updateConnectSession(input: {organizationId: 1, projectId: "demo", id: $id, label: "x"}) { id } }`, v, true},
		{"revokeConnectSession", `mutation($id: Int!) { revokeConnectSession(organizationId: 1, projectId: "demo", id: $id) { id } }`, v, true},
		{"deleteConnectSession", `mutation($id: Int!) { deleteConnectSession(organizationId: 1, projectId: "demo", id: $id) { deleted } }`, v, true},
		{"webhookEndpoints", `{ webhookEndpoints(organizationId: 1, projectId: "demo") { id } }`, nil, true},
		{"webhookDeliveries", `{ webhookDeliveries(organizationId: 1, projectId: "demo", endpointId: "we_0") { eventId } }`, nil, false},
		{"createWebhookEndpoint", `mutation { createWebhookEndpoint(input: {organizationId: 1, projectId: "demo", url: "https://hooks.example.com/x"}) { secret } }`, nil, true},
		{"updateWebhookEndpoint", `mutation { updateWebhookEndpoint(input: {organizationId: 1, projectId: "demo", id: "we_0", enabled: false}) { id } }`, nil, true},
		{"deleteWebhookEndpoint", `mutation { deleteWebhookEndpoint(organizationId: 1, projectId: "demo", id: "we_0") }`, nil, true},
		{"rotateWebhookSecret", `mutation { rotateWebhookSecret(organizationId: 1, projectId: "demo", id: "we_0") { secret } }`, nil, true},
		{"redeliverWebhookEvent", `mutation { redeliverWebhookEvent(organizationId: 1, projectId: "demo", endpointId: "we_0", eventId: "1-0") }`, nil, true},
	}
}

func TestAuthorizationMatrix(t *testing.T) {
	r := newSharedRedis(t)
	keys := issueKeys(t, r)
	s := startServer(t, r.env())
	var c created
	s.mustData(t, "Bearer "+keys.write, createMutation, createVars(1, "demo", "victim"), &c)
	id := c.CreateConnectSession.ConnectSession.ID

	unknown, _ := auth.NewKey()
	callers := []struct {
		name, header string
		code         string
		onlyWrites   bool
	}{
		{"no header", "", "UNAUTHENTICATED", false},
		{"bearer without key", "Bearer", "UNAUTHENTICATED", false},
		{"unknown scheme", "Token " + keys.write, "UNAUTHENTICATED", false},
		{"malformed key", "Bearer csk_nothex", "UNAUTHENTICATED", false},
		{"bad basic", "Basic !!!", "UNAUTHENTICATED", false},
		{"unknown key", "Bearer " + unknown, "UNAUTHENTICATED", false},
		{"tampered secret", "Bearer " + keys.write[:len(keys.write)-4] + "AAAA", "UNAUTHENTICATED", false},
		{"revoked key", "Bearer " + keys.revoked, "UNAUTHENTICATED", false},
		{"key of another organization", "Bearer " + keys.otherOrg, "FORBIDDEN", false},
		{"key of other projects", "Bearer " + keys.otherProject, "FORBIDDEN", false},
		{"read key on a write", "Bearer " + keys.read, "FORBIDDEN", true},
	}
	for _, op := range operations(id) {
		for _, caller := range callers {
			if caller.onlyWrites && !op.write {
				continue
			}
			t.Run(op.name+"/"+caller.name, func(t *testing.T) {
				before := r.dump(t)
				resp := s.post(t, caller.header, op.query, op.vars)
				if got := resp.code(); got != caller.code {
					t.Errorf("code: got %q, want %q (errors %+v)", got, caller.code, resp.Errors)
				}
				if d := string(resp.Data); d != "null" && d != `{"`+op.name+`":null}` {
					t.Errorf("data: got %s, want null", d)
				}
				if after := r.dump(t); !maps.Equal(before, after) {
					t.Errorf("redis changed on a refused %s", op.name)
				}
			})
		}
	}

	// The allowed ones: a read key reads, Basic works, the token needs no key.
	s.mustData(t, "Bearer "+keys.read, operations(id)[0].query, operations(id)[0].vars, nil)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(keys.write+":"))
	s.mustData(t, basic, operations(id)[1].query, nil, nil)
	s.mustData(t, "", `mutation($t: String!) { authenticateConnectSession(token: $t) { id } }`,
		map[string]any{"t": c.CreateConnectSession.Token}, nil)
}

func TestProjectIsolation(t *testing.T) {
	r := newSharedRedis(t)
	keyA, err := r.apikey(t, "create", "-org", "1", "-project", "a", "-role", "write")
	if err != nil {
		t.Fatal(err)
	}
	keyAll, err := r.apikey(t, "create", "-org", "1", "-role", "write")
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, r.env())
	var inA, inB created
	s.mustData(t, "Bearer "+keyA, createMutation, createVars(1, "a", "owner-a"), &inA)
	s.mustData(t, "Bearer "+keyAll, createMutation, createVars(1, "b", "owner-b"), &inB)
	idB := inB.CreateConnectSession.ConnectSession.ID
	a := "Bearer " + keyA

	var list struct {
		ConnectSessions struct {
			TotalCount int
			Nodes      []struct{ ID int }
		}
	}
	s.mustData(t, a, `{ connectSessions(organizationId: 1, projectId: "a") { totalCount nodes { id } } }`, nil, &list)
	if list.ConnectSessions.TotalCount != 1 || list.ConnectSessions.Nodes[0].ID != inA.CreateConnectSession.ConnectSession.ID {
		t.Errorf("list of A: %+v", list)
	}
	// B's id asked under A: does not exist there.
	var one struct{ ConnectSession *struct{ ID int } }
	s.mustData(t, a, `query($id: Int!) { connectSession(organizationId: 1, projectId: "a", id: $id) { id } }`, map[string]any{"id": idB}, &one)
	if one.ConnectSession != nil {
		t.Errorf("B's session visible under A: %+v", one.ConnectSession)
	}
	for _, c := range []struct{ query, code string }{
		{`query($id: Int!) { connectSession(organizationId: 1, projectId: "b", id: $id) { id originOwnerId } }`, "FORBIDDEN"},
		{`{ connectSessions(organizationId: 1, projectId: "b") { nodes { id } } }`, "FORBIDDEN"},
		{`mutation($id: Int!) { updateConnectSession(input: {organizationId: 1, projectId: "a", id: $id, label: "mine"}) { id } }`, "NOT_FOUND"},
		{`mutation($id: Int!) { revokeConnectSession(organizationId: 1, projectId: "a", id: $id) { id } }`, "NOT_FOUND"},
		{`mutation($id: Int!) { revokeConnectSession(organizationId: 1, projectId: "b", id: $id) { id } }`, "FORBIDDEN"},
	} {
		before := r.dump(t)
		resp := s.post(t, a, c.query, map[string]any{"id": idB})
		if resp.code() != c.code || strings.Contains(string(resp.Data), "owner-b") {
			t.Errorf("%s: code %q data %s, want %s", c.query, resp.code(), resp.Data, c.code)
		}
		if !maps.Equal(before, r.dump(t)) {
			t.Errorf("%s changed redis", c.query)
		}
	}
	var del struct{ DeleteConnectSession struct{ Deleted bool } }
	s.mustData(t, a, `mutation($id: Int!) { deleteConnectSession(organizationId: 1, projectId: "a", id: $id) { deleted } }`, map[string]any{"id": idB}, &del)
	if del.DeleteConnectSession.Deleted {
		t.Errorf("A deleted B's session")
	}
	s.mustData(t, "Bearer "+keyAll, `query($id: Int!) { connectSession(organizationId: 1, projectId: "b", id: $id) { id } }`, map[string]any{"id": idB}, &one)
	if one.ConnectSession == nil || one.ConnectSession.ID != idB {
		t.Errorf("B's session is gone")
	}
}

func TestRevokedKeyRefusedOnEveryInstance(t *testing.T) {
	r := newSharedRedis(t)
	key, err := r.apikey(t, "create", "-org", "1", "-role", "read", "-label", "soon revoked")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := auth.ParseKey(key)
	servers := []*testServer{startServer(t, r.env()), startServer(t, r.env())}
	q := `{ connectSessions(organizationId: 1, projectId: "demo") { totalCount } }`
	for _, s := range servers {
		s.mustData(t, "Bearer "+key, q, nil, nil) // now cached on both
	}
	if _, err := r.apikey(t, "revoke", id); err != nil {
		t.Fatal(err)
	}
	revokedAt := time.Now()
	for i, s := range servers {
		// Revocation reaches every instance through pub/sub; the contract allows a second.
		for {
			resp := s.post(t, "Bearer "+key, q, nil)
			if resp.code() == "UNAUTHENTICATED" {
				t.Logf("instance %d refused the key %v after the revoke", i, time.Since(revokedAt))
				break
			}
			if time.Since(revokedAt) > time.Second {
				t.Fatalf("instance %d still accepts a key revoked %v ago", i, time.Since(revokedAt))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func TestAPIKeyCommand(t *testing.T) {
	r := newSharedRedis(t)
	key, err := r.apikey(t, "create", "-org", "5", "-project", "p1", "-project", "p2", "-role", "write", "-label", "ci key")
	if err != nil || !devKeyPattern.MatchString(key) {
		t.Fatalf("create: %q %v", key, err)
	}
	id, _ := auth.ParseKey(key)
	s := startServer(t, r.env())
	s.mustData(t, "Bearer "+key, `{ connectSessions(organizationId: 5, projectId: "p2") { totalCount } }`, nil, nil)

	var stdout, stderr strings.Builder
	env := r.env()
	if err := run(t.Context(), []string{"cs", "apikey", "list", "-org", "5"}, func(k string) string { return env[k] }, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	listing := stdout.String()
	for _, want := range []string{id, "projects p1,p2", "write", "ci key"} {
		if !strings.Contains(listing, want) {
			t.Errorf("list lacks %q:\n%s", want, listing)
		}
	}
	if strings.Contains(listing, key) || strings.Contains(listing, key[len(key)-20:]) {
		t.Errorf("list shows the key itself")
	}
	if _, err := r.apikey(t, "revoke", id); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for s.post(t, "Bearer "+key, `{ connectSessions(organizationId: 5, projectId: "p2") { totalCount } }`, nil).code() != "UNAUTHENTICATED" {
		if time.Now().After(deadline) {
			t.Fatalf("revoked key still accepted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stdout.Reset()
	_ = run(t.Context(), []string{"cs", "apikey", "list", "-org", "5"}, func(k string) string { return env[k] }, &stdout, &stderr)
	if strings.Contains(stdout.String(), " -\n") {
		t.Errorf("list does not show the revocation:\n%s", stdout.String())
	}

	for _, bad := range [][]string{
		{"create", "-org", "1"},
		{"create", "-org", "1", "-role", "admin"},
		{"create", "-org", "0", "-role", "read"},
		{"create", "-org", "1", "-role", "read", "-project", ""},
		{"list"},
		{"revoke"},
		{"revoke", "0000000000000000"},
		{"rotate"},
	} {
		if _, err := r.apikey(t, bad...); err == nil {
			t.Errorf("apikey %v: want an error", bad)
		}
	}
	var out strings.Builder
	err = run(t.Context(), []string{"cs", "apikey", "create", "-org", "1", "-role", "read"}, func(string) string { return "" }, &out, &out)
	if err == nil || !strings.Contains(fmt.Sprint(err), "REDIS_URL") {
		t.Errorf("apikey without a Redis: got %v, want an error naming REDIS_URL", err)
	}
}
