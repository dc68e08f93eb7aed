package cache

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"connectsession/graph/model"
)

// bound is one end of a window in index order: entries at (ms, id) or beyond it.
type bound struct {
	set       bool
	ms        int64
	id        int64
	inclusive bool
}

// tighter reports whether b excludes more than o when both are lower bounds (or, with
// upper true, both upper bounds).
func (b bound) tighter(o bound, upper bool) bool {
	if !o.set {
		return b.set
	}
	if !b.set {
		return false
	}
	if b.ms != o.ms {
		return (b.ms > o.ms) != upper
	}
	if b.id != o.id {
		return (b.id > o.id) != upper
	}
	return !b.inclusive && o.inclusive
}

func pick(upper bool, bs ...bound) bound {
	var out bound
	for _, b := range bs {
		if b.tighter(out, upper) {
			out = b
		}
	}
	return out
}

// window is a run of the index walked from one end.
type window struct {
	top    bool
	limit  int
	lo, hi bound
}

// ceilMillis rounds t up to a whole millisecond, the resolution of stored times.
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	return ms
}

// List returns one page of a tenant's sessions. Malformed cursors and page sizes are
// *model.InputError values.
func (s *Store) List(ctx context.Context, t model.Tenant, q model.ListQuery) (*model.Page, error) {
	n, fromEnd, err := q.Args.Size()
	if err != nil {
		return nil, err
	}
	var after, before *position
	if q.Args.After != nil {
		p, err := decodeCursor("after", *q.Args.After)
		if err != nil {
			return nil, err
		}
		after = &p
	}
	if q.Args.Before != nil {
		p, err := decodeCursor("before", *q.Args.Before)
		if err != nil {
			return nil, err
		}
		before = &p
	}

	// The createdAt filter, as bounds in index order (scores are whole milliseconds).
	var rangeLo, rangeHi bound
	countMin, countMax := "-inf", "+inf"
	if f := q.Filter; f != nil {
		if f.CreatedAfter != nil {
			ms := ceilMillis(*f.CreatedAfter)
			rangeLo = bound{set: true, ms: ms, id: 0, inclusive: true}
			countMin = strconv.FormatInt(ms, 10)
		}
		if f.CreatedBefore != nil {
			ms := ceilMillis(*f.CreatedBefore)
			rangeHi = bound{set: true, ms: ms, id: 0, inclusive: false}
			countMax = strconv.FormatInt(ms-1, 10)
		}
	}

	// Cursors as bounds. In newest-first order, "after" is lower in the index.
	asc := q.Ascending
	exclusive := func(p *position) bound {
		if p == nil {
			return bound{}
		}
		return bound{set: true, ms: p.ms, id: int64(p.id)}
	}
	inclusive := func(p *position) bound {
		b := exclusive(p)
		b.inclusive = b.set
		return b
	}
	var lo, hi bound
	var other *window
	if asc {
		lo = pick(false, rangeLo, exclusive(after))
		hi = pick(true, rangeHi, exclusive(before))
	} else {
		lo = pick(false, rangeLo, exclusive(before))
		hi = pick(true, rangeHi, exclusive(after))
	}
	page := &window{top: !asc, limit: n, lo: lo, hi: hi}
	if fromEnd {
		page.top = !page.top
	}
	// The other side of the cursor the walk starts from: is anything there?
	switch {
	case !fromEnd && after != nil && asc:
		other = &window{top: true, limit: 1, lo: rangeLo, hi: pick(true, rangeHi, inclusive(after))}
	case !fromEnd && after != nil:
		other = &window{top: false, limit: 1, lo: pick(false, rangeLo, inclusive(after)), hi: rangeHi}
	case fromEnd && before != nil && asc:
		other = &window{top: false, limit: 1, lo: pick(false, rangeLo, inclusive(before)), hi: rangeHi}
	case fromEnd && before != nil:
		other = &window{top: true, limit: 1, lo: rangeLo, hi: pick(true, rangeHi, inclusive(before))}
	}

	if !q.WantCount {
		countMin, countMax = "", ""
	}
	c := &pageCall{
		indexes: s.filterKeys(t, q.Filter), guard: s.k.guard(t), recordPrefix: s.k.recordPrefix(t),
		page: page, other: other, countMin: countMin, countMax: countMax,
		base: s.k.tenantBase(t), budget: s.scanLimit,
	}
	res, err := c.run(ctx, s.rdb).Slice()
	if err != nil {
		return nil, storeErr("page", err)
	}
	return s.buildPage(t, res, fromEnd, other != nil)
}

