// Package webhooks delivers each tenant's events to its webhook endpoints: signed per the
// Standard Webhooks specification, at least once, one at a time per endpoint in the event
// log's order, retried with exponential backoff and jitter, shared between instances by a
// lease per endpoint (the Dispatcher); and only to the addresses the Policy allows, checked
// when an endpoint is saved and again on every connection (the safe client). The store
// (package cache) keeps the endpoints, their cursors in the event log and their attempts.
package webhooks

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// secretPrefix starts every signing secret, as the Standard Webhooks libraries expect.
const secretPrefix = "whsec_"

// SecretOverlap is how long the secret a rotation replaced keeps signing deliveries,
// beside the new one (webhook-signature then holds two signatures, as the specification
// allows): a day for receivers to switch.
const SecretOverlap = 24 * time.Hour

// NewSecret returns a new signing secret: 32 random bytes, "whsec_<base64>".
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return secretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// Signature returns the webhook-signature header's value for a message: "v1," and the
// base64 HMAC-SHA256 of "<id>.<unix seconds>.<body>" keyed by the secret's decoded
// bytes. It fails only for a secret that is not "whsec_<base64>".
func Signature(secret, id string, at time.Time, body []byte) (string, error) {
	wh, err := standardwebhooks.NewWebhook(strings.TrimPrefix(secret, secretPrefix))
	if err != nil {
		return "", err
	}
	return wh.Sign(id, at, body)
}

// signatures is the webhook-signature header for a message: the secret's signature,
// then the previous secret's while it still signs (until oldUntil).
func signatures(secret, old string, oldUntil time.Time, id string, at time.Time, body []byte) (string, error) {
	sig, err := Signature(secret, id, at, body)
	if err != nil || old == "" || !at.Before(oldUntil) {
		return sig, err
	}
	prev, err := Signature(old, id, at, body)
	if err != nil {
		return sig, nil // the new secret signs; an unusable old one is left out
	}
	return sig + " " + prev, nil
}
