package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"connectsession/internal/jsonscan"
)

// jsonPOST is the POST transport: it answers exactly as gqlgen's transport.POST (same
// content negotiation, status codes and bytes; TestJSONPOSTMatchesGqlgen compares them),
// with a cheaper path for the usual request and response. The body is read by a small
// decoder that accepts only the plain shape clients send (an object with query,
// operationName, variables and extensions, each once, under their exact names); any
// other body that decodes is handed to transport.POST whole, so its answers and error
// messages stay gqlgen's, and one that does not decode is refused here with a short
// BAD_REQUEST (gqlgen's message would repeat the body). A response with data and nothing else is
// written as {"data":...} directly when its bytes need no escaping, which is what
// encoding/json would write.
type jsonPOST struct {
	fallback transport.POST
}

var _ graphql.Transport = jsonPOST{}

func (t jsonPOST) Supports(r *http.Request) bool { return t.fallback.Supports(r) }

func (t jsonPOST) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := graphql.Now()
	ctx := r.Context()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.Header().Add("Content-Type", negotiateContentType(r.Header.Get("Accept")))
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("could not read request body: %+v", err)}))
		return
	}
	params := &graphql.RawParams{}
	if !decodeParams(body, params) {
		if err := decodeRequestBody(body, params); err != nil {
			writeBadRequest(w, negotiateContentType(r.Header.Get("Accept")), badBodyMessage(err))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		t.fallback.Do(w, r, exec)
		return
	}
	contentType := negotiateContentType(r.Header.Get("Accept"))
	w.Header().Add("Content-Type", contentType)
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		status := http.StatusOK
		if errcode.GetErrorKind(opErr) == errcode.KindProtocol {
			status = http.StatusUnprocessableEntity
			if contentType == graphqlResponseJSON {
				status = http.StatusBadRequest
			}
		}
		w.WriteHeader(status)
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, responses(ctx))
}

const graphqlResponseJSON = "application/graphql-response+json"

// negotiateContentType picks the response's content type from the Accept header as
// transport.POST does by default: application/json when there is none, else the first
// acceptable entry (*/*, application/* and application/json give application/json), and
// the GraphQL response type when nothing matches.
func negotiateContentType(accept string) string {
	if accept == "" {
		return "application/json"
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "*/*", "application/*", "application/json":
			return "application/json"
		case graphqlResponseJSON:
			return graphqlResponseJSON
		}
	}
	return graphqlResponseJSON
}

// writeResponse writes resp as encoding/json would.
func writeResponse(w io.Writer, resp *graphql.Response) {
	if resp != nil && len(resp.Errors) == 0 && resp.Label == "" && resp.Path == nil && resp.HasNext == nil &&
		len(resp.Extensions) == 0 && plainJSON(resp.Data) {
		buf := make([]byte, 0, len(resp.Data)+10)
		buf = append(buf, `{"data":`...)
		buf = append(buf, resp.Data...)
		buf = append(buf, '}')
		_, _ = w.Write(buf)
		return
	}
	b, err := json.Marshal(resp)
	if err != nil {
		// Data comes from gqlgen's marshalers and errors from the presenter: both encode.
		panic("httpapi: encode response: " + err.Error())
	}
	_, _ = w.Write(b)
}

// plainJSON reports whether data is what encoding/json would copy unchanged into a
// response: non-empty, with no whitespace outside strings and nothing it escapes for
// HTML (<, >, &, U+2028, U+2029) or replaces (invalid UTF-8, which gqlgen's writers
// never produce but json.Valid refuses). It does not validate data: gqlgen wrote it.
func plainJSON(data []byte) bool {
	if len(data) == 0 {
		return false
	}
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '<' || c == '>' || c == '&' || c >= 0x80:
			// U+2028 and U+2029 start with 0xE2; anything non-ASCII takes the slow path.
			return false
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return false
		}
	}
	return !inString
}

