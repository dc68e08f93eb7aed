package cache

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"testing"

	"connectsession/graph/model"
)

func kinds(rep *Report) []string {
	var out []string
	for _, p := range rep.Problems {
		out = append(out, p.Kind)
	}
	sort.Strings(out)
	return out
}

func TestVerifyFindsAndRepairs(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		in := createIn(demo, "acme")
		in.Provider = ptr("hibob")
		a, aToken := mustCreate(t, b, in)
		c, _ := mustCreate(t, b, createIn(demo, "globex"))
		mustCreate(t, b, createIn(model.Tenant{OrganizationID: 2, ProjectID: "x*[y]"}, "odd"))

		rep, err := b.store.Verify(ctx, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 0 || rep.Records != 3 || rep.Tenants != 2 {
			t.Fatalf("clean store: %+v", rep)
		}

		// Break it in each way a crash between steps could, had writes not been atomic.
		if err := b.store.ixRem(ctx, demo, b.store.k.index(demo, ixProvider, "hibob"), a.CreatedAt.UnixMilli(), member(a.ID)); err != nil {
			t.Fatal(err)
		}
		if err := b.store.ixAdd(ctx, demo, b.store.k.all(demo), 1, 999999); err != nil {
			t.Fatal(err)
		}
		b.rdb.HDel(ctx, b.store.k.idBucket(c.ID), strconv.Itoa(c.ID))
		b.rdb.Set(ctx, b.store.k.token("nothing-here"), tokenPointer(demo, 424242), 0)
		b.rdb.Del(ctx, b.store.k.token(tokenHash(t, aToken)))

		rep, err = b.store.Verify(ctx, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"index entry without record", "record without id pointer", "record without index entry",
			"record without token pointer", "token pointer to missing session"}
		if got := kinds(rep); !slices.Equal(got, want) {
			t.Fatalf("problems: got %v, want %v", got, want)
		}
		one, err := b.store.Verify(ctx, &demo, false)
		if err != nil || len(one.Problems) != 4 || one.Tenants != 1 {
			t.Errorf("one tenant: %+v %v, want its 4 problems", one, err)
		}

		rep, err = b.store.Verify(ctx, nil, true)
		if err != nil || rep.Repaired != 5 {
			t.Fatalf("repair: %+v %v", rep, err)
		}
		rep, err = b.store.Verify(ctx, nil, false)
		if err != nil || len(rep.Problems) != 0 {
			t.Fatalf("after repair: %+v %v", rep, err)
		}
		if _, err := b.store.Authenticate(ctx, aToken); err != nil {
			t.Errorf("token after its pointer was repaired: %v", err)
		}
		p, err := b.store.List(ctx, demo, model.ListQuery{Filter: &model.ConnectSessionFilter{Provider: ptr("hibob")}, WantCount: true})
		if err != nil || p.TotalCount != 1 {
			t.Errorf("repaired provider index: count %d %v", p.TotalCount, err)
		}
	})
}
