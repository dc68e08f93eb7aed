package cache

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// layoutOf reads an index as stored and fails the test if its structure is broken.
func layoutOf(t *testing.T, b *backend, tn model.Tenant, key string) *ixLayout {
	t.Helper()
	l, err := b.store.ixRead(context.Background(), tn, key)
	if err != nil {
		t.Fatal(err)
	}
	if kinds, details := l.problems(); len(kinds) > 0 {
		t.Fatalf("index %s: %v %v", key, kinds, details)
	}
	if l.chunked && b.rdb.Exists(context.Background(), key).Val() != 0 {
		t.Fatalf("index %s: plain key beside its chunks", key)
	}
	return l
}

func chunkSizes(l *ixLayout) []int {
	var out []int
	for _, c := range l.chunks {
		out = append(out, len(c.entries))
	}
	return out
}

// createMany creates n sessions at the current clock in one batch (all share createdAt).
func createMany(t *testing.T, b *backend, tn model.Tenant, n int, edit func(i int, in *model.CreateConnectSessionInput)) []*model.ConnectSession {
	t.Helper()
	var ins []*model.CreateConnectSessionInput
	for i := range n {
		in := createIn(tn, fmt.Sprint("owner-", i%4))
		if edit != nil {
			edit(i, in)
		}
		ins = append(ins, in)
	}
	out, _, err := b.store.CreateBatch(context.Background(), ins)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func verifyClean(t *testing.T, b *backend, tn model.Tenant) {
	t.Helper()
	rep, err := b.store.Verify(context.Background(), &tn, false)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

// An index crosses chunkSize entries: it turns into chunks, appends fill chunks in turn,
// out-of-order inserts split one, and deletes empty chunks until nothing is left.
func TestIndexChunksAcrossTheLimit(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		tn := model.Tenant{OrganizationID: 5, ProjectID: "chunks"}
		before := dumpKeys(t, b)
		all := b.store.k.all(tn)
		var made []*model.ConnectSession
		for range chunkSize / 16 {
			made = append(made, createMany(t, b, tn, 16, nil)...)
			b.clock.Advance(time.Millisecond)
		}
		if l := layoutOf(t, b, tn, all); l.chunked || len(l.plain) != chunkSize {
			t.Fatalf("%d entries: chunked %v, %d plain entries", chunkSize, l.chunked, len(l.plain))
		}
		made = append(made, createMany(t, b, tn, 1, nil)...)
		l := layoutOf(t, b, tn, all)
		if !l.chunked || !slices.Equal(chunkSizes(l), []int{chunkSize, 1}) || l.count != chunkSize+1 {
			t.Fatalf("%d entries: chunked %v, chunks %v, count %d", chunkSize+1, l.chunked, chunkSizes(l), l.count)
		}
		// Appends, one by one (the scripted create) and in a batch.
		for range 10 {
			b.clock.Advance(time.Millisecond)
			s, _ := mustCreate(t, b, createIn(tn, "owner-1"))
			made = append(made, s)
		}
		b.clock.Advance(time.Millisecond)
		made = append(made, createMany(t, b, tn, 3*chunkSize, nil)...)
		want := []int{chunkSize, chunkSize, chunkSize, chunkSize, 11}
		if l := layoutOf(t, b, tn, all); !slices.Equal(chunkSizes(l), want) {
			t.Fatalf("after appends: chunks %v, want %v (full ones, then the rest)", chunkSizes(l), want)
		}
		// Out of order: sessions created "earlier" land in the first, full chunk.
		now := b.clock.Now()
		b.clock.Advance(-now.Sub(made[20].CreatedAt))
		made = append(made, createMany(t, b, tn, 3, nil)...)
		b.clock.Advance(now.Sub(b.clock.Now()))
		l = layoutOf(t, b, tn, all)
		if got := chunkSizes(l); len(got) != len(want)+1 || got[0]+got[1] != chunkSize+3 || got[0] > chunkSize/2+3 || got[1] > chunkSize/2+3 {
			t.Fatalf("after a split: chunks %v, want the first split in halves", got)
		}
		// Below every chunk: the first chunk's bound moves down.
		b.clock.Advance(-time.Hour)
		made = append(made, createMany(t, b, tn, 1, nil)...)
		b.clock.Advance(time.Hour)
		l = layoutOf(t, b, tn, all)
		if l.chunks[0].lo.m != member(made[len(made)-1].ID) || l.count != int64(len(made)) {
			t.Fatalf("entry below every chunk: first bound %v, count %d", l.chunks[0].lo, l.count)
		}
		checkPages(t, b, tn, made, []*model.ConnectSessionFilter{nil, {OriginOwnerID: ptr("owner-1")}}, []int{50, 100})
		verifyClean(t, b, tn)

		// Deleting a whole chunk's entries removes the chunk and its directory member.
		l = layoutOf(t, b, tn, all)
		for _, e := range l.chunks[1].entries {
			if ok, err := b.store.Delete(ctx, tn, idOf(e.m)); err != nil || !ok {
				t.Fatalf("delete %d: %v %v", idOf(e.m), ok, err)
			}
		}
		if n := b.rdb.Exists(ctx, l.chunks[1].key).Val(); n != 0 {
			t.Errorf("emptied chunk %s still exists", l.chunks[1].key)
		}
		after := layoutOf(t, b, tn, all)
		if len(after.chunks) != len(l.chunks)-1 || after.count != l.count-int64(len(l.chunks[1].entries)) {
			t.Errorf("after emptying a chunk: chunks %v, count %d", chunkSizes(after), after.count)
		}
		var left []*model.ConnectSession
		for _, s := range made {
			if _, err := b.store.Get(ctx, tn, s.ID); err == nil {
				left = append(left, s)
			}
		}
		checkPages(t, b, tn, left, []*model.ConnectSessionFilter{nil}, []int{100})
		verifyClean(t, b, tn)
		for _, s := range left {
			if _, err := b.store.Delete(ctx, tn, s.ID); err != nil {
				t.Fatal(err)
			}
		}
		for k, v := range dumpKeys(t, b) {
			if _, ok := before[k]; !ok && k != b.store.k.seq() && k != b.store.k.tenants() && !strings.Contains(k, ":ids:") && !isEventLog(k) {
				t.Errorf("key %s left after deleting everything: %s", k, v)
			}
		}
	})
}

