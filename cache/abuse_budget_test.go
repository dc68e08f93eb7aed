package cache

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"connectsession/graph/model"
)

// scanLog records what every page call of a store spent of its work budget.
type scanLog struct {
	mu    sync.Mutex
	calls []PageScan
}

func (l *scanLog) add(s PageScan) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
}

// since returns the calls recorded from index from on.
func (l *scanLog) since(from int) []PageScan {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls[from:])
}

func (l *scanLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}

// budgeted is the backend b seen through a store with work budget limit, whose calls log
// records.
func budgeted(b *backend, limit int, log *scanLog) *backend {
	c := *b
	c.store = New(b.rdb, Options{Prefix: b.store.k.prefix, Now: b.clock.Now, PageScanLimit: limit, OnPageScan: log.add})
	return &c
}

// A tenant whose type and category indexes are each about half of it and whose filters
// on both rarely (or never) match: every page call, however the filters are combined,
// examines at most the budget's worth of entries; pages cut short continue from their
// cursor and, paged through, show every match exactly once in both directions, with and
// without a createdAt range; counts cut short are lower bounds; pages with one filter or
// none are the same as without a budget.
func TestAbuseCombinedFilterScan(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		tn := model.Tenant{OrganizationID: 9, ProjectID: "noisy"}
		// Even: TEST, ATS. Odd: PRODUCTION, HRIS. One in 37: TEST with HRIS and ATS, the
		// only matches of {TEST, HRIS}; {PRODUCTION, ATS} matches nothing.
		edit := func(base int) func(i int, in *model.CreateConnectSessionInput) {
			return func(i int, in *model.CreateConnectSessionInput) {
				n := base + i
				in.Type, in.Categories = ptr(model.TypeProduction), []model.Category{model.CategoryHRIS}
				switch {
				case n%37 == 0:
					in.Type, in.Categories = ptr(model.TypeTest), []model.Category{model.CategoryHRIS, model.CategoryATS}
				case n%2 == 0:
					in.Type, in.Categories = ptr(model.TypeTest), []model.Category{model.CategoryATS}
				}
			}
		}
		var all []*model.ConnectSession
		for round := range 60 {
			// Batches share a createdAt: runs of ties cross chunk boundaries.
			all = append(all, createMany(t, b, tn, 50, edit(round*50))...)
			b.clock.Advance(time.Duration(round%2) * time.Millisecond)
		}

		const limit = 64
		log := &scanLog{}
		small := budgeted(b, limit, log)
		testHRIS := &model.ConnectSessionFilter{Type: ptr(model.TypeTest), Category: ptr(model.CategoryHRIS)}
		never := &model.ConnectSessionFilter{Type: ptr(model.TypeProduction), Category: ptr(model.CategoryATS)}

		// The attack: a count of filters that never match together.
		zero := 0
		for _, f := range []*model.ConnectSessionFilter{never, testHRIS} {
			from := log.len()
			p, err := small.store.List(ctx, tn, model.ListQuery{Filter: f, WantCount: true, Args: model.PageArgs{First: &zero}})
			if err != nil {
				t.Fatal(err)
			}
			want := len(expected(all, f, false))
			if p.TotalCountExact || p.TotalCount > want || !p.PageInfo.HasNextPage {
				t.Errorf("%+v: totalCount %d exact %v hasNextPage %v, want a lower bound of %d and hasNextPage",
					f, p.TotalCount, p.TotalCountExact, p.PageInfo.HasNextPage, want)
			}
			calls := log.since(from)
			if len(calls) != 1 || calls[0].Examined > limit || !calls[0].CountCut {
				t.Errorf("%+v: calls %+v, want one that examined at most %d and cut its count", f, calls, limit)
			}
			if len(calls) == 1 && (p.ScanUnits != calls[0].Examined || p.ScanUnits == 0) {
				t.Errorf("%+v: the page reports %d units, the call spent %d", f, p.ScanUnits, calls[0].Examined)
			}
		}

		// Paging through cut pages reaches every match exactly once.
		mid, late := all[700].CreatedAt, all[2600].CreatedAt
		filters := []*model.ConnectSessionFilter{
			testHRIS, never,
			{Type: ptr(model.TypeTest), Category: ptr(model.CategoryHRIS), CreatedAfter: &mid, CreatedBefore: &late},
			{Type: ptr(model.TypeTest), Category: ptr(model.CategoryHRIS), CreatedAfter: ptr(mid.Add(time.Microsecond))},
		}
		from := log.len()
		checkPages(t, small, tn, all, filters, []int{3, 50})
		cut := 0
		for _, c := range log.since(from) {
			if c.Examined > limit {
				t.Fatalf("a page call examined %d entries, budget %d", c.Examined, limit)
			}
			if c.Cut {
				cut++
			}
		}
		if cut == 0 {
			t.Errorf("no page was cut short: the test does not exercise the budget")
		}

		// One filter or none: the same pages and exact counts as with no budget to speak
		// of, without a cut, at the default budget.
		dlog, hlog := &scanLog{}, &scanLog{}
		def, huge := budgeted(b, 0, dlog), budgeted(b, 1<<30, hlog)
		for _, f := range []*model.ConnectSessionFilter{nil, {Type: ptr(model.TypeTest)}, {Category: ptr(model.CategoryHRIS)}, {Category: ptr(model.CategoryATS), CreatedAfter: &mid}} {
			for _, asc := range []bool{false, true} {
				var after *string
				for step := 0; ; step++ {
					q := model.ListQuery{Filter: f, Ascending: asc, WantCount: true, Args: model.PageArgs{First: ptr(100), After: after}}
					got, err := def.store.List(ctx, tn, q)
					if err != nil {
						t.Fatal(err)
					}
					want, err := huge.store.List(ctx, tn, q)
					if err != nil {
						t.Fatal(err)
					}
					if g, w := pageSummary(got), pageSummary(want); g != w {
						t.Fatalf("%+v asc=%v step %d: with the default budget %s, without %s", f, asc, step, g, w)
					}
					if !got.PageInfo.HasNextPage {
						break
					}
					after = got.PageInfo.EndCursor
				}
			}
		}
		for _, c := range dlog.since(0) {
			if c.Cut || c.CountCut || c.Examined > DefaultPageScanLimit {
				t.Fatalf("a well-behaved page was cut or over budget: %+v", c)
			}
		}
	})
}

// pageSummary is everything a caller sees of a page but the records' fields.
func pageSummary(p *model.Page) string {
	cursor := func(c *string) string {
		if c == nil {
			return "-"
		}
		return *c
	}
	edges := make([]string, len(p.Edges))
	for i, e := range p.Edges {
		edges[i] = fmt.Sprint(e.Node.ID, "@", e.Cursor)
	}
	return fmt.Sprintf("edges %v next %v prev %v start %s end %s count %d exact %v", edges, p.PageInfo.HasNextPage,
		p.PageInfo.HasPreviousPage, cursor(p.PageInfo.StartCursor), cursor(p.PageInfo.EndCursor), p.TotalCount, p.TotalCountExact)
}
