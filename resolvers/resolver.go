// Package resolvers implements the GraphQL schema: thin resolvers that check the
// caller's scope, validate, and make one call to the Store they are given; and the one
// error presenter, which maps the domain's errors to extensions.code. The HTTP handler
// that runs them is built by package httpapi.
package resolvers

import (
	"context"
	"errors"
	"net/url"
	"time"

	"connectsession/graph/model"
)

// Store is what the resolvers need from storage. Errors wrap the sentinels of
// graph/model (ErrNotFound, ErrUnauthenticated, ErrUnavailable, *InputError, ...).
type Store interface {
	Get(ctx context.Context, t model.Tenant, id int) (*model.ConnectSession, error)
	List(ctx context.Context, t model.Tenant, q model.ListQuery) (*model.Page, error)
	Create(ctx context.Context, in *model.CreateConnectSessionInput) (*model.ConnectSession, string, error)
	Authenticate(ctx context.Context, token string) (*model.ConnectSession, error)
	Update(ctx context.Context, u *model.SessionUpdate) (*model.ConnectSession, error)
	Revoke(ctx context.Context, t model.Tenant, id int) (*model.ConnectSession, error)
	Delete(ctx context.Context, t model.Tenant, id int) (bool, error)
	// GetMany returns sessions by id whatever their tenant, in input order, nil where
	// there is none; the caller checks each tenant.
	GetMany(ctx context.Context, ids []int) ([]*model.ConnectSession, error)
	// EventLog returns a tenant's events after an event id ("" = from the oldest kept),
	// oldest first, at most first.
	EventLog(ctx context.Context, t model.Tenant, after string, first int) ([]*model.ConnectSessionEvent, error)
}

// MaxEventLogPage is the most events connectSessionEventLog returns at once.
const MaxEventLogPage = 100

// Events is what the subscription needs: a tenant's events from now on (after "") or
// after an event id, ended when ctx ends or recheck returns an error (the stream's Err
// then says why it failed).
type Events interface {
	Subscribe(ctx context.Context, t model.Tenant, after string, recheck func(context.Context) error) (*model.EventStream, error)
}

// eventID checks an optional event id argument ("" when absent).
func eventID(field string, id *string) (string, error) {
	if id == nil {
		return "", nil
	}
	canonical, err := model.ParseEventID(*id)
	if err != nil {
		var in *model.InputError
		if errors.As(err, &in) {
			in.Field = field
		}
		return "", err
	}
	return canonical, nil
}

// caller is what an Authorizer may also offer: the verified key behind a request, whose
// id the store records as a write's actor.
type caller interface {
	Caller(ctx context.Context) (*model.APIKey, error)
}

// acting returns ctx carrying the caller's API key id (model.WithActor) when the
// Authorizer can tell it, for the event the write appends (actorKeyId).
func (r *Resolver) acting(ctx context.Context) context.Context {
	if c, ok := r.Auth.(caller); ok {
		if key, err := c.Caller(ctx); err == nil && key != nil {
			return model.WithActor(ctx, key.ID)
		}
	}
	return ctx
}

// errBadToken refuses every token authenticateConnectSession cannot exchange, with one
// message whatever the reason (malformed, unknown, expired, revoked, deleted): the
// answer must not tell a guessed token from one that existed.
var errBadToken = model.Deny(model.ErrUnauthenticated,
	"the connect session token is malformed, unknown, expired or revoked")

// RateLimiter takes one request from a subject's per-minute allowance, shared by every
// instance; it reports whether there was one and, if not, when to retry.
type RateLimiter interface {
	Allow(ctx context.Context, subject string, perMinute int) (bool, time.Duration, error)
}

// MaxRepresentations is how many entities one operation may ask for, over all its
// _entities fields (the handler's limits count them before anything runs; _entities
// checks its own list too).
const MaxRepresentations = 1000

type clientAddrKey struct{}

// WithClientAddr returns ctx carrying the address of the client behind the request, for
// per-address rate limits.
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

func clientAddr(ctx context.Context) string {
	a, _ := ctx.Value(clientAddrKey{}).(string)
	return a
}

// Authorizer decides whether the caller behind ctx may read (write false) or change
// (write true) a tenant's sessions. It returns an error wrapping
// model.ErrUnauthenticated or model.ErrForbidden to refuse.
type Authorizer interface {
	Authorize(ctx context.Context, t model.Tenant, write bool) error
	// Authenticate checks that the caller has a valid credential at all, for operations
	// whose tenants are only known once read (federation entity lookups).
	Authenticate(ctx context.Context) error
}

// AllowAll is the Authorizer that lets every caller through.
type AllowAll struct{}

// Authorize never refuses.
func (AllowAll) Authorize(context.Context, model.Tenant, bool) error { return nil }

// Authenticate never refuses.
func (AllowAll) Authenticate(context.Context) error { return nil }

// Resolver is the root resolver; its fields are its dependencies.
type Resolver struct {
	Store  Store
	Events Events
	// Auth is the one scope check every operation passes before touching the store.
	Auth Authorizer
	// AuthLinkBaseURL, when set, makes createConnectSession return
	// authLinkUrl = <base>?token=<token>.
	AuthLinkBaseURL *url.URL
	// Limiter and AuthenticatePerMinute bound authenticateConnectSession calls per
	// client address (token guessing); nil or 0 means no limit.
	Limiter               RateLimiter
	AuthenticatePerMinute int
	// Scans, when set, bounds what one organization's pages take of Redis: how many
	// expensive ones run at once, and the units all of them spend per second.
	Scans *ScanGate
	// Webhooks, when set, serves the webhook fields (they fail without it).
	Webhooks *Webhooks
}

// scope is the single point where every operation's tenant is authorized and its
// arguments checked, before anything is read or written.
func (r *Resolver) scope(ctx context.Context, org int, project string, write bool, orgField, projectField string) (model.Tenant, error) {
	t := model.Tenant{OrganizationID: org, ProjectID: project}
	if err := r.Auth.Authorize(ctx, t, write); err != nil {
		return t, err
	}
	return t, model.ValidateTenant(orgField, org, projectField, project)
}

func (r *Resolver) authLink(token string) *string {
	if r.AuthLinkBaseURL == nil {
		return nil
	}
	u := *r.AuthLinkBaseURL
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	s := u.String()
	return &s
}
