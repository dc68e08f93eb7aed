package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// Random creates (at times going back to an older expiry), updates and deletes over a
// tenant that crosses the chunk limit back and forth leave every index well formed and
// every page as the reference says.
func TestIndexesUnderRandomWrites(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		tn := model.Tenant{OrganizationID: 6, ProjectID: "random"}
		rng := rand.New(rand.NewPCG(7, 11))
		providers := []string{"hibob", "workday", "personio"}
		cats := model.AllCategories[:4]
		var live []*model.ConnectSession
		for step := range 1200 {
			switch r := rng.IntN(10); {
			case r < 6 || len(live) == 0:
				in := createIn(tn, "owner-"+string(rune('a'+rng.IntN(3))))
				in.ExpiresIn = ptr(600 + rng.IntN(3)*60)
				if rng.IntN(2) == 0 {
					in.Provider = ptr(providers[rng.IntN(len(providers))])
				}
				in.Categories = []model.Category{cats[rng.IntN(len(cats))]}
				s, _ := mustCreate(t, b, in)
				live = append(live, s)
			case r < 8:
				i := rng.IntN(len(live))
				up := &model.SessionUpdate{OrganizationID: tn.OrganizationID, ProjectID: tn.ProjectID, ID: live[i].ID,
					Provider:   model.Set(ptr(providers[rng.IntN(len(providers))])),
					Categories: model.Set([]model.Category{cats[rng.IntN(len(cats))]})}
				s, err := b.store.Update(ctx, up)
				if err != nil {
					t.Fatal(err)
				}
				live[i] = s
			default:
				// Mostly old sessions, as retention and clean-ups do, sometimes the newest.
				i := rng.IntN(min(len(live), 40))
				if rng.IntN(4) == 0 {
					i = len(live) - 1
				}
				if _, err := b.store.Delete(ctx, tn, live[i].ID); err != nil {
					t.Fatal(err)
				}
				live = slices.Delete(live, i, i+1)
			}
			if rng.IntN(3) == 0 {
				b.clock.Advance(time.Duration(rng.IntN(3)) * time.Millisecond)
			}
			if step%300 == 299 {
				verifyClean(t, b, tn)
			}
		}
		verifyClean(t, b, tn)
		checkPages(t, b, tn, live, []*model.ConnectSessionFilter{nil, {Provider: ptr("hibob")}, {Category: ptr(cats[1])}}, []int{50})
	})
}

// withPerValueIndexes is the backend with a store over the same Redis, prefix and clock
// whose Options.PerValueIndexes is set as given: another instance of the deployment.
func (b *backend) withPerValueIndexes(on bool) *backend {
	c := *b
	c.store = New(b.rdb, Options{Prefix: b.store.k.prefix, Now: b.clock.Now, PerValueIndexes: on})
	return &c
}

// ownIndex moves a value's entries out of the value-ordered index into a plain key of its
// own, as versions before the value-ordered indexes wrote every value.
func ownIndex(t *testing.T, b *backend, tn model.Tenant, kind, value string) {
	t.Helper()
	ctx := context.Background()
	key := b.store.k.index(tn, kind, value)
	if b.rdb.Exists(ctx, key, b.store.k.directory(tn, key)).Val() != 0 {
		return
	}
	name := b.store.k.valueIndex(tn, kind)
	for _, e := range indexEntries(t, b, tn, key) {
		if err := b.store.ixOp(ctx, tn, name, "rem", 0, valueEntry(value, e)).Err(); err != nil {
			t.Fatal(err)
		}
		b.rdb.ZAdd(ctx, key, redis.Z{Score: float64(e.score), Member: e.m})
	}
}

