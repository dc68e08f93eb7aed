package resolvers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectsession/graph/model"
	"connectsession/httpapi"
	"connectsession/resolvers"
)

// postHTTP sends a raw JSON body to h and returns the status and the decoded response;
// gqlgen's client refuses to decode error statuses, which parse and validation errors get.
func postHTTP(t testing.TB, h http.Handler, body string) (int, result) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var res result
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
		t.Fatalf("decode %s: %v", w.Body.Bytes(), err)
	}
	return w.Code, res
}

func TestRequestErrors(t *testing.T) {
	tests := []struct {
		name, body, code string
	}{
		{"syntax error", `{"query": "{ connectSession(organizationId: 1"}`, "GRAPHQL_PARSE_FAILED"},
		{"unterminated string", `{"query": "mutation { authenticateConnectSession(token: \"abc) { id } }"}`, "GRAPHQL_PARSE_FAILED"},
		{"unknown field", `{"query": "{ connectSession(organizationId: 1, projectId: \"p\", id: 1) { id nope } }"}`, "GRAPHQL_VALIDATION_FAILED"},
		{"unknown argument", `{"query": "{ connectSession(organizationId: 1, projectId: \"p\", id: 1, x: 2) { id } }"}`, "GRAPHQL_VALIDATION_FAILED"},
		{"missing argument", `{"query": "{ connectSession(organizationId: 1, id: 1) { id } }"}`, "GRAPHQL_VALIDATION_FAILED"},
		{"unknown enum value", `{"query": "{ connectSessions(organizationId: 1, projectId: \"p\", filter: {category: FAX}) { totalCount } }"}`, "GRAPHQL_VALIDATION_FAILED"},
		{"unknown input field in a variable",
			`{"query": "mutation($in: UpdateConnectSessionInput!) { updateConnectSession(input: $in) { id } }",
			  "variables": {"in": {"organizationId": 1, "projectId": "p", "id": 1, "status": "REVOKED"}}}`, "GRAPHQL_VALIDATION_FAILED"},
		{"variable of the wrong type",
			`{"query": "query($o: Int!) { connectSession(organizationId: $o, projectId: \"p\", id: 1) { id } }", "variables": {"o": "one"}}`,
			"GRAPHQL_VALIDATION_FAILED"},
	}
	// No store call may happen: a nil store would panic and turn into an internal error.
	h, err := httpapi.NewHandler(&resolvers.Resolver{Auth: resolvers.AllowAll{}}, httpapi.HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, res := postHTTP(t, h, tt.body)
			if status != http.StatusUnprocessableEntity {
				t.Errorf("status: got %d, want %d", status, http.StatusUnprocessableEntity)
			}
			if string(res.Data) != "" && string(res.Data) != "null" {
				t.Errorf("data: got %s, want null", res.Data)
			}
			if len(res.Errors) == 0 {
				t.Fatal("got no errors, want one")
			}
			for _, e := range res.Errors {
				if got := e.Code(); got != tt.code {
					t.Errorf("extensions.code: got %q, want %q (%s)", got, tt.code, e.Message)
				}
			}
		})
	}
}

// failingStore is a Store whose every method returns err.
type failingStore struct{ err error }

func (f failingStore) Get(context.Context, model.Tenant, int) (*model.ConnectSession, error) {
	return nil, f.err
}

func (f failingStore) List(context.Context, model.Tenant, model.ListQuery) (*model.Page, error) {
	return nil, f.err
}

func (f failingStore) Create(context.Context, *model.CreateConnectSessionInput) (*model.ConnectSession, string, error) {
	return nil, "", f.err
}

func (f failingStore) Authenticate(context.Context, string) (*model.ConnectSession, error) {
	return nil, f.err
}

func (f failingStore) Update(context.Context, *model.SessionUpdate) (*model.ConnectSession, error) {
	return nil, f.err
}

func (f failingStore) Revoke(context.Context, model.Tenant, int) (*model.ConnectSession, error) {
	return nil, f.err
}

func (f failingStore) Delete(context.Context, model.Tenant, int) (bool, error) { return false, f.err }

func (f failingStore) GetMany(context.Context, []int) ([]*model.ConnectSession, error) {
	return nil, f.err
}

func (f failingStore) EventLog(context.Context, model.Tenant, string, int) ([]*model.ConnectSessionEvent, error) {
	return nil, f.err
}

var _ resolvers.Store = failingStore{}

// everyOperation calls each operation once with valid arguments.
var everyOperation = []struct{ name, query string }{
	{"connectSession", `{ connectSession(organizationId: 1, projectId: "p", id: 1) { id } }`},
	{"connectSessions", `{ connectSessions(organizationId: 1, projectId: "p") { totalCount } }`},
	{"createConnectSession", `mutation { createConnectSession(input: {organizationId: 1, projectId: "p",
		originOwnerId: "o", originOwnerName: "O"}) { token } }`},
	{"authenticateConnectSession", `mutation { authenticateConnectSession(token: "cst_abc") { id } }`},
	{"updateConnectSession", `mutation { updateConnectSession(input: {organizationId: 1, projectId: "p", id: 1, label: "l"}) { id } }`},
	{"revokeConnectSession", `mutation { revokeConnectSession(organizationId: 1, projectId: "p", id: 1) { id } }`},
	{"deleteConnectSession", `mutation { deleteConnectSession(organizationId: 1, projectId: "p", id: 1) { deleted } }`},
}

func TestStoreErrors(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		code        string
		message     string
		mustNotLeak string
	}{
		{"unavailable", fmt.Errorf("cache: get: %w: dial tcp 10.0.0.9:6379: connection refused", model.ErrUnavailable),
			"UNAVAILABLE", "the session store is unavailable; try again shortly", "10.0.0.9"},
		{"internal", errors.New("boom: secret detail"), "INTERNAL_SERVER_ERROR", "internal system error", "secret"},
		{"internal wrapped", fmt.Errorf("cache: decode record: %w", errors.New("boom: secret detail")),
			"INTERNAL_SERVER_ERROR", "internal system error", "secret"},
	}
	for _, tt := range tests {
		c := newClient(&resolvers.Resolver{Store: failingStore{err: tt.err}, Auth: resolvers.AllowAll{}})
		for _, op := range everyOperation {
			t.Run(tt.name+"/"+op.name, func(t *testing.T) {
				resp, err := c.RawPost(op.query)
				if err != nil {
					t.Fatalf("post: %v", err)
				}
				var errs []gqlError
				if err := json.Unmarshal(resp.Errors, &errs); err != nil {
					t.Fatalf("decode errors %s: %v", resp.Errors, err)
				}
				e := wantError(t, result{Errors: errs}, tt.code, "")
				if e.Message != tt.message {
					t.Errorf("message: got %q, want %q", e.Message, tt.message)
				}
				if got, want := fmt.Sprint(e.Path), "["+op.name+"]"; got != want {
					t.Errorf("path: got %s, want %s", got, want)
				}
				body, err := json.Marshal(resp)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(body), tt.mustNotLeak) {
					t.Errorf("response leaks %q: %s", tt.mustNotLeak, body)
				}
			})
		}
	}
}
