package httpapi_test

import (
	"testing"

	"connectsession/httpapi"
	"connectsession/resolvers"
)

// A Resolver without an authorizer is a wiring mistake, not a request to let everyone in.
func TestNewHandlerRefusesMissingAuth(t *testing.T) {
	if h, err := httpapi.NewHandler(&resolvers.Resolver{}, httpapi.HandlerOptions{}); err == nil || h != nil {
		t.Fatalf("NewHandler without Auth: got handler %v, error %v; want a refusal", h, err)
	}
	if _, err := httpapi.NewHandler(&resolvers.Resolver{Auth: resolvers.AllowAll{}}, httpapi.HandlerOptions{}); err != nil {
		t.Fatalf("NewHandler with AllowAll: %v", err)
	}
}
