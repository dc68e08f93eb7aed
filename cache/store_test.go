package cache

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectsession/graph/model"
)

var demo = model.Tenant{OrganizationID: 1, ProjectID: "demo"}

func ptr[T any](v T) *T { return &v }

func createIn(t model.Tenant, owner string) *model.CreateConnectSessionInput {
	return &model.CreateConnectSessionInput{
		OrganizationID: t.OrganizationID, ProjectID: t.ProjectID,
		OriginOwnerID: owner, OriginOwnerName: "Owner " + owner,
	}
}

func mustCreate(t *testing.T, b *backend, in *model.CreateConnectSessionInput) (*model.ConnectSession, string) {
	t.Helper()
	s, tok, err := b.store.Create(context.Background(), in)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return s, tok
}

func TestCreateGetRoundTrip(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		in := createIn(demo, "acme")
		in.OriginUsername = ptr("ada@example.com")
		in.Provider = ptr("hibob")
		in.Categories = []model.Category{model.CategoryHRIS, model.CategoryATS}
		in.AccountID = ptr("acc-1")
		in.Label = ptr("Main HR")
		in.Metadata = model.JSON(`{"plan":"gold","seats":12}`)
		in.Type = ptr(model.TypeTest)
		in.Multiple = ptr(true)
		in.ExpiresIn = ptr(600)
		created, token, err := b.store.Create(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(token, tokenPrefix) || len(token) < 30 {
			t.Errorf("token %q: want a prefixed random token", token)
		}
		got, err := b.store.Get(ctx, demo, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		now := b.clock.Now().Truncate(time.Millisecond)
		checks := []struct {
			name      string
			got, want any
		}{
			{"id", got.ID, created.ID},
			{"org", got.OrganizationID, 1},
			{"project", got.ProjectID, "demo"},
			{"owner", got.OriginOwnerID, "acme"},
			{"owner name", got.OriginOwnerName, "Owner acme"},
			{"username", *got.OriginUsername, "ada@example.com"},
			{"provider", *got.Provider, "hibob"},
			{"categories", strings.Join([]string{string(got.Categories[0]), string(got.Categories[1])}, ","), "hris,ats"},
			{"account", *got.AccountID, "acc-1"},
			{"label", *got.Label, "Main HR"},
			{"metadata", string(got.Metadata), `{"plan":"gold","seats":12}`},
			{"type", got.Type, model.TypeTest},
			{"multiple", got.Multiple, true},
			{"created", got.CreatedAt, now},
			{"updated", got.UpdatedAt, now},
			{"expires", got.ExpiresAt, now.Add(600 * time.Second)},
			{"status", got.Status, model.ConnectSessionStatusPending},
			{"authenticated", got.AuthenticatedAt == nil, true},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
			}
		}
		if _, err := b.store.Get(ctx, model.Tenant{OrganizationID: 1, ProjectID: "other"}, created.ID); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("get from another project: got %v, want ErrNotFound", err)
		}
		if _, err := b.store.Get(ctx, model.Tenant{OrganizationID: 2, ProjectID: "demo"}, created.ID); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("get from another organization: got %v, want ErrNotFound", err)
		}
	})
}

