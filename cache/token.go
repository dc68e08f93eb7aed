package cache

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"math"
	"strconv"
	"strings"

	"connectsession/graph/model"
)

// tokenPrefix marks connect-session tokens so they are recognizable in logs and secret
// scanners.
const tokenPrefix = "cst_"

// A token is "cst_<id in base 36>_<secret>", the secret 192 bits from crypto/rand in
// base64url (32 characters). The record keeps the hash of the secret (TokenHash):
// authentication finds the record by the token's id (its id → tenant bucket) and
// compares the hashes in constant time. Tokens issued before the id was in them are
// "cst_<secret>"; their record uses the hash of the whole token, and they are found
// through their token pointer (keys.token), keyed by that hash and expiring with the
// session. Stores with Options.TokenPointers write such a pointer for every new session,
// for older versions that authenticate only through it.
const secretLen = 32

// newSecret returns a fresh token secret and its hash.
func newSecret() (secret, hash string) {
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	return secret, hashToken(secret)
}

// sessionToken is the token of session id with the given secret.
func sessionToken(id int, secret string) string {
	return tokenPrefix + strconv.FormatInt(int64(id), 36) + "_" + secret
}

// parseToken splits a token of the current form into its session id and the hash of its
// secret; ok is false for any other string (legacy reports a token of the old form,
// which has no id).
func parseToken(token string) (id int, hash string, legacy, ok bool) {
	body, found := strings.CutPrefix(token, tokenPrefix)
	if !found {
		return 0, "", false, false
	}
	if len(body) == secretLen {
		return 0, "", true, true
	}
	sid, secret, found := strings.Cut(body, "_")
	if !found || len(secret) != secretLen || sid == "" || len(sid) > 7 || sid[0] == '0' {
		return 0, "", false, false
	}
	for _, c := range sid {
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return 0, "", false, false
		}
	}
	n, err := strconv.ParseInt(sid, 36, 64)
	if err != nil || n <= 0 || n > math.MaxInt32 {
		return 0, "", false, false
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return 0, "", false, false
	}
	return int(n), hashToken(secret), false, true
}

// hashToken returns what is stored for a token secret (or a whole old-form token): its
// SHA-256, base64url. A plain hash is enough: secrets are 192 random bits, so there is
// nothing to guess offline.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// tokenPointer is the value of a token pointer: "<tenant tag>:<id>".
func tokenPointer(t model.Tenant, id int) string {
	return tokenPointerText(tenantTag(t), strconv.Itoa(id))
}

// tokenPointerText is the one writer of a token pointer's shape (lua/create.lua gets it
// with a hole for the new id).
func tokenPointerText(tag, id string) string { return tag + ":" + id }

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
