package cache

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// failScripts makes every script call fail as a lost connection would, after the
// create's pointers went out.
type failScripts struct{ on *atomic.Bool }

func (failScripts) DialHook(next redis.DialHook) redis.DialHook { return next }

func (f failScripts) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.on.Load() && strings.HasPrefix(cmd.Name(), "eval") {
			err := errors.New("connection reset by peer")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (failScripts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A create that fails between its steps leaves no session any reader can see: not by
// id, not in any list or count, not through its token, and verify finds only harmless
// leftovers.
func TestInterruptedCreateLeavesNothingVisible(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		kept, _ := mustCreate(t, b, createIn(demo, "kept"))
		var failing atomic.Bool
		failing.Store(true)
		b.rdb.AddHook(failScripts{on: &failing})
		in := createIn(demo, "lost")
		in.Provider = ptr("hibob")
		_, _, err := b.store.Create(ctx, in)
		if !errors.Is(err, model.ErrUnavailable) {
			t.Fatalf("interrupted create: got %v, want ErrUnavailable", err)
		}
		failing.Store(false)
		// The pointers went out, so the lost id is the next one in the sequence.
		lost := kept.ID + 1
		if _, err := b.store.Get(ctx, demo, lost); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("get lost session: %v", err)
		}
		if many, err := b.store.GetMany(ctx, []int{lost, kept.ID}); err != nil || many[0] != nil || many[1] == nil {
			t.Errorf("federation lookup: %v %v, want only the kept session", many, err)
		}
		for _, f := range []*model.ConnectSessionFilter{nil, {Provider: ptr("hibob")}, {OriginOwnerID: ptr("lost")}} {
			p, err := b.store.List(ctx, demo, model.ListQuery{Filter: f, WantCount: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range p.Nodes {
				if n.ID == lost {
					t.Errorf("filter %+v lists the lost session", f)
				}
			}
			if f == nil && p.TotalCount != 1 {
				t.Errorf("count: got %d, want 1", p.TotalCount)
			}
		}
		rep, err := b.store.Verify(ctx, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Inconsistencies() != 0 || rep.Records != 1 {
			t.Errorf("verify: %+v, want one record and no inconsistency", rep)
		}
	})
}
