package cache

import (
	"context"
	"reflect"
	"strconv"
	"testing"
	"time"

	"connectsession/graph/model"
)

// The one-script create (single server) writes exactly what the three-step create (a
// cluster's) writes: the same record, index entries, pointers and event.
func TestScriptedCreateMatchesSteps(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		if b.store.sharded {
			t.Skip("the scripted create runs on a single server only")
		}
		for _, mode := range pointerModes {
			t.Run(mode.name, func(t *testing.T) {
				b := b.withTokenPointers(mode.on)
				// A tenant of its own, so that its indexes are new in each mode.
				demo := model.Tenant{OrganizationID: demo.OrganizationID, ProjectID: "create-" + strconv.FormatBool(mode.on)}
				ctx := context.Background()
				h := startHub(t, b, HubOptions{})
				events, err := h.Subscribe(t.Context(), demo, "", nil)
				if err != nil {
					t.Fatal(err)
				}
				in := createIn(demo, "acme")
				in.OriginUsername = ptr("ada@example.com")
				in.Provider = ptr("hibob")
				in.Categories = []model.Category{model.CategoryHRIS, model.CategoryATS}
				in.AccountID = ptr("acc-1")
				in.Label = ptr("Main HR")
				in.Metadata = model.JSON(`{"plan":"gold"}`)
				in.Type = ptr(model.TypeTest)
				in.ExpiresIn = ptr(600)

				before := len(dumpKeys(t, b))
				// The keys a create may make besides its own: the sequence, the tenant
				// registry, the next id's bucket and the tenant's event log (the earlier mode
				// made them already).
				next, _ := b.rdb.Get(ctx, b.store.k.seq()).Int()
				globals := 4 - int(b.rdb.Exists(ctx, b.store.k.seq(), b.store.k.tenants(), b.store.k.idBucket(next+1), b.store.k.eventLog(demo)).Val())
				type made struct {
					s   *model.ConnectSession
					tok string
				}
				var got []made
				for _, create := range []func(context.Context, model.Tenant, *model.CreateConnectSessionInput) (*model.ConnectSession, string, error){
					b.store.createScripted, b.store.createSteps,
				} {
					s, tok, err := create(ctx, demo, in)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, made{s, tok})
				}
				a, c := got[0], got[1]
				if c.s.ID != a.s.ID+1 {
					t.Fatalf("ids %d then %d: both must come from the one sequence", a.s.ID, c.s.ID)
				}
				recordOf := func(m made) record {
					raw := b.rdb.Get(ctx, b.store.k.record(demo, m.s.ID)).Val()
					if raw[0] != recordVersion {
						t.Errorf("record %d is not in the binary form: %q", m.s.ID, raw)
					}
					r, err := decodeRecord(raw)
					if err != nil {
						t.Fatal(err)
					}
					if r.ID != m.s.ID || r.TokenHash != tokenHash(t, m.tok) {
						t.Errorf("record %d: id %d, hash %s", m.s.ID, r.ID, r.TokenHash)
					}
					r.ID, r.TokenHash = 0, ""
					return *r
				}
				if ra, rc := recordOf(a), recordOf(c); !reflect.DeepEqual(ra, rc) {
					t.Errorf("records differ:\n scripted %+v\n steps    %+v", ra, rc)
				}
				r, err := decodeRecord(b.rdb.Get(ctx, b.store.k.record(demo, a.s.ID)).Val())
				if err != nil {
					t.Fatal(err)
				}
				join, scores := b.store.createIndexes(demo, r)
				for i, ix := range join {
					for _, m := range got {
						if sc, ok := indexScore(t, b, demo, ix, m.s.ID); !ok || sc != scores[i] {
							t.Errorf("index %s, session %d: score %v %v, want %d", ix, m.s.ID, sc, ok, scores[i])
						}
					}
				}
				for _, m := range got {
					if tag := b.rdb.HGet(ctx, b.store.k.idBucket(m.s.ID), strconv.Itoa(m.s.ID)).Val(); tag != tenantTag(demo) {
						t.Errorf("id pointer of %d: %q", m.s.ID, tag)
					}
					// The token carries the id. With pointers written (for older instances, which
					// authenticate only through them), its pointer leads to the session and
					// expires with it; without, there is none.
					id, hash, legacy, ok := parseToken(m.tok)
					if !ok || legacy || id != m.s.ID {
						t.Errorf("token %q of %d: id %d legacy %v ok %v", m.tok, m.s.ID, id, legacy, ok)
					}
					if !mode.on {
						if n := b.rdb.Exists(ctx, b.store.k.token(hash)).Val(); n != 0 {
							t.Errorf("token pointer of %d written with pointers off", m.s.ID)
						}
					} else {
						if ptr := b.rdb.Get(ctx, b.store.k.token(hash)).Val(); ptr != tokenPointer(demo, m.s.ID) {
							t.Errorf("token pointer of %d: %q", m.s.ID, ptr)
						}
						if ttl := b.rdb.PTTL(ctx, b.store.k.token(hash)).Val(); ttl <= 0 || ttl > time.Duration(model.DefaultExpiresIn)*time.Second {
							t.Errorf("token pointer TTL of %d: %v, want up to %ds", m.s.ID, ttl, model.DefaultExpiresIn)
						}
					}
					if _, err := b.store.Authenticate(ctx, m.tok); err != nil {
						t.Errorf("authenticate %d: %v", m.s.ID, err)
					}
				}
				if !b.rdb.SIsMember(ctx, b.store.k.tenants(), tenantTag(demo)).Val() {
					t.Errorf("tenant not registered for retention")
				}
				// Record (and token pointer) of each, the indexes, the id bucket, registry,
				// sequence, event log. Owner and account are in the tenant's value-ordered
				// indexes: a directory and a chunk each instead of a key, plus the count
				// hash that holds their chunk number sequences.
				perSession := 1
				if mode.on {
					perSession = 2
				}
				indexKeys := len(join) + 1
				for _, ix := range join {
					if _, _, ok := valueOf(b.store.k.indexSuffix(demo, ix)); ok {
						indexKeys++
					}
				}
				if n, want := len(dumpKeys(t, b))-before, 2*perSession+indexKeys+globals; n != want {
					t.Errorf("%d keys written, want %d", n, want)
				}
				for _, m := range got {
					ev := recv(t, events)
					if ev.Type != model.ConnectSessionEventTypeCreated || ev.ID != m.s.ID || ev.ConnectSession == nil ||
						ev.ConnectSession.ID != m.s.ID || *ev.ConnectSession.Label != "Main HR" || !ev.OccurredAt.Equal(m.s.CreatedAt) {
						t.Errorf("event %+v, want CREATED of %d", ev, m.s.ID)
					}
				}
			})
		}
	})
}
