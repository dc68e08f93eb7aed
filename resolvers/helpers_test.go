package resolvers_test

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/redis/go-redis/v9"

	"connectsession/cache"
	"connectsession/httpapi"
	"connectsession/internal/redistest"
	"connectsession/resolvers"
)

// clock is the stores' settable clock. It starts at the wall clock (so real Redis TTLs,
// which follow the wall clock, stay consistent with the store's view) and moves only when
// a test advances it, so every time the API returns is predictable.
type clock struct{ *redistest.Clock }

func newClock() *clock {
	return &clock{redistest.NewClock(time.Now().UTC().Truncate(time.Millisecond))}
}

// at formats the clock's time as the API writes a DateTime.
func (c *clock) at() string { return c.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

// backend is one Redis the suite runs against, with a store over its own key prefix.
type backend struct {
	rdb    redis.UniversalClient
	prefix string
	clock  *clock
	store  *cache.Store
}

func newBackend(rdb redis.UniversalClient, prefix string) *backend {
	c := newClock()
	return &backend{rdb: rdb, prefix: prefix, clock: c, store: cache.New(rdb, cache.Options{Prefix: prefix, Now: c.Now})}
}

// eachBackend runs fn once on miniredis and once on the real Redis named by REDIS_URL
// (skipped when unset), each with a fresh server or key prefix; see redistest.Each.
func eachBackend(t *testing.T, fn func(t *testing.T, b *backend)) {
	t.Helper()
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) { fn(t, newBackend(rb.RDB, rb.Prefix)) })
}

// client returns a GraphQL client over a handler whose resolver uses the backend's store.
func (b *backend) client(authLinkBase *url.URL) *client.Client {
	return newClient(&resolvers.Resolver{Store: b.store, Auth: resolvers.AllowAll{}, AuthLinkBaseURL: authLinkBase})
}

func newClient(r *resolvers.Resolver) *client.Client {
	return newClientWith(r, httpapi.HandlerOptions{})
}

func newClientWith(r *resolvers.Resolver, opts httpapi.HandlerOptions) *client.Client {
	h, err := httpapi.NewHandler(r, opts)
	if err != nil {
		panic(err) // the test built its Resolver wrongly
	}
	return client.New(h)
}

// snapshot returns every key under the backend's prefix with its type and full value, to
// show that a refused operation wrote nothing.
func (b *backend) snapshot(t testing.TB) map[string]string {
	t.Helper()
	return redistest.Snapshot(t, b.rdb, b.prefix)
}

// gqlError is one entry of a response's errors.
type gqlError = redistest.GQLError

// result is a decoded GraphQL response.
type result = redistest.Result

// do posts query with vars and decodes the response (redistest.Do).
func do(t testing.TB, c *client.Client, query string, vars map[string]any) result {
	t.Helper()
	return redistest.Do(t, c, query, vars)
}

// mustDo is do for a request that must succeed; it decodes the data into out.
func mustDo(t testing.TB, c *client.Client, query string, vars map[string]any, out any) {
	t.Helper()
	res := do(t, c, query, vars)
	if len(res.Errors) > 0 {
		t.Fatalf("unexpected errors: %+v", res.Errors)
	}
	if err := json.Unmarshal(res.Data, out); err != nil {
		t.Fatalf("decode data %s: %v", res.Data, err)
	}
}

// wantError checks that res holds exactly one error, with code and extensions.field
// (field "" means none), and returns it.
func wantError(t testing.TB, res result, code, field string) gqlError {
	t.Helper()
	if len(res.Errors) != 1 {
		t.Fatalf("got %d errors %+v, want 1 with code %s", len(res.Errors), res.Errors, code)
	}
	e := res.Errors[0]
	if got := e.Code(); got != code {
		t.Errorf("extensions.code: got %q, want %q (error %+v)", got, code, e)
	}
	if got := e.Field(); got != field {
		t.Errorf("extensions.field: got %q, want %q (error %+v)", got, field, e)
	}
	return e
}

// session is a ConnectSession as the API returns it, every field selected by sessionFields.
type session struct {
	ID              int             `json:"id"`
	OrganizationID  int             `json:"organizationId"`
	ProjectID       string          `json:"projectId"`
	Categories      []string        `json:"categories"`
	Provider        *string         `json:"provider"`
	OriginOwnerID   string          `json:"originOwnerId"`
	OriginOwnerName string          `json:"originOwnerName"`
	OriginUsername  *string         `json:"originUsername"`
	AccountID       *string         `json:"accountId"`
	Label           *string         `json:"label"`
	CreatedAt       string          `json:"createdAt"`
	Metadata        json.RawMessage `json:"metadata"`
	Type            string          `json:"type"`
	Multiple        bool            `json:"multiple"`
	ExpiresAt       string          `json:"expiresAt"`
	Status          string          `json:"status"`
	AuthenticatedAt *string         `json:"authenticatedAt"`
	UpdatedAt       string          `json:"updatedAt"`
}

const sessionFields = `fragment S on ConnectSession { id organizationId projectId categories provider
  originOwnerId originOwnerName originUsername accountId label createdAt metadata type multiple
  expiresAt status authenticatedAt updatedAt }`

const createMutation = `mutation($input: CreateConnectSessionInput!) {
  createConnectSession(input: $input) { token authLinkUrl connectSession { ...S } } }` + sessionFields

type created struct {
	CreateConnectSession struct {
		Token          string  `json:"token"`
		AuthLinkURL    *string `json:"authLinkUrl"`
		ConnectSession session `json:"connectSession"`
	} `json:"createConnectSession"`
}

// minimalInput is the smallest valid create input for organization 1, project "demo".
func minimalInput(owner string) map[string]any {
	return map[string]any{"organizationId": 1, "projectId": "demo", "originOwnerId": owner, "originOwnerName": "Owner " + owner}
}

// create runs createConnectSession with input and fails the test on any error.
func create(t testing.TB, c *client.Client, input map[string]any) created {
	t.Helper()
	var out created
	mustDo(t, c, createMutation, map[string]any{"input": input}, &out)
	return out
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
