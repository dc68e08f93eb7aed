package resolvers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"connectsession/graph/model"
)

// The extensions.code values this package sets. They are part of the API (callers
// branch on them): new ones may be added, none renamed or removed.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeNotFound        = "NOT_FOUND"
	CodeBadRequest      = "BAD_REQUEST"
	CodeUnavailable     = "UNAVAILABLE"
	CodeSlowSubscriber  = "SLOW_SUBSCRIBER"
	CodeEventsTrimmed   = "EVENTS_TRIMMED"
	CodeRateLimited     = "RATE_LIMITED"
	CodeWebhookLimit    = "WEBHOOK_LIMIT_EXCEEDED"
	CodeInternal        = "INTERNAL_SERVER_ERROR"
	// CodeCanceled marks the errors of a request whose client went away before it was
	// answered. Nobody reads them; they keep abandoned requests apart from Redis outages
	// in the operations metric, and are not logged.
	CodeCanceled = "CANCELED"
)

// internalMessage is all a client learns of an unexpected error; the log has the rest.
const internalMessage = "internal system error"

// errorKinds maps each sentinel error to its code and the message a client sees.
var errorKinds = []struct {
	err     error
	code    string
	message string
}{
	{model.ErrUnauthenticated, CodeUnauthenticated, "missing, malformed or unknown credentials"},
	{model.ErrForbidden, CodeForbidden, "the credentials do not allow this operation"},
	{model.ErrNotFound, CodeNotFound, "connect session not found"},
	{model.ErrUnavailable, CodeUnavailable, "the session store is unavailable; try again shortly"},
	{model.ErrConflict, CodeUnavailable, "the session changed concurrently too often; try again"},
	{model.ErrSlowSubscriber, CodeSlowSubscriber, "events arrived faster than this subscriber read them, so the subscription was ended; subscribe again with after set to the last eventId received"},
	{model.ErrTooManyWebhookEndpoints, CodeWebhookLimit, "the project already has as many webhook endpoints as it may (WEBHOOK_MAX_ENDPOINTS); delete one first"},
	{model.ErrEventsTrimmed, CodeEventsTrimmed, "the events after this eventId are no longer in the event log (it keeps EVENT_RETENTION and at most EVENT_LOG_MAX_LENGTH events); refetch the sessions, then subscribe without after"},
}

// ErrorPresenter returns the one place where errors become GraphQL errors: domain errors
// get their extensions.code (and extensions.field for input errors), errors gqlgen
// already coded keep their code, and anything else is logged and shown as
// INTERNAL_SERVER_ERROR without detail.
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if clientGone(ctx, err) {
			// Nobody will read this; it is not an outage, so it is neither logged nor
			// counted as UNAVAILABLE.
			gqlErr.Message = "the request was canceled: the client closed the connection"
			setCode(gqlErr, CodeCanceled)
			return gqlErr
		}
		var inputErr *model.InputError
		if errors.As(err, &inputErr) {
			field := inputErr.Field
			if field == "" {
				field = argumentPath(gqlErr.Path)
			}
			gqlErr.Message = inputErr.Message
			if field != "" {
				gqlErr.Message = field + " " + inputErr.Message
			}
			setCode(gqlErr, CodeBadUserInput)
			if field != "" {
				gqlErr.Extensions["field"] = field
			}
			return gqlErr
		}
		var limited *model.RateLimitError
		if errors.As(err, &limited) {
			gqlErr.Message = "too many requests; retry later"
			setCode(gqlErr, CodeRateLimited)
			gqlErr.Extensions["retryAfter"] = int(math.Ceil(limited.RetryAfter.Seconds()))
			return gqlErr
		}
		for _, k := range errorKinds {
			if errors.Is(err, k.err) {
				gqlErr.Message = k.message
				var public *model.PublicError
				if errors.As(err, &public) {
					gqlErr.Message = public.Message
				}
				setCode(gqlErr, k.code)
				if k.code == CodeUnavailable {
					log.WarnContext(ctx, "store unavailable", "path", gqlErr.Path.String(), "err", err)
				}
				return gqlErr
			}
		}
		if _, ok := gqlErr.Extensions["code"]; ok {
			return gqlErr // coded by gqlgen or an extension (parse, validation, APQ, limits)
		}
		if representationError(gqlErr, err) {
			// gqlgen's federation code could not read a representation (an id that is not
			// an Int, a missing __typename): the caller's input, not our failure.
			gqlErr.Message = "representations must be {__typename: \"ConnectSession\", id: <Int>} objects"
			gqlErr.Err = nil
			setCode(gqlErr, CodeBadUserInput)
			gqlErr.Extensions["field"] = "representations"
			return gqlErr
		}
		if gqlErr.Err == nil && gqlErr.Path == nil {
			// A request-level message gqlgen produced itself (an undecodable body, bad
			// APQ extension data, a hash that does not match its query): the request is
			// malformed, as Apollo Server's BAD_REQUEST says.
			setCode(gqlErr, CodeBadRequest)
			return gqlErr
		}
		log.ErrorContext(ctx, "internal error", "path", gqlErr.Path.String(), "err", err)
		gqlErr.Message = internalMessage
		gqlErr.Err = nil
		setCode(gqlErr, CodeInternal)
		return gqlErr
	}
}

// argumentPath turns the path gqlgen gives an argument coercion error, such as
// [createConnectSession input metadata], into the argument path "input.metadata".
func argumentPath(p ast.Path) string {
	out := ""
	for i, el := range p {
		if i == 0 {
			continue // the operation's field
		}
		if name, ok := el.(ast.PathName); ok {
			if out != "" {
				out += "."
			}
			out += string(name)
		}
	}
	return out
}

func setCode(e *gqlerror.Error, code string) {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["code"] = code
}

// Recover turns a panic in a resolver into an internal error and logs it.
func Recover(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, v any) error {
		log.ErrorContext(ctx, "panic while resolving", "panic", fmt.Sprint(v), "path", graphql.GetPath(ctx).String())
		return errors.New(internalMessage)
	}
}

// representationError reports whether err comes from gqlgen's reading of _entities
// representations rather than from the store: it sits on the _entities field itself,
// and it is not a *model.StoreError (what the entity resolver returns for every failure
// of the store or the key store behind it).
func representationError(gqlErr *gqlerror.Error, err error) bool {
	if len(gqlErr.Path) != 1 || gqlErr.Path[0] != ast.PathName("_entities") {
		return false
	}
	var storeErr *model.StoreError
	return !errors.As(err, &storeErr)
}

// clientGone reports whether err comes from the request's context being cancelled
// (rather than a deadline, or a failure of our own) while that context is indeed over.
func clientGone(ctx context.Context, err error) bool {
	return errors.Is(err, context.Canceled) && errors.Is(ctx.Err(), context.Canceled)
}
