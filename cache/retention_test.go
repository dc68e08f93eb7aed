package cache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectsession/graph/model"
)

// Expired sessions past retention leave nothing behind (records, index entries,
// pointers), and a backlog larger than one batch is worked off in one sweep interval, so
// old sessions cannot grow memory without bound.
func TestRetentionWorksOffBacklogAndLeavesNothing(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		b.store.retention = time.Hour
		keep, _ := mustCreate(t, b, createIn(demo, "keep"))
		before := dumpKeys(t, b)

		other := model.Tenant{OrganizationID: 3, ProjectID: "old"}
		var ins []*model.CreateConnectSessionInput
		for i := range 130 {
			tn := demo
			if i%2 == 0 {
				tn = other
			}
			in := createIn(tn, fmt.Sprint("owner-", i%4))
			in.Provider = ptr("hibob")
			in.Categories = []model.Category{model.CategoryATS, model.CategoryCRM}
			in.AccountID = ptr(fmt.Sprint("acc-", i))
			in.ExpiresIn = ptr(60)
			ins = append(ins, in)
		}
		if _, _, err := b.store.CreateBatch(ctx, ins); err != nil {
			t.Fatal(err)
		}
		// The long-lived session stays: its expiry moves past the sweep (while it is still
		// live: an expired session's expiry cannot move).
		if _, err := b.store.Update(ctx, &model.SessionUpdate{OrganizationID: 1, ProjectID: "demo", ID: keep.ID,
			ExpiresIn: model.Set(ptr(model.MaxExpiresIn))}); err != nil {
			t.Fatal(err)
		}
		b.clock.Advance(2 * time.Hour)

		n, err := b.store.sweepDue(ctx, 20, time.Minute) // batches of 20: several rounds
		if err != nil || n != len(ins) {
			t.Fatalf("sweep: removed %d, %v; want %d", n, err, len(ins))
		}
		// What is left is what the one live session had before the others existed.
		for k, v := range dumpKeys(t, b) {
			if _, ok := before[k]; !ok && k != b.store.k.seq() && k != b.store.k.tenants() && !isEventLog(k) {
				t.Errorf("key %s left after the sweep: %s", k, v)
			}
		}
		p, err := b.store.List(ctx, other, model.ListQuery{WantCount: true})
		if err != nil || p.TotalCount != 0 {
			t.Errorf("swept tenant: count %v %v", p, err)
		}
		if _, err := b.store.Get(ctx, demo, keep.ID); err != nil {
			t.Errorf("live session: %v", err)
		}
	})
}
