package resolvers_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
	"connectsession/resolvers"
)

// roundTrips counts what a client sends to Redis: one per command sent alone, one per
// pipeline.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

// orgOnly authorizes reads of one organization only.
type orgOnly struct{ org int }

func (o orgOnly) Authorize(_ context.Context, t model.Tenant, _ bool) error {
	if t.OrganizationID != o.org {
		return model.ErrForbidden
	}
	return nil
}

func (orgOnly) Authenticate(context.Context) error { return nil }

const entitiesQuery = `query($r: [_Any!]!) { _entities(representations: $r) { ... on ConnectSession { id organizationId originOwnerId } } }`

// idsRead records how many ids each GetMany call asked for.
type idsRead struct {
	resolvers.Store
	asked []int
}

func (s *idsRead) GetMany(ctx context.Context, ids []int) ([]*model.ConnectSession, error) {
	s.asked = append(s.asked, len(ids))
	return s.Store.GetMany(ctx, ids)
}

func TestEntitiesBatchedInOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		// 100 representations: sessions of organization 1 (visible), of organization 2
		// (outside the key's scope: null without an error, as connectSession answers, so
		// that ids do not reveal which tenant holds them) and ids that do not exist,
		// interleaved; then each of them again, read only once.
		var reps []map[string]any
		type want struct {
			id      int
			visible bool
		}
		var wants []want
		for i := range 100 {
			switch i % 3 {
			case 0, 1:
				org := 1 + i%3
				in := minimalInput("entity")
				in["organizationId"] = org
				s := create(t, b.client(nil), in).CreateConnectSession.ConnectSession
				reps = append(reps, map[string]any{"__typename": "ConnectSession", "id": s.ID})
				wants = append(wants, want{id: s.ID, visible: org == 1})
			default:
				reps = append(reps, map[string]any{"__typename": "ConnectSession", "id": 1_000_000 + i})
				wants = append(wants, want{id: 1_000_000 + i})
			}
		}
		reps, wants = append(reps, reps...), append(wants, wants...)
		counter := &roundTrips{}
		read := &idsRead{Store: b.store}
		c := newClient(&resolvers.Resolver{Store: read, Auth: orgOnly{org: 1}})
		do(t, c, entitiesQuery, map[string]any{"r": reps[:1]}) // loads the script once
		b.rdb.AddHook(counter)
		res := do(t, c, entitiesQuery, map[string]any{"r": reps})
		// On a cluster the id pointers and the records live in different slots: one
		// pipelined round trip for each.
		trips := int64(1)
		if _, cluster := b.rdb.(*redis.ClusterClient); cluster {
			trips = 2
		}
		if got := counter.n.Load(); got != trips {
			t.Errorf("redis round trips for 200 representations: got %d, want %d", got, trips)
		}
		if got := read.asked[len(read.asked)-1]; got != 100 {
			t.Errorf("read %d ids for 200 representations of 100 sessions, want 100", got)
		}

		var data struct {
			Entities []*struct {
				ID             int
				OrganizationID int
			} `json:"_entities"`
		}
		if err := json.Unmarshal(res.Data, &data); err != nil {
			t.Fatalf("decode %s: %v", res.Data, err)
		}
		if len(data.Entities) != 200 {
			t.Fatalf("got %d entities, want 200", len(data.Entities))
		}
		if len(res.Errors) > 0 {
			t.Errorf("unexpected errors %+v", res.Errors)
		}
		for i, w := range wants {
			got := data.Entities[i]
			switch {
			case w.visible && (got == nil || got.ID != w.id || got.OrganizationID != 1):
				t.Errorf("entity %d: got %+v, want session %d", i, got, w.id)
			case !w.visible && got != nil:
				t.Errorf("entity %d: got %+v, want null", i, got)
			}
		}
	})
}

func TestServiceSDL(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		var out struct {
			Service struct{ SDL string } `json:"_service"`
		}
		mustDo(t, b.client(nil), `{ _service { sdl } }`, nil, &out)
		for _, want := range []string{
			`@link(url: "https://specs.apollo.dev/federation/v2.7"`,
			`type ConnectSession @key(fields: "id")`,
			`type PageInfo @shareable`,
		} {
			if !strings.Contains(out.Service.SDL, want) {
				t.Errorf("sdl lacks %q", want)
			}
		}
	})
}