func TestDefaultsAndIDs(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		a, _ := mustCreate(t, b, createIn(demo, "a"))
		c, _ := mustCreate(t, b, createIn(model.Tenant{OrganizationID: 9, ProjectID: "x"}, "c"))
		if c.ID <= a.ID {
			t.Errorf("ids: got %d then %d, want increasing across tenants", a.ID, c.ID)
		}
		if a.Type != model.TypeProduction || a.Multiple || a.Categories != nil || a.Metadata != nil {
			t.Errorf("defaults: got type %s multiple %v categories %v metadata %s", a.Type, a.Multiple, a.Categories, a.Metadata)
		}
		if got, want := a.ExpiresAt.Sub(a.CreatedAt), 1800*time.Second; got != want {
			t.Errorf("default expiry: got %v, want %v", got, want)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		for _, mode := range pointerModes {
			t.Run(mode.name, func(t *testing.T) {
				b := b.withTokenPointers(mode.on)
				ctx := context.Background()
				in := createIn(demo, "acme")
				in.ExpiresIn = ptr(120)
				created, token := mustCreate(t, b, in)

				// With pointers written, the token's pointer, keyed by the hash the record
				// keeps, expires with the session; without, there is none.
				pointer := b.store.k.token(tokenHash(t, token))
				if !mode.on {
					if b.rdb.Exists(ctx, pointer).Val() != 0 {
						t.Errorf("token pointer written with pointers off")
					}
				} else if b.real {
					if ttl := b.rdb.TTL(ctx, pointer).Val(); ttl < 115*time.Second || ttl > 120*time.Second {
						t.Errorf("token TTL: got %v, want about 120s", ttl)
					}
				} else if b.rdb.Exists(ctx, pointer).Val() != 1 {
					t.Errorf("no token pointer")
				}
				other, _ := mustCreate(t, b, createIn(demo, "other"))
				id, _, _, _ := parseToken(token)
				// The secret is base64url, so it may hold '_' too: the id ends at the first one.
				_, secret, _ := strings.Cut(strings.TrimPrefix(token, tokenPrefix), "_")
				flipped := []byte(secret)
				flipped[5] ^= 1
				tampered := []string{
					sessionToken(other.ID, secret),                    // another session's id
					sessionToken(id, string(flipped)),                 // the random part changed
					sessionToken(999999, secret),                      // no such session
					"cst_0" + token[len(tokenPrefix):],                // the id not in canonical form
					tokenPrefix + strconv.Itoa(id) + "_" + secret[1:], // a short random part
				}
				b.clock.Advance(10 * time.Second)
				first, err := b.store.Authenticate(ctx, token)
				if err != nil {
					t.Fatalf("authenticate: %v", err)
				}
				if first.ID != created.ID || first.Status != model.ConnectSessionStatusAuthenticated || first.AuthenticatedAt == nil {
					t.Fatalf("authenticate: got %+v", first)
				}
				b.clock.Advance(10 * time.Second)
				again, err := b.store.Authenticate(ctx, token)
				if err != nil {
					t.Fatalf("authenticate again: %v", err)
				}
				if !again.AuthenticatedAt.Equal(*first.AuthenticatedAt) {
					t.Errorf("authenticatedAt moved: %v then %v", first.AuthenticatedAt, again.AuthenticatedAt)
				}
				for _, bad := range append([]string{"", "cst_nope", token + "x", strings.ToUpper(token)}, tampered...) {
					if _, err := b.store.Authenticate(ctx, bad); !errors.Is(err, model.ErrUnauthenticated) {
						t.Errorf("token %q: got %v, want ErrUnauthenticated", bad, err)
					}
				}
				b.clock.Advance(101 * time.Second)
				if _, err := b.store.Authenticate(ctx, token); !errors.Is(err, model.ErrUnauthenticated) {
					t.Errorf("expired token: got %v, want ErrUnauthenticated", err)
				}
				got, err := b.store.Get(ctx, demo, created.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != model.ConnectSessionStatusExpired {
					t.Errorf("status after expiry: got %s, want EXPIRED", got.Status)
				}
				if !b.real && b.rdb.Exists(ctx, pointer).Val() != 0 {
					t.Errorf("token pointer outlived the expiry")
				}
			})
		}
	})
}

// Tokens issued before tokens carried the session id ("cst_<secret>") keep working
// through their token pointer, which updates move and revocation removes.
func TestAuthenticateOldFormToken(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		created, _ := mustCreate(t, b, createIn(demo, "acme"))
		old := tokenPrefix + strings.Repeat("A", secretLen-1) + "Q"
		if _, _, legacy, ok := parseToken(old); !ok || !legacy {
			t.Fatalf("old-form token %q not recognized", old)
		}
		// Write the session as the old code did: the whole token's hash, and a pointer.
		key := b.store.k.record(demo, created.ID)
		r, err := decodeRecord(b.rdb.Get(ctx, key).Val())
		if err != nil {
			t.Fatal(err)
		}
		r.TokenHash = hashToken(old)
		b.rdb.Set(ctx, key, r.encodeJSON(), 0)
		ptrKey := b.store.k.token(hashToken(old))
		b.rdb.Set(ctx, ptrKey, tokenPointer(demo, created.ID), time.Minute)

		got, err := b.store.Authenticate(ctx, old)
		if err != nil || got.ID != created.ID {
			t.Fatalf("old-form token: %v %v", got, err)
		}
		if _, err := b.store.Update(ctx, &model.SessionUpdate{OrganizationID: 1, ProjectID: "demo", ID: created.ID,
			ExpiresIn: model.Set(ptr(3600))}); err != nil {
			t.Fatal(err)
		}
		if ttl := b.rdb.TTL(ctx, ptrKey).Val(); ttl < 3500*time.Second {
			t.Errorf("old token pointer TTL after update: %v, want about 1h", ttl)
		}
		if _, err := b.store.Revoke(ctx, demo, created.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.Authenticate(ctx, old); !errors.Is(err, model.ErrUnauthenticated) {
			t.Errorf("revoked old-form token: %v", err)
		}
		if b.rdb.Exists(ctx, ptrKey).Val() != 0 {
			t.Errorf("old token pointer left after revocation")
		}
	})
}

