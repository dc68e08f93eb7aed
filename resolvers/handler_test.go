package resolvers_test

import (
	"testing"

	"connectsession/resolvers"
)

// A Resolver without an authorizer is a wiring mistake, not a request to let everyone in.
func TestNewHandlerRefusesMissingAuth(t *testing.T) {
	if h, err := resolvers.NewHandler(&resolvers.Resolver{}, resolvers.HandlerOptions{}); err == nil || h != nil {
		t.Fatalf("NewHandler without Auth: got handler %v, error %v; want a refusal", h, err)
	}
	if _, err := resolvers.NewHandler(&resolvers.Resolver{Auth: resolvers.AllowAll{}}, resolvers.HandlerOptions{}); err != nil {
		t.Fatalf("NewHandler with AllowAll: %v", err)
	}
}
