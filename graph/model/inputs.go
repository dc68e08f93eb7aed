package model

import "time"

// The inputs, filters and page parts below are the schema's types of the same names
// (schema.graphqls documents each field). They are written here rather than generated
// so that the store can take them without depending on gqlgen; the schema's
// UpdateConnectSessionInput, whose absent and null fields differ, is generated in graph/
// and turned into a SessionUpdate by the resolvers.

// CreateConnectSessionInput is what a new session should offer and for whom.
type CreateConnectSessionInput struct {
	OrganizationID  int          `json:"organizationId"`
	ProjectID       string       `json:"projectId"`
	OriginOwnerID   string       `json:"originOwnerId"`
	OriginOwnerName string       `json:"originOwnerName"`
	OriginUsername  *string      `json:"originUsername,omitempty"`
	Provider        *string      `json:"provider,omitempty"`
	Categories      []Category   `json:"categories,omitempty"`
	AccountID       *string      `json:"accountId,omitempty"`
	Label           *string      `json:"label,omitempty"`
	Metadata        JSON         `json:"metadata,omitempty"`
	Type            *SessionType `json:"type,omitempty"`
	Multiple        *bool        `json:"multiple,omitempty"`
	ExpiresIn       *int         `json:"expiresIn,omitempty"`
}

// ConnectSessionFilter narrows a list of sessions: every field given must match.
type ConnectSessionFilter struct {
	Provider      *string      `json:"provider,omitempty"`
	OriginOwnerID *string      `json:"originOwnerId,omitempty"`
	AccountID     *string      `json:"accountId,omitempty"`
	Category      *Category    `json:"category,omitempty"`
	Type          *SessionType `json:"type,omitempty"`
	CreatedAfter  *time.Time   `json:"createdAfter,omitempty"`
	CreatedBefore *time.Time   `json:"createdBefore,omitempty"`
}

// ConnectSessionOrder orders a list by createdAt, ties broken by id.
type ConnectSessionOrder struct {
	Direction OrderDirection `json:"direction"`
}

// ConnectSessionEdge is one session in a page, with the cursor that points at it.
type ConnectSessionEdge struct {
	Cursor string          `json:"cursor"`
	Node   *ConnectSession `json:"node"`
}

// PageInfo is where a page stands in the whole list (Relay cursor connections). A page
// cut short by the store's work budget says so through HasNextPage/HasPreviousPage and
// the cursor to continue from.
type PageInfo struct {
	HasNextPage     bool    `json:"hasNextPage"`
	HasPreviousPage bool    `json:"hasPreviousPage"`
	StartCursor     *string `json:"startCursor,omitempty"`
	EndCursor       *string `json:"endCursor,omitempty"`
}
