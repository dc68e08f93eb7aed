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

// With pointers written (TOKEN_POINTERS=write), a usable session without its token
// pointer is an inconsistency, and repair puts the pointer back.
func TestVerifyFindsAndRepairs(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		b = b.withTokenPointers(true)
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

// With pointers off, a session without a token pointer is consistent and repair creates
// none; a session of older data that still has its pointer is fine too, and a dangling
// pointer is still reported as harmless and removed by repair.
func TestVerifyWithoutTokenPointers(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		fresh, freshToken := mustCreate(t, b, createIn(demo, "acme"))
		_, oldToken := mustCreate(t, b.withTokenPointers(true), createIn(demo, "globex"))
		freshPointer := b.store.k.token(tokenHash(t, freshToken))
		oldPointer := b.store.k.token(tokenHash(t, oldToken))
		if b.rdb.Exists(ctx, oldPointer).Val() != 1 {
			t.Fatal("the session created with pointers written has no pointer")
		}

		rep, err := b.store.Verify(ctx, nil, false)
		if err != nil || len(rep.Problems) != 0 || rep.Records != 2 {
			t.Fatalf("sessions with and without pointers: %+v %v, want no problems", rep, err)
		}
		rep, err = b.store.Verify(ctx, nil, true)
		if err != nil || rep.Repaired != 0 {
			t.Fatalf("repair of a clean store: %+v %v", rep, err)
		}
		if b.rdb.Exists(ctx, freshPointer).Val() != 0 {
			t.Errorf("repair created a token pointer with pointers off")
		}

		// The same store seen by verify with pointers written misses the fresh one's.
		rep, err = b.withTokenPointers(true).store.Verify(ctx, nil, false)
		if got := kinds(rep); err != nil || !slices.Equal(got, []string{"record without token pointer"}) {
			t.Errorf("with pointers written: %v %v, want the fresh session's missing pointer", got, err)
		}

		// A pointer to a deleted session: harmless, and repair removes it.
		b.rdb.Set(ctx, b.store.k.token("nothing-here"), tokenPointer(demo, fresh.ID+1000), 0)
		rep, err = b.store.Verify(ctx, nil, false)
		if got := kinds(rep); err != nil || !slices.Equal(got, []string{"token pointer to missing session"}) ||
			rep.Inconsistencies() != 0 {
			t.Fatalf("dangling pointer: %v %v, want one harmless leftover", got, err)
		}
		rep, err = b.store.Verify(ctx, nil, true)
		if err != nil || rep.Repaired != 1 {
			t.Fatalf("repair: %+v %v", rep, err)
		}
		if b.rdb.Exists(ctx, b.store.k.token("nothing-here")).Val() != 0 || b.rdb.Exists(ctx, oldPointer).Val() != 1 {
			t.Errorf("repair must remove the dangling pointer and keep the live one")
		}
		for _, tok := range []string{freshToken, oldToken} {
			if _, err := b.store.Authenticate(ctx, tok); err != nil {
				t.Errorf("token after verify: %v", err)
			}
		}
	})
}

// Verify compares each record with its last event in the log: changes made without the
// log (by hand, or by an instance older than it) are reported, and repair leaves the
// log, which is history, as it is.
func TestVerifyChecksTheEventLog(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		a, _ := mustCreate(t, b, createIn(demo, "a"))
		c, _ := mustCreate(t, b, createIn(demo, "c"))
		d, _ := mustCreate(t, b, createIn(demo, "d"))
		if _, err := b.store.Revoke(ctx, demo, a.ID); err != nil {
			t.Fatal(err)
		}
		if rep, err := b.store.Verify(ctx, &demo, false); err != nil || len(rep.Problems) != 0 {
			t.Fatalf("clean store: %+v %v", rep, err)
		}

		// a changed behind the log's back; c's record vanished; d came back after its delete.
		raw := b.rdb.Get(ctx, b.store.k.record(demo, a.ID)).Val()
		r, _ := decodeRecord(raw)
		r.Label = ptr("by hand")
		b.rdb.Set(ctx, b.store.k.record(demo, a.ID), b.store.encode(r), 0)
		b.rdb.Del(ctx, b.store.k.record(demo, c.ID))
		rawD := b.rdb.Get(ctx, b.store.k.record(demo, d.ID)).Val()
		if _, err := b.store.Delete(ctx, demo, d.ID); err != nil {
			t.Fatal(err)
		}
		b.rdb.Set(ctx, b.store.k.record(demo, d.ID), rawD, 0)
		// A record changed after the oldest event, with no event at all.
		e := *r
		e.ID, e.Label, e.Updated = 424242, nil, r.Updated+1
		b.rdb.Set(ctx, b.store.k.record(demo, e.ID), b.store.encode(&e), 0)

		rep, err := b.store.Verify(ctx, &demo, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"record differs from its last event", "event of a missing record",
			"record after its DELETED event", "record without its event"} {
			if !slices.Contains(kinds(rep), want) {
				t.Errorf("problems %v lack %q", kinds(rep), want)
			}
		}
	})
}
