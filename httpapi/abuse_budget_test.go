package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"connectsession/graph/model"
	"connectsession/httpapi"
	"connectsession/internal/redistest"
	"connectsession/resolvers"
)

// gateStore is a Store whose Get of id 1 waits until the test lets it go (or the
// caller's context ends), so operations stay in flight for as long as a test needs.
type gateStore struct {
	resolvers.Store // nil: only Get is called
	entered         chan struct{}
	release         chan struct{}
}

func (s *gateStore) Get(ctx context.Context, t model.Tenant, id int) (*model.ConnectSession, error) {
	if id != 1 {
		return nil, model.ErrNotFound
	}
	s.entered <- struct{}{}
	select {
	case <-s.release:
		return nil, model.ErrNotFound
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// headerKey names the caller by its X-Key header, standing in for the key check.
func headerKey(ctx context.Context) (string, error) {
	if graphql.HasOperationContext(ctx) {
		if k := graphql.GetOperationContext(ctx).Headers.Get("X-Key"); k != "" {
			return k, nil
		}
	}
	return "", model.ErrUnauthenticated
}

// postAs posts a connectSession read of id as key and returns the first error's code
// ("" for none) and extensions.
func postAs(ctx context.Context, t *testing.T, url, key string, id int) (string, map[string]any) {
	body, _ := json.Marshal(map[string]any{
		"query":     `query($id: Int!) { connectSession(organizationId: 1, projectId: "demo", id: $id) { id } }`,
		"variables": map[string]any{"id": id},
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return "canceled", nil
		}
		t.Errorf("post: %v", err)
		return "", nil
	}
	defer resp.Body.Close()
	var res struct{ Errors []redistest.GQLError }
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Errorf("decode: %v", err)
	}
	if len(res.Errors) == 0 {
		return "", nil
	}
	return res.Errors[0].Code(), res.Errors[0].Extensions
}

// One key may hold only API_KEY_MAX_CONCURRENT operations in flight on an instance:
// the next is refused before it runs, other keys are not affected, and every slot comes
// back when its operation ends, whether it answered or its client went away.
func TestAbuseConcurrentOperationsPerKey(t *testing.T) {
	store := &gateStore{entered: make(chan struct{}, 8), release: make(chan struct{})}
	var mu sync.Mutex
	var observed []string
	h, err := httpapi.NewHandler(&resolvers.Resolver{Store: store, Auth: resolvers.AllowAll{}}, httpapi.HandlerOptions{
		Budgets: httpapi.Budgets{KeyConcurrent: 2, Caller: headerKey},
		Observe: func(_ context.Context, op, code string, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			observed = append(observed, op+":"+code)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx := context.Background()

	// Two operations of key A in flight: one that will answer, one whose client leaves.
	answered := make(chan string, 1)
	go func() { code, _ := postAs(ctx, t, srv.URL, "A", 1); answered <- code }()
	leaving, leave := context.WithCancel(ctx)
	left := make(chan string, 1)
	go func() { code, _ := postAs(leaving, t, srv.URL, "A", 1); left <- code }()
	for range 2 {
		select {
		case <-store.entered:
		case <-time.After(5 * time.Second):
			t.Fatal("operations did not start")
		}
	}

	code, ext := postAs(ctx, t, srv.URL, "A", 2)
	if code != resolvers.CodeRateLimited || ext["retryAfter"] != float64(1) {
		t.Fatalf("third operation of A: code %q extensions %v, want RATE_LIMITED with retryAfter 1", code, ext)
	}
	if code, _ := postAs(ctx, t, srv.URL, "B", 2); code != "" {
		t.Fatalf("another key is refused while A is at its cap: %q", code)
	}
	if code, _ := postAs(ctx, t, srv.URL, "", 2); code != "" {
		t.Fatalf("a keyless operation is refused while A is at its cap: %q", code)
	}

	// The client that leaves gives its slot back: A may run one more (which waits).
	leave()
	if got := <-left; got != "canceled" {
		t.Fatalf("leaving client got %q", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		go func() { code, _ := postAs(ctx, t, srv.URL, "A", 1); answered <- code }()
		select {
		case <-store.entered:
		case code := <-answered:
			if code != resolvers.CodeRateLimited || time.Now().After(deadline) {
				t.Fatalf("after the client left: %q, want a slot back", code)
			}
			continue // the slot is freed when the server notices; try again
		}
		break
	}
	// Both answer; then A has its two slots again.
	close(store.release)
	for range 2 {
		if code := <-answered; code != "" {
			t.Fatalf("in-flight operation answered %q", code)
		}
	}
	for range 3 {
		if code, _ := postAs(ctx, t, srv.URL, "A", 1); code != "" {
			t.Fatalf("after the operations ended, A is refused: %q", code)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	refused := 0
	for _, o := range observed {
		if o == "connectSession:RATE_LIMITED" {
			refused++
		}
	}
	if refused == 0 {
		t.Errorf("refusals are not reported to Observe: %v", observed)
	}
}
