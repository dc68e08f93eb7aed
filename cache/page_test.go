package cache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"connectsession/graph/model"
)

// seedSessions creates n sessions with a spread of attributes; the clock moves 0 or 1 ms
// between them so that many share a createdAt and the id has to break ties.
func seedSessions(t *testing.T, b *backend, tn model.Tenant, n int) []*model.ConnectSession {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var out []*model.ConnectSession
	providers := []string{"hibob", "bamboohr", "personio"}
	for i := range n {
		in := createIn(tn, fmt.Sprintf("owner-%d", i%4))
		if i%2 == 0 {
			in.Provider = ptr(providers[i%3])
		}
		if i%3 == 0 {
			in.AccountID = ptr(fmt.Sprintf("acc-%d", i%2))
		}
		cats := slices.Clone(model.AllCategories[:1+rng.IntN(4)])
		rng.Shuffle(len(cats), func(a, b int) { cats[a], cats[b] = cats[b], cats[a] })
		in.Categories = cats
		if i%5 == 0 {
			in.Type = ptr(model.TypeTest)
		}
		s, _ := mustCreate(t, b, in)
		out = append(out, s)
		if rng.IntN(3) == 0 {
			b.clock.Advance(time.Millisecond)
		}
	}
	return out
}

func matches(s *model.ConnectSession, f *model.ConnectSessionFilter) bool {
	if f == nil {
		return true
	}
	eq := func(p *string, v *string) bool { return p == nil || (v != nil && *v == *p) }
	if !eq(f.Provider, s.Provider) || !eq(f.AccountID, s.AccountID) {
		return false
	}
	if f.OriginOwnerID != nil && *f.OriginOwnerID != s.OriginOwnerID {
		return false
	}
	if f.Category != nil && !slices.Contains(s.Categories, *f.Category) {
		return false
	}
	if f.Type != nil && *f.Type != s.Type {
		return false
	}
	if f.CreatedAfter != nil && s.CreatedAt.Before(*f.CreatedAfter) {
		return false
	}
	if f.CreatedBefore != nil && !s.CreatedAt.Before(*f.CreatedBefore) {
		return false
	}
	return true
}

// expected returns the ids a list should show, in its order.
func expected(all []*model.ConnectSession, f *model.ConnectSessionFilter, asc bool) []int {
	var out []*model.ConnectSession
	for _, s := range all {
		if matches(s, f) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *model.ConnectSession) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return a.ID - b.ID
	})
	ids := make([]int, len(out))
	for i, s := range out {
		ids[i] = s.ID
	}
	if !asc {
		slices.Reverse(ids)
	}
	return ids
}

func ids(p *model.Page) []int {
	out := make([]int, len(p.Nodes))
	for i, n := range p.Nodes {
		out[i] = n.ID
	}
	return out
}

func TestPagesMatchReference(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		all := seedSessions(t, b, demo, 41)
		// A session of another tenant must never show.
		mustCreate(t, b, createIn(model.Tenant{OrganizationID: 1, ProjectID: "demo2"}, "owner-0"))
		mid := all[15].CreatedAt
		filters := []*model.ConnectSessionFilter{
			nil,
			{Provider: ptr("hibob")},
			{OriginOwnerID: ptr("owner-1")},
			{AccountID: ptr("acc-0")},
			{Category: ptr(model.CategoryHRIS)},
			{Type: ptr(model.TypeTest)},
			{Type: ptr(model.TypeProduction)},
			{CreatedAfter: &mid},
			{CreatedBefore: &mid},
			{CreatedAfter: ptr(mid.Add(-500 * time.Microsecond)), CreatedBefore: ptr(mid.Add(2*time.Millisecond + time.Microsecond))},
			{Provider: ptr("hibob"), Category: ptr(model.CategoryATS)},
			{OriginOwnerID: ptr("owner-0"), Type: ptr(model.TypeTest), CreatedBefore: ptr(mid.Add(10 * time.Millisecond))},
			{Provider: ptr("nobody")},
			{Provider: ptr("personio"), AccountID: ptr("acc-0"), Category: ptr(model.CategoryATS), OriginOwnerID: ptr("owner-2")},
		}
		checkPages(t, b, demo, all, filters, []int{1, 4, 7, 100})
	})
}

