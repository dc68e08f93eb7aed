package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"connectsession/graph/model"
)

// specSignature computes webhook-signature as the Standard Webhooks specification
// words it, without the library the service signs with.
func specSignature(t *testing.T, secret, id, timestamp string, body []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatalf("secret %q is not whsec_<base64>: %v", secret, err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestSignatureFollowsTheSpecification(t *testing.T) {
	secret := NewSecret()
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q lacks whsec_", secret)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) != 32 {
		t.Fatalf("secret's key: %d bytes, %v; want 32", len(key), err)
	}
	if NewSecret() == secret {
		t.Fatal("two secrets are equal")
	}
	at := time.Unix(1767225600, 0)
	body := []byte(`{"type":"CREATED","eventId":"1767225600000-0"}`)
	got, err := Signature(secret, "1767225600000-0", at, body)
	if err != nil {
		t.Fatal(err)
	}
	if want := specSignature(t, secret, "1767225600000-0", "1767225600", body); got != want {
		t.Fatalf("signature %q, want %q", got, want)
	}
	if _, err := Signature("whsec_not base64!", "1-0", at, body); err == nil {
		t.Fatal("a malformed secret signed")
	}
}

func TestBodyIsTheEventAsTheAPIShowsIt(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	provider, label := "hibob", "a label"
	s := &model.ConnectSession{ID: 42, OrganizationID: 1, ProjectID: "demo", Categories: model.CategoryList{model.CategoryHRISLegacy},
		Provider: &provider, OriginOwnerID: "o1", OriginOwnerName: "Owner", Label: &label, CreatedAt: at,
		Metadata: model.JSON(`{"plan":"pro"}`), Type: model.TypeTest, ExpiresAt: at.Add(time.Hour),
		Status: model.ConnectSessionStatusAuthenticated, AuthenticatedAt: &at, UpdatedAt: at.Add(time.Second)}
	ev := &model.ConnectSessionEvent{EventID: "1767225600000-3", Type: model.ConnectSessionEventTypeAuthenticated, ID: 42, ConnectSession: s, OccurredAt: at.Add(1500 * time.Millisecond)}
	var got map[string]any
	if err := json.Unmarshal(Body(ev), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"type": "AUTHENTICATED", "eventId": "1767225600000-3", "occurredAt": "2026-01-01T00:00:01.500Z",
		"data": map[string]any{
			"id": 42.0, "organizationId": 1.0, "projectId": "demo", "categories": []any{"HRIS_LEGACY"}, "provider": "hibob",
			"originOwnerId": "o1", "originOwnerName": "Owner", "originUsername": nil, "accountId": nil, "label": "a label",
			"createdAt": "2026-01-01T00:00:00.000Z", "metadata": map[string]any{"plan": "pro"}, "type": "TEST", "multiple": false,
			"expiresAt": "2026-01-01T01:00:00.000Z", "status": "AUTHENTICATED", "authenticatedAt": "2026-01-01T00:00:00.000Z",
			"updatedAt": "2026-01-01T00:00:01.000Z",
		},
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Fatalf("body\n got %s\nwant %s", gb, wb)
	}

	deleted := &model.ConnectSessionEvent{EventID: "5-0", Type: model.ConnectSessionEventTypeDeleted, ID: 42, OccurredAt: at}
	if got, want := string(Body(deleted)), `{"type":"DELETED","eventId":"5-0","occurredAt":"2026-01-01T00:00:00.000Z","data":null}`; got != want {
		t.Fatalf("DELETED body %s, want %s", got, want)
	}
	// Every field of the schema's ConnectSession is in data, under its GraphQL name, and
	// nothing else.
	src, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	doc, gerr := parser.ParseSchema(&ast.Source{Name: "schema.graphqls", Input: string(src)})
	if gerr != nil {
		t.Fatal(gerr)
	}
	data := got["data"].(map[string]any)
	fields := 0
	for _, def := range doc.Definitions {
		if def.Name != "ConnectSession" {
			continue
		}
		for _, f := range def.Fields {
			fields++
			if _, ok := data[f.Name]; !ok {
				t.Errorf("data lacks the schema's field %s", f.Name)
			}
		}
	}
	if fields == 0 || len(data) != fields {
		t.Errorf("data has %d fields, the schema's ConnectSession %d", len(data), fields)
	}
}
