package auth

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
)

// credential is what a request presented: a key, or a header that could not be read.
type credential struct {
	key       string
	malformed bool
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
// other value is remembered as malformed.
func WithAuthorization(ctx context.Context, header string) context.Context {
	header = strings.TrimSpace(header)
	if header == "" {
		return ctx
	}
	return context.WithValue(ctx, credentialKey{}, parseAuthorization(header))
}

func parseAuthorization(h string) *credential {
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok {
		return &credential{malformed: true}
	}
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "bearer":
		if rest == "" {
			return &credential{malformed: true}
		}
		return &credential{key: rest}
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return &credential{malformed: true}
		}
		user, pass, _ := strings.Cut(string(raw), ":")
		if user == "" || pass != "" {
			return &credential{malformed: true}
		}
		return &credential{key: user}
	default:
		return &credential{malformed: true}
	}
}

// Middleware puts the request's Authorization header in the request context, where the
// Authorizer finds it. It refuses nothing itself: some operations need no key.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := r.Header.Get("Authorization"); h != "" {
			r = r.WithContext(WithAuthorization(r.Context(), h))
		}
		next.ServeHTTP(w, r)
	})
}
