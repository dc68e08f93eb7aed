package resolvers_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectsession/graph/model"
	"connectsession/resolvers"
)

// heldLists holds every List call until released, counting how many run at once per
// tenant.
type heldLists struct {
	resolvers.Store
	release chan struct{}
	mu      sync.Mutex
	now     map[model.Tenant]int
	most    map[model.Tenant]int
	calls   atomic.Int64
}

func (s *heldLists) List(ctx context.Context, t model.Tenant, _ model.ListQuery) (*model.Page, error) {
	s.mu.Lock()
	s.now[t]++
	s.most[t] = max(s.most[t], s.now[t])
	s.mu.Unlock()
	s.calls.Add(1)
	defer func() {
		s.mu.Lock()
		s.now[t]--
		s.mu.Unlock()
	}()
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &model.Page{PageInfo: &model.PageInfo{}, Nodes: []*model.ConnectSession{}, Edges: []*model.ConnectSessionEdge{}}, nil
}

// waitCalls polls until n List calls have started.
func (s *heldLists) waitCalls(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.calls.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d List calls started, want %d", s.calls.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// One tenant's expensive pages wait for each other; its cheap pages and other tenants'
// pages do not wait for them.
func TestScanGatePerTenant(t *testing.T) {
	store := &heldLists{release: make(chan struct{}), now: map[model.Tenant]int{}, most: map[model.Tenant]int{}}
	c := newClient(&resolvers.Resolver{Store: store, Auth: resolvers.AllowAll{}, Scans: resolvers.NewScanGate(2)})
	list := func(project, filter string) string {
		return fmt.Sprintf(`{ connectSessions(organizationId: 1, projectId: %q, filter: %s) { totalCount } }`, project, filter)
	}
	combined := list("noisy", `{type: TEST, category: HRIS}`)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); do(t, c, combined, nil) }()
	}
	store.waitCalls(t, 2)
	// Cheap pages of the same tenant and expensive ones of another are not held back.
	for _, q := range []string{list("noisy", `{type: TEST}`), list("quiet", `{type: TEST, category: HRIS}`), list("quiet2", `{type: TEST, category: HRIS}`)} {
		wg.Add(1)
		go func() { defer wg.Done(); do(t, c, q, nil) }()
	}
	store.waitCalls(t, 5)
	close(store.release)
	wg.Wait()
	noisy := model.Tenant{OrganizationID: 1, ProjectID: "noisy"}
	if got := store.most[noisy]; got != 3 { // 2 expensive + 1 cheap
		t.Errorf("at most %d pages of one tenant ran at once, want 3 (2 expensive, 1 cheap)", got)
	}
	if got := store.calls.Load(); got != 8 {
		t.Errorf("%d List calls, want 8", got)
	}
}
