package resolvers_test

import (
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"
)

const authenticateMutation = `mutation($token: String!) { authenticateConnectSession(token: $token) { ...S } }` + sessionFields

const updateMutation = `mutation($input: UpdateConnectSessionInput!) { updateConnectSession(input: $input) { ...S } }` + sessionFields

const revokeMutation = `mutation($org: Int!, $project: String!, $id: Int!) {
  revokeConnectSession(organizationId: $org, projectId: $project, id: $id) { ...S } }` + sessionFields

const deleteMutation = `mutation($org: Int!, $project: String!, $id: Int!) {
  deleteConnectSession(organizationId: $org, projectId: $project, id: $id) { id deleted } }`

func authenticate(t testing.TB, b *backend, token string) session {
	t.Helper()
	var out struct {
		AuthenticateConnectSession session `json:"authenticateConnectSession"`
	}
	mustDo(t, b.client(nil), authenticateMutation, map[string]any{"token": token}, &out)
	return out.AuthenticateConnectSession
}

func tenantVars(org int, project string, id int) map[string]any {
	return map[string]any{"org": org, "project": project, "id": id}
}

// badTokenMessage is the one answer to a token that cannot be exchanged, whatever the
// reason.
const badTokenMessage = "the connect session token is malformed, unknown, expired or revoked"

func TestAuthenticateConnectSession(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		out := create(t, b.client(nil), minimalInput("acme")).CreateConnectSession
		b.clock.Advance(time.Second)
		authAt := b.clock.at()
		s := authenticate(t, b, out.Token)
		if s.ID != out.ConnectSession.ID || s.Status != "AUTHENTICATED" {
			t.Errorf("got id %d status %s, want id %d status AUTHENTICATED", s.ID, s.Status, out.ConnectSession.ID)
		}
		if got := deref(s.AuthenticatedAt); got != authAt || !dateTimeRE.MatchString(got) {
			t.Errorf("authenticatedAt: got %s, want %s", got, authAt)
		}
		if got := get(t, b, 1, "demo", s.ID); got == nil || got.Status != "AUTHENTICATED" || deref(got.AuthenticatedAt) != authAt {
			t.Errorf("connectSession after authenticate: got %+v, want status AUTHENTICATED at %s", got, authAt)
		}

		// Again within the expiry: the same session, authenticatedAt unchanged.
		b.clock.Advance(time.Minute)
		if again := authenticate(t, b, out.Token); again.ID != s.ID || deref(again.AuthenticatedAt) != authAt {
			t.Errorf("second authenticate: got id %d at %s, want id %d at %s", again.ID, deref(again.AuthenticatedAt), s.ID, authAt)
		}

		tampered := []byte(out.Token)
		tampered[len(tampered)-1] ^= 1
		bad := []struct{ name, token string }{
			{"unknown", "cst_unknown-token-value-000000000000"},
			{"empty", ""},
			{"tampered", string(tampered)},
			{"very long", strings.Repeat("x", 300)},
		}
		for _, tt := range bad {
			t.Run(tt.name, func(t *testing.T) {
				res := do(t, b.client(nil), authenticateMutation, map[string]any{"token": tt.token})
				e := wantError(t, res, "UNAUTHENTICATED", "")
				if got, want := e.Message, badTokenMessage; got != want {
					t.Errorf("message: got %q, want %q", got, want)
				}
			})
		}

		t.Run("expired", func(t *testing.T) {
			b.clock.Advance(30 * time.Minute)
			res := do(t, b.client(nil), authenticateMutation, map[string]any{"token": out.Token})
			// The same answer as an unknown token's: nothing tells that it existed.
			if e := wantError(t, res, "UNAUTHENTICATED", ""); e.Message != badTokenMessage {
				t.Errorf("message: got %q, want %q", e.Message, badTokenMessage)
			}
			if got := get(t, b, 1, "demo", s.ID); got == nil || got.Status != "EXPIRED" {
				t.Errorf("connectSession after expiry: got %+v, want status EXPIRED", got)
			}
		})
	})
}

