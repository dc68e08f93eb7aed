package model

import (
	"errors"
	"slices"
	"time"
)

// Role is what an API key may do.
type Role string

// The roles: read covers queries and subscriptions, write covers everything.
const (
	RoleRead  Role = "read"
	RoleWrite Role = "write"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleRead || r == RoleWrite }

// APIKey is a stored API key: who it belongs to and what it may do. The key itself is
// never stored, only Hash.
type APIKey struct {
	// ID is the key's public identifier, part of the key and shown by `apikey list`.
	ID             string
	OrganizationID int
	// Projects the key covers; nil means every project of the organization.
	Projects  []string
	Role      Role
	Label     string
	CreatedAt time.Time
	RevokedAt *time.Time
	// Hash is the base64url SHA-256 of the whole key.
	Hash string
}

// Allows reports whether the key may act on tenant t, writing or not. It returns nil,
// or an error wrapping ErrForbidden that says why not.
func (k *APIKey) Allows(t Tenant, write bool) error {
	switch {
	case k.OrganizationID != t.OrganizationID:
		return Deny(ErrForbidden, "the API key does not belong to this organization")
	case k.Projects != nil && !slices.Contains(k.Projects, t.ProjectID):
		return Deny(ErrForbidden, "the API key does not cover this project")
	case write && k.Role != RoleWrite:
		return Deny(ErrForbidden, "the API key is read-only and this operation writes")
	}
	return nil
}

// PublicError is an error whose message is written for the API's callers; it matches
// its Kind with errors.Is.
type PublicError struct {
	Kind    error
	Message string
}

func (e *PublicError) Error() string { return e.Message }

// Is makes errors.Is(err, e.Kind) true.
func (e *PublicError) Is(target error) bool { return errors.Is(e.Kind, target) }

// Deny returns a *PublicError of kind with a message for the caller.
func Deny(kind error, message string) error { return &PublicError{Kind: kind, Message: message} }