// checkPages pages through a tenant with each filter in both orders and with each page
// size, forwards and backwards, comparing with the reference built from all.
func checkPages(t *testing.T, b *backend, tn model.Tenant, all []*model.ConnectSession, filters []*model.ConnectSessionFilter, sizes []int) {
	t.Helper()
	ctx := context.Background()
	for fi, f := range filters {
		for _, asc := range []bool{false, true} {
			want := expected(all, f, asc)
			for _, size := range sizes {
				name := fmt.Sprintf("filter%d/asc=%v/size=%d", fi, asc, size)
				// Forwards with first/after.
				var got []int
				var after *string
				for step := 0; ; step++ {
					p, err := b.store.List(ctx, tn, model.ListQuery{Filter: f, Ascending: asc, WantCount: true,
						Args: model.PageArgs{First: ptr(size), After: after}})
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					checkCount(t, name, f, p, len(want))
					if p.PageInfo.HasPreviousPage != (step > 0 && len(got) > 0) && !(combined(f) && p.PageInfo.HasPreviousPage) {
						t.Errorf("%s step %d: hasPreviousPage %v", name, step, p.PageInfo.HasPreviousPage)
					}
					got = append(got, ids(p)...)
					if !p.PageInfo.HasNextPage {
						break
					}
					// Only a combined filter's page may stop short at the work budget.
					if (len(p.Nodes) == 0 && !combined(f)) || step > 100+len(all) {
						t.Fatalf("%s: hasNextPage on an empty page", name)
					}
					after = p.PageInfo.EndCursor
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s forwards: got %v, want %v", name, got, want)
				}
				// Backwards with last/before.
				got = nil
				var before *string
				for step := 0; ; step++ {
					p, err := b.store.List(ctx, tn, model.ListQuery{Filter: f, Ascending: asc,
						Args: model.PageArgs{Last: ptr(size), Before: before}})
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if p.PageInfo.HasNextPage != (step > 0 && len(want) > 0) && !(combined(f) && p.PageInfo.HasNextPage) {
						t.Errorf("%s back step %d: hasNextPage %v", name, step, p.PageInfo.HasNextPage)
					}
					got = append(ids(p), got...)
					if !p.PageInfo.HasPreviousPage {
						break
					}
					if step > 100+len(all) {
						t.Fatalf("%s: endless", name)
					}
					before = p.PageInfo.StartCursor
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s backwards: got %v, want %v", name, got, want)
				}
			}
		}
	}
}

// combined reports whether f combines several equality fields, the only filters whose
// pages and counts the work budget may cut short.
func combined(f *model.ConnectSessionFilter) bool {
	if f == nil {
		return false
	}
	n := 0
	for _, set := range []bool{f.Provider != nil, f.OriginOwnerID != nil, f.AccountID != nil, f.Category != nil, f.Type != nil} {
		if set {
			n++
		}
	}
	return n > 1
}

// checkCount checks a page's totalCount against the reference: exact unless the filter
// is combined and the page says the count stopped at the budget (then a lower bound).
func checkCount(t *testing.T, name string, f *model.ConnectSessionFilter, p *model.Page, want int) {
	t.Helper()
	switch {
	case p.TotalCountExact && p.TotalCount != want:
		t.Errorf("%s: totalCount %d, want %d", name, p.TotalCount, want)
	case !p.TotalCountExact && (!combined(f) || p.TotalCount > want):
		t.Errorf("%s: totalCount %d cut short (want %d), filter combined: %v", name, p.TotalCount, want, combined(f))
	}
}