func TestRevoke(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		created, token := mustCreate(t, b, createIn(demo, "acme"))
		if _, err := b.store.Authenticate(ctx, token); err != nil {
			t.Fatal(err)
		}
		b.clock.Advance(time.Second)
		revoked, err := b.store.Revoke(ctx, demo, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if revoked.Status != model.ConnectSessionStatusRevoked || !revoked.UpdatedAt.After(revoked.CreatedAt) {
			t.Errorf("revoked: status %s updated %v", revoked.Status, revoked.UpdatedAt)
		}
		if _, err := b.store.Authenticate(ctx, token); !errors.Is(err, model.ErrUnauthenticated) {
			t.Errorf("revoked token: got %v, want ErrUnauthenticated", err)
		}
		if _, err := b.store.Revoke(ctx, demo, created.ID+1000); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("revoke unknown: got %v, want ErrNotFound", err)
		}
		if _, err := b.store.Revoke(ctx, model.Tenant{OrganizationID: 1, ProjectID: "other"}, created.ID); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("revoke from another project: got %v, want ErrNotFound", err)
		}
		// An update cannot revive a revoked token: a new expiry is refused.
		if _, err := b.store.Update(ctx, &model.SessionUpdate{OrganizationID: 1, ProjectID: "demo", ID: created.ID, ExpiresIn: model.Set(ptr(3600))}); !errors.Is(err, model.ErrInvalid) {
			t.Fatalf("update expiry of a revoked session: got %v, want ErrInvalid", err)
		}
		if _, err := b.store.Authenticate(ctx, token); !errors.Is(err, model.ErrUnauthenticated) {
			t.Errorf("revoked token after update: got %v, want ErrUnauthenticated", err)
		}
	})
}

func TestUpdate(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		in := createIn(demo, "acme")
		in.Provider = ptr("hibob")
		in.Categories = []model.Category{model.CategoryHRIS}
		in.Label = ptr("keep me")
		in.AccountID = ptr("acc-1")
		in.Metadata = model.JSON(`{"a":1}`)
		created, token := mustCreate(t, b, in)
		b.clock.Advance(5 * time.Second)

		got, err := b.store.Update(ctx, &model.SessionUpdate{
			OrganizationID: 1, ProjectID: "demo", ID: created.ID,
			OriginOwnerName: model.Set(ptr("Acme Inc")),
			Provider:        model.Set(ptr("bamboohr")),
			Categories:      model.Set([]model.Category{model.CategoryATS, model.CategoryCRM}),
			AccountID:       model.Set[*string](nil),
			Metadata:        model.Set[model.JSON](nil),
			ExpiresIn:       model.Set(ptr(7200)),
		})
		if err != nil {
			t.Fatal(err)
		}
		now := b.clock.Now().Truncate(time.Millisecond)
		if got.OriginOwnerName != "Acme Inc" || *got.Provider != "bamboohr" || got.AccountID != nil || got.Metadata != nil {
			t.Errorf("updated fields: %+v", got)
		}
		if got.Label == nil || *got.Label != "keep me" || got.OriginOwnerID != "acme" {
			t.Errorf("absent fields changed: %+v", got)
		}
		if !got.UpdatedAt.Equal(now) || !got.CreatedAt.Equal(created.CreatedAt) || !got.ExpiresAt.Equal(now.Add(2*time.Hour)) {
			t.Errorf("times: created %v updated %v expires %v", got.CreatedAt, got.UpdatedAt, got.ExpiresAt)
		}
		// The old index entries are gone, the new ones present.
		for _, c := range []struct {
			f    model.ConnectSessionFilter
			want int
		}{
			{model.ConnectSessionFilter{Provider: ptr("hibob")}, 0},
			{model.ConnectSessionFilter{Provider: ptr("bamboohr")}, 1},
			{model.ConnectSessionFilter{Category: ptr(model.CategoryHRIS)}, 0},
			{model.ConnectSessionFilter{Category: ptr(model.CategoryCRM)}, 1},
			{model.ConnectSessionFilter{AccountID: ptr("acc-1")}, 0},
		} {
			p, err := b.store.List(ctx, demo, model.ListQuery{Filter: &c.f, WantCount: true})
			if err != nil {
				t.Fatal(err)
			}
			if p.TotalCount != c.want || len(p.Nodes) != c.want {
				t.Errorf("filter %+v: count %d nodes %d, want %d", c.f, p.TotalCount, len(p.Nodes), c.want)
			}
		}
		if b.rdb.Exists(ctx, b.store.k.index(demo, ixProvider, "hibob")).Val() != 0 {
			t.Errorf("empty provider index left behind")
		}
		// The moved expiry keeps the token alive past the old one.
		b.clock.Advance(3000 * time.Second)
		if _, err := b.store.Authenticate(ctx, token); err != nil {
			t.Errorf("token after extended expiry: %v", err)
		}
		if _, err := b.store.Update(ctx, &model.SessionUpdate{OrganizationID: 1, ProjectID: "demo", ID: created.ID + 999}); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("update unknown: got %v, want ErrNotFound", err)
		}
	})
}