func TestUpdateConnectSession(t *testing.T) {
	tests := []struct {
		name  string
		patch map[string]any // the input beyond organizationId, projectId and id
		edit  func(s *session, now time.Time)
	}{
		{"nothing", map[string]any{}, func(*session, time.Time) {}},
		{"label only", map[string]any{"label": "New label"}, func(s *session, _ time.Time) { s.Label = ptr("New label") }},
		{"originOwnerName", map[string]any{"originOwnerName": "Acme GmbH"}, func(s *session, _ time.Time) { s.OriginOwnerName = "Acme GmbH" }},
		{"null clears", map[string]any{"originUsername": nil, "provider": nil, "categories": nil, "accountId": nil, "label": nil, "metadata": nil},
			func(s *session, _ time.Time) {
				s.OriginUsername, s.Provider, s.Categories, s.AccountID, s.Label = nil, nil, nil, nil, nil
				s.Metadata = []byte("null")
			}},
		{"values set", map[string]any{"originUsername": "bob@acme.example", "provider": "bamboohr", "categories": []string{"CRM", "LMS"},
			"accountId": "acc-2", "metadata": map[string]any{"plan": "silver"}, "expiresIn": 3600},
			func(s *session, now time.Time) {
				s.OriginUsername, s.Provider, s.AccountID = ptr("bob@acme.example"), ptr("bamboohr"), ptr("acc-2")
				s.Categories = []string{"CRM", "LMS"}
				s.Metadata = []byte(`{"plan":"silver"}`)
				s.ExpiresAt = now.Add(time.Hour).Format("2006-01-02T15:04:05.000Z")
			}},
		{"empty categories", map[string]any{"categories": []string{}}, func(s *session, _ time.Time) { s.Categories = []string{} }},
	}
	eachBackend(t, func(t *testing.T, b *backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				orig := create(t, b.client(nil), fullInput()).CreateConnectSession.ConnectSession
				b.clock.Advance(time.Second)
				input := map[string]any{"organizationId": 7, "projectId": "proj-1", "id": orig.ID}
				maps.Copy(input, tt.patch)
				var out struct {
					UpdateConnectSession session `json:"updateConnectSession"`
				}
				mustDo(t, b.client(nil), updateMutation, map[string]any{"input": input}, &out)
				want := orig
				want.Categories = append([]string(nil), orig.Categories...)
				tt.edit(&want, b.clock.Now())
				want.UpdatedAt = b.clock.at()
				checkSession(t, "update result", out.UpdateConnectSession, want)
				checkSession(t, "stored", *get(t, b, 7, "proj-1", orig.ID), want)
			})
		}

		t.Run("inline null clears", func(t *testing.T) {
			orig := create(t, b.client(nil), fullInput()).CreateConnectSession.ConnectSession
			var out struct {
				UpdateConnectSession session `json:"updateConnectSession"`
			}
			mustDo(t, b.client(nil), `mutation($id: Int!) { updateConnectSession(input: {organizationId: 7, projectId: "proj-1",
				id: $id, label: null, metadata: null}) { ...S } }`+sessionFields, map[string]any{"id": orig.ID}, &out)
			if got := out.UpdateConnectSession; got.Label != nil || string(got.Metadata) != "null" || deref(got.Provider) != "hibob" {
				t.Errorf("got label %s metadata %s provider %s, want null, null, hibob", deref(got.Label), got.Metadata, deref(got.Provider))
			}
		})

		t.Run("filters follow the new values", func(t *testing.T) {
			in := minimalInput("moving")
			in["provider"], in["categories"], in["accountId"] = "hibob", []string{"ATS"}, "acc-moving"
			id := create(t, b.client(nil), in).CreateConnectSession.ConnectSession.ID
			mustDo(t, b.client(nil), updateMutation, map[string]any{"input": map[string]any{"organizationId": 1, "projectId": "demo",
				"id": id, "provider": "bamboohr", "categories": nil, "accountId": nil}}, new(any))
			filters := []struct {
				filter map[string]any
				want   int
			}{
				{map[string]any{"provider": "hibob"}, 0},
				{map[string]any{"provider": "bamboohr"}, 1},
				{map[string]any{"category": "ATS"}, 0},
				{map[string]any{"accountId": "acc-moving"}, 0},
				{map[string]any{"originOwnerId": "moving"}, 1},
			}
			for _, f := range filters {
				if p := list(t, b, map[string]any{"filter": f.filter}); len(p.Nodes) != f.want || p.TotalCount != f.want {
					t.Errorf("filter %v: got ids %v totalCount %d, want %d", f.filter, p.ids(), p.TotalCount, f.want)
				}
			}
		})

		t.Run("not found", func(t *testing.T) {
			orig := create(t, b.client(nil), fullInput()).CreateConnectSession.ConnectSession
			for _, in := range []map[string]any{
				{"organizationId": 7, "projectId": "proj-1", "id": orig.ID + 1000, "label": "x"},
				{"organizationId": 7, "projectId": "proj-2", "id": orig.ID, "label": "x"},
				{"organizationId": 8, "projectId": "proj-1", "id": orig.ID, "label": "x"},
			} {
				res := do(t, b.client(nil), updateMutation, map[string]any{"input": in})
				wantError(t, res, "NOT_FOUND", "")
			}
			if got := get(t, b, 7, "proj-1", orig.ID); got == nil || deref(got.Label) != "Main HR" {
				t.Errorf("session after refused updates: got %+v, want label Main HR", got)
			}
		})
	})
}

