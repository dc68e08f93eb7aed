package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"connectsession/graph/model"
)

func TestParseKey(t *testing.T) {
	key, id := NewKey()
	if got, ok := ParseKey(key); !ok || got != id {
		t.Fatalf("ParseKey(NewKey()): got %q %v, want %q", got, ok, id)
	}
	other, _ := NewKey()
	if key == other {
		t.Fatalf("two keys are equal")
	}
	for _, bad := range []string{
		"", "csk_", key[:len(key)-1], key + "A", strings.Replace(key, "csk_", "csx_", 1),
		"csk_ABCDEF0123456789" + key[len("csk_")+16:], // upper-case hex is not a key id
		"csk_" + id + "-" + key[len("csk_")+17:],
		key[:len(key)-2] + "!!",
	} {
		if _, ok := ParseKey(bad); ok {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

// An Authorization header is read as Bearer or Basic; one that carries no key is
// refused with what is wrong with its form, so that a key sent without "Bearer " is
// told so rather than called unknown.
func TestAuthorizationHeader(t *testing.T) {
	key, _ := NewKey()
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		header string
		key    string
		bad    error
	}{
		{"Bearer " + key, key, nil},
		{"bearer   " + key, key, nil},
		{basic(key + ":"), key, nil},
		{basic(key), key, nil},
		{basic(key + ":password"), "", errBadBasic},
		{basic(":" + key), "", errBadBasic},
		{"Basic not-base64!", "", errBadBasic},
		{"Bearer", "", errNoCredentials},
		{"Bearer ", "", errNoCredentials},
		{"basic", "", errNoCredentials},
		{"Token " + key, "", errOtherScheme},
		{key, "", errNoScheme},
		{"x", "", errNoScheme},
	}
	for _, c := range cases {
		got := parseAuthorization(c.header)
		if got.key != c.key || got.bad != c.bad {
			t.Errorf("%q: got key %q refusal %v, want key %q refusal %v", c.header, got.key, got.bad, c.key, c.bad)
		}
	}
	a := NewAuthorizer(&countingStore{keys: map[string]*model.APIKey{}}, time.Second)
	_, err := a.Caller(WithAuthorization(context.Background(), key))
	var public *model.PublicError
	if !errors.Is(err, model.ErrUnauthenticated) || !errors.As(err, &public) || !strings.Contains(public.Message, "Bearer scheme") {
		t.Errorf("a key without its scheme: got %v, want UNAUTHENTICATED saying the Bearer scheme is missing", err)
	}
	if WithAuthorization(context.Background(), "  ").Value(credentialKey{}) != nil {
		t.Errorf("a blank header carries a credential")
	}
}

// countingStore is a KeyStore over a map that counts lookups.
type countingStore struct {
	keys    map[string]*model.APIKey
	lookups int
	err     error
}

func (s *countingStore) GetKey(_ context.Context, id string) (*model.APIKey, error) {
	s.lookups++
	if s.err != nil {
		return nil, s.err
	}
	k, ok := s.keys[id]
	if !ok {
		return nil, model.ErrNotFound
	}
	copied := *k
	return &copied, nil
}

func (s *countingStore) SaveKey(_ context.Context, k *model.APIKey) error {
	s.keys[k.ID] = k
	return nil
}

func TestAuthorizer(t *testing.T) {
	store := &countingStore{keys: map[string]*model.APIKey{}}
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	writeKey, _, err := Issue(ctx, store, 1, nil, model.RoleWrite, "w", now)
	if err != nil {
		t.Fatal(err)
	}
	readKey, _, _ := Issue(ctx, store, 1, []string{"a"}, model.RoleRead, "r", now)
	a := NewAuthorizer(store, time.Second)
	a.now = func() time.Time { return now }

	demo := model.Tenant{OrganizationID: 1, ProjectID: "demo"}
	projA := model.Tenant{OrganizationID: 1, ProjectID: "a"}
	cases := []struct {
		name   string
		ctx    context.Context
		tenant model.Tenant
		write  bool
		want   error
	}{
		{"no credential", ctx, demo, false, model.ErrUnauthenticated},
		{"write key writes", WithKey(ctx, writeKey), demo, true, nil},
		{"write key, other org", WithKey(ctx, writeKey), model.Tenant{OrganizationID: 2, ProjectID: "demo"}, false, model.ErrForbidden},
		{"read key reads its project", WithKey(ctx, readKey), projA, false, nil},
		{"read key writes", WithKey(ctx, readKey), projA, true, model.ErrForbidden},
		{"read key, other project", WithKey(ctx, readKey), demo, false, model.ErrForbidden},
		{"malformed header", WithAuthorization(ctx, "Bearer"), demo, false, model.ErrUnauthenticated},
		{"wrong secret for a known id", WithKey(ctx, writeKey[:len(writeKey)-3]+"AAA"), demo, false, model.ErrUnauthenticated},
	}
	for _, c := range cases {
		err := a.Authorize(c.ctx, c.tenant, c.write)
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}

	// Cached: a second check within the TTL does not ask the store.
	store.lookups = 0
	for range 3 {
		if err := a.Authorize(WithKey(ctx, writeKey), demo, true); err != nil {
			t.Fatal(err)
		}
	}
	if store.lookups != 0 {
		t.Errorf("lookups within the TTL: got %d, want 0", store.lookups)
	}
	// A revocation seen after the TTL, or announced and forgotten, refuses the key.
	id, _ := ParseKey(writeKey)
	revoked := now
	store.keys[id].RevokedAt = &revoked
	a.Forget(id)
	if err := a.Authorize(WithKey(ctx, writeKey), demo, false); !errors.Is(err, model.ErrUnauthenticated) {
		t.Errorf("after Forget: got %v, want ErrUnauthenticated", err)
	}
	id2, _ := ParseKey(readKey)
	store.keys[id2].RevokedAt = &revoked
	if err := a.Authorize(WithKey(ctx, readKey), projA, false); err != nil {
		t.Errorf("within the TTL the cached key still passes: %v", err)
	}
	now = now.Add(time.Second)
	if err := a.Authorize(WithKey(ctx, readKey), projA, false); !errors.Is(err, model.ErrUnauthenticated) {
		t.Errorf("after the TTL: got %v, want ErrUnauthenticated", err)
	}
	// A store that cannot be reached is not mistaken for a bad key.
	store.err = model.ErrUnavailable
	fresh, _, _ := Issue(ctx, &countingStore{keys: map[string]*model.APIKey{}}, 1, nil, model.RoleRead, "", now)
	if err := a.Authorize(WithKey(ctx, fresh), demo, false); !errors.Is(err, model.ErrUnavailable) {
		t.Errorf("store down: got %v, want ErrUnavailable", err)
	}
}

func TestIssueValidates(t *testing.T) {
	store := &countingStore{keys: map[string]*model.APIKey{}}
	ctx := context.Background()
	for _, c := range []struct {
		org      int
		projects []string
		role     model.Role
		label    string
	}{
		{0, nil, model.RoleRead, ""},
		{1, []string{""}, model.RoleRead, ""},
		{1, []string{strings.Repeat("p", 129)}, model.RoleRead, ""},
		{1, nil, "admin", ""},
		{1, nil, model.RoleRead, strings.Repeat("l", 256)},
	} {
		if _, _, err := Issue(ctx, store, c.org, c.projects, c.role, c.label, time.Now()); !errors.Is(err, model.ErrInvalid) {
			t.Errorf("%+v: got %v, want an input error", c, err)
		}
	}
	if len(store.keys) != 0 {
		t.Errorf("invalid keys were stored")
	}
}
