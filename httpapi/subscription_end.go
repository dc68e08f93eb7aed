package httpapi

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"connectsession/resolvers"
)

// subscriptionEnds writes a failed subscription's last result. gqlgen writes every
// subscription result through the event's selection, so an error that ended the stream
// had to come out of one of the event's fields: it carried that field's path alone
// (["type"]) and left {"connectSessionEvents": null} for a non-null field, or, when the
// client had not selected that field, looked like an event of zeros. Instead the
// resolver leaves the reason in a resolvers.SubscriptionEnd and closes the channel;
// when gqlgen then reports the end of the stream, this writes one more result, the root
// field's error as a query's would be:
//
//	{"errors":[{"message":...,"locations":[...],"path":["connectSessionEvents"],"extensions":{"code":...}}],"data":null}
//
// The transports then complete the operation as they do at every end: the same bytes
// over graphql-transport-ws, graphql-ws and SSE.
type subscriptionEnds struct {
	present graphql.ErrorPresenterFunc
}

var (
	_ graphql.OperationInterceptor = subscriptionEnds{}
	_ graphql.ResponseInterceptor  = subscriptionEnds{}
)

func (subscriptionEnds) ExtensionName() string                   { return "SubscriptionEnds" }
func (subscriptionEnds) Validate(graphql.ExecutableSchema) error { return nil }

func (subscriptionEnds) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Operation == ast.Subscription {
		ctx, _ = resolvers.WithSubscriptionEnd(ctx)
	}
	return next(ctx)
}

func (e subscriptionEnds) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp != nil || ctx.Err() != nil {
		return resp // an event; or the client is gone, and nobody reads a last result
	}
	end := resolvers.SubscriptionEndFrom(ctx)
	if end == nil {
		return nil
	}
	err := end.Take()
	if err == nil {
		return nil
	}
	gqlErr := &gqlerror.Error{Message: err.Error(), Err: err}
	opCtx := graphql.GetOperationContext(ctx)
	if fields := graphql.CollectFields(opCtx, opCtx.Operation.SelectionSet, []string{"Subscription"}); len(fields) > 0 {
		gqlErr.Path = ast.Path{ast.PathName(fields[0].Alias)}
		if pos := fields[0].Position; pos != nil {
			gqlErr.Locations = []gqlerror.Location{{Line: pos.Line, Column: pos.Column}}
		}
	}
	return &graphql.Response{Errors: gqlerror.List{e.present(ctx, gqlErr)}}
}
