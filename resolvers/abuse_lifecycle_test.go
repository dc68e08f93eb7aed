package resolvers_test

import (
	"maps"
	"strings"
	"testing"
	"time"
)

// An expired or revoked session cannot be brought back by an update: a new expiresIn is
// refused with BAD_USER_INPUT on input.expiresIn and nothing is written, other fields
// still change, and the old token keeps answering UNAUTHENTICATED.
func TestAbuseRevivedToken(t *testing.T) {
	kill := []struct {
		name, why string
		die       func(t *testing.T, b *backend, id int)
	}{
		{"expired", "has expired", func(t *testing.T, b *backend, _ int) { b.clock.Advance(2 * time.Minute) }},
		{"revoked", "was revoked", func(t *testing.T, b *backend, id int) {
			mustDo(t, b.client(nil), revokeMutation, tenantVars(1, "demo", id), new(any))
		}},
	}
	eachBackend(t, func(t *testing.T, b *backend) {
		for _, k := range kill {
			t.Run(k.name, func(t *testing.T) {
				in := minimalInput("revive-" + k.name)
				in["expiresIn"] = 60
				out := create(t, b.client(nil), in).CreateConnectSession
				id := out.ConnectSession.ID
				authenticate(t, b, out.Token) // the token worked while live
				k.die(t, b, id)
				wantError(t, do(t, b.client(nil), authenticateMutation, map[string]any{"token": out.Token}), "UNAUTHENTICATED", "")

				before := b.snapshot(t)
				for _, patch := range []map[string]any{
					{"expiresIn": 600},
					{"expiresIn": 2592000, "label": "revived?"}, // no part of a refused update is written
				} {
					input := map[string]any{"organizationId": 1, "projectId": "demo", "id": id}
					maps.Copy(input, patch)
					res := do(t, b.client(nil), updateMutation, map[string]any{"input": input})
					e := wantError(t, res, "BAD_USER_INPUT", "input.expiresIn")
					if !strings.Contains(e.Message, k.why) || !strings.Contains(e.Message, "create a new session") {
						t.Errorf("message %q: want it to say the session %s and a new session is needed", e.Message, k.why)
					}
				}
				if after := b.snapshot(t); !maps.Equal(after, before) {
					t.Errorf("refused update wrote:\n before %v\n after  %v", before, after)
				}

				// Other fields of a dead session may still change; its status does not.
				var upd struct {
					UpdateConnectSession session `json:"updateConnectSession"`
				}
				mustDo(t, b.client(nil), updateMutation, map[string]any{"input": map[string]any{
					"organizationId": 1, "projectId": "demo", "id": id, "label": "archived", "metadata": map[string]any{"note": "x"}}}, &upd)
				if got := upd.UpdateConnectSession; deref(got.Label) != "archived" || got.Status != strings.ToUpper(k.name) || got.ExpiresAt != out.ConnectSession.ExpiresAt {
					t.Errorf("label update: got label %s status %s expiresAt %s, want archived %s %s",
						deref(got.Label), got.Status, got.ExpiresAt, strings.ToUpper(k.name), out.ConnectSession.ExpiresAt)
				}
				wantError(t, do(t, b.client(nil), authenticateMutation, map[string]any{"token": out.Token}), "UNAUTHENTICATED", "")
			})
		}
	})
}