// decodeParams reads a request body of the plain shape into p, as transport.POST's
// decoder would; false means the body is not of that shape (or not JSON at all), and p
// must not be used.
func decodeParams(body []byte, p *graphql.RawParams) bool {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return false
	}
	i = skipSpace(body, i+1)
	var seen [4]bool
	if i < len(body) && body[i] == '}' {
		return skipSpace(body, i+1) == len(body)
	}
	for {
		key, next, ok := plainKey(body, i)
		if !ok {
			return false
		}
		i = skipSpace(body, next)
		if i >= len(body) || body[i] != ':' {
			return false
		}
		i = skipSpace(body, i+1)
		end, ok := valueEnd(body, i)
		if !ok {
			return false
		}
		raw := body[i:end]
		null := string(raw) == "null"
		var slot int
		switch key {
		case "query":
			slot = 0
			if !null && (raw[0] != '"' || json.Unmarshal(raw, &p.Query) != nil) {
				return false
			}
		case "operationName":
			slot = 1
			if !null && (raw[0] != '"' || json.Unmarshal(raw, &p.OperationName) != nil) {
				return false
			}
		case "variables":
			slot = 2
			if !null && (raw[0] != '{' || decodeObject(raw, &p.Variables) != nil) {
				return false
			}
		case "extensions":
			slot = 3
			if !null && (raw[0] != '{' || decodeObject(raw, &p.Extensions) != nil) {
				return false
			}
		default:
			return false
		}
		if seen[slot] {
			return false
		}
		seen[slot] = true
		i = skipSpace(body, end)
		if i >= len(body) {
			return false
		}
		switch body[i] {
		case ',':
			i = skipSpace(body, i+1)
		case '}':
			return skipSpace(body, i+1) == len(body)
		default:
			return false
		}
	}
}

// decodeObject decodes a JSON object as gqlgen's decoder does (encoding/json into any,
// numbers kept as json.Number): maps, slices, strings, json.Number, bools and nil. Plain
// values are read here; a string with an escape or a non-ASCII byte is handed to
// encoding/json, and so is anything malformed, so the result or the refusal is
// encoding/json's.
func decodeObject(raw []byte, m *map[string]any) error {
	v, end, ok := plainValue(raw, 0, 0)
	if obj, isObj := v.(map[string]any); ok && isObj && skipSpace(raw, end) == len(raw) {
		*m = obj
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(m); err != nil {
		return err
	}
	if dec.More() {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// plainValue reads the JSON value at b[i] (after any whitespace); ok is false for
// anything it leaves to encoding/json.
func plainValue(b []byte, i, depth int) (any, int, bool) {
	i = skipSpace(b, i)
	if i >= len(b) || depth > 1000 {
		return nil, 0, false
	}
	switch c := b[i]; {
	case c == '{':
		obj := map[string]any{}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return obj, i + 1, true
		}
		for {
			key, next, ok := plainString(b, i)
			if !ok {
				return nil, 0, false
			}
			i = skipSpace(b, next)
			if i >= len(b) || b[i] != ':' {
				return nil, 0, false
			}
			v, next, ok := plainValue(b, i+1, depth+1)
			if !ok {
				return nil, 0, false
			}
			obj[key] = v
			i = skipSpace(b, next)
			if i >= len(b) {
				return nil, 0, false
			}
			if b[i] == '}' {
				return obj, i + 1, true
			}
			if b[i] != ',' {
				return nil, 0, false
			}
			i = skipSpace(b, i+1)
		}
	case c == '[':
		arr := []any{}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return arr, i + 1, true
		}
		for {
			v, next, ok := plainValue(b, i, depth+1)
			if !ok {
				return nil, 0, false
			}
			arr = append(arr, v)
			i = skipSpace(b, next)
			if i >= len(b) {
				return nil, 0, false
			}
			if b[i] == ']' {
				return arr, i + 1, true
			}
			if b[i] != ',' {
				return nil, 0, false
			}
			i++
		}
	case c == '"':
		return plainString(b, i)
	case c == '-' || (c >= '0' && c <= '9'):
		end, ok := numberEnd(b, i)
		if !ok {
			return nil, 0, false
		}
		return json.Number(b[i:end]), end, true
	case bytes.HasPrefix(b[i:], []byte("true")):
		return true, i + 4, true
	case bytes.HasPrefix(b[i:], []byte("false")):
		return false, i + 5, true
	case bytes.HasPrefix(b[i:], []byte("null")):
		return nil, i + 4, true
	}
	return nil, 0, false
}

// plainString reads a JSON string of printable ASCII without escapes at b[i].
func plainString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return string(b[i+1 : j]), j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return "", 0, false
		}
	}
	return "", 0, false
}

// numberEnd returns the index after the JSON number at b[i], if it is one.
func numberEnd(b []byte, i int) (int, bool) {
	digits := func(j int) int {
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(i)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainKey reads an object key without escapes at b[i].
func plainKey(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '"':
			return string(b[i+1 : j]), j + 1, true
		case '\\':
			return "", 0, false
		}
	}
	return "", 0, false
}

// valueEnd returns the index just after the JSON value starting at b[i]: a string, an
// object or array (matched, strings skipped), or a literal up to the next delimiter. It
// only delimits; the value's decoder validates it.
func valueEnd(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, true
			}
		}
		return 0, false
	case '{', '[':
		return jsonscan.CompositeEnd(b, i)
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		return j, j > i
	}
}
