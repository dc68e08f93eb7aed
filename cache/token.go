package cache

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"

	"connectsession/graph/model"
)

// tokenPrefix marks connect-session tokens so they are recognizable in logs and secret
// scanners.
const tokenPrefix = "cst_"

// newToken returns a fresh token (192 bits from crypto/rand, URL-safe) and its hash.
func newToken() (token, hash string) {
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(token)
}

// hashToken returns what is stored for a token: its SHA-256, base64url. A plain hash is
// enough: tokens carry 192 random bits, so there is nothing to guess offline.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// tokenPointer is the value of a token key: "<tenant tag>:<id>".
func tokenPointer(t model.Tenant, id int) string {
	return tenantTag(t) + ":" + strconv.Itoa(id)
}

func parseTokenPointer(v string) (model.Tenant, int, bool) {
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return model.Tenant{}, 0, false
	}
	id, err := strconv.Atoi(v[i+1:])
	if err != nil || id <= 0 {
		return model.Tenant{}, 0, false
	}
	t, ok := parseTenantTag(v[:i])
	return t, id, ok
}
