package cache

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"connectsession/graph/model"
)

// A token carrying its id authenticates by id, whether or not a token pointer exists:
// sessions written with pointers (older data, or TOKEN_POINTERS=write during a rolling
// upgrade) keep working once pointers are off, with or without their pointer, and
// sessions written without a pointer work on a store that writes them.
func TestAuthenticateByIDWithAndWithoutPointer(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		writer, off := b.withTokenPointers(true), b.withTokenPointers(false)

		old, oldToken := mustCreate(t, writer, createIn(demo, "old"))
		oldPointer := b.store.k.token(tokenHash(t, oldToken))
		if b.rdb.Get(ctx, oldPointer).Val() != tokenPointer(demo, old.ID) {
			t.Fatal("a store writing pointers left none")
		}
		// Pointers switched off: the old session authenticates, its pointer untouched.
		if s, err := off.store.Authenticate(ctx, oldToken); err != nil || s.ID != old.ID {
			t.Fatalf("old session, pointers off: %v %v", s, err)
		}
		// And once the pointer is gone too (expired by Redis, or removed).
		b.rdb.Del(ctx, oldPointer)
		for _, st := range []*backend{off, writer} {
			if s, err := st.store.Authenticate(ctx, oldToken); err != nil || s.ID != old.ID {
				t.Errorf("old session without its pointer: %v %v", s, err)
			}
		}

		fresh, freshToken := mustCreate(t, off, createIn(demo, "fresh"))
		if b.rdb.Exists(ctx, b.store.k.token(tokenHash(t, freshToken))).Val() != 0 {
			t.Fatal("a store with pointers off wrote one")
		}
		for _, st := range []*backend{off, writer} {
			if s, err := st.store.Authenticate(ctx, freshToken); err != nil || s.ID != fresh.ID {
				t.Errorf("session without a pointer: %v %v", s, err)
			}
		}
	})
}

// Every refused token gets the same error, whatever the reason, so that a caller cannot
// tell a guessed token from a real one that ended: unknown, malformed, wrong secret,
// another session's secret, expired, revoked, deleted, and an old-form token without its
// pointer. Both with and without pointers.
func TestAuthenticateRefusalsLookAlike(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		for _, mode := range pointerModes {
			t.Run(mode.name, func(t *testing.T) {
				b := b.withTokenPointers(mode.on)
				ctx := context.Background()
				in := createIn(demo, "short")
				in.ExpiresIn = ptr(60)
				expiring, expiringToken := mustCreate(t, b, in)
				revoked, revokedToken := mustCreate(t, b, createIn(demo, "revoked"))
				deleted, deletedToken := mustCreate(t, b, createIn(demo, "deleted"))
				live, liveToken := mustCreate(t, b, createIn(demo, "live"))
				if _, err := b.store.Revoke(ctx, demo, revoked.ID); err != nil {
					t.Fatal(err)
				}
				if ok, err := b.store.Delete(ctx, demo, deleted.ID); !ok || err != nil {
					t.Fatalf("delete: %v %v", ok, err)
				}
				b.clock.Advance(61 * time.Second)
				if got, err := b.store.Get(ctx, demo, expiring.ID); err != nil || got.Status != model.ConnectSessionStatusExpired {
					t.Fatalf("expiring session: %+v %v", got, err)
				}
				_, secret, _ := strings.Cut(strings.TrimPrefix(liveToken, tokenPrefix), "_")
				_, otherSecret, _ := strings.Cut(strings.TrimPrefix(revokedToken, tokenPrefix), "_")
				refused := map[string]string{
					"expired":                     expiringToken,
					"revoked":                     revokedToken,
					"deleted":                     deletedToken,
					"unknown id":                  sessionToken(live.ID+100000, secret),
					"another session's secret":    sessionToken(live.ID, otherSecret),
					"wrong secret":                sessionToken(live.ID, strings.Repeat("A", secretLen)),
					"malformed":                   "cst_" + strings.Repeat("!", 40),
					"not a token":                 "hello",
					"old form, no pointer":        tokenPrefix + strings.Repeat("B", secretLen),
					"id beyond the id range":      tokenPrefix + "zzzzzz_" + secret,
					"a deleted id, a live secret": sessionToken(deleted.ID, secret),
				}
				var first error
				for name, tok := range refused {
					_, err := b.store.Authenticate(ctx, tok)
					if !errors.Is(err, model.ErrUnauthenticated) {
						t.Errorf("%s: got %v, want ErrUnauthenticated", name, err)
						continue
					}
					if first == nil {
						first = err
					} else if err.Error() != first.Error() {
						t.Errorf("%s: error %q differs from %q", name, err, first)
					}
				}
				if s, err := b.store.Authenticate(ctx, liveToken); err != nil || s.ID != live.ID {
					t.Errorf("the live token after the refusals: %v %v", s, err)
				}
			})
		}
	})
}

// Abuse: someone who knows a session's id (it is in every token, and in logs) and
// guesses secrets gets nowhere. Each guess is refused, and the session is left exactly as
// it was: not authenticated, nothing written.
func TestAbuseGuessedSecretForKnownID(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s, token := mustCreate(t, b, createIn(demo, "target"))
		_, secret, _ := strings.Cut(strings.TrimPrefix(token, tokenPrefix), "_")
		before := dumpKeys(t, b)
		guesses := []string{strings.Repeat("A", secretLen), strings.Repeat("_", secretLen)}
		for i := range secretLen {
			// Every single-character change of the real secret.
			g := []byte(secret)
			g[i] = "AB"[btoi(g[i] == 'A')]
			guesses = append(guesses, string(g))
		}
		for _, g := range guesses {
			if _, err := b.store.Authenticate(ctx, sessionToken(s.ID, g)); !errors.Is(err, model.ErrUnauthenticated) {
				t.Fatalf("guess %q: got %v, want ErrUnauthenticated", g, err)
			}
		}
		if after := dumpKeys(t, b); len(after) != len(before) {
			t.Errorf("refused guesses changed the keys: %d before, %d after", len(before), len(after))
		} else {
			for k, v := range before {
				if after[k] != v {
					t.Errorf("refused guesses changed %s", k)
				}
			}
		}
		got, err := b.store.Get(ctx, demo, s.ID)
		if err != nil || got.Status != model.ConnectSessionStatusPending || got.AuthenticatedAt != nil {
			t.Errorf("session after the guesses: %+v %v, want it still PENDING", got, err)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
