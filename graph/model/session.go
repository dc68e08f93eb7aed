package model

import "time"

// ConnectSession is one session as the API shows it. Status is derived from the other
// fields by whoever reads the record, at the time it is read.
type ConnectSession struct {
	ID              int
	OrganizationID  int
	ProjectID       string
	Categories      []Category
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
