// Package auth handles API keys: their format, reading them from requests, verifying
// them against the key store with a short-lived cache, and the scope check that every
// operation passes (it implements resolvers.Authorizer).
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"

	"connectsession/graph/model"
)

// A key reads csk_<id>_<secret>: the id (16 hex digits) names the stored key and is
// safe to show; the secret is 256 bits from crypto/rand. Only a hash of the whole key is
// stored.
const (
	keyPrefix    = "csk_"
	idLen        = 16
	secretLen    = 43 // base64url of 32 bytes, unpadded
	keyLen       = len(keyPrefix) + idLen + 1 + secretLen
	idBytes      = idLen / 2
	secretBytes  = 32
	keySeparator = '_'
)

// NewKey returns a fresh key and its id.
func NewKey() (key, id string) {
	var idb [idBytes]byte
	var secret [secretBytes]byte
	_, _ = rand.Read(idb[:]) // crypto/rand.Read never fails on supported platforms.
	_, _ = rand.Read(secret[:])
	id = hex.EncodeToString(idb[:])
	return keyPrefix + id + string(keySeparator) + base64.RawURLEncoding.EncodeToString(secret[:]), id
}

// ParseKey returns the id of a well-formed key, and false for anything else.
func ParseKey(key string) (id string, ok bool) {
	if len(key) != keyLen || !strings.HasPrefix(key, keyPrefix) {
		return "", false
	}
	id = key[len(keyPrefix) : len(keyPrefix)+idLen]
	if key[len(keyPrefix)+idLen] != keySeparator {
		return "", false
	}
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return "", false
	}
	if _, err := base64.RawURLEncoding.DecodeString(key[len(keyPrefix)+idLen+1:]); err != nil {
		return "", false
	}
	return id, true
}

// HashKey returns what is stored for a key: base64url SHA-256. Keys carry 256 random
// bits, so a fast hash is enough.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// KeySaver stores new keys.
type KeySaver interface {
	SaveKey(ctx context.Context, key *model.APIKey) error
}

// Issue creates and stores a key for an organization with a role, covering the listed
// projects (nil: all of them). It returns the key, which is shown once and never stored,
// and its stored description. Bad arguments are *model.InputError values.
func Issue(ctx context.Context, store KeySaver, org int, projects []string, role model.Role, label string, now time.Time) (string, *model.APIKey, error) {
	if org <= 0 {
		return "", nil, model.Invalid("org", "must be a positive integer")
	}
	for _, p := range projects {
		if err := model.ValidateTenant("org", org, "project", p); err != nil {
			return "", nil, err
		}
	}
	if !role.Valid() {
		return "", nil, model.Invalid("role", "must be read or write")
	}
	if utf8.RuneCountInString(label) > model.MaxTextLen {
		return "", nil, model.Invalid("label", "must be at most 255 characters")
	}
	raw, id := NewKey()
	key := &model.APIKey{
		ID: id, OrganizationID: org, Projects: projects, Role: role, Label: label,
		CreatedAt: now, Hash: HashKey(raw),
	}
	if err := store.SaveKey(ctx, key); err != nil {
		return "", nil, err
	}
	return raw, key, nil
}
