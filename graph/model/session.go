package model

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ConnectSession is one session as the API shows it. Status is derived from the other
// fields by whoever reads the record, at the time it is read.
type ConnectSession struct {
	ID              int
	OrganizationID  int
	ProjectID       string
	Categories      CategoryList
	Provider        *string
	OriginOwnerID   string
	OriginOwnerName string
	OriginUsername  *string
	AccountID       *string
	Label           *string
	CreatedAt       time.Time
	Metadata        JSON
	Type            SessionType
	Multiple        bool
	ExpiresAt       time.Time
	Status          ConnectSessionStatus
	AuthenticatedAt *time.Time
	UpdatedAt       time.Time
	// RevokedAt is set once the session is revoked; it is not part of the API.
	RevokedAt *time.Time
}

// DeriveStatus returns the session's status at now: REVOKED if revoked, else EXPIRED once
// ExpiresAt has passed, else AUTHENTICATED once the token was exchanged, else PENDING.
func (s *ConnectSession) DeriveStatus(now time.Time) ConnectSessionStatus {
	switch {
	case s.RevokedAt != nil:
		return ConnectSessionStatusRevoked
	case !now.Before(s.ExpiresAt):
		return ConnectSessionStatusExpired
	case s.AuthenticatedAt != nil:
		return ConnectSessionStatusAuthenticated
	default:
		return ConnectSessionStatusPending
	}
}

// Tenant names the organization and project that own a session; every stored key and
// every authorization check is per tenant.
type Tenant struct {
	OrganizationID int
	ProjectID      string
}

// Category is a kind of integration, held as its wire value (`ats`, `hris-legacy`, ...).
type Category string

// The categories, with their wire values.
const (
	CategoryATS        Category = "ats"
	CategoryHRIS       Category = "hris"
	CategoryHRISLegacy Category = "hris-legacy"
	CategoryCRM        Category = "crm"
	CategoryIAM        Category = "iam"
	CategoryMarketing  Category = "marketing"
	CategoryLMS        Category = "lms"
	CategoryStackOne   Category = "stackone"
	CategoryDocuments  Category = "documents"
	CategoryTicketing  Category = "ticketing"
	CategoryScreening  Category = "screening"
	CategoryMessaging  Category = "messaging"
	CategoryAccounting Category = "accounting"
	CategoryScheduling Category = "scheduling"
)

// AllCategories lists every category in the schema's order.
var AllCategories = []Category{
	CategoryATS, CategoryHRIS, CategoryHRISLegacy, CategoryCRM, CategoryIAM,
	CategoryMarketing, CategoryLMS, CategoryStackOne, CategoryDocuments, CategoryTicketing,
	CategoryScreening, CategoryMessaging, CategoryAccounting, CategoryScheduling,
}

// Valid reports whether c is one of the known categories.
func (c Category) Valid() bool {
	for _, k := range AllCategories {
		if k == c {
			return true
		}
	}
	return false
}

// CategoryList is a session's categories as the API returns them. It writes itself as a
// JSON array of enum names in one pass: as a plain slice, gqlgen would marshal each
// element in a goroutine of its own, which is most of the cost of a small list.
type CategoryList []Category

// MarshalGQL writes the list as a JSON array of the categories' GraphQL names.
func (l CategoryList) MarshalGQL(w io.Writer) {
	b := make([]byte, 0, 16*len(l)+2)
	b = append(b, '[')
	for i, c := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, c.Name())
	}
	b = append(b, ']')
	_, _ = w.Write(b)
}

// UnmarshalGQL reads a list of category names.
func (l *CategoryList) UnmarshalGQL(v any) error {
	items, ok := v.([]any)
	if !ok {
		items = []any{v} // a single value stands for a list of one, as GraphQL coerces it
	}
	out := make(CategoryList, len(items))
	for i, item := range items {
		var c Category
		if err := c.UnmarshalGQL(item); err != nil {
			return err
		}
		out[i] = c
	}
	*l = out
	return nil
}

// MarshalGQL writes the category's GraphQL name.
func (c Category) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(c.Name()))
}

// UnmarshalGQL reads a category from its GraphQL name.
func (c *Category) UnmarshalGQL(v any) error {
	// Values that reach here have passed the schema's validation only when they were
	// written in the query; a variable's value is checked here, as bad user input.
	s, ok := v.(string)
	if !ok {
		return Invalid("", fmt.Sprintf("holds %v, which is not a ConnectSessionCategory (use one of %s)", v, strings.Join(categoryNames, ", ")))
	}
	k, ok := CategoryByName(s)
	if !ok {
		return Invalid("", fmt.Sprintf("holds %q, which is not a ConnectSessionCategory (use one of %s)", s, strings.Join(categoryNames, ", ")))
	}
	*c = k
	return nil
}

// Name returns the category's GraphQL enum name (HRIS for "hris"), or "" when unknown.
func (c Category) Name() string {
	for i, k := range AllCategories {
		if k == c {
			return categoryNames[i]
		}
	}
	return ""
}

// CategoryByName finds a category by its GraphQL enum name.
func CategoryByName(name string) (Category, bool) {
	for i, n := range categoryNames {
		if n == name {
			return AllCategories[i], true
		}
	}
	return "", false
}

// categoryNames are the GraphQL enum names of AllCategories, in the same order.
var categoryNames = []string{
	"ATS", "HRIS", "HRIS_LEGACY", "CRM", "IAM", "MARKETING", "LMS", "STACKONE", "DOCUMENTS",
	"TICKETING", "SCREENING", "MESSAGING", "ACCOUNTING", "SCHEDULING",
}

// SessionType says whether the resulting account is a production or a test account; it
// is held as its wire value.
type SessionType string

// The session types, with their wire values.
const (
	TypeProduction SessionType = "production"
	TypeTest       SessionType = "test"
)

// Valid reports whether t is a known session type.
func (t SessionType) Valid() bool { return t == TypeProduction || t == TypeTest }

// Page is one page of a session list: a Relay connection.
type Page struct {
	Edges    []*ConnectSessionEdge
	Nodes    []*ConnectSession
	PageInfo *PageInfo
	// TotalCount is filled only when the caller asked for it.
	TotalCount int
	// TotalCountExact is false when counting combined filters stopped at the store's
	// work budget: TotalCount is then a lower bound (the matches counted so far).
	TotalCountExact bool
	// ScanUnits is the work the store spent in Redis to answer this page (entries
	// examined, look-ups, chunks counted), for the per-organization scan budget. It is
	// not part of the API.
	ScanUnits int
}

// ListQuery asks for one page of a tenant's sessions.
type ListQuery struct {
	Filter *ConnectSessionFilter
	// Ascending lists oldest first; the default is newest first.
	Ascending bool
	Args      PageArgs
	// WantCount asks for TotalCount, which can cost a walk of an index when several
	// equality filters are combined.
	WantCount bool
}

// IsEntity marks ConnectSession as a federation entity (@key(fields: "id")).
func (ConnectSession) IsEntity() {}
