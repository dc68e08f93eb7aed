package cache

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// ownKeys reports whether owner value v is indexed in keys of its own.
func ownKeys(b *backend, tn model.Tenant, v string) bool {
	ix := b.store.k.index(tn, ixOwner, v)
	return b.rdb.Exists(context.Background(), ix, b.store.k.directory(tn, ix)).Val() != 0
}

// A value moves between the value-ordered index and keys of its own (a write that
// rewrites up to 65 entries) only across a gap of 32 entries: a caller that creates and
// deletes sessions of one owner around either threshold pays for one move, not one per
// write.
func TestAbuseValueIndexMovesNeedManyWrites(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		tn := model.Tenant{OrganizationID: 9, ProjectID: "flip"}
		var made []*model.ConnectSession
		create := func() {
			s, _ := mustCreate(t, b, createIn(tn, "flip"))
			made = append(made, s)
		}
		remove := func() {
			s := made[len(made)-1]
			made = made[:len(made)-1]
			if _, err := b.store.Delete(ctx, tn, s.ID); err != nil {
				t.Fatal(err)
			}
		}
		for range chunkSize {
			create()
		}
		if ownKeys(b, tn, "flip") {
			t.Fatalf("%d entries in keys of their own", chunkSize)
		}
		create()
		if !ownKeys(b, tn, "flip") {
			t.Fatalf("%d entries still in the value-ordered index", chunkSize+1)
		}
		// Around the upper threshold: it stays.
		for range 10 {
			remove()
			create()
			remove()
			if !ownKeys(b, tn, "flip") {
				t.Fatalf("moved back at %d entries", len(made))
			}
			create()
		}
		for len(made) > chunkSize/2+1 {
			remove()
		}
		if !ownKeys(b, tn, "flip") {
			t.Fatalf("moved back at %d entries", len(made))
		}
		remove()
		if ownKeys(b, tn, "flip") {
			t.Fatalf("%d entries still in keys of their own", len(made))
		}
		// Around the lower threshold: it stays too.
		for range 10 {
			create()
			remove()
			if ownKeys(b, tn, "flip") {
				t.Fatalf("moved out at %d entries", len(made))
			}
		}
		verifyClean(t, b, tn)
	})
}

// A page and its count by one owner or account in a project of many distinct values
// read a few chunks of the value-ordered index, within the smallest work budget, and the
// count is exact.
func TestAbuseValueIndexPageWithinBudget(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		tn := model.Tenant{OrganizationID: 9, ProjectID: "values"}
		var mine []*model.ConnectSession
		for round := range 7 {
			createMany(t, b, tn, 200, func(i int, in *model.CreateConnectSessionInput) {
				in.OriginOwnerID = fmt.Sprint("owner-", round, "-", i)
				in.AccountID = ptr(fmt.Sprint("acc-", round, "-", i))
			})
			mine = append(mine, createMany(t, b, tn, 8, func(i int, in *model.CreateConnectSessionInput) {
				in.OriginOwnerID, in.AccountID = "owner-4-1", ptr("acc-4-1")
			})...)
		}
		if ownKeys(b, tn, "owner-4-1") {
			t.Fatal("owner-4-1 in keys of its own")
		}
		log := &scanLog{}
		small := budgeted(b, MinPageScanLimit, log)
		for _, f := range []*model.ConnectSessionFilter{{OriginOwnerID: ptr("owner-4-1")}, {AccountID: ptr("acc-4-1")}} {
			from := log.len()
			p, err := small.store.List(ctx, tn, model.ListQuery{Filter: f, WantCount: true, Args: model.PageArgs{First: ptr(5)}})
			if err != nil {
				t.Fatal(err)
			}
			// 8 + 1 of the first round: owner-4-1 is also the second of round 4's 200.
			if p.TotalCount != len(mine)+1 || !p.TotalCountExact || len(p.Nodes) != 5 {
				t.Errorf("%+v: count %d exact %v, %d nodes", f, p.TotalCount, p.TotalCountExact, len(p.Nodes))
			}
			for _, c := range log.since(from) {
				if c.Examined > MinPageScanLimit {
					t.Errorf("%+v: examined %d of a budget of %d", f, c.Examined, MinPageScanLimit)
				}
			}
		}
	})
}

