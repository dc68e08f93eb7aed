package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
	"connectsession/internal/redistest"
)

// clusterNode is one master as CLUSTER NODES shows it.
type clusterNode struct {
	id, addr string
	client   *redis.Client
}

// clusterMasters returns the cluster's masters and the one that owns slot.
func clusterMasters(t *testing.T, rdb *redis.ClusterClient, slot int) ([]*clusterNode, *clusterNode) {
	t.Helper()
	ctx := context.Background()
	text, err := rdb.ClusterNodes(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	var masters []*clusterNode
	var owner *clusterNode
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !strings.Contains(f[2], "master") {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		n := &clusterNode{id: f[0], addr: addr, client: redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})}
		t.Cleanup(func() { _ = n.client.Close() })
		masters = append(masters, n)
		for _, r := range f[8:] {
			lo, hi, isRange := strings.Cut(r, "-")
			a, errA := strconv.Atoi(lo)
			b := a
			if isRange {
				b, err = strconv.Atoi(hi)
			}
			if errA == nil && err == nil && a <= slot && slot <= b {
				owner = n
			}
		}
	}
	if owner == nil {
		t.Fatalf("no master owns slot %d:\n%s", slot, text)
	}
	return masters, owner
}

// migrate moves keys of slot from src to dst as redis-cli --cluster reshard does.
func migrate(t *testing.T, src, dst *clusterNode, slot int, keys []string) {
	t.Helper()
	ctx := context.Background()
	host, port, _ := strings.Cut(dst.addr, ":")
	for from := 0; from < len(keys); from += 50 {
		args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
		for _, k := range keys[from:min(from+50, len(keys))] {
			args = append(args, k)
		}
		if err := src.client.Do(ctx, args...).Err(); err != nil && err.Error() != "NOKEY" {
			t.Fatalf("MIGRATE: %v", err)
		}
	}
}

// TestSlotMigration moves a tenant's slot to another master key by key, the way
// redis-cli --cluster reshard does, and uses the tenant while it is half moved: every
// write and read either works or fails with ErrUnavailable (never another error), no
// write stops halfway (verify finds nothing once the slot has moved), every write that
// reported success is there, and afterwards everything works on the new owner.
//
// Two tenants: a large one (chunked indexes, whose plain keys do not exist) and a small
// one (every index one sorted set, so every key a write declares exists: only the guard
// key keeps its scripts from running halfway on a node that already gave some keys away).
func TestSlotMigration(t *testing.T) {
	redistest.SkipUnlessCluster(t)
	t.Run("large", func(t *testing.T) { testSlotMigration(t, 300) })
	t.Run("small", func(t *testing.T) { testSlotMigration(t, 6) })
}

