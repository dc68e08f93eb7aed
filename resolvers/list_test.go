package resolvers_test

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

const listQuery = `query($org: Int!, $project: String!, $filter: ConnectSessionFilter, $orderBy: ConnectSessionOrder,
    $first: Int, $after: String, $last: Int, $before: String) {
  connectSessions(organizationId: $org, projectId: $project, filter: $filter, orderBy: $orderBy,
      first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { ...S } }
    nodes { ...S }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    totalCount
  } }` + sessionFields

type page struct {
	Edges []struct {
		Cursor string  `json:"cursor"`
		Node   session `json:"node"`
	} `json:"edges"`
	Nodes    []session `json:"nodes"`
	PageInfo struct {
		HasNextPage     bool    `json:"hasNextPage"`
		HasPreviousPage bool    `json:"hasPreviousPage"`
		StartCursor     *string `json:"startCursor"`
		EndCursor       *string `json:"endCursor"`
	} `json:"pageInfo"`
	TotalCount int `json:"totalCount"`
}

// list runs connectSessions for organization 1, project "demo" with args added to the
// variables, checks that edges, nodes and the page's cursors agree, and returns the page.
func list(t testing.TB, b *backend, args map[string]any) page {
	t.Helper()
	vars := map[string]any{"org": 1, "project": "demo"}
	for k, v := range args {
		vars[k] = v
	}
	var out struct {
		ConnectSessions page `json:"connectSessions"`
	}
	mustDo(t, b.client(nil), listQuery, vars, &out)
	p := out.ConnectSessions
	if len(p.Edges) != len(p.Nodes) {
		t.Fatalf("got %d edges and %d nodes, want as many", len(p.Edges), len(p.Nodes))
	}
	for i, e := range p.Edges {
		if e.Cursor == "" || e.Node.ID != p.Nodes[i].ID {
			t.Errorf("edge %d: cursor %q node %d, want a cursor and node %d", i, e.Cursor, e.Node.ID, p.Nodes[i].ID)
		}
	}
	if n := len(p.Edges); n > 0 {
		if got, want := deref(p.PageInfo.StartCursor), p.Edges[0].Cursor; got != want {
			t.Errorf("startCursor: got %s, want the first edge's %s", got, want)
		}
		if got, want := deref(p.PageInfo.EndCursor), p.Edges[n-1].Cursor; got != want {
			t.Errorf("endCursor: got %s, want the last edge's %s", got, want)
		}
	} else if p.PageInfo.StartCursor != nil || p.PageInfo.EndCursor != nil {
		t.Errorf("empty page cursors: got %v, %v, want null", p.PageInfo.StartCursor, p.PageInfo.EndCursor)
	}
	return p
}

func (p page) ids() []int {
	out := make([]int, len(p.Nodes))
	for i, n := range p.Nodes {
		out[i] = n.ID
	}
	return out
}

// seedList creates five sessions of organization 1, project "demo", one second apart,
// plus one of another project, and returns the five ids in creation order.
func seedList(t *testing.T, b *backend) []int {
	t.Helper()
	c := b.client(nil)
	specs := []map[string]any{
		{"provider": "hibob", "categories": []string{"HRIS"}, "accountId": "acc-1"},
		{"provider": "bamboohr", "categories": []string{"HRIS", "ATS"}, "type": "TEST"},
		{"provider": "hibob", "categories": []string{"CRM"}},
		{"categories": []string{"ATS"}, "type": "TEST", "accountId": "acc-1"},
		{"provider": "hibob", "originOwnerId": "globex"},
	}
	var ids []int
	for _, spec := range specs {
		in := minimalInput("acme")
		for k, v := range spec {
			in[k] = v
		}
		ids = append(ids, create(t, c, in).CreateConnectSession.ConnectSession.ID)
		b.clock.Advance(time.Second)
	}
	other := minimalInput("acme")
	other["projectId"] = "other"
	create(t, c, other)
	return ids
}

func TestConnectSessionsFilterAndOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ids := seedList(t, b)
		start := b.clock.Now().Add(-5 * time.Second)
		third := start.Add(2 * time.Second).Format(time.RFC3339Nano) // the third session's createdAt
		tests := []struct {
			name string
			args map[string]any
			want []int // indexes into ids
		}{
			{"default newest first", nil, []int{4, 3, 2, 1, 0}},
			{"orderBy DESC", map[string]any{"orderBy": map[string]any{"direction": "DESC"}}, []int{4, 3, 2, 1, 0}},
			{"orderBy ASC", map[string]any{"orderBy": map[string]any{"direction": "ASC"}}, []int{0, 1, 2, 3, 4}},
			{"provider", map[string]any{"filter": map[string]any{"provider": "hibob"}}, []int{4, 2, 0}},
			{"originOwnerId", map[string]any{"filter": map[string]any{"originOwnerId": "globex"}}, []int{4}},
			{"accountId", map[string]any{"filter": map[string]any{"accountId": "acc-1"}}, []int{3, 0}},
			{"category", map[string]any{"filter": map[string]any{"category": "ATS"}}, []int{3, 1}},
			{"type TEST", map[string]any{"filter": map[string]any{"type": "TEST"}}, []int{3, 1}},
			{"type PRODUCTION", map[string]any{"filter": map[string]any{"type": "PRODUCTION"}}, []int{4, 2, 0}},
			{"createdAfter is inclusive", map[string]any{"filter": map[string]any{"createdAfter": third}}, []int{4, 3, 2}},
			{"createdBefore is exclusive", map[string]any{"filter": map[string]any{"createdBefore": third}}, []int{1, 0}},
			{"provider and category", map[string]any{"filter": map[string]any{"provider": "hibob", "category": "HRIS"}}, []int{0}},
			{"no match", map[string]any{"filter": map[string]any{"provider": "workday"}}, nil},
			{"filter with ASC", map[string]any{"filter": map[string]any{"provider": "hibob"}, "orderBy": map[string]any{"direction": "ASC"}}, []int{0, 2, 4}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := list(t, b, tt.args)
				want := []int{}
				for _, i := range tt.want {
					want = append(want, ids[i])
				}
				if got := p.ids(); !slices.Equal(got, want) {
					t.Errorf("ids: got %v, want %v", got, want)
				}
				if got, want := p.TotalCount, len(want); got != want {
					t.Errorf("totalCount: got %d, want %d", got, want)
				}
				if p.PageInfo.HasNextPage || p.PageInfo.HasPreviousPage {
					t.Errorf("pageInfo: got next=%v previous=%v, want false, false", p.PageInfo.HasNextPage, p.PageInfo.HasPreviousPage)
				}
				for _, n := range p.Nodes {
					if n.OrganizationID != 1 || n.ProjectID != "demo" {
						t.Errorf("node %d belongs to %d/%s, want 1/demo", n.ID, n.OrganizationID, n.ProjectID)
					}
				}
			})
		}
	})
}

func TestConnectSessionsPaging(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ids := seedList(t, b)
		rev := slices.Clone(ids)
		slices.Reverse(rev)
		tests := []struct {
			name     string
			size     string // "first" or "last"
			cursor   string // "after" or "before"
			order    string
			wantIDs  []int
			wantMore []bool // hasNextPage (first) or hasPreviousPage (last) of each page
		}{
			{"first newest first", "first", "after", "DESC", rev, []bool{true, true, false}},
			{"first oldest first", "first", "after", "ASC", ids, []bool{true, true, false}},
			{"last newest first", "last", "before", "DESC", rev, []bool{true, true, false}},
			{"last oldest first", "last", "before", "ASC", ids, []bool{true, true, false}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got []int
				var cursor *string
				for i := 0; ; i++ {
					args := map[string]any{tt.size: 2, "orderBy": map[string]any{"direction": tt.order}}
					if cursor != nil {
						args[tt.cursor] = *cursor
					}
					p := list(t, b, args)
					if p.TotalCount != 5 {
						t.Errorf("page %d totalCount: got %d, want 5", i, p.TotalCount)
					}
					more, back := p.PageInfo.HasNextPage, p.PageInfo.HasPreviousPage
					cursor = p.PageInfo.EndCursor
					if tt.size == "last" {
						more, back = back, more
						cursor = p.PageInfo.StartCursor
						got = append(p.ids(), got...)
					} else {
						got = append(got, p.ids()...)
					}
					if i >= len(tt.wantMore) {
						t.Fatalf("page %d: want at most %d pages", i, len(tt.wantMore))
					}
					if more != tt.wantMore[i] {
						t.Errorf("page %d: got more=%v, want %v", i, more, tt.wantMore[i])
					}
					if back != (i > 0) {
						t.Errorf("page %d: got a page behind=%v, want %v", i, back, i > 0)
					}
					if !more {
						break
					}
				}
				if !slices.Equal(got, tt.wantIDs) {
					t.Errorf("ids over all pages: got %v, want %v", got, tt.wantIDs)
				}
			})
		}
		t.Run("first 0", func(t *testing.T) {
			p := list(t, b, map[string]any{"first": 0})
			if len(p.Nodes) != 0 || p.TotalCount != 5 {
				t.Errorf("got %d nodes and totalCount %d, want 0 and 5", len(p.Nodes), p.TotalCount)
			}
		})
		t.Run("first 100", func(t *testing.T) {
			if got := list(t, b, map[string]any{"first": 100}).ids(); !slices.Equal(got, rev) {
				t.Errorf("ids: got %v, want %v", got, rev)
			}
		})
		t.Run("cursor of a deleted session", func(t *testing.T) {
			p := list(t, b, map[string]any{"first": 2})
			deleted := p.Edges[1]
			mustDo(t, b.client(nil), fmt.Sprintf(`mutation { deleteConnectSession(organizationId: 1, projectId: "demo", id: %d) { deleted } }`, deleted.Node.ID), nil, new(any))
			got := list(t, b, map[string]any{"first": 10, "after": deleted.Cursor}).ids()
			if want := rev[2:]; !slices.Equal(got, want) {
				t.Errorf("after the deleted session's cursor: got %v, want %v", got, want)
			}
		})
	})
}
