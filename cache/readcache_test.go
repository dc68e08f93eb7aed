package cache

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectsession/graph/model"
	"connectsession/internal/redistest"

	"github.com/redis/go-redis/v9"
)

// cachedBackend is a store with a read cache over the real Redis the environment names,
// on a clock of its own; it skips the test on miniredis (which cannot track keys) and on
// a cluster (where the read cache is off).
func cachedBackend(t *testing.T) (*backend, *ReadCache) {
	t.Helper()
	rb := redistest.NeedReal(t)
	if rb.URL() == "" {
		t.Skip("the read cache runs on a single Redis server only, and the environment names a cluster")
	}
	rc, err := NewReadCache(rb.URL(), ReadCacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	b := newBackend(rb)
	b.store = New(rb.RDB, Options{Prefix: rb.Prefix, Now: b.clock.Now, ReadCache: rc})
	return b, rc
}

var rcTenant = model.Tenant{OrganizationID: 1, ProjectID: "rc"}

func created(t *testing.T, b *backend, owner string) *model.ConnectSession {
	t.Helper()
	cs, _ := mustCreate(t, b, createIn(rcTenant, owner))
	return cs
}

// A second read of an unchanged session comes from memory.
func TestReadCacheServesRepeatedReads(t *testing.T) {
	b, rc := cachedBackend(t)
	ctx := context.Background()
	cs := created(t, b, "o1")
	for range 3 {
		got, err := b.store.Get(ctx, rcTenant, cs.ID)
		if err != nil || got.OriginOwnerID != "o1" {
			t.Fatalf("Get = %+v, %v", got, err)
		}
	}
	st := rc.Stats()
	if st.Misses != 1 || st.Hits != 2 || st.Entries != 1 {
		t.Fatalf("after three reads of one session: %+v, want 1 miss, 2 hits, 1 entry", st)
	}
	many, err := b.store.GetMany(ctx, []int{cs.ID, cs.ID + 1000})
	if err != nil || many[0] == nil || many[0].ID != cs.ID || many[1] != nil {
		t.Fatalf("GetMany = %v, %v", many, err)
	}
	before := rc.Stats().Hits
	if _, err := b.store.GetMany(ctx, []int{cs.ID, cs.ID + 1000}); err != nil {
		t.Fatal(err)
	}
	if hits := rc.Stats().Hits - before; hits < 2 {
		t.Fatalf("a repeated federation lookup hit the cache %d times, want its pointer and record (2)", hits)
	}
}

// Every write is seen by this instance's next read, though Redis's invalidation may not
// have been read yet: the store drops what it touched before answering.
func TestReadCacheReadsItsOwnWrites(t *testing.T) {
	b, _ := cachedBackend(t)
	ctx := context.Background()
	for i := range 50 {
		cs := created(t, b, "o")
		read := func() *model.ConnectSession {
			t.Helper()
			got, err := b.store.Get(ctx, rcTenant, cs.ID)
			if err != nil {
				t.Fatalf("round %d: Get: %v", i, err)
			}
			return got
		}
		read()
		name := "Renamed"
		if _, err := b.store.Update(ctx, &model.SessionUpdate{OrganizationID: 1, ProjectID: "rc", ID: cs.ID,
			OriginOwnerName: model.Set(&name)}); err != nil {
			t.Fatal(err)
		}
		if got := read(); got.OriginOwnerName != name {
			t.Fatalf("round %d: after update, read %q", i, got.OriginOwnerName)
		}
		if _, err := b.store.Revoke(ctx, rcTenant, cs.ID); err != nil {
			t.Fatal(err)
		}
		if got := read(); got.Status != model.ConnectSessionStatusRevoked {
			t.Fatalf("round %d: after revoke, status %s", i, got.Status)
		}
		if _, err := b.store.Delete(ctx, rcTenant, cs.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.Get(ctx, rcTenant, cs.ID); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("round %d: after delete, Get: %v", i, err)
		}
		if got, err := b.store.GetMany(ctx, []int{cs.ID}); err != nil || got[0] != nil {
			t.Fatalf("round %d: after delete, GetMany: %v %v", i, got, err)
		}
	}
}

// Authenticating changes the status the next read shows; a read of an id before it
// exists does not hide the session created under it.
func TestReadCacheAuthenticateAndCreate(t *testing.T) {
	b, _ := cachedBackend(t)
	ctx := context.Background()
	cs, token, err := b.store.Create(ctx, &model.CreateConnectSessionInput{OrganizationID: 1, ProjectID: "rc",
		OriginOwnerID: "o", OriginOwnerName: "O"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.Get(ctx, rcTenant, cs.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.Authenticate(ctx, token); err != nil {
		t.Fatal(err)
	}
	if got, err := b.store.Get(ctx, rcTenant, cs.ID); err != nil || got.Status != model.ConnectSessionStatusAuthenticated {
		t.Fatalf("after authenticate: %+v, %v", got, err)
	}
	next := cs.ID + 1
	if _, err := b.store.Get(ctx, rcTenant, next); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("Get of the next id before it exists: %v", err)
	}
	if _, err := b.store.GetMany(ctx, []int{next}); err != nil {
		t.Fatal(err)
	}
	created := created(t, b, "o2")
	if created.ID != next {
		t.Skipf("another writer took id %d", next)
	}
	if _, err := b.store.Get(ctx, rcTenant, next); err != nil {
		t.Fatalf("Get after the create: %v", err)
	}
	if got, err := b.store.GetMany(ctx, []int{next}); err != nil || got[0] == nil {
		t.Fatalf("GetMany after the create: %v, %v", got, err)
	}
}

// A cached record's status still follows the clock: expiry is derived when the record is
// read, not stored.
func TestReadCacheEntryExpires(t *testing.T) {
	b, rc := cachedBackend(t)
	ctx := context.Background()
	cs := created(t, b, "o")
	if _, err := b.store.Get(ctx, rcTenant, cs.ID); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(cs.ExpiresAt.Sub(b.clock.Now()) + time.Hour)
	hits := rc.Stats().Hits
	got, err := b.store.Get(ctx, rcTenant, cs.ID)
	if err != nil || got.Status != model.ConnectSessionStatusExpired {
		t.Fatalf("after expiry: %+v, %v", got, err)
	}
	if rc.Stats().Hits != hits+1 {
		t.Fatal("the read after expiry did not come from the cache; this test no longer tests a cached entry")
	}
}

// Another instance's write reaches this instance's cache through Redis's invalidation,
// well within a second; the retention sweep's removals too.
func TestReadCacheSeesOtherInstancesWrites(t *testing.T) {
	a, _ := cachedBackend(t)
	ctx := context.Background()
	// A minute's backstop, so that only an invalidation can make B see the writes
	// within the second the test waits.
	rcB, err := NewReadCache(redistest.Real(t).URL(), ReadCacheOptions{MaxStaleness: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rcB.Close() })
	other := New(a.rdb, Options{Prefix: a.store.k.prefix, Now: a.clock.Now, ReadCache: rcB, Retention: time.Hour})
	cs := created(t, a, "o")
	if _, err := other.Get(ctx, rcTenant, cs.ID); err != nil {
		t.Fatal(err)
	}
	name := "From A"
	if _, err := a.store.Update(ctx, &model.SessionUpdate{OrganizationID: 1, ProjectID: "rc", ID: cs.ID, OriginOwnerName: model.Set(&name)}); err != nil {
		t.Fatal(err)
	}
	waitWithin(t, time.Second, "B to see A's update", func() bool {
		got, err := other.Get(ctx, rcTenant, cs.ID)
		return err == nil && got.OriginOwnerName == name
	})

	// The sweep on A removes the expired session; B stops serving it.
	a.clock.Advance(cs.ExpiresAt.Sub(a.clock.Now()) + 2*time.Hour)
	sweeper := New(a.rdb, Options{Prefix: a.store.k.prefix, Now: a.clock.Now, Retention: time.Hour})
	if n, err := sweeper.Sweep(ctx, 100); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v", n, err)
	}
	waitWithin(t, time.Second, "B to see the sweep", func() bool {
		_, err := other.Get(ctx, rcTenant, cs.ID)
		return errors.Is(err, model.ErrNotFound)
	})
}

// waitWithin polls cond until it holds, failing the test after within.
func waitWithin(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", within, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A Redis emptied (FLUSHALL) or killed and restarted empty leaves nothing in the cache
// that it serves: go-redis drops everything on a flush and what a broken connection
// fetched, well before MaxStaleness (a minute here) would. It runs its own
// redis-server, to kill it.
func TestReadCacheForgetsAnEmptiedOrRestartedRedis(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server on PATH to start and kill")
	}
	port := freePort(t)
	start := func() *exec.Cmd {
		t.Helper()
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	server := start()
	url := "redis://127.0.0.1:" + strconv.Itoa(port) + "/0"
	rdb, err := Connect(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	waitWithin(t, 5*time.Second, "redis-server to start", func() bool { return rdb.Ping(context.Background()).Err() == nil })
	rc, err := NewReadCache(url, ReadCacheOptions{MaxStaleness: time.Minute}) // the forgetting below is not staleness running out
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	s := New(rdb, Options{ReadCache: rc})
	ctx := context.Background()
	cachedSession := func() int {
		t.Helper()
		cs, _, err := s.Create(ctx, createIn(rcTenant, "o"))
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := s.Get(ctx, rcTenant, cs.ID); err != nil {
				t.Fatal(err)
			}
		}
		return cs.ID
	}
	gone := func(id int) func() bool {
		return func() bool {
			_, err := s.Get(ctx, rcTenant, id)
			return errors.Is(err, model.ErrNotFound)
		}
	}

	id := cachedSession()
	if err := rdb.FlushAll(ctx).Err(); err != nil { // this test's own server
		t.Fatal(err)
	}
	waitWithin(t, time.Second, "the cache to forget a flushed session", gone(id))

	id = cachedSession()
	_ = server.Process.Kill()
	_ = server.Wait()
	start()
	waitWithin(t, 5*time.Second, "redis-server to restart", func() bool { return rdb.Ping(ctx).Err() == nil })
	waitWithin(t, time.Second, "the cache to forget a session of the killed server", gone(id))
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Federation lookups of more ids than maxCachedMany go to Redis in one script, cached
// or not; fewer are served from the cache once read.
func TestReadCacheManyIDs(t *testing.T) {
	b, rc := cachedBackend(t)
	ctx := context.Background()
	var ids []int
	for range maxCachedMany + 1 {
		ids = append(ids, created(t, b, "o").ID)
	}
	for range 2 {
		got, err := b.store.GetMany(ctx, ids)
		if err != nil || got[len(ids)-1] == nil {
			t.Fatalf("GetMany of %d ids: %v, %v", len(ids), got, err)
		}
	}
	if st := rc.Stats(); st.Hits+st.Misses != 0 {
		t.Fatalf("a lookup of %d ids went through the cache: %+v", len(ids), st)
	}
	for range 2 {
		if _, err := b.store.GetMany(ctx, ids[:maxCachedMany]); err != nil {
			t.Fatal(err)
		}
	}
	if st := rc.Stats(); st.Hits != 2*maxCachedMany {
		t.Fatalf("the second lookup of %d ids: %d hits, want %d (pointer and record each)", maxCachedMany, st.Hits, 2*maxCachedMany)
	}
}

// The cache's size (what READ_CACHE_MAX_BYTES bounds) is what its entries take in the
// heap, within a third, for records and for the empty replies of missing keys.
func TestReadCacheSizeIsTheHeap(t *testing.T) {
	rb := redistest.NeedReal(t)
	if rb.URL() == "" {
		t.Skip("the read cache runs on a single Redis server only")
	}
	rc, err := NewReadCache(rb.URL(), ReadCacheOptions{MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ctx := context.Background()
	const n = 5000
	record := strings.Repeat("r", 180) // a record of the benchmark's mix is 170-190 bytes
	key := func(kind string, i int) string { return rb.Prefix + ":{1:rc}:" + kind + ":" + strconv.Itoa(i) }
	if _, err := rb.RDB.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			p.Set(ctx, key("s", i), record, 0)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	heap := func() int64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	for _, kind := range []string{"s", "missing"} {
		before, estimated := heap(), rc.Stats().Bytes
		for i := range n {
			_ = rc.rdb.Get(ctx, key(kind, i)).Err()
		}
		grown, counted := heap()-before, rc.Stats().Bytes-estimated
		if ratio := float64(grown) / float64(counted); ratio < 0.75 || ratio > 1.33 {
			t.Errorf("%s: %d entries take %d heap bytes, the cache counts %d (ratio %.2f)", kind, n, grown, counted, ratio)
		}
	}
	runtime.KeepAlive(rc)
}

// A server that does not track keys (miniredis here) is refused at Check, so the service
// runs without the cache instead of one that could never drop a changed entry; a real
// one passes, its canary read dropped again.
func TestReadCacheCheck(t *testing.T) {
	mini := redistest.Mini(t, "c")
	rc, err := NewReadCache(mini.URL(), ReadCacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := rc.Check(context.Background()); !errors.Is(err, ErrReadCacheUnsupported) {
		t.Fatalf("Check on miniredis: %v, want ErrReadCacheUnsupported", err)
	}
	if _, err := NewReadCache(mini.URL()+"/3", ReadCacheOptions{}); !errors.Is(err, ErrReadCacheUnsupported) {
		t.Fatalf("NewReadCache on database 3: %v", err)
	}
	_, real := cachedBackend(t)
	if err := real.Check(context.Background()); err != nil {
		t.Fatalf("Check on a real Redis: %v", err)
	}
	if n := real.Stats().Entries; n != 0 {
		t.Fatalf("Check left %d entries", n)
	}
}
