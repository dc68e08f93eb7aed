package cache

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"connectsession/graph/model"
)

// record is a session as stored under the tenant's record key, written in the binary form
// (record_bin.go) or, with Options.JSONRecords, as compact JSON with the tags below (the
// form events carry). Times are Unix milliseconds; optional fields are left out when
// absent. The tenant is not repeated: it is in the key.
type record struct {
	ID        int     `json:"i"`
	Created   int64   `json:"c"`
	Updated   int64   `json:"u"`
	Expires   int64   `json:"e"`
	AuthAt    int64   `json:"aa,omitempty"`
	Revoked   int64   `json:"r,omitempty"`
	Owner     string  `json:"o"`
	OwnerName string  `json:"on"`
	Username  *string `json:"un,omitempty"`
	Provider  *string `json:"p,omitempty"`
	// Cats holds the categories' wire values joined by commas; nil means no list, ""
	// an empty one.
	Cats     *string         `json:"ca,omitempty"`
	Account  *string         `json:"a,omitempty"`
	Label    *string         `json:"l,omitempty"`
	Meta     json.RawMessage `json:"m,omitempty"`
	Test     bool            `json:"t,omitempty"`
	Multiple bool            `json:"mu,omitempty"`
	// TokenHash is the base64url SHA-256 of the session's token.
	TokenHash string `json:"h"`
}

func (r *record) categories() []model.Category {
	if r.Cats == nil {
		return nil
	}
	if *r.Cats == "" {
		return []model.Category{}
	}
	parts := strings.Split(*r.Cats, ",")
	out := make([]model.Category, len(parts))
	for i, p := range parts {
		out[i] = model.Category(p)
	}
	return out
}

func (r *record) setCategories(cs []model.Category) {
	if cs == nil {
		r.Cats = nil
		return
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = string(c)
	}
	joined := strings.Join(parts, ",")
	r.Cats = &joined
}

func (r *record) sessionType() model.SessionType {
	if r.Test {
		return model.TypeTest
	}
	return model.TypeProduction
}

// encodeJSON returns the record in the JSON form: what events carry, and what the store
// writes when Options.JSONRecords is set.
func (r *record) encodeJSON() string {
	b, err := json.Marshal(r)
	if err != nil {
		// Every field is a plain string, number or already-validated JSON object.
		panic(fmt.Sprintf("cache: encode record %d: %v", r.ID, err))
	}
	return string(b)
}

// decodeRecord reads a record in either form (record_bin.go, or JSON).
func decodeRecord(s string) (*record, error) {
	if len(s) > 0 && s[0] == recordVersion {
		return decodeBinary(s)
	}
	var r record
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return nil, fmt.Errorf("cache: decode record: %w", err)
	}
	return &r, nil
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func optTime(ms int64) *time.Time {
	if ms == 0 {
		return nil
	}
	t := fromMillis(ms)
	return &t
}

// session converts the record to the API's model, deriving the status at now.
func (r *record) session(t model.Tenant, now time.Time) *model.ConnectSession {
	s := &model.ConnectSession{
		ID:              r.ID,
		OrganizationID:  t.OrganizationID,
		ProjectID:       t.ProjectID,
		Categories:      r.categories(),
		Provider:        r.Provider,
		OriginOwnerID:   r.Owner,
		OriginOwnerName: r.OwnerName,
		OriginUsername:  r.Username,
		AccountID:       r.Account,
		Label:           r.Label,
		CreatedAt:       fromMillis(r.Created),
		Type:            r.sessionType(),
		Multiple:        r.Multiple,
		ExpiresAt:       fromMillis(r.Expires),
		AuthenticatedAt: optTime(r.AuthAt),
		UpdatedAt:       fromMillis(r.Updated),
		RevokedAt:       optTime(r.Revoked),
	}
	if r.Meta != nil {
		s.Metadata = model.JSON(r.Meta)
	}
	s.Status = s.DeriveStatus(now)
	return s
}

// tokenUsable reports whether the session's token may still be exchanged at now.
func (r *record) tokenUsable(now time.Time) bool {
	return r.Revoked == 0 && now.UnixMilli() < r.Expires
}