// Data written before the value-ordered indexes (a key per owner and account value, plain
// and of any size, as PerValueIndexes still writes them) is read as it is; the first
// write to a value of at most 64 entries moves them into the value-ordered index, a
// larger one stays in keys of its own (chunked), and verify -repair moves the rest.
func TestOldPerValueIndexesAreConverted(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		tn := model.Tenant{OrganizationID: 9, ProjectID: "old-values"}
		old := b.withPerValueIndexes(true)
		all := createMany(t, old, tn, 120, func(i int, in *model.CreateConnectSessionInput) {
			in.OriginOwnerID = "large"
			if i%10 == 0 {
				in.OriginOwnerID = fmt.Sprint("small-", i%20)
			}
			in.AccountID = ptr(fmt.Sprint("acc-", i))
		})
		flattenIndex(t, b, tn, b.store.k.index(tn, ixOwner, "large"))
		for _, v := range []string{"large", "small-0", "small-10"} {
			if n := b.rdb.ZCard(ctx, b.store.k.index(tn, ixOwner, v)).Val(); n == 0 {
				t.Fatalf("owner %s not in a plain key of its own", v)
			}
		}
		if n := b.rdb.Exists(ctx, b.store.k.directory(tn, b.store.k.valueIndex(tn, ixOwner))).Val(); n != 0 {
			t.Fatal("values written into the value-ordered index with PerValueIndexes")
		}
		filters := []*model.ConnectSessionFilter{{OriginOwnerID: ptr("large")}, {OriginOwnerID: ptr("small-10")},
			{AccountID: ptr("acc-7")}, {AccountID: ptr("acc-7"), OriginOwnerID: ptr("large")}}
		checkPages(t, b, tn, all, filters, []int{50})
		verifyClean(t, b, tn)

		// A write to each: the small ones move, the large one is chunked in its own keys.
		for _, v := range []string{"large", "small-0"} {
			s, _ := mustCreate(t, b, createIn(tn, v))
			all = append(all, s)
		}
		if !ownKeys(b, tn, "large") || !layoutOf(t, b, tn, b.store.k.index(tn, ixOwner, "large")).chunked {
			t.Error("large owner not chunked in keys of its own")
		}
		if ownKeys(b, tn, "small-0") || !ownKeys(b, tn, "small-10") {
			t.Error("small-0 not moved, or small-10 moved without a write")
		}
		checkPages(t, b, tn, all, filters, []int{50})
		verifyClean(t, b, tn)

		rep, err := b.store.Verify(ctx, &tn, true)
		if err != nil || len(rep.Problems) != 0 || rep.Converted != 1+120 {
			t.Fatalf("repair: %v %+v", err, rep)
		}
		if ownKeys(b, tn, "small-10") {
			t.Error("small-10 not moved by repair")
		}
		for i := range 120 {
			ix := b.store.k.index(tn, ixAccount, fmt.Sprint("acc-", i))
			if b.rdb.Exists(ctx, ix).Val() != 0 {
				t.Fatalf("%s left after repair", ix)
			}
		}
		checkPages(t, b, tn, all, filters, []int{50})
		verifyClean(t, b, tn)
	})
}

