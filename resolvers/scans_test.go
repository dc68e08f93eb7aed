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
// organization.
type heldLists struct {
	resolvers.Store
	release chan struct{}
	mu      sync.Mutex
	now     map[int]int
	most    map[int]int
	calls   atomic.Int64
}

func (s *heldLists) List(ctx context.Context, t model.Tenant, _ model.ListQuery) (*model.Page, error) {
	org := t.OrganizationID
	s.mu.Lock()
	s.now[org]++
	s.most[org] = max(s.most[org], s.now[org])
	s.mu.Unlock()
	s.calls.Add(1)
	defer func() {
		s.mu.Lock()
		s.now[org]--
		s.mu.Unlock()
	}()
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return emptyPage(0), nil
}

func emptyPage(units int) *model.Page {
	return &model.Page{PageInfo: &model.PageInfo{}, Nodes: []*model.ConnectSession{}, Edges: []*model.ConnectSessionEdge{}, ScanUnits: units}
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

func pageQuery(org int, project, filter string) string {
	return fmt.Sprintf(`{ connectSessions(organizationId: %d, projectId: %q, filter: %s) { totalCount } }`, org, project, filter)
}

// One organization's expensive pages wait for each other whatever their projects (a key
// may cover them all); its cheap pages and other organizations' pages do not wait.
func TestScanGatePerOrganization(t *testing.T) {
	store := &heldLists{release: make(chan struct{}), now: map[int]int{}, most: map[int]int{}}
	c := newClient(&resolvers.Resolver{Store: store, Auth: resolvers.AllowAll{},
		Scans: resolvers.NewScanGate(resolvers.ScanOptions{Concurrency: 2})})
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		q := pageQuery(1, fmt.Sprintf("p%d", i), `{type: TEST, category: HRIS}`)
		go func() { defer wg.Done(); do(t, c, q, nil) }()
	}
	store.waitCalls(t, 2)
	// Cheap pages of the same organization and expensive ones of another are not held
	// back.
	for _, q := range []string{pageQuery(1, "p0", `{type: TEST}`), pageQuery(2, "a", `{type: TEST, category: HRIS}`), pageQuery(2, "b", `{type: TEST, category: HRIS}`)} {
		wg.Add(1)
		go func() { defer wg.Done(); do(t, c, q, nil) }()
	}
	store.waitCalls(t, 5)
	close(store.release)
	wg.Wait()
	if got := store.most[1]; got != 3 { // 2 expensive + 1 cheap, over six projects
		t.Errorf("at most %d pages of one organization ran at once, want 3 (2 expensive, 1 cheap)", got)
	}
	if got := store.most[2]; got != 2 {
		t.Errorf("another organization ran %d pages at once, want 2", got)
	}
	if got := store.calls.Load(); got != 9 {
		t.Errorf("%d List calls, want 9", got)
	}
}

// costedLists answers at once, reporting the units each call spent: cost for a cheap
// page, 1,000 (the default PAGE_SCAN_LIMIT) for an expensive one.
type costedLists struct {
	resolvers.Store
	cheap atomic.Int64
	calls atomic.Int64
}

func (s *costedLists) List(_ context.Context, _ model.Tenant, q model.ListQuery) (*model.Page, error) {
	s.calls.Add(1)
	units := int(s.cheap.Load())
	if q.Filter != nil && q.Filter.Type != nil && q.Filter.Category != nil {
		units = 1000
	}
	return emptyPage(units), nil
}

// Every page is charged the units it spent to its organization's budget; while it is in
// debt, the organization's expensive pages are refused before they run, with
// RATE_LIMITED and a retryAfter, its cheap ones only past a whole second's budget of
// debt; other organizations are not affected, and the budget refills with time.
func TestScanBudgetPerOrganization(t *testing.T) {
	clk := newClock()
	store := &costedLists{}
	store.cheap.Store(20)
	c := newClient(&resolvers.Resolver{Store: store, Auth: resolvers.AllowAll{},
		Scans: resolvers.NewScanGate(resolvers.ScanOptions{Concurrency: 2, UnitsPerSecond: 2000, Now: clk.Now})})
	costly := func(org int, project string) result {
		return do(t, c, pageQuery(org, project, `{type: TEST, category: HRIS}`), nil)
	}
	cheap := func(org int) result { return do(t, c, pageQuery(org, "p", `{type: TEST}`), nil) }
	ok := func(what string, r result) {
		t.Helper()
		if len(r.Errors) > 0 {
			t.Fatalf("%s: %+v", what, r.Errors)
		}
	}
	limited := func(what string, r result, retry float64) {
		t.Helper()
		if len(r.Errors) != 1 || r.Errors[0].Code() != "RATE_LIMITED" {
			t.Fatalf("%s: got %+v, want RATE_LIMITED", what, r.Errors)
		}
		if got, _ := r.Errors[0].Extensions["retryAfter"].(float64); got != retry {
			t.Errorf("%s: retryAfter %v, want %v", what, r.Errors[0].Extensions["retryAfter"], retry)
		}
	}
	// 2,000 units: the first two spend the bucket, the third overdraws it (it was not in
	// debt yet), the fourth finds it in debt and does not run.
	for i := range 3 {
		ok(fmt.Sprintf("expensive page %d", i), costly(1, fmt.Sprintf("p%d", i)))
	}
	calls := store.calls.Load()
	limited("expensive page in debt", costly(1, "p3"), 1)
	if store.calls.Load() != calls {
		t.Errorf("a refused page reached the store")
	}
	ok("another organization's expensive page", costly(2, "p0"))
	ok("a cheap page of the indebted organization", cheap(1)) // -1,020
	clk.Advance(500 * time.Millisecond)                       // -20
	limited("expensive page 0.01 s from paying off", costly(1, "p0"), 1)
	clk.Advance(10 * time.Millisecond)                          // 0
	ok("expensive page once the debt is paid", costly(1, "p0")) // -1,000

	// Cheap pages are charged too: a flood of them puts the organization in debt, and
	// past a second's budget of debt they are refused as well.
	store.cheap.Store(1500)
	ok("a cheap page", cheap(1))                  // -2,500
	limited("cheap page", cheap(1), 1)            // 500 past the floor of -2,000
	limited("expensive page", costly(1, "p0"), 2) // 2,500 to pay off
	clk.Advance(300 * time.Millisecond)           // -1,900
	ok("a cheap page within a second's debt", cheap(1))
	if r := costly(3, "p0"); len(r.Errors) > 0 {
		t.Errorf("a third organization: %+v", r.Errors)
	}
}