func TestPageWindowBetweenCursors(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		all := seedSessions(t, b, demo, 12)
		full, err := b.store.List(ctx, demo, model.ListQuery{})
		if err != nil {
			t.Fatal(err)
		}
		want := expected(all, nil, false)
		if !slices.Equal(ids(full), want) {
			t.Fatalf("default order: got %v, want newest first %v", ids(full), want)
		}
		after, before := full.Edges[2].Cursor, full.Edges[9].Cursor
		p, err := b.store.List(ctx, demo, model.ListQuery{Args: model.PageArgs{First: ptr(3), After: &after, Before: &before}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(p), want[3:6]) || !p.PageInfo.HasNextPage || !p.PageInfo.HasPreviousPage {
			t.Errorf("first 3 between: got %v next=%v prev=%v, want %v", ids(p), p.PageInfo.HasNextPage, p.PageInfo.HasPreviousPage, want[3:6])
		}
		p, err = b.store.List(ctx, demo, model.ListQuery{Args: model.PageArgs{Last: ptr(3), After: &after, Before: &before}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(p), want[6:9]) || !p.PageInfo.HasPreviousPage || !p.PageInfo.HasNextPage {
			t.Errorf("last 3 between: got %v, want %v", ids(p), want[6:9])
		}
		p, err = b.store.List(ctx, demo, model.ListQuery{Args: model.PageArgs{First: ptr(0)}, WantCount: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Nodes) != 0 || !p.PageInfo.HasNextPage || p.PageInfo.StartCursor != nil || p.TotalCount != 12 {
			t.Errorf("first 0: %+v %+v", p.Nodes, p.PageInfo)
		}
	})
}

func TestPagingWhileWriting(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		for _, asc := range []bool{false, true} {
			tn := model.Tenant{OrganizationID: 7, ProjectID: fmt.Sprintf("busy-%v", asc)}
			seeded := seedSessions(t, b, tn, 30)
			present := map[int]bool{}
			for _, s := range seeded {
				present[s.ID] = true
			}
			deleted := map[int]bool{}
			seen := map[int]bool{}
			var after *string
			for step := 0; step < 50; step++ {
				p, err := b.store.List(ctx, tn, model.ListQuery{Ascending: asc, Args: model.PageArgs{First: ptr(4), After: after}})
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range p.Nodes {
					if seen[n.ID] {
						t.Errorf("asc=%v: session %d seen twice", asc, n.ID)
					}
					if deleted[n.ID] {
						t.Errorf("asc=%v: deleted session %d listed", asc, n.ID)
					}
					seen[n.ID] = true
				}
				if !p.PageInfo.HasNextPage {
					break
				}
				after = p.PageInfo.EndCursor
				// Delete the session the cursor points at and one not reached yet, and add one.
				last := p.Nodes[len(p.Nodes)-1].ID
				if _, err := b.store.Delete(ctx, tn, last); err != nil {
					t.Fatal(err)
				}
				deleted[last] = true
				for _, s := range seeded {
					if !seen[s.ID] && !deleted[s.ID] && s.ID%3 == 0 {
						if _, err := b.store.Delete(ctx, tn, s.ID); err != nil {
							t.Fatal(err)
						}
						deleted[s.ID] = true
						break
					}
				}
				b.clock.Advance(time.Millisecond)
				mustCreate(t, b, createIn(tn, "late"))
			}
			for id := range present {
				if !seen[id] && !deleted[id] {
					t.Errorf("asc=%v: session %d that existed throughout was skipped", asc, id)
				}
			}
		}
	})
}

func TestBadPageArguments(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		good := encodeCursor(position{ms: 1, id: 1})
		cases := []struct {
			args  model.PageArgs
			field string
		}{
			{model.PageArgs{First: ptr(1), Last: ptr(1)}, "first"},
			{model.PageArgs{First: ptr(-1)}, "first"},
			{model.PageArgs{Last: ptr(-2)}, "last"},
			{model.PageArgs{First: ptr(101)}, "first"},
			{model.PageArgs{After: ptr("nope")}, "after"},
			{model.PageArgs{After: ptr("")}, "after"},
			{model.PageArgs{Before: ptr(good + "=")}, "before"},
			{model.PageArgs{After: ptr(encodeCursor(position{ms: 1, id: 1})[:4])}, "after"},
		}
		for _, c := range cases {
			_, err := b.store.List(ctx, demo, model.ListQuery{Args: c.args})
			var ie *model.InputError
			if !errors.As(err, &ie) || ie.Field != c.field {
				t.Errorf("%+v: got %v, want an input error on %s", c.args, err, c.field)
			}
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(position{ms: 1764000000000, id: 42}))
	f.Add("")
	f.Add("djE6MTox")
	f.Add("!!!")
	f.Fuzz(func(t *testing.T, c string) {
		p, err := decodeCursor("after", c)
		if err != nil {
			if !errors.Is(err, model.ErrInvalid) {
				t.Fatalf("error %v is not an input error", err)
			}
			return
		}
		if encodeCursor(p) != c || p.id <= 0 || p.ms < 0 {
			t.Fatalf("accepted %q as %+v", c, p)
		}
	})
}