// Pages over chunked indexes with many ties on createdAt (runs of the same createdAt
// span chunk boundaries), filters intersecting chunked and plain indexes, and counts
// with and without a createdAt range.
func TestChunkedPagesMatchReference(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		tn := model.Tenant{OrganizationID: 5, ProjectID: "pages"}
		var all []*model.ConnectSession
		providers := []string{"hibob", "bamboohr", "personio"}
		edit := func(i int, in *model.CreateConnectSessionInput) {
			in.OriginOwnerID = fmt.Sprint("owner-", i%12) // about 55 each: plain indexes
			if i%2 == 0 {
				in.Provider = ptr(providers[i%3])
			}
			in.Categories = model.AllCategories[:1+i%3]
			if i%5 == 0 {
				in.Type = ptr(model.TypeTest)
			}
		}
		for round := range 10 {
			all = append(all, createMany(t, b, tn, 30+round*7, edit)...)
			b.clock.Advance(time.Millisecond)
		}
		// Some out of order, into the middle of full chunks.
		now := b.clock.Now()
		b.clock.Advance(-now.Sub(all[200].CreatedAt))
		all = append(all, createMany(t, b, tn, 40, edit)...)
		b.clock.Advance(now.Sub(b.clock.Now()))

		for _, key := range []string{b.store.k.all(tn), b.store.k.index(tn, ixCategory, string(model.AllCategories[0])), b.store.k.index(tn, ixType, string(model.TypeProduction))} {
			if l := layoutOf(t, b, tn, key); !l.chunked {
				t.Fatalf("%s is not chunked", key)
			}
		}
		if l := layoutOf(t, b, tn, b.store.k.index(tn, ixOwner, "owner-3")); l.chunked {
			t.Fatalf("owner index chunked")
		}
		mid := all[300].CreatedAt
		filters := []*model.ConnectSessionFilter{
			nil,
			{Category: ptr(model.AllCategories[1])},
			{Type: ptr(model.TypeProduction), Category: ptr(model.AllCategories[0])},
			{OriginOwnerID: ptr("owner-3"), Category: ptr(model.AllCategories[0])},
			{OriginOwnerID: ptr("owner-3")},
			{Provider: ptr("hibob"), Type: ptr(model.TypeTest)},
			{CreatedAfter: &mid},
			{CreatedBefore: &mid},
			{CreatedAfter: ptr(all[100].CreatedAt), CreatedBefore: &mid, Category: ptr(model.AllCategories[0])},
		}
		checkPages(t, b, tn, all, filters, []int{7, 50, 100})
		verifyClean(t, b, tn)
	})
}

