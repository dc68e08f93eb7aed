package auth

import (
	"context"
	"encoding/base64"
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

// FromInitPayload returns ctx carrying the credential of a WebSocket connection_init
// payload: an "Authorization" entry (any case), at the top level or inside "headers".
// Without one, ctx keeps what the upgrade request's header gave it.
func FromInitPayload(ctx context.Context, payload map[string]any) context.Context {
	if v := authorizationEntry(payload); v != "" {
		return WithAuthorization(ctx, v)
	}
	if headers, ok := payload["headers"].(map[string]any); ok {
		if v := authorizationEntry(headers); v != "" {
			return WithAuthorization(ctx, v)
		}
	}
	return ctx
}

func authorizationEntry(m map[string]any) string {
	for k, v := range m {
		if strings.EqualFold(k, "authorization") {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}
