package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectsession/auth"
	"connectsession/graph/model"
	"connectsession/internal/redistest"
)

// FuzzGraphQLHandler posts arbitrary bodies to /graphql with a valid key: no panic, no
// 5xx, every error coded, and a request answered without data writes nothing.
func FuzzGraphQLHandler(f *testing.F) {
	seeds := []string{
		`{"query":"{ connectSessions(organizationId: 1, projectId: \"demo\") { totalCount } }"}`,
		`{"query":"mutation($i: CreateConnectSessionInput!) { createConnectSession(input: $i) { token } }","variables":{"i":{"organizationId":1,"projectId":"demo","originOwnerId":" ","originOwnerName":"x"}}}`,
		`{"query":"mutation { createConnectSession(input: {organizationId: 1, projectId: \"demo\", originOwnerId: \"o\", originOwnerName: \"n\", metadata: [1]}) { token } }"}`,
		`{"query":"mutation { updateConnectSession(input: {organizationId: 1, projectId: \"demo\", id: 1, provider: \"BAD\"}) { id } }"}`,
		`{"query":"{ connectSessions(organizationId: 1, projectId: \"demo\", after: \"!!\") { totalCount } }"}`,
		`{"query":"query($r: [_Any!]!) { _entities(representations: $r) { __typename } }","variables":{"r":[{"__typename":"ConnectSession","id":"x"}]}}`,
		`{"query":"{","variables":null}`, `[]`, `{}`, `null`, `{"query":1}`, `{"query":"{ __typename }","variables":[1]}`,
		`{"query":"mutation { deleteConnectSession(organizationId: 99999999999, projectId: \"demo\", id: 1) { deleted } }"}`,
		`{"query":"query($c: ConnectSessionCategory) { connectSessions(organizationId: 1, projectId: \"demo\", filter: {category: $c}) { totalCount } }","variables":{"c":"hris"}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	rdb := redistest.Mini(f, "fuzz").RDB
	cfg, err := testConfig("fuzz")
	if err != nil {
		f.Fatal(err)
	}
	svc, err := newService(cfg, rdb, nil, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		f.Fatal(err)
	}
	key, _, err := auth.Issue(context.Background(), svc.store, 1, nil, model.RoleWrite, "fuzz", time.Now())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		before := redistest.Snapshot(t, rdb, "fuzz")
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		svc.handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
		var resp struct {
			Data   json.RawMessage
			Errors []struct {
				Extensions map[string]any
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("response is not JSON for %q: %s", body, rec.Body.String())
		}
		for _, e := range resp.Errors {
			if c, _ := e.Extensions["code"].(string); c == "" || c == "INTERNAL_SERVER_ERROR" {
				t.Fatalf("error without a proper code for %q: %s", body, rec.Body.String())
			}
		}
		if len(resp.Errors) > 0 && (len(resp.Data) == 0 || string(resp.Data) == "null") {
			if after := redistest.Snapshot(t, rdb, "fuzz"); !maps.Equal(before, after) {
				t.Fatalf("a refused request wrote to redis: %q", body)
			}
		}
	})
}
