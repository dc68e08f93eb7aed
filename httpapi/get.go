package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"connectsession/resolvers"
)

// checkedGET is gqlgen's transport.GET answering its refusals like every other refusal
// (refusals.go): a query string, variables or extensions parameter that does not decode
// is a 400 BAD_REQUEST, and a mutation or subscription a 405 BAD_REQUEST with Allow:
// POST and a message saying where it goes (gqlgen answers these without a code, the
// last with 406). Every other request is answered exactly as transport.GET answers it:
// same content negotiation, status codes and bytes; TestCheckedGETMatchesGqlgen compares
// the two.
type checkedGET struct {
	transport.GET
}

func (t checkedGET) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeBadRequest(w, r, "the query string is not valid")
		return
	}
	raw := &graphql.RawParams{
		Query:         query.Get("query"),
		OperationName: query.Get("operationName"),
		Headers:       r.Header,
	}
	raw.ReadTime.Start = graphql.Now()
	for _, p := range []struct {
		name string
		into *map[string]any
	}{{"variables", &raw.Variables}, {"extensions", &raw.Extensions}} {
		if s := query.Get(p.name); s != "" {
			dec := json.NewDecoder(strings.NewReader(s))
			dec.UseNumber()
			if err := dec.Decode(p.into); err != nil {
				writeBadRequest(w, r, "the "+p.name+" parameter is not a JSON object")
				return
			}
		}
	}
	raw.ReadTime.End = graphql.Now()

	contentType := negotiateContentType(r.Header.Get("Accept"))
	opCtx, opErr := exec.CreateOperationContext(r.Context(), raw)
	if opErr != nil {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(requestErrorStatus(opErr, contentType))
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(r.Context(), opCtx), opErr))
		return
	}
	if opCtx.Operation.Operation != ast.Query {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, r, http.StatusMethodNotAllowed, resolvers.CodeBadRequest, queriesOnlyOverGET)
		return
	}
	w.Header().Set("Content-Type", contentType)
	responses, ctx := exec.DispatchOperation(r.Context(), opCtx)
	writeResponse(w, responses(ctx))
}

// requestErrorStatus is the status gqlgen's HTTP transports give errs, which stopped an
// operation before it ran: a protocol error (parse, validation) is 422, or 400 in the
// GraphQL response media type; anything else (a limit, a missing persisted query) 200.
func requestErrorStatus(errs gqlerror.List, contentType string) int {
	if errcode.GetErrorKind(errs) != errcode.KindProtocol {
		return http.StatusOK
	}
	if contentType == graphqlResponseJSON {
		return http.StatusBadRequest
	}
	return http.StatusUnprocessableEntity
}