func TestDeleteRemovesEverything(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		keep, _ := mustCreate(t, b, createIn(demo, "keep"))
		snapshot := dumpKeys(t, b)

		in := createIn(demo, "gone")
		in.Provider = ptr("hibob")
		in.Categories = []model.Category{model.CategoryATS}
		in.AccountID = ptr("acc")
		created, token := mustCreate(t, b, in)
		ok, err := b.store.Delete(ctx, demo, created.ID)
		if err != nil || !ok {
			t.Fatalf("delete: %v %v", ok, err)
		}
		after := dumpKeys(t, b)
		for k, v := range after {
			if snapshot[k] != v && k != b.store.k.seq() && !isEventLog(k) {
				t.Errorf("key %s left changed after delete: %s (was %s)", k, v, snapshot[k])
			}
		}
		for k := range snapshot {
			if _, ok := after[k]; !ok {
				t.Errorf("key %s of another session removed", k)
			}
		}
		if _, err := b.store.Get(ctx, demo, created.ID); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("get deleted: %v", err)
		}
		if _, err := b.store.Authenticate(ctx, token); !errors.Is(err, model.ErrUnauthenticated) {
			t.Errorf("token of deleted session: %v", err)
		}
		ok, err = b.store.Delete(ctx, demo, created.ID)
		if err != nil || ok {
			t.Errorf("second delete: got %v %v, want false nil", ok, err)
		}
		if _, err := b.store.Get(ctx, demo, keep.ID); err != nil {
			t.Errorf("other session: %v", err)
		}
	})
}

func TestTenantTagEscaping(t *testing.T) {
	cases := []model.Tenant{
		{OrganizationID: 1, ProjectID: "demo"},
		{OrganizationID: 1, ProjectID: "a:b"},
		{OrganizationID: 1, ProjectID: "{x}"},
		{OrganizationID: 12, ProjectID: "100%"},
		{OrganizationID: 3, ProjectID: "%7B"},
	}
	seen := map[string]bool{}
	for _, tn := range cases {
		tag := tenantTag(tn)
		if strings.ContainsAny(tag[strings.Index(tag, ":")+1:], "{}:") {
			t.Errorf("tag %q of %+v can break the hash tag", tag, tn)
		}
		if seen[tag] {
			t.Errorf("tag %q is shared by two tenants", tag)
		}
		seen[tag] = true
		back, ok := parseTenantTag(tag)
		if !ok || back != tn {
			t.Errorf("parse %q: got %+v %v, want %+v", tag, back, ok, tn)
		}
		if base, want := (keys{prefix: "cs"}).tenantBase(tn), "cs:{"+tag+"}:"; base != want {
			t.Errorf("tenant base %q, want %q", base, want)
		}
	}
}

func TestRetention(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		b.store.retention = time.Hour
		in := createIn(demo, "old")
		in.ExpiresIn = ptr(60)
		old, _ := mustCreate(t, b, in)
		fresh, _ := mustCreate(t, b, createIn(demo, "fresh"))
		long := createIn(demo, "long")
		long.ExpiresIn = ptr(model.MaxExpiresIn)
		kept, _ := mustCreate(t, b, long)

		b.clock.Advance(30 * time.Minute)
		if n, err := b.store.Sweep(ctx, 100); err != nil || n != 0 {
			t.Fatalf("sweep inside retention: removed %d, %v", n, err)
		}
		b.clock.Advance(62 * time.Minute)
		n, err := b.store.Sweep(ctx, 100)
		if err != nil || n != 2 {
			t.Fatalf("sweep: removed %d, %v; want 2", n, err)
		}
		if _, err := b.store.Get(ctx, demo, old.ID); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("old session still there: %v", err)
		}
		// fresh expired at 30 min, so it is inside retention until 90 min: gone at 92.
		if _, err := b.store.Get(ctx, demo, fresh.ID); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("fresh session (expired 62 minutes ago) still there: %v", err)
		}
		if _, err := b.store.Get(ctx, demo, kept.ID); err != nil {
			t.Errorf("long-lived session removed: %v", err)
		}
		p, err := b.store.List(ctx, demo, model.ListQuery{WantCount: true})
		if err != nil || p.TotalCount != 1 {
			t.Errorf("after sweep: count %d, %v", p.TotalCount, err)
		}
	})
}
