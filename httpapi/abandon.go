package httpapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"connectsession/graph/model"
)

// errDeadline is what a root field not started before REQUEST_TIMEOUT answers: the
// caller is still waiting, so it gets UNAVAILABLE (try again), as a store call cut by
// the deadline does.
var errDeadline = model.Deny(model.ErrUnavailable, "the request ran out of time before this field was resolved; try again")

// skipEndedRootFields is a root-field middleware: once the request's context has ended
// (the client closed the connection, or REQUEST_TIMEOUT passed), the root fields that
// have not started yet are not resolved at all, so a mutation's later fields (run one
// after another) and their store calls are skipped instead of each failing on its own.
// Fields already running stop at their next Redis call, which go-redis refuses for an
// ended context before anything is sent.
func skipEndedRootFields(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	err := ctx.Err()
	if err == nil {
		return next(ctx)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("httpapi: root field: %w: %w", errDeadline, err)
	} else {
		err = fmt.Errorf("httpapi: root field not started: %w", err)
	}
	var path ast.Path
	if rf := graphql.GetRootFieldContext(ctx); rf != nil {
		path = ast.Path{ast.PathName(rf.Field.Alias)}
	}
	graphql.AddError(ctx, gqlerror.WrapPath(path, err))
	return graphql.Null
}