// flattenIndex rewrites an index into one plain sorted set, as the store wrote every
// index before chunks existed.
func flattenIndex(t *testing.T, b *backend, tn model.Tenant, key string) {
	t.Helper()
	ctx := context.Background()
	l := layoutOf(t, b, tn, key)
	if !l.chunked {
		return
	}
	var zs []redis.Z
	for _, e := range l.entries() {
		zs = append(zs, redis.Z{Score: float64(e.score), Member: e.m})
	}
	for _, c := range l.chunks {
		b.rdb.Del(ctx, c.key)
	}
	b.rdb.Del(ctx, b.store.k.directory(tn, key))
	suffix := b.store.k.indexSuffix(tn, key)
	b.rdb.HDel(ctx, b.store.k.counts(tn), suffix, "#"+suffix)
	b.rdb.ZAdd(ctx, key, zs...)
}

// Data written before chunks (plain indexes of any size) is read as it is, and the next
// write turns a large plain index into chunks.
func TestOldLayoutPlainIndexes(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		tn := model.Tenant{OrganizationID: 5, ProjectID: "old"}
		var all []*model.ConnectSession
		for range 6 {
			all = append(all, createMany(t, b, tn, 50, func(i int, in *model.CreateConnectSessionInput) {
				in.ExpiresIn = ptr(600 + i)
			})...)
			b.clock.Advance(time.Millisecond)
		}
		keys := []string{b.store.k.all(tn), b.store.k.expiry(tn), b.store.k.index(tn, ixType, string(model.TypeProduction))}
		for _, key := range keys {
			flattenIndex(t, b, tn, key)
			if n := b.rdb.ZCard(ctx, key).Val(); n != 300 {
				t.Fatalf("%s: %d plain entries", key, n)
			}
		}
		checkPages(t, b, tn, all, []*model.ConnectSessionFilter{nil, {OriginOwnerID: ptr("owner-2")}, {CreatedAfter: ptr(all[120].CreatedAt)}}, []int{50})
		verifyClean(t, b, tn)

		s, _ := mustCreate(t, b, createIn(tn, "owner-2"))
		all = append(all, s)
		for _, key := range keys {
			if l := layoutOf(t, b, tn, key); !l.chunked || l.count != 301 {
				t.Errorf("%s after a write: chunked %v, count %d", key, l.chunked, l.count)
			}
		}
		// Removing from a large plain index converts it too.
		flattenIndex(t, b, tn, b.store.k.all(tn))
		if _, err := b.store.Delete(ctx, tn, all[0].ID); err != nil {
			t.Fatal(err)
		}
		all = all[1:]
		if l := layoutOf(t, b, tn, b.store.k.all(tn)); !l.chunked || l.count != 300 {
			t.Errorf("after a delete: chunked %v, count %d", l.chunked, l.count)
		}
		checkPages(t, b, tn, all, []*model.ConnectSessionFilter{nil}, []int{50})
		verifyClean(t, b, tn)
	})
}

