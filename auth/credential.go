package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"

	"connectsession/graph/model"
)

// credential is what a request presented: a key, or a header that could not be read.
// Every operation checks it (the document allowance, the per-key budgets, the scope),
// and a WebSocket's credential serves all its operations, so what depends only on the
// key itself (its id, its hash) is worked out once.
type credential struct {
	key string
	// bad, when set, is why the header carries no key: the caller's answer.
	bad error

	once   sync.Once
	id     string
	wellOK bool
	hash   string
}

// parsed returns the key's id and hash, and whether it is well formed.
func (c *credential) parsed() (id, hash string, ok bool) {
	c.once.Do(func() {
		if c.id, c.wellOK = ParseKey(c.key); c.wellOK {
			c.hash = HashKey(c.key)
		}
	})
	return c.id, c.hash, c.wellOK
}

type credentialKey struct{}

// WithKey returns ctx carrying the raw API key a caller presented (for transports that
// take it from somewhere other than the request header, such as a WebSocket's
// connection_init payload).
func WithKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, credentialKey{}, &credential{key: key})
}

// WithAuthorization returns ctx carrying the credential in an Authorization header
// value: "Bearer <key>" or "Basic base64(<key>:)". An empty value carries nothing; any
// other value is remembered with the reason it is refused.
func WithAuthorization(ctx context.Context, header string) context.Context {
	header = strings.TrimSpace(header)
	if header == "" {
		return ctx
	}
	return context.WithValue(ctx, credentialKey{}, parseAuthorization(header))
}

// The refusals of an Authorization header that carries no key. They say what is wrong
// with the header's form, which tells nothing about any key.
var (
	errNoScheme = model.Deny(model.ErrUnauthenticated,
		"the Authorization header lacks the Bearer scheme: send 'Authorization: Bearer KEY'")
	errNoCredentials = model.Deny(model.ErrUnauthenticated,
		"the Authorization header has a scheme but no key: send 'Authorization: Bearer KEY'")
	errOtherScheme = model.Deny(model.ErrUnauthenticated,
		"the Authorization header's scheme is neither Bearer nor Basic: send 'Authorization: Bearer KEY'")
	errBadBasic = model.Deny(model.ErrUnauthenticated,
		"Basic credentials must be base64 of 'KEY:' (the key as user name, no password); or send 'Authorization: Bearer KEY'")
)

func parseAuthorization(h string) *credential {
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok {
		if strings.EqualFold(h, "bearer") || strings.EqualFold(h, "basic") {
			return &credential{bad: errNoCredentials}
		}
		return &credential{bad: errNoScheme}
	}
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "bearer":
		if rest == "" {
			return &credential{bad: errNoCredentials}
		}
		return &credential{key: rest}
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return &credential{bad: errBadBasic}
		}
		user, pass, _ := strings.Cut(string(raw), ":")
		if user == "" || pass != "" {
			return &credential{bad: errBadBasic}
		}
		return &credential{key: user}
	default:
		return &credential{bad: errOtherScheme}
	}
}

// ErrAmbiguousCredential: a WebSocket connection_init payload names two different
// credentials (say "Authorization" and "authorization", or one at the top level and
// another inside "headers"). Picking one would depend on map order, so the connection is
// refused instead.
var ErrAmbiguousCredential = errors.New("connection_init carries two different Authorization entries")

// ErrCredentialNotString: an Authorization entry of a connection_init payload is neither
// a string nor null.
var ErrCredentialNotString = errors.New("connection_init Authorization entries must be strings")

// FromInitPayload returns ctx carrying the credential of a WebSocket connection_init
// payload: an "Authorization" entry (any case), at the top level or inside "headers".
// Entries that are null or blank count as absent; several entries must name the same
// credential ("Bearer K" and "bearer K" do), else the error is ErrAmbiguousCredential.
// Without one, ctx keeps what the upgrade request's header gave it.
func FromInitPayload(ctx context.Context, payload map[string]any) (context.Context, error) {
	var found *credential
	check := func(m map[string]any) error {
		for k, v := range m {
			if !strings.EqualFold(k, "authorization") || v == nil {
				continue
			}
			s, ok := v.(string)
			if !ok {
				return ErrCredentialNotString
			}
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			c := parseAuthorization(s)
			if found != nil && *found != *c {
				return ErrAmbiguousCredential
			}
			found = c
		}
		return nil
	}
	if err := check(payload); err != nil {
		return ctx, err
	}
	if headers, ok := payload["headers"].(map[string]any); ok {
		if err := check(headers); err != nil {
			return ctx, err
		}
	}
	if found == nil {
		return ctx, nil
	}
	return context.WithValue(ctx, credentialKey{}, found), nil
}
