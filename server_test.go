package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

const createMutation = `mutation($input: CreateConnectSessionInput!) {
  createConnectSession(input: $input) {
    token authLinkUrl
    connectSession { id organizationId projectId originOwnerId status createdAt expiresAt }
  }
}`

type created struct {
	CreateConnectSession struct {
		Token          string
		AuthLinkURL    *string
		ConnectSession struct {
			ID             int
			OrganizationID int
			ProjectID      string
			Status         string
		}
	}
}

func createVars(org int, project, owner string) map[string]any {
	return map[string]any{"input": map[string]any{
		"organizationId": org, "projectId": project, "originOwnerId": owner, "originOwnerName": "Owner " + owner,
		"provider": "hibob", "categories": []string{"HRIS"},
	}}
}

// exerciseSessionFlow creates a session, exchanges its token, finds it in the list and
// deletes it, all over HTTP with key.
func exerciseSessionFlow(t *testing.T, s *testServer, key string) {
	t.Helper()
	bearer := "Bearer " + key
	var c created
	s.mustData(t, bearer, createMutation, createVars(1, "demo", "e2e"), &c)
	cs := c.CreateConnectSession
	if cs.Token == "" || cs.ConnectSession.ID <= 0 || cs.ConnectSession.Status != "PENDING" {
		t.Fatalf("create: %+v", cs)
	}

	var auth struct {
		AuthenticateConnectSession struct {
			ID              int
			Status          string
			AuthenticatedAt *string
		}
	}
	// The token is the credential: no API key.
	s.mustData(t, "", `mutation($t: String!) { authenticateConnectSession(token: $t) { id status authenticatedAt } }`,
		map[string]any{"t": cs.Token}, &auth)
	if a := auth.AuthenticateConnectSession; a.ID != cs.ConnectSession.ID || a.Status != "AUTHENTICATED" || a.AuthenticatedAt == nil {
		t.Fatalf("authenticate: %+v", a)
	}

	var list struct {
		ConnectSessions struct {
			TotalCount int
			Nodes      []struct {
				ID     int
				Status string
			}
		}
	}
	s.mustData(t, bearer, `{ connectSessions(organizationId: 1, projectId: "demo", filter: {originOwnerId: "e2e"}) { totalCount nodes { id status } } }`, nil, &list)
	if l := list.ConnectSessions; l.TotalCount != 1 || len(l.Nodes) != 1 || l.Nodes[0].ID != cs.ConnectSession.ID || l.Nodes[0].Status != "AUTHENTICATED" {
		t.Fatalf("list: %+v", l)
	}

	var del struct{ DeleteConnectSession struct{ Deleted bool } }
	s.mustData(t, bearer, `mutation($id: Int!) { deleteConnectSession(organizationId: 1, projectId: "demo", id: $id) { deleted } }`,
		map[string]any{"id": cs.ConnectSession.ID}, &del)
	if !del.DeleteConnectSession.Deleted {
		t.Fatalf("delete: not deleted")
	}
}

func TestServeEmbedded(t *testing.T) {
	s := startServer(t, nil)
	out := s.stdout.String()
	for _, want := range []string{"GraphiQL:", `{"Authorization": "Bearer csk_`, "in memory"} {
		if !strings.Contains(out, want) && !strings.Contains(s.logs.String(), want) {
			t.Errorf("startup output lacks %q:\n%s", want, out)
		}
	}
	exerciseSessionFlow(t, s, s.devKey(t))

	// The demo sessions are there for a newcomer's first query.
	var list struct{ ConnectSessions struct{ TotalCount int } }
	s.mustData(t, "Bearer "+s.devKey(t), `{ connectSessions(organizationId: 1, projectId: "demo") { totalCount } }`, nil, &list)
	if list.ConnectSessions.TotalCount < 3 {
		t.Errorf("demo sessions: got %d, want at least 3", list.ConnectSessions.TotalCount)
	}

	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/": 200, "/nope": 404} {
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: got %d, want %d", path, resp.StatusCode, want)
		}
	}
	if err := s.stop(); err != nil {
		t.Errorf("clean shutdown: got %v", err)
	}
	if !strings.Contains(s.logs.String(), "shutting down") {
		t.Errorf("no shutdown log line")
	}
}

func TestServeSharedRedis(t *testing.T) {
	r := newSharedRedis(t)
	key, err := r.apikey(t, "create", "-org", "1", "-project", "demo", "-role", "write", "-label", "e2e")
	if err != nil {
		t.Fatal(err)
	}
	env := r.env()
	env["AUTH_LINK_BASE_URL"] = "https://hub.example/connect"
	s := startServer(t, env)
	if strings.Contains(s.stdout.String(), "csk_") {
		t.Errorf("a server on a configured Redis printed a development key")
	}
	// Its banner says where it is and how to get a key in, as embedded mode's does.
	for _, want := range []string{"\nConnectSession API (Redis at " + r.url, "  GraphiQL:  " + s.url + "/\n",
		"  GraphQL:   " + s.url + "/graphql\n", "REDIS_URL=" + r.url + " REDIS_KEY_PREFIX=" + r.prefix + " connectsession apikey create -org 1 -role write\n",
		"GraphiQL's Headers tab as:\n  {\"Authorization\": \"Bearer <key>\"}\n"} {
		if !strings.Contains(s.stdout.String(), want) {
			t.Errorf("the banner lacks %q:\n%s", want, s.stdout.String())
		}
	}
	exerciseSessionFlow(t, s, key)

	var c created
	s.mustData(t, "Bearer "+key, createMutation, createVars(1, "demo", "link"), &c)
	link := c.CreateConnectSession.AuthLinkURL
	if link == nil || *link != "https://hub.example/connect?token="+c.CreateConnectSession.Token {
		t.Errorf("authLinkUrl: got %v", link)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := map[string]map[string]string{
		"retention": {"SESSION_RETENTION": "soon"},
		"log level": {"LOG_LEVEL": "loud"},
		"format":    {"LOG_FORMAT": "xml"},
		"records":   {"RECORD_FORMAT": "msgpack"},
		"pointers":  {"TOKEN_POINTERS": "on"},
		"prefix":    {"REDIS_KEY_PREFIX": "a{b}"},
		"link":      {"AUTH_LINK_BASE_URL": "not a url"},
		"redis url": {"REDIS_URL": "mysql://x"},
	}
	for name, env := range cases {
		t.Run(name, func(t *testing.T) {
			var out lockedBuffer
			done := make(chan error, 1)
			go func() {
				done <- run(t.Context(), []string{"connectsession", "-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, &out, &out)
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Errorf("want a configuration error")
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("bad configuration %v was accepted", env)
			}
		})
	}
}

// The service runs the collector at defaultGCPercent unless GOGC is set.
func TestGCPercentDefault(t *testing.T) {
	if pct, ok := gcPercent(func(string) string { return "" }); !ok || pct != defaultGCPercent {
		t.Errorf("GOGC unset: %d %v, want %d", pct, ok, defaultGCPercent)
	}
	if _, ok := gcPercent(func(k string) string {
		if k == "GOGC" {
			return "100"
		}
		return ""
	}); ok {
		t.Errorf("GOGC=100 in the environment was overridden")
	}
}
