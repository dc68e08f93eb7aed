package resolvers

import (
	"github.com/99designs/gqlgen/graphql"

	"connectsession/graph"
	"connectsession/graph/model"
)

// sessionUpdate turns gqlgen's update input, whose left-out arguments are
// graphql.Omittable, into the store's domain type: gqlgen stops at this package.
func sessionUpdate(in *graph.UpdateConnectSessionInput) *model.SessionUpdate {
	return &model.SessionUpdate{
		OrganizationID:  in.OrganizationID,
		ProjectID:       in.ProjectID,
		ID:              in.ID,
		OriginOwnerName: optional(in.OriginOwnerName),
		OriginUsername:  optional(in.OriginUsername),
		Provider:        optional(in.Provider),
		Categories:      optional(in.Categories),
		AccountID:       optional(in.AccountID),
		Label:           optional(in.Label),
		Metadata:        optional(in.Metadata),
		ExpiresIn:       optional(in.ExpiresIn),
	}
}

func optional[T any](o graphql.Omittable[T]) model.Optional[T] {
	if v, ok := o.ValueOK(); ok {
		return model.Set(v)
	}
	return model.Optional[T]{}
}
