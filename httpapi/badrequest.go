package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// gqlgen's transports answer a body they cannot decode with the decoder's error followed
// by the whole body (POST and SSE; SSE also logs it), so a 1 MiB body of control bytes
// came back as about 6 MB of escapes, to anyone, without a key. checkedPOST
// (transport.go) and checkedSSE below decide first whether the request decodes, exactly
// as gqlgen's decoder would, and refuse one that does not with a short BAD_REQUEST of
// their own (refusals.go): the answer's size no longer depends on what was sent.

// decodeRequestBody decodes body as gqlgen's transports do (one JSON value into
// RawParams, numbers kept as json.Number, anything after the value ignored).
func decodeRequestBody(body []byte, p *graphql.RawParams) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return dec.Decode(p)
}

// badBodyMessage says why a body was refused without quoting it: the decoder's syntax
// errors quote at most a character, but the message is kept fixed all the same.
func badBodyMessage(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field == "" {
		return `the request body must be a JSON object, such as {"query": "{ __typename }"}`
	}
	if errors.As(err, &typeErr) && len(typeErr.Field) <= 32 {
		return "the request body is not a GraphQL request: " + quoteJSON(typeErr.Field) + " has the wrong type"
	}
	return "the request body is not valid JSON"
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// checkedSSE is gqlgen's SSE transport, with an undecodable body refused before it. The
// body is decoded twice (here and by gqlgen), which a stream's length makes negligible.
type checkedSSE struct {
	transport.SSE
}

func (t checkedSSE) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeBadRequest(w, r, "the request body could not be read")
		return
	}
	if err := decodeRequestBody(body, &graphql.RawParams{}); err != nil {
		writeBadRequest(w, r, badBodyMessage(err))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	t.SSE.Do(w, r, exec)
}
