package resolvers_test

import "testing"

// totalCountExact is answered (and asks for the count) on its own, and is true for a
// count that the work budget did not cut short, combined filters included.
func TestConnectSessionsTotalCountExact(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		seedList(t, b)
		const q = `query($filter: ConnectSessionFilter) { connectSessions(organizationId: 1, projectId: "demo", first: 0, filter: $filter) {
		  totalCountExact pageInfo { hasNextPage } } }`
		for _, f := range []map[string]any{nil, {"provider": "hibob"}, {"type": "TEST", "category": "HRIS"}} {
			var out struct {
				ConnectSessions struct {
					TotalCountExact bool `json:"totalCountExact"`
				} `json:"connectSessions"`
			}
			mustDo(t, b.client(nil), q, map[string]any{"filter": f}, &out)
			if !out.ConnectSessions.TotalCountExact {
				t.Errorf("filter %v: totalCountExact false on a small tenant", f)
			}
		}
	})
}
