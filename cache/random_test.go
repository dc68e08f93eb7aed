package cache

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

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
