package resolvers

import (
	"context"
	"fmt"
	"time"

	"connectsession/cache"
	"connectsession/graph"
	"connectsession/graph/model"
	"connectsession/webhooks"
)

// WebhookStore is what the webhook fields need from storage (cache.Store). Errors wrap
// the sentinels of graph/model.
type WebhookStore interface {
	CreateWebhookEndpoint(ctx context.Context, e *model.WebhookEndpoint, secret string, max int) error
	WebhookEndpoints(ctx context.Context, t model.Tenant) ([]*model.WebhookEndpoint, error)
	UpdateWebhookEndpoint(ctx context.Context, u *model.WebhookUpdate) (*model.WebhookEndpoint, error)
	RotateWebhookSecret(ctx context.Context, t model.Tenant, id, secret string, overlap time.Duration) (*model.WebhookEndpoint, error)
	DeleteWebhookEndpoint(ctx context.Context, t model.Tenant, id string) (bool, error)
	WebhookDeliveries(ctx context.Context, t model.Tenant, id string, first int) ([]*model.WebhookDelivery, error)
	QueueWebhookRedelivery(ctx context.Context, t model.Tenant, id, eventID string, max int) error
}

// Webhooks configure the webhook fields.
type Webhooks struct {
	Store WebhookStore
	// Policy decides which URLs endpoints may have.
	Policy webhooks.Policy
	// MaxEndpoints is how many endpoints one project may have (default
	// DefaultMaxWebhookEndpoints); MaxRedeliveries how many redeliveries one endpoint
	// may have waiting (default DefaultMaxRedeliveries).
	MaxEndpoints    int
	MaxRedeliveries int
}

// Defaults of Webhooks' limits.
const (
	DefaultMaxWebhookEndpoints = 10
	DefaultMaxRedeliveries     = 20
	// MaxWebhookDeliveriesPage is the most attempts webhookDeliveries returns; it is all
	// an endpoint keeps.
	MaxWebhookDeliveriesPage = cache.WebhookAttemptsKept
)

// maxEndpointIDLength bounds an endpoint id argument before it reaches a key name.
const maxEndpointIDLength = 64

func (w *Webhooks) maxEndpoints() int {
	if w.MaxEndpoints > 0 {
		return w.MaxEndpoints
	}
	return DefaultMaxWebhookEndpoints
}

func (w *Webhooks) maxRedeliveries() int {
	if w.MaxRedeliveries > 0 {
		return w.MaxRedeliveries
	}
	return DefaultMaxRedeliveries
}

// webhooks returns the configured webhook fields, or an error when the service has none.
func (r *Resolver) webhooks() (*Webhooks, error) {
	if r.Webhooks == nil || r.Webhooks.Store == nil {
		return nil, fmt.Errorf("resolvers: webhooks are not configured")
	}
	return r.Webhooks, nil
}

// checkEndpointID checks an endpoint id argument: an id that no endpoint can have is simply
// not found.
func checkEndpointID(id string) error {
	if len(id) == 0 || len(id) > maxEndpointIDLength {
		return model.ErrWebhookEndpointNotFound
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return model.ErrWebhookEndpointNotFound
		}
	}
	return nil
}

func endpointPayload(e *model.WebhookEndpoint, secret string) *graph.CreateWebhookEndpointPayload {
	return &graph.CreateWebhookEndpointPayload{Endpoint: e, Secret: secret}
}

// eventIDArg checks a required event id argument.
func eventIDArg(field, id string) (string, error) { return eventID(field, &id) }