// verify finds a value with entries in both forms (readers see only its own key's) and
// a malformed value-ordered index, and repair fixes both.
func TestVerifyRepairsValueIndexes(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		tn := model.Tenant{OrganizationID: 9, ProjectID: "bad-values"}
		all := createMany(t, b, tn, 150, func(i int, in *model.CreateConnectSessionInput) {
			in.OriginOwnerID = fmt.Sprint("owner-", i%50)
		})
		// Two entries of owner-3 also in a key of its own; a chunk's bound above its entries.
		ix := b.store.k.index(tn, ixOwner, "owner-3")
		es := indexEntries(t, b, tn, ix)
		b.rdb.ZAdd(ctx, ix, redis.Z{Score: float64(es[0].score), Member: es[0].m})
		dir := b.store.k.directory(tn, b.store.k.valueIndex(tn, ixOwner))
		dms := b.rdb.ZRange(ctx, dir, 0, -1).Val()
		if len(dms) < 2 {
			t.Fatalf("%d chunks", len(dms))
		}
		last := dms[len(dms)-1]
		b.rdb.ZRem(ctx, dir, last)
		b.rdb.ZAdd(ctx, dir, redis.Z{Member: "\xff" + last})

		rep, err := b.store.Verify(ctx, &tn, false)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]bool{}
		for _, p := range rep.Problems {
			kinds[p.Kind] = true
		}
		if !kinds["value in both index forms"] || !kinds["chunk entries outside its bounds"] {
			t.Fatalf("verify found %+v", rep.Problems)
		}
		if _, err := b.store.Verify(ctx, &tn, true); err != nil {
			t.Fatal(err)
		}
		verifyClean(t, b, tn)
		checkPages(t, b, tn, all, []*model.ConnectSessionFilter{{OriginOwnerID: ptr("owner-3")}, {OriginOwnerID: ptr("owner-49")}}, []int{2})
	})
}

// Every value's entries start with its prefix and no other value's do, whatever bytes
// the values hold; entries decode back to their value, createdAt and id.
func TestValuePrefixesKeepValuesApart(t *testing.T) {
	values := []string{"", "a", "ab", "a\x00", "a\x00b", "a\x01", "a\x01\x01", "\x01\x02", "\x00\x01", "a\x02", "\xff", "a\x00\x00"}
	e := ixEntry{score: 1<<47 + 12345, m: member(1<<31 + 7)}
	for _, v := range values {
		got, en, ok := splitValueEntry(valueEntry(v, e))
		if !ok || got != v || en != e {
			t.Errorf("%q: decoded %q %+v %v", v, got, en, ok)
		}
		for _, w := range values {
			if w != v && strings.HasPrefix(valueEntry(w, e), valuePrefix(v)) {
				t.Errorf("an entry of %q starts with the prefix of %q", w, v)
			}
		}
	}
}

// A value whose entries lie inside one chunk, between other values', moves to keys of its
// own at the same count as one alone: the create that finds it inside the chunk counts it
// there.
func TestValueInsideAChunkMovesAtTheLimit(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		tn := model.Tenant{OrganizationID: 9, ProjectID: "inside"}
		var all []*model.ConnectSession
		for i := range 30 {
			for _, o := range []string{"a-", "z-"} {
				s, _ := mustCreate(t, b, createIn(tn, fmt.Sprint(o, i)))
				all = append(all, s)
			}
		}
		for i := range chunkSize + 1 {
			if ownKeys(b, tn, "m") {
				t.Fatalf("in keys of its own at %d entries", i)
			}
			s, _ := mustCreate(t, b, createIn(tn, "m"))
			all = append(all, s)
		}
		if !ownKeys(b, tn, "m") {
			t.Fatalf("%d entries still in the value-ordered index", chunkSize+1)
		}
		if l := layoutOf(t, b, tn, b.store.k.index(tn, ixOwner, "a-0")); len(l.entries()) != 1 {
			t.Errorf("a-0: %d entries", len(l.entries()))
		}
		checkPages(t, b, tn, all, []*model.ConnectSessionFilter{{OriginOwnerID: ptr("m")}, {OriginOwnerID: ptr("z-3")}}, []int{50})
		verifyClean(t, b, tn)
	})
}