// Random writes by instances of both layouts and old data (values in keys of their own,
// of any size) leave pages, filters and counts by owner and account as the reference
// says: values move into the value-ordered index and out of it as they cross 64 entries,
// and every form is read alike. Owners are mostly distinct, as in real use, with a few
// that cross the limit back and forth.
func TestValueIndexesUnderRandomWrites(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		tn := model.Tenant{OrganizationID: 6, ProjectID: "values"}
		rng := rand.New(rand.NewPCG(3, 17))
		perValue := b.withPerValueIndexes(true)
		providers := []string{"hibob", "workday"}
		owner := func() string {
			if rng.IntN(3) > 0 {
				return "big-" + string(rune('a'+rng.IntN(2)))
			}
			// Values that share a beginning, or hold the bytes the value-ordered index
			// escapes (0x00, 0x01), keep ranges of their own.
			return fmt.Sprintf("o%c%d", rune(rng.IntN(3)), rng.IntN(400))
		}
		var live []*model.ConnectSession
		moved := map[string]string{} // big owner → "own" once in keys of its own, "back" once back
		for step := range 1500 {
			// The first third as during a rolling upgrade (PerValueIndexes, and values in
			// keys of their own as old instances write them); then the new layout, with
			// now and then an old key left over.
			w := b
			if step < 500 {
				w = perValue
			}
			// For a while only deletes, mostly of the big owners' sessions, which shrinks
			// them back into the value-ordered index.
			shrink := step >= 1000 && step < 1250
			switch r := rng.IntN(20); {
			case len(live) == 0 || (!shrink && r < 11):
				in := createIn(tn, owner())
				if rng.IntN(3) > 0 {
					in.AccountID = ptr(fmt.Sprint("acc-", rng.IntN(90)))
				}
				if rng.IntN(2) == 0 {
					in.Provider = ptr(providers[rng.IntN(len(providers))])
				}
				s, _ := mustCreate(t, w, in)
				live = append(live, s)
			case !shrink && r < 14:
				i := rng.IntN(len(live))
				up := &model.SessionUpdate{OrganizationID: tn.OrganizationID, ProjectID: tn.ProjectID, ID: live[i].ID,
					AccountID: model.Set(ptr(fmt.Sprint("acc-", rng.IntN(90))))}
				s, err := w.store.Update(ctx, up)
				if err != nil {
					t.Fatal(err)
				}
				live[i] = s
			case shrink || r < 19:
				i := rng.IntN(len(live))
				for try := 0; shrink && try < 20 && !strings.HasPrefix(live[i].OriginOwnerID, "big-"); try++ {
					i = rng.IntN(len(live))
				}
				if _, err := w.store.Delete(ctx, tn, live[i].ID); err != nil {
					t.Fatal(err)
				}
				live = slices.Delete(live, i, i+1)
			default:
				s := live[rng.IntN(len(live))]
				ownIndex(t, b, tn, ixOwner, s.OriginOwnerID)
				if s.AccountID != nil {
					ownIndex(t, b, tn, ixAccount, *s.AccountID)
				}
			}
			if rng.IntN(3) == 0 {
				b.clock.Advance(time.Duration(rng.IntN(3)) * time.Millisecond)
			}
			if step%300 == 299 {
				verifyClean(t, b, tn)
			}
			for _, o := range []string{"big-a", "big-b"} {
				own := b.rdb.Exists(ctx, b.store.k.directory(tn, b.store.k.index(tn, ixOwner, o))).Val() == 1
				if own {
					moved[o] = "own"
				} else if moved[o] == "own" {
					moved[o] = "back"
				}
			}
		}
		if moved["big-a"] != "back" || moved["big-b"] != "back" {
			t.Errorf("the big owners did not cross the limit both ways: %v", moved)
		}
		verifyClean(t, b, tn)
		var filters []*model.ConnectSessionFilter
		for _, s := range live[:6] {
			filters = append(filters, &model.ConnectSessionFilter{OriginOwnerID: ptr(s.OriginOwnerID)})
			if s.AccountID != nil {
				filters = append(filters, &model.ConnectSessionFilter{AccountID: s.AccountID},
					&model.ConnectSessionFilter{AccountID: s.AccountID, OriginOwnerID: ptr(s.OriginOwnerID)})
			}
		}
		filters = append(filters, &model.ConnectSessionFilter{OriginOwnerID: ptr("big-a")},
			&model.ConnectSessionFilter{OriginOwnerID: ptr("big-b"), Provider: ptr("hibob")},
			&model.ConnectSessionFilter{OriginOwnerID: ptr("o"), Provider: ptr("hibob")},
			&model.ConnectSessionFilter{OriginOwnerID: ptr("o\x00")},
			&model.ConnectSessionFilter{AccountID: ptr("acc-1"), CreatedAfter: ptr(live[len(live)/2].CreatedAt)})
		checkPages(t, b, tn, live, filters, []int{3, 50})
	})
}