// pageHead is what lua/page.lua answers before the records.
type pageHead struct {
	more, other, count, examined, cut, lastMs, lastID, exact int64
}

const pageHeadLen = 8

func readPageHead(res []any) (pageHead, error) {
	if len(res) < pageHeadLen {
		return pageHead{}, fmt.Errorf("cache: page script returned %d values", len(res))
	}
	var h pageHead
	for i, p := range []*int64{&h.more, &h.other, &h.count, &h.examined, &h.cut, &h.lastMs, &h.lastID, &h.exact} {
		v, ok := res[i].(int64)
		if !ok {
			return pageHead{}, fmt.Errorf("cache: page script returned %T at %d", res[i], i)
		}
		*p = v
	}
	return h, nil
}

// filterKeys lists the indexes whose intersection holds the filter's matches.
func (s *Store) filterKeys(t model.Tenant, f *model.ConnectSessionFilter) []string {
	var out []string
	if f != nil {
		if f.Provider != nil {
			out = append(out, s.k.index(t, ixProvider, *f.Provider))
		}
		if f.OriginOwnerID != nil {
			out = append(out, s.k.index(t, ixOwner, *f.OriginOwnerID))
		}
		if f.AccountID != nil {
			out = append(out, s.k.index(t, ixAccount, *f.AccountID))
		}
		if f.Category != nil {
			out = append(out, s.k.index(t, ixCategory, string(*f.Category)))
		}
		if f.Type != nil {
			out = append(out, s.k.index(t, ixType, string(*f.Type)))
		}
	}
	if len(out) == 0 {
		out = append(out, s.k.all(t))
	}
	return out
}

func (s *Store) buildPage(t model.Tenant, res []any, fromEnd, otherAsked bool) (*model.Page, error) {
	h, err := readPageHead(res)
	if err != nil {
		return nil, err
	}
	if s.onPageScan != nil {
		s.onPageScan(PageScan{Examined: int(h.examined), Cut: h.cut == 1, CountCut: h.exact == 0})
	}
	more, other := h.more, h.other
	now := s.now()
	p := &model.Page{PageInfo: &model.PageInfo{}, TotalCount: int(h.count), TotalCountExact: h.exact == 1,
		ScanUnits: int(h.examined)}
	for _, v := range res[pageHeadLen:] {
		raw, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("cache: page script returned %T for a record", v)
		}
		r, err := decodeRecord(raw)
		if err != nil {
			return nil, err
		}
		sess := r.session(t, now)
		p.Nodes = append(p.Nodes, sess)
		p.Edges = append(p.Edges, &model.ConnectSessionEdge{
			Cursor: encodeCursor(position{ms: r.Created, id: r.ID}),
			Node:   sess,
		})
	}
	if fromEnd {
		// Walked from the end of the list: put the page back in list order.
		for i, j := 0, len(p.Nodes)-1; i < j; i, j = i+1, j-1 {
			p.Nodes[i], p.Nodes[j] = p.Nodes[j], p.Nodes[i]
			p.Edges[i], p.Edges[j] = p.Edges[j], p.Edges[i]
		}
		p.PageInfo.HasPreviousPage = more == 1
		p.PageInfo.HasNextPage = otherAsked && other == 1
	} else {
		p.PageInfo.HasNextPage = more == 1
		p.PageInfo.HasPreviousPage = otherAsked && other == 1
	}
	if p.Nodes == nil {
		p.Nodes = []*model.ConnectSession{}
		p.Edges = []*model.ConnectSessionEdge{}
	} else {
		p.PageInfo.StartCursor = &p.Edges[0].Cursor
		p.PageInfo.EndCursor = &p.Edges[len(p.Edges)-1].Cursor
	}
	if h.cut == 1 && h.lastID > 0 {
		// The walk stopped for the work budget: the cursor on the walk's far side names
		// the last entry it decided (a match on the page, or past the last edge), so
		// that passing it on continues the walk where it stopped. Edge cursors are
		// unchanged.
		c := encodeCursor(position{ms: h.lastMs, id: int(h.lastID)})
		if fromEnd {
			p.PageInfo.StartCursor = &c
		} else {
			p.PageInfo.EndCursor = &c
		}
	}
	return p, nil
}
