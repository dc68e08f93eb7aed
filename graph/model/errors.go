package model

import (
	"errors"
	"time"
)

// The error kinds of the service. Every layer wraps one of these (with %w) and the
// GraphQL error presenter maps each to its extensions.code.
var (
	// ErrNotFound: the session does not exist in that organization and project.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: an input breaks a rule; an *InputError says which field.
	ErrInvalid = errors.New("invalid input")
	// ErrUnauthenticated: no usable credential (API key or connect-session token).
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden: the credential is valid but does not cover this operation.
	ErrForbidden = errors.New("forbidden")
	// ErrUnavailable: the store cannot be reached; nothing was half-written.
	ErrUnavailable = errors.New("store unavailable")
	// ErrConflict: a concurrent write kept changing the record; the caller may retry.
	ErrConflict = errors.New("concurrent modification")
)

// InputError is a rule broken by one input field. It matches ErrInvalid with errors.Is.
type InputError struct {
	// Field is the argument path the rule applies to, such as "input.provider".
	Field string
	// Message says what is wrong, without the field's name.
	Message string
}

func (e *InputError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Is makes errors.Is(err, ErrInvalid) true for every *InputError.
func (e *InputError) Is(target error) bool { return target == ErrInvalid }

// Invalid returns an *InputError for field.
func Invalid(field, message string) error {
	return &InputError{Field: field, Message: message}
}

// ErrRateLimited: the caller used up its allowance; a *RateLimitError says when to retry.
var ErrRateLimited = errors.New("rate limited")

// RateLimitError is a refusal for too many requests. It matches ErrRateLimited.
type RateLimitError struct {
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return "too many requests; retry after " + e.RetryAfter.Round(time.Second).String()
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// StoreError marks an error met while reading the store (the sessions, or the keys behind
// a credential) as the service's own, never the caller's input: on fields where gqlgen's
// own input errors arrive uncoded (federation's _entities), it tells the two apart. It
// unwraps to its cause, so a sentinel inside still selects the code.
type StoreError struct {
	Err error
}

func (e *StoreError) Error() string { return e.Err.Error() }

func (e *StoreError) Unwrap() error { return e.Err }
