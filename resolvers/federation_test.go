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

func TestEntitiesBatchedInOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		// 100 representations: sessions of organization 1 (visible), of organization 2
		// (forbidden) and ids that do not exist, interleaved.
		var reps []map[string]any
		type want struct {
			id        int
			visible   bool
			forbidden bool
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
				wants = append(wants, want{id: s.ID, visible: org == 1, forbidden: org == 2})
			default:
				reps = append(reps, map[string]any{"__typename": "ConnectSession", "id": 1_000_000 + i})
				wants = append(wants, want{id: 1_000_000 + i})
			}
		}
		counter := &roundTrips{}
		c := newClient(&resolvers.Resolver{Store: b.store, Auth: orgOnly{org: 1}})
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
			t.Errorf("redis round trips for 100 representations: got %d, want %d", got, trips)
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
		if len(data.Entities) != 100 {
			t.Fatalf("got %d entities, want 100", len(data.Entities))
		}
		forbiddenAt := map[int]bool{}
		for _, e := range res.Errors {
			if e.code() != "FORBIDDEN" || len(e.Path) != 2 || e.Path[0] != "_entities" {
				t.Errorf("unexpected error %+v", e)
				continue
			}
			forbiddenAt[int(e.Path[1].(float64))] = true
		}
		for i, w := range wants {
			got := data.Entities[i]
			switch {
			case w.visible && (got == nil || got.ID != w.id || got.OrganizationID != 1):
				t.Errorf("entity %d: got %+v, want session %d", i, got, w.id)
			case !w.visible && got != nil:
				t.Errorf("entity %d: got %+v, want null", i, got)
			}
			if forbiddenAt[i] != w.forbidden {
				t.Errorf("entity %d: FORBIDDEN error %v, want %v", i, forbiddenAt[i], w.forbidden)
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
