package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"connectsession/graph/model"
	"connectsession/httpapi"
	"connectsession/internal/redistest"
	"connectsession/resolvers"
)

// endingStore is a Store whose Create ends the request's context (end, set per request)
// and then fails as the cache fails a Redis call whose context ended.
type endingStore struct {
	resolvers.Store // nil: only Create is called
	creates         atomic.Int32
	end             func(ctx context.Context) // ends ctx's request: cancels it, or waits out its deadline
}

func (s *endingStore) Create(ctx context.Context, _ *model.CreateConnectSessionInput) (*model.ConnectSession, string, error) {
	s.creates.Add(1)
	s.end(ctx)
	return nil, "", fmt.Errorf("cache: create: %w: %w", model.ErrUnavailable, ctx.Err())
}

const twoCreates = `mutation {
  a: createConnectSession(input: {organizationId: 1, projectId: "p", originOwnerId: "a", originOwnerName: "A"}) { token }
  b: createConnectSession(input: {organizationId: 1, projectId: "p", originOwnerId: "b", originOwnerName: "B"}) { token } }`

// Once a request's context has ended, the root fields not started yet are not resolved:
// after the client left they are skipped quietly (CANCELED, which nobody reads); after
// REQUEST_TIMEOUT, the caller still waiting learns which fields did not run (UNAVAILABLE,
// with their path).
func TestEndedRequestSkipsLaterRootFields(t *testing.T) {
	tests := []struct {
		name    string
		wrap    func(store *endingStore, next http.Handler) http.Handler
		code    string
		message string // of the skipped field b
	}{
		{"client gone", func(store *endingStore, next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctx, cancel := context.WithCancel(r.Context())
				defer cancel()
				store.end = func(context.Context) { cancel() }
				next.ServeHTTP(w, r.WithContext(ctx))
			})
		}, "CANCELED", "the request was canceled: the client closed the connection"},
		{"deadline", func(store *endingStore, next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctx, cancel := context.WithTimeout(r.Context(), 20*time.Millisecond)
				defer cancel()
				store.end = func(ctx context.Context) { <-ctx.Done() }
				next.ServeHTTP(w, r.WithContext(ctx))
			})
		}, "UNAVAILABLE", "the request ran out of time before this field was resolved; try again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &endingStore{}
			h, err := httpapi.NewHandler(&resolvers.Resolver{Store: store, Auth: resolvers.AllowAll{}}, httpapi.HandlerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			res := redistest.Do(t, client.New(tt.wrap(store, h)), twoCreates, nil)
			if n := store.creates.Load(); n != 1 {
				t.Errorf("store.Create called %d times, want 1 (b must not start once the request ended)", n)
			}
			if len(res.Errors) != 2 {
				t.Fatalf("got errors %+v, want one for a and one for b", res.Errors)
			}
			for i, want := range []string{"a", "b"} {
				e := res.Errors[i]
				if len(e.Path) != 1 || e.Path[0] != want || e.Code() != tt.code {
					t.Errorf("error %d: got path %v code %s, want [%s] %s", i, e.Path, e.Code(), want, tt.code)
				}
			}
			if got := res.Errors[1].Message; got != tt.message {
				t.Errorf("message for b: got %q, want %q", got, tt.message)
			}
		})
	}
}
