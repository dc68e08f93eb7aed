package resolvers_test

import (
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"connectsession/resolvers"
	"connectsession/webhooks"
)

// webhookClient is a client whose resolver serves the webhook fields over the backend's
// store, with at most maxEndpoints per project.
func (b *backend) webhookClient(maxEndpoints int) *client.Client {
	return newClient(&resolvers.Resolver{Store: b.store, Auth: resolvers.AllowAll{},
		Webhooks: &resolvers.Webhooks{Store: b.store, Policy: webhooks.Policy{}, MaxEndpoints: maxEndpoints, MaxRedeliveries: 2}})
}

type endpoint struct {
	ID             string   `json:"id"`
	OrganizationID int      `json:"organizationId"`
	ProjectID      string   `json:"projectId"`
	URL            string   `json:"url"`
	EventTypes     []string `json:"eventTypes"`
	Enabled        bool     `json:"enabled"`
	DisabledReason *string  `json:"disabledReason"`
	CreatedAt      string   `json:"createdAt"`
}

const endpointFields = `fragment E on WebhookEndpoint { id organizationId projectId url eventTypes enabled disabledReason createdAt }`

const createEndpoint = `mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret endpoint { ...E } } }` + endpointFields

type createdEndpoint struct {
	CreateWebhookEndpoint struct {
		Secret   string   `json:"secret"`
		Endpoint endpoint `json:"endpoint"`
	} `json:"createWebhookEndpoint"`
}

func endpointInput(project, url string, types ...string) map[string]any {
	in := map[string]any{"organizationId": 1, "projectId": project, "url": url}
	if types != nil {
		in["eventTypes"] = types
	}
	return in
}

func checkSecret(t *testing.T, s string) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	if !strings.HasPrefix(s, "whsec_") || err != nil || len(key) < 24 {
		t.Fatalf("secret %q is not whsec_<base64 of 24+ bytes>", s)
	}
}

func TestWebhookEndpointLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		c := b.webhookClient(10)
		var made createdEndpoint
		mustDo(t, c, createEndpoint, map[string]any{"input": endpointInput("demo", "https://hooks.example.com/a")}, &made)
		e := made.CreateWebhookEndpoint.Endpoint
		checkSecret(t, made.CreateWebhookEndpoint.Secret)
		if e.ID == "" || e.OrganizationID != 1 || e.ProjectID != "demo" || e.URL != "https://hooks.example.com/a" ||
			len(e.EventTypes) != 0 || e.EventTypes == nil || !e.Enabled || e.DisabledReason != nil || e.CreatedAt != b.clock.at() {
			t.Fatalf("created %+v", e)
		}
		b.clock.Advance(time.Millisecond) // endpoints list in creation order
		var second createdEndpoint
		mustDo(t, c, createEndpoint, map[string]any{"input": endpointInput("demo", "https://hooks.example.com/b", "CREATED", "DELETED")}, &second)
		if got := second.CreateWebhookEndpoint.Endpoint.EventTypes; strings.Join(got, ",") != "CREATED,DELETED" {
			t.Fatalf("eventTypes %v", got)
		}

		var list struct{ WebhookEndpoints []endpoint }
		mustDo(t, c, `{ webhookEndpoints(organizationId: 1, projectId: "demo") { ...E } }`+endpointFields, nil, &list)
		if len(list.WebhookEndpoints) != 2 || list.WebhookEndpoints[0].ID != e.ID || list.WebhookEndpoints[1].ID != second.CreateWebhookEndpoint.Endpoint.ID {
			t.Fatalf("list %+v", list)
		}
		var other struct{ WebhookEndpoints []endpoint }
		mustDo(t, c, `{ webhookEndpoints(organizationId: 1, projectId: "other") { id } }`, nil, &other)
		if len(other.WebhookEndpoints) != 0 {
			t.Fatalf("another project lists %+v", other)
		}

		update := `mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) { ...E } }` + endpointFields
		var up struct{ UpdateWebhookEndpoint endpoint }
		mustDo(t, c, update, map[string]any{"input": map[string]any{"organizationId": 1, "projectId": "demo", "id": e.ID, "eventTypes": []string{"AUTHENTICATED"}}}, &up)
		if got := up.UpdateWebhookEndpoint; got.URL != e.URL || strings.Join(got.EventTypes, ",") != "AUTHENTICATED" || !got.Enabled {
			t.Fatalf("after changing eventTypes only: %+v", got)
		}
		mustDo(t, c, update, map[string]any{"input": map[string]any{"organizationId": 1, "projectId": "demo", "id": e.ID, "url": "https://hooks.example.com/c", "enabled": false}}, &up)
		if got := up.UpdateWebhookEndpoint; got.URL != "https://hooks.example.com/c" || strings.Join(got.EventTypes, ",") != "AUTHENTICATED" || got.Enabled || got.DisabledReason != nil {
			t.Fatalf("after changing url and enabled: %+v", got)
		}
		mustDo(t, c, update, map[string]any{"input": map[string]any{"organizationId": 1, "projectId": "demo", "id": e.ID, "eventTypes": nil}}, &up)
		if got := up.UpdateWebhookEndpoint; len(got.EventTypes) != 0 || got.EventTypes == nil {
			t.Fatalf("eventTypes null: %+v", got)
		}

		rotate := `mutation($id: ID!) { rotateWebhookSecret(organizationId: 1, projectId: "demo", id: $id) { secret endpoint { id url } } }`
		var rot struct {
			RotateWebhookSecret struct {
				Secret   string
				Endpoint endpoint
			}
		}
		mustDo(t, c, rotate, map[string]any{"id": e.ID}, &rot)
		checkSecret(t, rot.RotateWebhookSecret.Secret)
		if rot.RotateWebhookSecret.Secret == made.CreateWebhookEndpoint.Secret || rot.RotateWebhookSecret.Endpoint.ID != e.ID {
			t.Fatalf("rotate: %+v", rot)
		}

		deliveries := `query($id: ID!, $first: Int) { webhookDeliveries(organizationId: 1, projectId: "demo", endpointId: $id, first: $first) { eventId attempt status error durationMs at } }`
		var ds struct{ WebhookDeliveries []map[string]any }
		mustDo(t, c, deliveries, map[string]any{"id": e.ID}, &ds)
		if len(ds.WebhookDeliveries) != 0 {
			t.Fatalf("a new endpoint has deliveries %+v", ds)
		}

		del := `mutation($id: ID!) { deleteWebhookEndpoint(organizationId: 1, projectId: "demo", id: $id) }`
		var gone struct{ DeleteWebhookEndpoint bool }
		mustDo(t, c, del, map[string]any{"id": e.ID}, &gone)
		if !gone.DeleteWebhookEndpoint {
			t.Fatal("delete returned false")
		}
		mustDo(t, c, del, map[string]any{"id": e.ID}, &gone)
		if gone.DeleteWebhookEndpoint {
			t.Fatal("a second delete returned true")
		}
		for _, q := range []struct{ query string }{{deliveries}, {rotate}} {
			wantError(t, do(t, c, q.query, map[string]any{"id": e.ID}), resolvers.CodeNotFound, "")
		}
		wantError(t, do(t, c, update, map[string]any{"input": map[string]any{"organizationId": 1, "projectId": "demo", "id": e.ID, "enabled": true}}), resolvers.CodeNotFound, "")
		// An endpoint of another project is not found there either.
		wantError(t, do(t, c, `mutation($id: ID!) { rotateWebhookSecret(organizationId: 1, projectId: "other", id: $id) { secret } }`,
			map[string]any{"id": second.CreateWebhookEndpoint.Endpoint.ID}), resolvers.CodeNotFound, "")

		redeliver := `mutation($id: ID!, $ev: ID!) { redeliverWebhookEvent(organizationId: 1, projectId: "demo", endpointId: $id, eventId: $ev) }`
		sid := second.CreateWebhookEndpoint.Endpoint.ID
		wantError(t, do(t, c, redeliver, map[string]any{"id": sid, "ev": "1-0"}), resolvers.CodeNotFound, "")
		wantError(t, do(t, c, redeliver, map[string]any{"id": sid, "ev": "nope"}), resolvers.CodeBadUserInput, "eventId")
		create(t, b.client(nil), minimalInput("o"))
		var log struct{ ConnectSessionEventLog []struct{ EventID string } }
		mustDo(t, c, `{ connectSessionEventLog(organizationId: 1, projectId: "demo") { eventId } }`, nil, &log)
		var ok struct{ RedeliverWebhookEvent bool }
		mustDo(t, c, redeliver, map[string]any{"id": sid, "ev": log.ConnectSessionEventLog[0].EventID}, &ok)
		if !ok.RedeliverWebhookEvent {
			t.Fatal("redeliver returned false")
		}
	})
}