func testSlotMigration(t *testing.T, sessions int) {
	ctx := context.Background()
	rdb, prefix := redistest.NeedCluster(t)
	s := New(rdb, Options{Prefix: prefix})
	ten := model.Tenant{OrganizationID: 1, ProjectID: fmt.Sprintf("moving-%d-%s", sessions, prefix)}
	p := func(v string) *string { return &v }
	create := func(i int) (*model.ConnectSession, error) {
		cs, _, err := s.Create(ctx, &model.CreateConnectSessionInput{
			OrganizationID: ten.OrganizationID, ProjectID: ten.ProjectID,
			OriginOwnerID: "owner-" + strconv.Itoa(i%3), OriginOwnerName: "Owner", Provider: p("hibob"),
			Categories: []model.Category{model.CategoryHRIS, model.CategoryATS},
		})
		return cs, err
	}
	// Past 128 sessions the creation, type, provider and category indexes are chunked.
	var ids []int
	for i := range sessions {
		cs, err := create(i)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, cs.ID)
	}

	// A subscriber of the tenant's events: sharded pub/sub, on the slot's owner.
	hub := s.NewHub(HubOptions{})
	hubCtx, stopHub := context.WithCancel(ctx)
	hubDone := make(chan struct{})
	go func() { hub.Run(hubCtx); close(hubDone) }()
	t.Cleanup(func() { _ = hub.Close(); stopHub(); <-hubDone })
	events, err := hub.Subscribe(ctx, ten, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	probe, err := create(0)
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, probe.ID)
	if ev := recv(t, events); ev.ID != probe.ID {
		t.Fatalf("event before the move: got %+v, want CREATED %d", ev, probe.ID)
	}
	sessions++

	slot := int(rdb.ClusterKeySlot(ctx, s.k.record(ten, ids[0])).Val())
	masters, src := clusterMasters(t, rdb, slot)
	var dst *clusterNode
	for _, n := range masters {
		if n != src {
			dst = n
			break
		}
	}
	if dst == nil {
		t.Skip("the cluster has one master")
	}
	finish := func(owner *clusterNode) {
		for _, n := range masters {
			_ = n.client.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", owner.id).Err()
		}
	}
	moved := false
	t.Cleanup(func() {
		if !moved { // leave the cluster usable for the tests after this one
			_ = dst.client.Do(ctx, "CLUSTER", "SETSLOT", slot, "STABLE").Err()
			_ = src.client.Do(ctx, "CLUSTER", "SETSLOT", slot, "STABLE").Err()
		}
	})
	if err := dst.client.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", src.id).Err(); err != nil {
		t.Fatal(err)
	}
	if err := src.client.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dst.id).Err(); err != nil {
		t.Fatal(err)
	}
	keys, err := src.client.ClusterGetKeysInSlot(ctx, slot, 1_000_000).Result()
	if err != nil {
		t.Fatal(err)
	}
	migrate(t, src, dst, slot, keys[:len(keys)/2])

	// Half moved: use the tenant.
	check := func(what string, err error) bool {
		t.Helper()
		if err != nil && !errors.Is(err, model.ErrUnavailable) {
			t.Errorf("%s while the slot moves: %v, want success or ErrUnavailable", what, err)
		}
		return err == nil
	}
	var done, refused int
	renamed := map[int]string{}
	// Tenths of the sessions, at most 8 of each (an operation refused while the slot
	// moves takes a few retries, about a quarter of a second).
	part := func(from, to int) []int {
		lo := from * len(ids) / 10
		return ids[lo:min(to*len(ids)/10, lo+8)]
	}
	for i, id := range part(0, 3) {
		name := fmt.Sprintf("renamed %d", i)
		_, err := s.Update(ctx, &model.SessionUpdate{OrganizationID: 1, ProjectID: ten.ProjectID, ID: id,
			OriginOwnerName: model.Set(&name), Categories: model.Set([]model.Category{model.CategoryCRM})})
		if check("update", err) {
			renamed[id] = name
			done++
		} else {
			refused++
		}
	}
	// A new expiry moves the session within the expiry index, which every session is in.
	expires := 7200
	extended := map[int]bool{}
	for _, id := range part(3, 5) {
		_, err := s.Update(ctx, &model.SessionUpdate{OrganizationID: 1, ProjectID: ten.ProjectID, ID: id,
			ExpiresIn: model.Set(&expires)})
		if check("update expiry", err) {
			extended[id] = true
		}
	}
	deleted := map[int]bool{}
	for _, id := range part(5, 7) {
		ok, err := s.Delete(ctx, ten, id)
		if check("delete", err) {
			deleted[id] = ok
		}
	}
	var created []int
	for i := range 20 {
		cs, err := create(1000 + i)
		if check("create", err) {
			created = append(created, cs.ID)
		}
	}
	first := 50
	_, err = s.List(ctx, ten, model.ListQuery{Args: model.PageArgs{First: &first}, WantCount: true})
	check("page", err)
	for _, id := range part(7, 10) {
		_, err := s.Get(ctx, ten, id)
		check("get", err)
	}
	t.Logf("while half moved: %d updates applied, %d refused as unavailable; %d creates applied", done, refused, len(created))

	// The rest of the keys, then the slot.
	keys, err = src.client.ClusterGetKeysInSlot(ctx, slot, 1_000_000).Result()
	if err != nil {
		t.Fatal(err)
	}
	migrate(t, src, dst, slot, keys)
	finish(dst)
	moved = true
	deadline := time.Now().Add(10 * time.Second)
	for {
		rdb.ReloadState(ctx)
		_, err := s.Get(ctx, ten, ids[len(ids)-1])
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tenant is not served after the slot moved: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The old owner dropped the tenant's channel with the slot: the subscription ends
	// with ErrUnavailable (the client subscribes again), and a new one, on the new
	// owner, gets the tenant's events.
	if err := ended(t, events); !errors.Is(err, model.ErrUnavailable) {
		t.Errorf("the subscription ended with %v, want ErrUnavailable", err)
	}
	// The first tries may still reach the old owner (MOVED) until the slot map is
	// reloaded, which that reply itself starts: clients subscribe again.
	deadline = time.Now().Add(5 * time.Second)
	for {
		if events, err = hub.Subscribe(ctx, ten, "", nil); err == nil {
			break
		}
		if !errors.Is(err, model.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("subscribe after the move: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	rep, err := s.Verify(ctx, &ten, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := rep.Inconsistencies(); n > 0 {
		t.Errorf("verify after the move: %d inconsistencies: %+v", n, rep.Problems)
	}
	for id, name := range renamed {
		cs, err := s.Get(ctx, ten, id)
		if err != nil || cs.OriginOwnerName != name || len(cs.Categories) != 1 || cs.Categories[0] != model.CategoryCRM {
			t.Errorf("update of %d reported done: got %+v, %v", id, cs, err)
		}
	}
	for id := range extended {
		cs, err := s.Get(ctx, ten, id)
		if err != nil || cs.ExpiresAt.Sub(cs.UpdatedAt) != time.Duration(expires)*time.Second {
			t.Errorf("expiry update of %d reported done: got %+v, %v", id, cs, err)
		}
	}
	for id, ok := range deleted {
		if _, err := s.Get(ctx, ten, id); ok && !errors.Is(err, model.ErrNotFound) {
			t.Errorf("delete of %d reported done: still there (%v)", id, err)
		}
	}
	for _, id := range created {
		if _, err := s.Get(ctx, ten, id); err != nil {
			t.Errorf("create of %d reported done: %v", id, err)
		}
	}

	// On the new owner every operation works.
	cs, err := create(2000)
	if err != nil {
		t.Fatalf("create after the move: %v", err)
	}
	if ev := recv(t, events); ev.ID != cs.ID {
		t.Errorf("event after the move: got %+v, want CREATED %d", ev, cs.ID)
	}
	crm := model.CategoryCRM
	pg, err := s.List(ctx, ten, model.ListQuery{Filter: &model.ConnectSessionFilter{Category: &crm}, Args: model.PageArgs{First: &first}, WantCount: true})
	if err != nil || pg.TotalCount != len(renamed) {
		t.Errorf("CRM page after the move: %v, count %v, want %d", err, pg, len(renamed))
	}
	all, err := s.List(ctx, ten, model.ListQuery{Args: model.PageArgs{First: &first}, WantCount: true})
	if err != nil || all.TotalCount != sessions-len(deleted)+len(created)+1 || all.Nodes[0].ID != cs.ID {
		t.Errorf("page after the move: %v, %+v", err, all)
	}
	if ok, err := s.Delete(ctx, ten, cs.ID); err != nil || !ok {
		t.Errorf("delete after the move: %v %v", ok, err)
	}
}
