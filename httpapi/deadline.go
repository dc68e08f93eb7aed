package httpapi

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// operationDeadline gives a query or mutation that arrived without a deadline (over a
// WebSocket, or a JSON POST that gqlgen serves as an SSE stream because its Accept names
// text/event-stream) the deadline an ordinary request gets from the server, so no
// transport lets one run unbounded. Subscriptions keep theirs open-ended.
func operationDeadline(d time.Duration) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if !graphql.HasOperationContext(ctx) {
			return next(ctx)
		}
		op := graphql.GetOperationContext(ctx).Operation
		if _, has := ctx.Deadline(); has || op == nil || op.Operation == ast.Subscription {
			return next(ctx)
		}
		ctx, cancel := context.WithTimeout(ctx, d)
		h := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			defer cancel()
			return h(ctx)
		}
	}
}