// Retention walks a chunked expiry index from its bottom and empties chunks as it goes.
func TestRetentionEmptiesChunks(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		b.store.retention = time.Hour
		tn := model.Tenant{OrganizationID: 5, ProjectID: "retention"}
		keep, _ := mustCreate(t, b, createIn(tn, "keep"))
		if _, err := b.store.Update(ctx, &model.SessionUpdate{OrganizationID: tn.OrganizationID, ProjectID: tn.ProjectID,
			ID: keep.ID, ExpiresIn: model.Set(ptr(model.MaxExpiresIn))}); err != nil {
			t.Fatal(err)
		}
		before := dumpKeys(t, b)
		for i := range 3 {
			createMany(t, b, tn, 100, func(j int, in *model.CreateConnectSessionInput) { in.ExpiresIn = ptr(60 + i*100 + j) })
		}
		if l := layoutOf(t, b, tn, b.store.k.expiry(tn)); !l.chunked || l.count != 301 {
			t.Fatalf("expiry index: chunked %v, count %d", l.chunked, l.count)
		}
		b.clock.Advance(2 * time.Hour)
		n, err := b.store.sweepDue(ctx, 50, time.Minute)
		if err != nil || n != 300 {
			t.Fatalf("sweep: removed %d, %v; want 300", n, err)
		}
		for k, v := range dumpKeys(t, b) {
			if _, ok := before[k]; !ok && k != b.store.k.seq() && !strings.Contains(k, ":ids:") {
				t.Errorf("key %s left after the sweep: %s", k, v)
			}
		}
		if _, err := b.store.Get(ctx, tn, keep.ID); err != nil {
			t.Errorf("live session: %v", err)
		}
	})
}

// Verify finds each way a chunked index can break, and repair fixes it.
func TestVerifyChunkedIndexes(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		tn := model.Tenant{OrganizationID: 5, ProjectID: "verify"}
		var all []*model.ConnectSession
		for range 5 {
			all = append(all, createMany(t, b, tn, 100, func(i int, in *model.CreateConnectSessionInput) {
				in.Categories = []model.Category{model.CategoryHRIS}
			})...)
			b.clock.Advance(time.Millisecond)
		}
		key := b.store.k.all(tn)
		cat := b.store.k.index(tn, ixCategory, string(model.CategoryHRIS))
		exp := b.store.k.expiry(tn)
		l := layoutOf(t, b, tn, key)
		if len(l.chunks) != (500+chunkSize-1)/chunkSize {
			t.Fatalf("chunks %v", chunkSizes(l))
		}
		verifyClean(t, b, tn)
		base := b.store.k.tenantBase(tn)
		breaks := []struct {
			kind    string
			breakIt func()
		}{
			{"chunk over 128 entries", func() {
				// The next chunks' entries moved into the first, past what Redis keeps compact.
				c0 := l.chunks[0]
				for _, c := range l.chunks[1 : 1+chunkMax/chunkSize] {
					for _, e := range c.entries {
						b.rdb.ZAdd(ctx, c0.key, redis.Z{Score: float64(e.score), Member: e.m})
						b.rdb.ZRem(ctx, c.key, e.m)
					}
				}
			}},
			{"directory member without chunk", func() {
				lc := layoutOf(t, b, tn, cat)
				b.rdb.Del(ctx, lc.chunks[0].key)
			}},
			{"index count does not match", func() {
				b.rdb.HIncrBy(ctx, b.store.k.counts(tn), "exp", 5)
			}},
			{"chunk without directory member", func() {
				b.rdb.ZAdd(ctx, base+"ixk:999:ix:all", redis.Z{Score: 1, Member: member(all[0].ID)})
			}},
			{"chunk entries outside its bounds", func() {
				le := layoutOf(t, b, tn, exp)
				e := le.chunks[2].entries[0]
				b.rdb.ZRem(ctx, le.chunks[2].key, e.m)
				b.rdb.ZAdd(ctx, le.chunks[0].key, redis.Z{Score: float64(e.score), Member: e.m})
				b.rdb.ZRem(ctx, le.chunks[0].key, le.chunks[0].entries[0].m)
				b.rdb.ZAdd(ctx, le.chunks[2].key, redis.Z{Score: float64(le.chunks[0].entries[0].score), Member: le.chunks[0].entries[0].m})
			}},
			{"index entry without record", func() {
				if err := b.store.ixAdd(ctx, tn, key, all[10].CreatedAt.UnixMilli(), 999999); err != nil {
					t.Fatal(err)
				}
			}},
			{"record without index entry", func() {
				if err := b.store.ixRem(ctx, tn, key, all[300].CreatedAt.UnixMilli(), member(all[300].ID)); err != nil {
					t.Fatal(err)
				}
			}},
			{"plain index beside its chunks", func() {
				b.rdb.ZAdd(ctx, key, redis.Z{Score: float64(all[5].CreatedAt.UnixMilli()), Member: member(all[5].ID)})
			}},
		}
		for _, c := range breaks {
			c.breakIt()
			rep, err := b.store.Verify(ctx, &tn, false)
			if err != nil || !slices.Contains(kinds(rep), c.kind) {
				t.Errorf("%s: not found: %v %v", c.kind, kinds(rep), err)
			}
			rep, err = b.store.Verify(ctx, &tn, true)
			if err != nil || rep.Repaired == 0 {
				t.Errorf("%s: repair: %+v %v", c.kind, rep, err)
			}
			rep, err = b.store.Verify(ctx, &tn, false)
			if err != nil || len(rep.Problems) != 0 {
				t.Errorf("%s: after repair: %v %v", c.kind, kinds(rep), err)
			}
			for _, k := range []string{key, cat, exp} {
				layoutOf(t, b, tn, k)
			}
		}
		checkPages(t, b, tn, all, []*model.ConnectSessionFilter{nil, {Category: ptr(model.CategoryHRIS)}}, []int{100})
	})
}

