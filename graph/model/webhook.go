package model

import (
	"errors"
	"time"
)

// WebhookEndpoint is a URL that receives a tenant's events (see package webhooks). Its
// signing secret is not part of it: the API shows a secret only when it is made.
type WebhookEndpoint struct {
	ID             string
	OrganizationID int
	ProjectID      string
	URL            string
	// EventTypes are the types delivered; empty means every type.
	EventTypes []ConnectSessionEventType
	Enabled    bool
	// DisabledReason says why the service disabled the endpoint; nil when enabled, or
	// disabled by a caller.
	DisabledReason *string
	CreatedAt      time.Time
}

// Tenant returns the endpoint's organization and project.
func (e *WebhookEndpoint) Tenant() Tenant {
	return Tenant{OrganizationID: e.OrganizationID, ProjectID: e.ProjectID}
}

// Wants reports whether the endpoint receives events of type t.
func (e *WebhookEndpoint) Wants(t ConnectSessionEventType) bool {
	if len(e.EventTypes) == 0 {
		return true
	}
	for _, w := range e.EventTypes {
		if w == t {
			return true
		}
	}
	return false
}

// WebhookDelivery is one attempt to deliver an event to an endpoint.
type WebhookDelivery struct {
	EventID string
	// Attempt counts the attempts at this event from 1; 0 marks a redelivery a caller
	// asked for.
	Attempt int
	// Status is the HTTP status answered; nil when none came.
	Status *int
	// Error says why the attempt failed; nil on a 2xx answer.
	Error *string
	// DurationMs is how long the attempt took; nil when it was refused before connecting.
	DurationMs *int
	At         time.Time
}

// WebhookUpdate is a change to an endpoint: nil fields stay as they are.
type WebhookUpdate struct {
	Tenant     Tenant
	ID         string
	URL        *string
	EventTypes *[]ConnectSessionEventType
	Enabled    *bool
}

// ErrWebhookEndpointNotFound: no endpoint of that id in the organization and project.
// It matches ErrNotFound.
var ErrWebhookEndpointNotFound = Deny(ErrNotFound, "webhook endpoint not found")

// ErrEventNotInLog: the event asked for is not (or no longer) in the event log. It
// matches ErrNotFound.
var ErrEventNotInLog = Deny(ErrNotFound, "no event with this eventId in the event log (it may have been trimmed: the log keeps EVENT_RETENTION and at most EVENT_LOG_MAX_LENGTH events)")

// ErrTooManyWebhookEndpoints refuses an endpoint past the per-project limit.
var ErrTooManyWebhookEndpoints = errors.New("too many webhook endpoints")

// ValidateEventTypes checks a list of event types to deliver: no duplicates.
func ValidateEventTypes(field string, types []ConnectSessionEventType) error {
	seen := map[ConnectSessionEventType]bool{}
	for _, t := range types {
		if !t.IsValid() {
			return Invalid(field, "holds "+string(t)+", which is not a ConnectSessionEventType")
		}
		if seen[t] {
			return Invalid(field, "must not repeat "+string(t))
		}
		seen[t] = true
	}
	return nil
}
