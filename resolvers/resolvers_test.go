package resolvers_test

import (
	"encoding/json"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// dateTimeRE is the output format of a DateTime: RFC 3339 in UTC with milliseconds.
var dateTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// tokenRE is URL-safe text of at least 128 bits (22 base64 characters).
var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{22,}$`)

const getQuery = `query($org: Int!, $project: String!, $id: Int!) {
  connectSession(organizationId: $org, projectId: $project, id: $id) { ...S } }` + sessionFields

// get runs connectSession and returns the session, or nil for null; errors fail the test.
func get(t testing.TB, b *backend, org int, project string, id int) *session {
	t.Helper()
	var out struct {
		ConnectSession *session `json:"connectSession"`
	}
	mustDo(t, b.client(nil), getQuery, map[string]any{"org": org, "project": project, "id": id}, &out)
	return out.ConnectSession
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("decode %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// fullInput sets every field of a create input.
func fullInput() map[string]any {
	return map[string]any{
		"organizationId":  7,
		"projectId":       "proj-1",
		"originOwnerId":   "acme-42",
		"originOwnerName": "Acme Inc.",
		"originUsername":  "ada@acme.example",
		"provider":        "hibob",
		"categories":      []string{"HRIS", "ATS", "HRIS_LEGACY"},
		"accountId":       "acc-9",
		"label":           "Main HR",
		"metadata":        map[string]any{"plan": "gold", "seats": 12, "tags": []any{"a", true, nil}, "nested": map[string]any{"x": 1.5}},
		"type":            "TEST",
		"multiple":        true,
		"expiresIn":       600,
	}
}

func TestCreateConnectSession(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		now := b.clock.at()
		out := create(t, b.client(nil), fullInput()).CreateConnectSession
		if !tokenRE.MatchString(out.Token) {
			t.Errorf("token: got %q, want URL-safe text of at least 22 characters", out.Token)
		}
		if out.AuthLinkURL != nil {
			t.Errorf("authLinkUrl: got %q, want null without a base URL", *out.AuthLinkURL)
		}
		s := out.ConnectSession
		wantMeta := `{"plan":"gold","seats":12,"tags":["a",true,null],"nested":{"x":1.5}}`
		if !sameJSON(t, s.Metadata, []byte(wantMeta)) {
			t.Errorf("metadata: got %s, want %s", s.Metadata, wantMeta)
		}
		expires := b.clock.Now().Add(600 * time.Second).Format("2006-01-02T15:04:05.000Z")
		checks := []struct {
			name      string
			got, want any
		}{
			{"id > 0", s.ID > 0, true},
			{"organizationId", s.OrganizationID, 7},
			{"projectId", s.ProjectID, "proj-1"},
			{"categories", strings.Join(s.Categories, ","), "HRIS,ATS,HRIS_LEGACY"},
			{"provider", deref(s.Provider), "hibob"},
			{"originOwnerId", s.OriginOwnerID, "acme-42"},
			{"originOwnerName", s.OriginOwnerName, "Acme Inc."},
			{"originUsername", deref(s.OriginUsername), "ada@acme.example"},
			{"accountId", deref(s.AccountID), "acc-9"},
			{"label", deref(s.Label), "Main HR"},
			{"type", s.Type, "TEST"},
			{"multiple", s.Multiple, true},
			{"status", s.Status, "PENDING"},
			{"createdAt", s.CreatedAt, now},
			{"updatedAt", s.UpdatedAt, now},
			{"expiresAt", s.ExpiresAt, expires},
			{"authenticatedAt", deref(s.AuthenticatedAt), "<nil>"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
			}
		}
		// What was stored reads back the same.
		stored := get(t, b, 7, "proj-1", s.ID)
		if stored == nil {
			t.Fatalf("connectSession(%d): got null, want the created session", s.ID)
		}
		if !sameJSON(t, stored.Metadata, s.Metadata) {
			t.Errorf("stored metadata: got %s, want %s", stored.Metadata, s.Metadata)
		}
		stored.Metadata, s.Metadata = nil, nil
		if !reflect.DeepEqual(*stored, s) {
			t.Errorf("stored session:\n got %+v\nwant %+v", *stored, s)
		}
	})
}

func TestCreateConnectSessionInlineLiterals(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		var out created
		mustDo(t, b.client(nil), `mutation { createConnectSession(input: {
			organizationId: 1, projectId: "demo", originOwnerId: "o", originOwnerName: "O",
			categories: [CRM], type: TEST, multiple: true, expiresIn: 60,
			metadata: {plan: "gold", n: 1.5, list: [1, null, true], empty: {}}
		}) { token authLinkUrl connectSession { ...S } } }`+sessionFields, nil, &out)
		s := out.CreateConnectSession.ConnectSession
		wantMeta := `{"plan":"gold","n":1.5,"list":[1,null,true],"empty":{}}`
		if !sameJSON(t, s.Metadata, []byte(wantMeta)) {
			t.Errorf("metadata: got %s, want %s", s.Metadata, wantMeta)
		}
		if got, want := strings.Join(s.Categories, ","), "CRM"; got != want {
			t.Errorf("categories: got %q, want %q", got, want)
		}
		if s.Type != "TEST" || !s.Multiple {
			t.Errorf("type, multiple: got %s, %v, want TEST, true", s.Type, s.Multiple)
		}
		if got, want := s.ExpiresAt, b.clock.Now().Add(time.Minute).Format("2006-01-02T15:04:05.000Z"); got != want {
			t.Errorf("expiresAt: got %s, want %s", got, want)
		}
	})
}

func TestCreateConnectSessionAuthLinkURL(t *testing.T) {
	tests := []struct {
		name, base string
	}{
		{"plain", "https://hub.example.com/connect"},
		{"trailing slash", "https://hub.example.com/connect/"},
		{"with port", "http://localhost:3000/hub"},
	}
	eachBackend(t, func(t *testing.T, b *backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				base, err := url.Parse(tt.base)
				if err != nil {
					t.Fatal(err)
				}
				out := create(t, b.client(base), minimalInput("acme")).CreateConnectSession
				want := tt.base + "?token=" + url.QueryEscape(out.Token)
				if got := deref(out.AuthLinkURL); got != want {
					t.Errorf("authLinkUrl: got %s, want %s", got, want)
				}
			})
		}
	})
}

func TestCreateConnectSessionDefaults(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		s := create(t, b.client(nil), minimalInput("acme")).CreateConnectSession.ConnectSession
		checks := []struct {
			name      string
			got, want any
		}{
			{"type", s.Type, "PRODUCTION"},
			{"multiple", s.Multiple, false},
			{"status", s.Status, "PENDING"},
			{"categories", s.Categories == nil, true},
			{"metadata", string(s.Metadata), "null"},
			{"provider", deref(s.Provider), "<nil>"},
			{"originUsername", deref(s.OriginUsername), "<nil>"},
			{"accountId", deref(s.AccountID), "<nil>"},
			{"label", deref(s.Label), "<nil>"},
			{"authenticatedAt", deref(s.AuthenticatedAt), "<nil>"},
			{"updatedAt", s.UpdatedAt, s.CreatedAt},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
			}
		}
		for name, v := range map[string]string{"createdAt": s.CreatedAt, "expiresAt": s.ExpiresAt, "updatedAt": s.UpdatedAt} {
			if !dateTimeRE.MatchString(v) {
				t.Errorf("%s: got %q, want RFC 3339 UTC with milliseconds", name, v)
			}
		}
		created, err := time.Parse(time.RFC3339Nano, s.CreatedAt)
		if err != nil {
			t.Fatal(err)
		}
		expires, err := time.Parse(time.RFC3339Nano, s.ExpiresAt)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := expires.Sub(created), 1800*time.Second; got != want {
			t.Errorf("expiresAt - createdAt: got %v, want %v", got, want)
		}
		if got, want := s.CreatedAt, b.clock.at(); got != want {
			t.Errorf("createdAt: got %s, want the store's clock %s", got, want)
		}
	})
}

// TestCreateConnectSessionLimits shows that values at the edge of each rule are accepted.
func TestCreateConnectSessionLimits(t *testing.T) {
	tests := []struct {
		field string
		value any
	}{
		{"projectId", strings.Repeat("p", 128)},
		{"projectId", strings.Repeat("é", 128)},
		{"originOwnerId", strings.Repeat("o", 255)},
		{"originOwnerName", strings.Repeat("ü", 255)},
		{"originUsername", strings.Repeat("u", 255)},
		{"accountId", strings.Repeat("a", 255)},
		{"label", strings.Repeat("l", 255)},
		{"provider", "a" + strings.Repeat("b", 63)},
		{"provider", "0_x.y-z"},
		{"categories", []string{}},
		{"metadata", map[string]any{}},
		{"metadata", map[string]any{"k": strings.Repeat("x", 8<<10-8)}}, // {"k":"…"} is 8 KiB exactly
		{"expiresIn", 60},
		{"expiresIn", 2592000},
	}
	eachBackend(t, func(t *testing.T, b *backend) {
		for _, tt := range tests {
			in := minimalInput("acme")
			in[tt.field] = tt.value
			res := do(t, b.client(nil), createMutation, map[string]any{"input": in})
			if len(res.Errors) > 0 {
				t.Errorf("%s = %.40v: got errors %+v, want none", tt.field, tt.value, res.Errors)
			}
		}
	})
}

func TestConnectSessionLookup(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		in := minimalInput("acme")
		in["organizationId"], in["projectId"] = 3, "alpha"
		s := create(t, b.client(nil), in).CreateConnectSession.ConnectSession
		tests := []struct {
			name    string
			org     int
			project string
			id      int
			found   bool
		}{
			{"found", 3, "alpha", s.ID, true},
			{"unknown id", 3, "alpha", s.ID + 1000, false},
			{"another project", 3, "beta", s.ID, false},
			{"another organization", 4, "alpha", s.ID, false},
			{"negative id", 3, "alpha", -1, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := get(t, b, tt.org, tt.project, tt.id)
				if (got != nil) != tt.found {
					t.Fatalf("connectSession: got %+v, want found=%v", got, tt.found)
				}
				if got != nil && got.ID != s.ID {
					t.Errorf("id: got %d, want %d", got.ID, s.ID)
				}
			})
		}
		// GraphQL Int is 32-bit: a larger id is a bad argument, not a lookup.
		res := do(t, b.client(nil), `query($id: Int!) { connectSession(organizationId: 3, projectId: "alpha", id: $id) { id } }`,
			map[string]any{"id": int64(1) << 31})
		wantError(t, res, "BAD_USER_INPUT", "id")
	})
}
