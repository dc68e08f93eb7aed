package auth

import (
	"context"
	"errors"
	"testing"
)

func TestFromInitPayload(t *testing.T) {
	key, _ := NewKey()
	other, _ := NewKey()
	bearer := "Bearer " + key
	cases := []struct {
		name    string
		payload map[string]any
		want    string // the key carried; "" for none
		err     error
	}{
		{"top level", map[string]any{"Authorization": bearer}, key, nil},
		{"any case", map[string]any{"aUTHORIZATION": bearer}, key, nil},
		{"inside headers", map[string]any{"headers": map[string]any{"authorization": bearer}}, key, nil},
		{"identical duplicates", map[string]any{"Authorization": bearer, "authorization": bearer}, key, nil},
		{"same key, other spelling", map[string]any{"Authorization": bearer, "headers": map[string]any{"authorization": "bearer  " + key}}, key, nil},
		{"null and blank are absent", map[string]any{"Authorization": nil, "authorization": " ", "headers": map[string]any{"Authorization": bearer}}, key, nil},
		{"none", map[string]any{"other": "x"}, "", nil},
		{"two keys", map[string]any{"Authorization": bearer, "authorization": "Bearer " + other}, "", ErrAmbiguousCredential},
		{"top level and headers differ", map[string]any{"Authorization": bearer, "headers": map[string]any{"Authorization": "Bearer " + other}}, "", ErrAmbiguousCredential},
		{"a key and a malformed entry", map[string]any{"Authorization": bearer, "AUTHORIZATION": "Token " + other}, "", ErrAmbiguousCredential},
		{"not a string", map[string]any{"Authorization": 42}, "", ErrCredentialNotString},
	}
	for _, c := range cases {
		// Map order varies from run to run: repeat so that every order is likely seen.
		for range 20 {
			ctx, err := FromInitPayload(context.Background(), c.payload)
			if !errors.Is(err, c.err) {
				t.Fatalf("%s: err %v, want %v", c.name, err, c.err)
			}
			if err != nil {
				continue
			}
			cred, _ := ctx.Value(credentialKey{}).(*credential)
			got := ""
			if cred != nil {
				got = cred.key
			}
			if got != c.want {
				t.Fatalf("%s: key %q, want %q", c.name, got, c.want)
			}
		}
	}
}
