package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"sync"
	"time"

	"connectsession/graph/model"
)

// KeyStore is what the Authorizer reads keys from.
type KeyStore interface {
	// GetKey returns a stored key, or an error wrapping model.ErrNotFound.
	GetKey(ctx context.Context, id string) (*model.APIKey, error)
}

// DefaultCacheTTL bounds how long a verified key is trusted without asking Redis again.
// Revocations reach running instances through pub/sub at once; the TTL is the bound
// when that channel is down.
const DefaultCacheTTL = time.Second

// Authorizer verifies API keys and checks them against the tenant of each operation.
// Verified keys are cached in process for at most the cache TTL, so a request with a
// known key usually costs no Redis round trip.
type Authorizer struct {
	store KeyStore
	ttl   time.Duration
	now   func() time.Time

	mu    sync.Mutex
	cache map[string]cachedKey
}

type cachedKey struct {
	key     *model.APIKey
	fetched time.Time
}

// NewAuthorizer returns an Authorizer over store; ttl <= 0 means DefaultCacheTTL.
func NewAuthorizer(store KeyStore, ttl time.Duration) *Authorizer {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	return &Authorizer{store: store, ttl: ttl, now: time.Now, cache: map[string]cachedKey{}}
}

// Forget drops a key from the cache; call it when a key is revoked anywhere.
func (a *Authorizer) Forget(id string) {
	a.mu.Lock()
	delete(a.cache, id)
	a.mu.Unlock()
}

var (
	errNoKey = model.Deny(model.ErrUnauthenticated,
		"an API key is required: send the header 'Authorization: Bearer KEY'")
	errBadKey = model.Deny(model.ErrUnauthenticated, "the API key is malformed, unknown or revoked")
)

// Authorize implements resolvers.Authorizer: the caller's key must be valid, belong to
// the tenant's organization, cover its project, and have the write role to write.
func (a *Authorizer) Authorize(ctx context.Context, t model.Tenant, write bool) error {
	key, err := a.Caller(ctx)
	if err != nil {
		return err
	}
	return key.Allows(t, write)
}

// Authenticate implements resolvers.Authorizer: the caller must present a valid key.
func (a *Authorizer) Authenticate(ctx context.Context) error {
	_, err := a.Caller(ctx)
	return err
}

// Caller returns the verified key behind ctx: an error wrapping
// model.ErrUnauthenticated when there is none or it is not valid, or wrapping
// model.ErrUnavailable when the key store cannot be reached.
func (a *Authorizer) Caller(ctx context.Context) (*model.APIKey, error) {
	cred, _ := ctx.Value(credentialKey{}).(*credential)
	if cred == nil {
		return nil, errNoKey
	}
	if cred.bad != nil {
		return nil, cred.bad
	}
	return a.verify(ctx, cred)
}

func (a *Authorizer) verify(ctx context.Context, cred *credential) (*model.APIKey, error) {
	id, hash, ok := cred.parsed()
	if !ok {
		return nil, errBadKey
	}
	now := a.now()
	a.mu.Lock()
	c, hit := a.cache[id]
	a.mu.Unlock()
	if !hit || now.Sub(c.fetched) >= a.ttl {
		key, err := a.store.GetKey(ctx, id)
		if errors.Is(err, model.ErrNotFound) {
			return nil, errBadKey
		}
		if err != nil {
			return nil, err
		}
		c = cachedKey{key: key, fetched: now}
		a.mu.Lock()
		if len(a.cache) > 10000 {
			clear(a.cache) // bounded: many distinct keys in one TTL is not a normal load
		}
		a.cache[id] = c
		a.mu.Unlock()
	}
	if subtle.ConstantTimeCompare([]byte(c.key.Hash), []byte(hash)) != 1 || c.key.RevokedAt != nil {
		return nil, errBadKey
	}
	return c.key, nil
}
