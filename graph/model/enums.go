package model

import (
	"fmt"
	"io"
	"strconv"
)

// ConnectSessionStatus is where a session stands, derived when it is read (DeriveStatus).
type ConnectSessionStatus string

// The statuses, named as in the schema.
const (
	ConnectSessionStatusPending       ConnectSessionStatus = "PENDING"
	ConnectSessionStatusAuthenticated ConnectSessionStatus = "AUTHENTICATED"
	ConnectSessionStatusExpired       ConnectSessionStatus = "EXPIRED"
	ConnectSessionStatusRevoked       ConnectSessionStatus = "REVOKED"
)

// IsValid reports whether s is one of the statuses.
func (s ConnectSessionStatus) IsValid() bool {
	switch s {
	case ConnectSessionStatusPending, ConnectSessionStatusAuthenticated, ConnectSessionStatusExpired, ConnectSessionStatusRevoked:
		return true
	}
	return false
}

func (s ConnectSessionStatus) MarshalGQL(w io.Writer) { writeEnum(w, string(s)) }
func (s *ConnectSessionStatus) UnmarshalGQL(v any) error {
	return unmarshalEnum(s, v, ConnectSessionStatus.IsValid, "ConnectSessionStatus")
}

// ConnectSessionEventType is what happened to a session.
type ConnectSessionEventType string

// The event types, named as in the schema.
const (
	ConnectSessionEventTypeCreated       ConnectSessionEventType = "CREATED"
	ConnectSessionEventTypeUpdated       ConnectSessionEventType = "UPDATED"
	ConnectSessionEventTypeAuthenticated ConnectSessionEventType = "AUTHENTICATED"
	ConnectSessionEventTypeRevoked       ConnectSessionEventType = "REVOKED"
	ConnectSessionEventTypeDeleted       ConnectSessionEventType = "DELETED"
)

// IsValid reports whether t is one of the event types.
func (t ConnectSessionEventType) IsValid() bool {
	switch t {
	case ConnectSessionEventTypeCreated, ConnectSessionEventTypeUpdated, ConnectSessionEventTypeAuthenticated,
		ConnectSessionEventTypeRevoked, ConnectSessionEventTypeDeleted:
		return true
	}
	return false
}

func (t ConnectSessionEventType) MarshalGQL(w io.Writer) { writeEnum(w, string(t)) }
func (t *ConnectSessionEventType) UnmarshalGQL(v any) error {
	return unmarshalEnum(t, v, ConnectSessionEventType.IsValid, "ConnectSessionEventType")
}

// OrderDirection is the direction of an ordering.
type OrderDirection string

// The directions, named as in the schema.
const (
	OrderDirectionAsc  OrderDirection = "ASC"
	OrderDirectionDesc OrderDirection = "DESC"
)

// IsValid reports whether d is one of the directions.
func (d OrderDirection) IsValid() bool { return d == OrderDirectionAsc || d == OrderDirectionDesc }

func (d OrderDirection) MarshalGQL(w io.Writer) { writeEnum(w, string(d)) }
func (d *OrderDirection) UnmarshalGQL(v any) error {
	return unmarshalEnum(d, v, OrderDirection.IsValid, "OrderDirection")
}

// The helpers below are what every enum of the schema does the same way: its value is
// its GraphQL name, written as a JSON string, and anything else is refused by name.
// (encoding/json reads and writes them as the strings they are.)

func writeEnum(w io.Writer, name string) { _, _ = io.WriteString(w, strconv.Quote(name)) }

func unmarshalEnum[E ~string](e *E, v any, valid func(E) bool, enum string) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("enums must be strings")
	}
	if !valid(E(s)) {
		return fmt.Errorf("%s is not a valid %s", s, enum)
	}
	*e = E(s)
	return nil
}