// Chunks of up to chunkMax written with a larger size than chunkSize (as earlier versions
// did) stay valid: inserts split them. (TestLuaSources checks that the scripts use
// chunkSize.)
func TestChunkSizeAndOlderChunks(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		tn := model.Tenant{OrganizationID: 5, ProjectID: "older"}
		var all []*model.ConnectSession
		for range 4 {
			all = append(all, createMany(t, b, tn, 64, func(i int, in *model.CreateConnectSessionInput) { in.ExpiresIn = ptr(600 + i) })...)
			b.clock.Advance(time.Millisecond)
		}
		// Rewrite the creation index as chunks of chunkMax, as a version with that size did.
		key := b.store.k.all(tn)
		l := layoutOf(t, b, tn, key)
		entries := l.entries()
		for _, c := range l.chunks {
			b.rdb.Del(ctx, c.key)
		}
		dir := b.store.k.directory(tn, key)
		b.rdb.Del(ctx, dir)
		for i := 0; i < len(entries); i += chunkMax {
			part := entries[i:min(i+chunkMax, len(entries))]
			dm := encodeBound(part[0]) + strconv.Itoa(1000+i)
			b.rdb.ZAdd(ctx, dir, redis.Z{Member: dm})
			for _, e := range part {
				b.rdb.ZAdd(ctx, b.store.k.chunk(tn, key, dm), redis.Z{Score: float64(e.score), Member: e.m})
			}
		}
		if got := chunkSizes(layoutOf(t, b, tn, key)); !slices.Equal(got, []int{chunkMax, chunkMax}) {
			t.Fatalf("older chunks %v", got)
		}
		verifyClean(t, b, tn)
		// An insert into a full older chunk splits it; appends start chunks of chunkSize.
		now := b.clock.Now()
		b.clock.Advance(-now.Sub(all[10].CreatedAt))
		all = append(all, createMany(t, b, tn, 1, nil)...)
		b.clock.Advance(now.Sub(b.clock.Now()) + time.Millisecond)
		all = append(all, createMany(t, b, tn, chunkSize+1, nil)...)
		got := chunkSizes(layoutOf(t, b, tn, key))
		if len(got) != 5 || got[0]+got[1] != chunkMax+1 || got[3] != chunkSize || got[4] != 1 {
			t.Errorf("after writes: chunks %v", got)
		}
		verifyClean(t, b, tn)
		checkPages(t, b, tn, all, []*model.ConnectSessionFilter{nil}, []int{50})
	})
}

// encodeBound is an entry as a directory member's lower bound (see keys).
func encodeBound(e ixEntry) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(e.score))
	return string(b[:]) + e.m
}
