package cache

import (
	"context"
	"fmt"
	"testing"

	"connectsession/graph/model"
)

func TestCreateBatch(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		other := model.Tenant{OrganizationID: 2, ProjectID: "{x}:y"}
		before := dumpKeys(t, b)
		var ins []*model.CreateConnectSessionInput
		for i := range 300 {
			tn := demo
			if i%3 == 0 {
				tn = other
			}
			in := createIn(tn, fmt.Sprint("owner-", i%7))
			if i%2 == 0 {
				in.Provider = ptr("hibob")
			}
			in.Categories = []model.Category{model.CategoryHRIS, model.CategoryATS}[:1+i%2]
			in.AccountID = ptr(fmt.Sprint("acc-", i%5))
			in.Metadata = model.JSON(`{"n":1}`)
			ins = append(ins, in)
		}
		got, tokens, err := b.store.CreateBatch(ctx, ins)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ins) || len(tokens) != len(ins) {
			t.Fatalf("got %d sessions and %d tokens for %d inputs", len(got), len(tokens), len(ins))
		}
		for i, s := range got {
			if i > 0 && s.ID != got[i-1].ID+1 {
				t.Fatalf("ids not consecutive: %d after %d", s.ID, got[i-1].ID)
			}
			tn := model.Tenant{OrganizationID: s.OrganizationID, ProjectID: s.ProjectID}
			stored, err := b.store.Get(ctx, tn, s.ID)
			if err != nil || stored.OriginOwnerID != ins[i].OriginOwnerID || len(stored.Categories) != len(ins[i].Categories) {
				t.Fatalf("session %d: got %+v, %v", i, stored, err)
			}
		}
		// The indexes are those Create writes: pages, filters and counts see the batch.
		for _, c := range []struct {
			tn   model.Tenant
			f    *model.ConnectSessionFilter
			want int
		}{
			{demo, nil, 200},
			{other, nil, 100},
			{demo, &model.ConnectSessionFilter{Provider: ptr("hibob")}, 100},
			{demo, &model.ConnectSessionFilter{Category: ptr(model.CategoryATS)}, 100},
			{other, &model.ConnectSessionFilter{OriginOwnerID: ptr("owner-0")}, 15},
		} {
			p, err := b.store.List(ctx, c.tn, model.ListQuery{Filter: c.f, WantCount: true, Args: model.PageArgs{First: ptr(1)}})
			if err != nil || p.TotalCount != c.want {
				t.Errorf("%v %+v: count %v (%v), want %d", c.tn, c.f, p, err, c.want)
			}
		}
		if s, err := b.store.Authenticate(ctx, tokens[7]); err != nil || s.ID != got[7].ID {
			t.Errorf("authenticate a batch token: %+v %v", s, err)
		}
		many, err := b.store.GetMany(ctx, []int{got[0].ID, got[1].ID})
		if err != nil || many[0] == nil || many[1] == nil {
			t.Errorf("get many: %v %v", many, err)
		}
		// Deleting every session leaves what was there before (but the id sequence and the
		// set of tenants): the batch wrote nothing Delete does not know about.
		for _, s := range got {
			if ok, err := b.store.Delete(ctx, model.Tenant{OrganizationID: s.OrganizationID, ProjectID: s.ProjectID}, s.ID); err != nil || !ok {
				t.Fatalf("delete %d: %v %v", s.ID, ok, err)
			}
		}
		after := dumpKeys(t, b)
		for k, v := range after {
			if k != b.store.k.seq() && k != b.store.k.tenants() && !isEventLog(k) && before[k] != v {
				t.Errorf("key %s left after deleting the batch: %s", k, v)
			}
		}
	})
}
