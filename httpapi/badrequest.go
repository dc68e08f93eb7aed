package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"connectsession/resolvers"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// gqlgen's transports answer a body they cannot decode with the decoder's error followed
// by the whole body (POST and SSE; SSE also logs it), so a 1 MiB body of control bytes
// came back as about 6 MB of escapes, to anyone, without a key. The transports below
// decide first whether the request decodes, exactly as gqlgen's decoder would, and
// refuse one that does not with a short BAD_REQUEST of their own: the answer's size no
// longer depends on what was sent.

// decodeRequestBody decodes body as gqlgen's transports do (one JSON value into
// RawParams, numbers kept as json.Number, anything after the value ignored).
func decodeRequestBody(body []byte, p *graphql.RawParams) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return dec.Decode(p)
}

// decodeJSONObject decodes a GET parameter (variables or extensions) as gqlgen does.
func decodeJSONObject(raw string) error {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(&m)
}

// badBodyMessage says why a body was refused without quoting it: the decoder's syntax
// errors quote at most a character, but the message is kept fixed all the same.
func badBodyMessage(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" && len(typeErr.Field) <= 32 {
		return "the request body is not a GraphQL request: " + quoteJSON(typeErr.Field) + " has the wrong type"
	}
	return "the request body is not valid JSON"
}

// writeBadRequest answers 400 with one BAD_REQUEST error of message, whose size is
// bounded by the caller (never by the request).
func writeBadRequest(w http.ResponseWriter, contentType, message string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, `{"errors":[{"message":`+quoteJSON(message)+`,"extensions":{"code":"`+resolvers.CodeBadRequest+`"}}]}`)
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
		writeBadRequest(w, "application/json", "the request body could not be read")
		return
	}
	if err := decodeRequestBody(body, &graphql.RawParams{}); err != nil {
		writeBadRequest(w, "application/json", badBodyMessage(err))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	t.SSE.Do(w, r, exec)
}

// checkedGET is gqlgen's GET transport, with a malformed query string or variables or
// extensions parameter refused with BAD_REQUEST (gqlgen answers them without a code).
type checkedGET struct {
	transport.GET
}

func (t checkedGET) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeBadRequest(w, "application/json", "the query string is not valid")
		return
	}
	for _, name := range []string{"variables", "extensions"} {
		if raw := query.Get(name); raw != "" {
			if err := decodeJSONObject(raw); err != nil {
				writeBadRequest(w, "application/json", "the "+name+" parameter is not a JSON object")
				return
			}
		}
	}
	t.GET.Do(w, r, exec)
}
