package cache

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"connectsession/graph/model"
)

// A dead token (expired, revoked, or, with pointers written, whose pointer Redis already
// let go) stays dead: an update that sets a new expiry is refused without writing
// anything, the token pointer is never created again, and updates of other fields still
// work without reviving it.
func TestUpdateNeverRevivesToken(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		for _, mode := range pointerModes {
			t.Run(mode.name, func(t *testing.T) { testUpdateNeverRevivesToken(t, b.withTokenPointers(mode.on), mode.on) })
		}
	})
}

func testUpdateNeverRevivesToken(t *testing.T, b *backend, pointers bool) {
	{
		ctx := context.Background()
		extend := func(id int) error {
			_, err := b.store.Update(ctx, &model.SessionUpdate{OrganizationID: demo.OrganizationID,
				ProjectID: demo.ProjectID, ID: id, ExpiresIn: model.Set(ptr(model.MaxExpiresIn))})
			return err
		}
		relabel := func(id int) error {
			_, err := b.store.Update(ctx, &model.SessionUpdate{OrganizationID: demo.OrganizationID,
				ProjectID: demo.ProjectID, ID: id, Label: model.Set(ptr("kept"))})
			return err
		}
		kill := []struct {
			name string
			// die makes the session's token unusable.
			die func(t *testing.T, id int, hash string)
		}{
			{"expired", func(t *testing.T, _ int, _ string) { b.clock.Advance(2 * time.Minute) }},
			{"revoked", func(t *testing.T, id int, _ string) {
				if _, err := b.store.Revoke(ctx, demo, id); err != nil {
					t.Fatal(err)
				}
			}},
			// Redis expired the pointer a moment before the store's clock reached the
			// expiry (or a revoke removed it between the update's read and its write): the
			// record still looks live (and authenticates by id until the store's clock
			// passes its expiry), the pointer is the last word for the new expiry.
			{"pointer gone", func(t *testing.T, _ int, hash string) {
				if err := b.rdb.Del(ctx, b.store.k.token(hash)).Err(); err != nil {
					t.Fatal(err)
				}
			}},
		}
		for _, k := range kill {
			if k.name == "pointer gone" && !pointers {
				continue // without pointers, the record alone decides
			}
			t.Run(k.name, func(t *testing.T) {
				in := createIn(demo, "revive-"+k.name)
				in.ExpiresIn = ptr(60)
				s, token := mustCreate(t, b, in)
				hash := tokenHash(t, token)
				ptrKey := b.store.k.token(hash)
				k.die(t, s.ID, hash)
				// The record decides authentication, so only a dead record refuses it.
				recordDead := k.name != "pointer gone"
				if _, err := b.store.Authenticate(ctx, token); recordDead && !errors.Is(err, model.ErrUnauthenticated) {
					t.Fatalf("token after %s: got %v, want ErrUnauthenticated", k.name, err)
				}
				ttlBefore := b.rdb.PTTL(ctx, ptrKey).Val()
				hadPointer := b.rdb.Exists(ctx, ptrKey).Val() == 1
				before := dumpKeys(t, b)

				err := extend(s.ID)
				var inputErr *model.InputError
				if !errors.As(err, &inputErr) || inputErr.Field != "input.expiresIn" {
					t.Fatalf("new expiry of a %s session: got %v, want an input error on input.expiresIn", k.name, err)
				}
				if after := dumpKeys(t, b); !maps.Equal(after, before) {
					t.Errorf("refused update wrote:\n before %v\n after  %v", before, after)
				}
				// A pointer a real Redis still holds (its TTL follows the wall clock, not
				// the test's) must not be lengthened either.
				if ttl := b.rdb.PTTL(ctx, ptrKey).Val(); ttl > ttlBefore {
					t.Errorf("token pointer TTL grew from %v to %v", ttlBefore, ttl)
				}

				if err := relabel(s.ID); err != nil {
					t.Fatalf("label of a %s session: %v", k.name, err)
				}
				if !hadPointer && b.rdb.Exists(ctx, ptrKey).Val() != 0 {
					t.Errorf("token pointer of a %s session is back", k.name)
				}
				if _, err := b.store.Authenticate(ctx, token); recordDead && !errors.Is(err, model.ErrUnauthenticated) {
					t.Errorf("token after refused update and relabel: got %v, want ErrUnauthenticated", err)
				}
			})
		}
	}
}

// A live session's expiry still moves, and its token pointer with it (with pointers
// written).
func TestUpdateMovesLiveTokenPointer(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		b = b.withTokenPointers(true)
		ctx := context.Background()
		in := createIn(demo, "live")
		in.ExpiresIn = ptr(60)
		s, token := mustCreate(t, b, in)
		b.clock.Advance(30 * time.Second)
		if _, err := b.store.Update(ctx, &model.SessionUpdate{OrganizationID: demo.OrganizationID,
			ProjectID: demo.ProjectID, ID: s.ID, ExpiresIn: model.Set(ptr(3600))}); err != nil {
			t.Fatal(err)
		}
		if ttl := b.rdb.PTTL(ctx, b.store.k.token(tokenHash(t, token))).Val(); ttl < 3500*time.Second {
			t.Errorf("token pointer TTL after extending: %v, want about 1h", ttl)
		}
		b.clock.Advance(10 * time.Minute)
		if _, err := b.store.Authenticate(ctx, token); err != nil {
			t.Errorf("token of an extended session past its first expiry: %v", err)
		}
	})
}

// Without pointers, a live session's expiry moves on the record alone: the update creates
// no pointer, and the token works past its first expiry.
func TestUpdateExtendsWithoutTokenPointer(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		in := createIn(demo, "live")
		in.ExpiresIn = ptr(60)
		s, token := mustCreate(t, b, in)
		b.clock.Advance(30 * time.Second)
		if _, err := b.store.Update(ctx, &model.SessionUpdate{OrganizationID: demo.OrganizationID,
			ProjectID: demo.ProjectID, ID: s.ID, ExpiresIn: model.Set(ptr(3600))}); err != nil {
			t.Fatal(err)
		}
		if n := b.rdb.Exists(ctx, b.store.k.token(tokenHash(t, token))).Val(); n != 0 {
			t.Errorf("the update created a token pointer")
		}
		b.clock.Advance(10 * time.Minute)
		if _, err := b.store.Authenticate(ctx, token); err != nil {
			t.Errorf("token of an extended session past its first expiry: %v", err)
		}
		b.clock.Advance(time.Hour)
		if _, err := b.store.Authenticate(ctx, token); !errors.Is(err, model.ErrUnauthenticated) {
			t.Errorf("token past its new expiry: got %v, want ErrUnauthenticated", err)
		}
	})
}