// checkSession compares two sessions, metadata by JSON value.
func checkSession(t testing.TB, what string, got, want session) {
	t.Helper()
	if !sameJSON(t, got.Metadata, want.Metadata) {
		t.Errorf("%s metadata: got %s, want %s", what, got.Metadata, want.Metadata)
	}
	got.Metadata, want.Metadata = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func TestRevokeConnectSession(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		out := create(t, b.client(nil), minimalInput("acme")).CreateConnectSession
		id := out.ConnectSession.ID
		b.clock.Advance(time.Second)
		var rv struct {
			RevokeConnectSession session `json:"revokeConnectSession"`
		}
		mustDo(t, b.client(nil), revokeMutation, tenantVars(1, "demo", id), &rv)
		if got := rv.RevokeConnectSession; got.ID != id || got.Status != "REVOKED" || got.UpdatedAt != b.clock.at() {
			t.Errorf("revoke: got id %d status %s updatedAt %s, want %d REVOKED %s", got.ID, got.Status, got.UpdatedAt, id, b.clock.at())
		}
		if e := wantError(t, do(t, b.client(nil), authenticateMutation, map[string]any{"token": out.Token}), "UNAUTHENTICATED", ""); e.Message != badTokenMessage {
			t.Errorf("revoked token: message %q, want %q (as for an unknown one)", e.Message, badTokenMessage)
		}
		if got := get(t, b, 1, "demo", id); got == nil || got.Status != "REVOKED" {
			t.Errorf("connectSession after revoke: got %+v, want the record kept with status REVOKED", got)
		}

		notFound := []struct {
			name    string
			org     int
			project string
			id      int
		}{
			{"unknown id", 1, "demo", id + 1000},
			{"another project", 1, "other", id},
			{"another organization", 2, "demo", id},
		}
		for _, tt := range notFound {
			t.Run(tt.name, func(t *testing.T) {
				wantError(t, do(t, b.client(nil), revokeMutation, tenantVars(tt.org, tt.project, tt.id)), "NOT_FOUND", "")
			})
		}
	})
}

func TestDeleteConnectSession(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		out := create(t, b.client(nil), minimalInput("acme")).CreateConnectSession
		id := out.ConnectSession.ID
		type payload struct {
			DeleteConnectSession struct {
				ID      int  `json:"id"`
				Deleted bool `json:"deleted"`
			} `json:"deleteConnectSession"`
		}
		steps := []struct {
			name        string
			org         int
			project     string
			wantDeleted bool
		}{
			{"another project", 1, "other", false},
			{"another organization", 2, "demo", false},
			{"existing", 1, "demo", true},
			{"again", 1, "demo", false},
		}
		for _, st := range steps {
			var p payload
			mustDo(t, b.client(nil), deleteMutation, tenantVars(st.org, st.project, id), &p)
			if got := p.DeleteConnectSession; got.ID != id || got.Deleted != st.wantDeleted {
				t.Errorf("%s: got {id %d deleted %v}, want {id %d deleted %v}", st.name, got.ID, got.Deleted, id, st.wantDeleted)
			}
		}
		if got := get(t, b, 1, "demo", id); got != nil {
			t.Errorf("connectSession after delete: got %+v, want null", got)
		}
		if e := wantError(t, do(t, b.client(nil), authenticateMutation, map[string]any{"token": out.Token}), "UNAUTHENTICATED", ""); e.Message != badTokenMessage {
			t.Errorf("deleted session's token: message %q, want %q (as for an unknown one)", e.Message, badTokenMessage)
		}
		if p := list(t, b, nil); len(p.Nodes) != 0 || p.TotalCount != 0 {
			t.Errorf("list after delete: got ids %v totalCount %d, want none", p.ids(), p.TotalCount)
		}
	})
}