func TestWebhookEndpointInputIsChecked(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		c := b.webhookClient(10)
		var made createdEndpoint
		mustDo(t, c, createEndpoint, map[string]any{"input": endpointInput("demo", "https://hooks.example.com/a")}, &made)
		id := made.CreateWebhookEndpoint.Endpoint.ID
		before := b.snapshot(t)
		for _, c2 := range []struct {
			query string
			vars  map[string]any
			field string
		}{
			{createEndpoint, map[string]any{"input": endpointInput("demo", "http://hooks.example.com/a")}, "input.url"},
			{createEndpoint, map[string]any{"input": endpointInput("demo", "https://10.0.0.1/a")}, "input.url"},
			{createEndpoint, map[string]any{"input": endpointInput("demo", "https://[::ffff:127.0.0.1]/a")}, "input.url"},
			{createEndpoint, map[string]any{"input": endpointInput("demo", "not a url")}, "input.url"},
			{createEndpoint, map[string]any{"input": endpointInput("demo", "https://hooks.example.com/a", "CREATED", "CREATED")}, "input.eventTypes"},
			{createEndpoint, map[string]any{"input": endpointInput("", "https://hooks.example.com/a")}, "input.projectId"},
			{`mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) { id } }`,
				map[string]any{"input": map[string]any{"organizationId": 1, "projectId": "demo", "id": id, "url": nil}}, "input.url"},
			{`mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) { id } }`,
				map[string]any{"input": map[string]any{"organizationId": 1, "projectId": "demo", "id": id, "url": "https://127.0.0.1/"}}, "input.url"},
			{`mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) { id } }`,
				map[string]any{"input": map[string]any{"organizationId": 1, "projectId": "demo", "id": id, "enabled": nil}}, "input.enabled"},
			{`query($id: ID!) { webhookDeliveries(organizationId: 1, projectId: "demo", endpointId: $id, first: 101) { eventId } }`,
				map[string]any{"id": id}, "first"},
		} {
			wantError(t, do(t, c, c2.query, c2.vars), resolvers.CodeBadUserInput, c2.field)
		}
		if after := b.snapshot(t); len(after) != len(before) {
			t.Fatalf("refused inputs wrote keys: %d -> %d", len(before), len(after))
		}
	})
}

// TestAbuseWebhookEndpointsPerProject: a project cannot have more endpoints than the
// limit, even with creates racing each other.
func TestAbuseWebhookEndpointsPerProject(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		c := b.webhookClient(3)
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[string]int{}
		for range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := do(t, c, createEndpoint, map[string]any{"input": endpointInput("demo", "https://hooks.example.com/x")})
				code := "OK"
				if len(res.Errors) > 0 {
					code = res.Errors[0].Code()
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes["OK"] != 3 || codes[resolvers.CodeWebhookLimit] != 9 {
			t.Fatalf("outcomes %v, want 3 OK and 9 %s", codes, resolvers.CodeWebhookLimit)
		}
		var list struct{ WebhookEndpoints []endpoint }
		mustDo(t, c, `{ webhookEndpoints(organizationId: 1, projectId: "demo") { id } }`, nil, &list)
		if len(list.WebhookEndpoints) != 3 {
			t.Fatalf("%d endpoints stored", len(list.WebhookEndpoints))
		}
		// The limit is per project.
		var made createdEndpoint
		mustDo(t, c, createEndpoint, map[string]any{"input": endpointInput("other", "https://hooks.example.com/x")}, &made)
	})
}
