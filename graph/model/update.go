package model

// Optional is one field of an update: left out (the stored value stays), or set to a
// value, which for a pointer, slice or JSON may be nil (the stored value is cleared).
// It is the store's own type, so that the store does not depend on how the GraphQL
// layer represents an omitted argument.
type Optional[T any] struct {
	value T
	set   bool
}

// Set returns an Optional set to v.
func Set[T any](v T) Optional[T] { return Optional[T]{value: v, set: true} }

// Value returns the value, or T's zero value when the field was left out.
func (o Optional[T]) Value() T { return o.value }

// IsSet reports whether the field was given.
func (o Optional[T]) IsSet() bool { return o.set }

// ValueOK returns the value and whether the field was given.
func (o Optional[T]) ValueOK() (T, bool) { return o.value, o.set }

// SessionUpdate is a change to one session: what the store applies for
// updateConnectSession once Validate accepts it. Fields left out keep their stored values.
type SessionUpdate struct {
	OrganizationID int
	ProjectID      string
	ID             int
	// OriginOwnerName cannot be cleared (Validate refuses nil).
	OriginOwnerName Optional[*string]
	OriginUsername  Optional[*string]
	Provider        Optional[*string]
	Categories      Optional[[]Category]
	AccountID       Optional[*string]
	Label           Optional[*string]
	Metadata        Optional[JSON]
	// ExpiresIn moves the expiry to now plus this many seconds; nil leaves it.
	ExpiresIn Optional[*int]
}
