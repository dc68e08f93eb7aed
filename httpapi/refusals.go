package httpapi

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"connectsession/resolvers"
)

// Every answer of /graphql that refuses a request before gqlgen runs it (the CSRF rule,
// the body limit, the stream gate, a body or query string that does not decode, a method
// or content type no transport takes, a WebSocket upgrade that fails) has the shape of
// gqlgen's own request errors, so that a client reads them all one way:
//
//	{"errors":[{"message":"...","extensions":{"code":"BAD_REQUEST"}}],"data":null}
//
// with an HTTP status that says the same thing, and the content type a POST with the
// same Accept header gets (negotiateContentType). Messages are fixed texts: their size
// never depends on what was sent.

// writeError answers r with one error of code and message.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	b, err := json.Marshal(&graphql.Response{Errors: gqlerror.List{{
		Message:    message,
		Extensions: map[string]any{"code": code},
	}}})
	if err != nil {
		panic("httpapi: encode error: " + err.Error()) // a string and a map of one string
	}
	w.Header().Set("Content-Type", negotiateContentType(r.Header.Get("Accept")))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeBadRequest answers r with 400 BAD_REQUEST and message.
func writeBadRequest(w http.ResponseWriter, r *http.Request, message string) {
	writeError(w, r, http.StatusBadRequest, resolvers.CodeBadRequest, message)
}

// What /graphql takes, for the messages of the refusals below.
const (
	allowedMethods = "GET, POST, OPTIONS"
	howToSend      = "send a POST with the header Content-Type: application/json and a body such as " +
		`{"query": "{ __typename }"}; a query may also be a GET with the query string ?query=...; ` +
		"subscriptions go over a WebSocket (graphql-transport-ws or graphql-ws) or as server-sent events " +
		"(a JSON POST with Accept: text/event-stream)"
	queriesOnlyOverGET = "GET runs queries only: send mutations as a POST with the header " +
		"Content-Type: application/json, and subscriptions over a WebSocket or as server-sent events " +
		"(a JSON POST with Accept: text/event-stream)"
)

// optionsOnly is gqlgen's OPTIONS transport (200 with Allow), without its HEAD answer
// (a 405 without Allow), which unsupported gives instead.
type optionsOnly struct {
	transport.Options
}

func (optionsOnly) Supports(r *http.Request) bool { return r.Method == http.MethodOptions }

// unsupported is the last transport: it answers every request that no other transport
// takes (gqlgen's own answer is a 400 "transport not supported" without a code) with what
// to send instead: 415 for a POST whose content type no transport reads, 405 for a method
// other than GET, POST and OPTIONS.
type unsupported struct{}

func (unsupported) Supports(*http.Request) bool { return true }

func (unsupported) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", allowedMethods)
		writeError(w, r, http.StatusMethodNotAllowed, resolvers.CodeBadRequest,
			"/graphql does not take "+methodName(r.Method)+" requests: "+howToSend)
		return
	}
	got := "there is no Content-Type header"
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && len(mt) <= 64 {
		got = "the Content-Type " + mt + " is not supported"
	} else if r.Header.Get("Content-Type") != "" {
		got = "the Content-Type header is not supported"
	}
	writeError(w, r, http.StatusUnsupportedMediaType, resolvers.CodeBadRequest, got+": "+howToSend)
}

// methodName is r.Method as a message may quote it: a standard method, else "such".
func methodName(m string) string {
	switch m {
	case http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "such"
}

// ignoreForeignUpgrades drops an Upgrade header that asks for anything but a WebSocket
// (curl --http2 sends "Upgrade: h2c" on a cleartext request): HTTP lets a server ignore
// it and answer in HTTP/1.1, which the request then gets, instead of reaching gqlgen's
// WebSocket transport, which takes any Upgrade and refuses it.
func ignoreForeignUpgrades(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if up := r.Header.Get("Upgrade"); up != "" && !upgradesToWebsocket(up) {
			r = r.Clone(r.Context())
			r.Header.Del("Upgrade")
		}
		next.ServeHTTP(w, r)
	})
}

// upgradesToWebsocket reports whether an Upgrade header value names the websocket
// protocol among its (comma-separated) tokens.
func upgradesToWebsocket(up string) bool {
	for token := range strings.SplitSeq(up, ",") {
		if strings.EqualFold(strings.TrimSpace(token), "websocket") {
			return true
		}
	}
	return false
}

// refusedUpgrades wraps the WebSocket transport so that a failed upgrade is answered
// like every other refusal. The WebSocket library answers a bad handshake with a
// plain-text error, after which gqlgen appends a JSON one ("unable to upgrade", no
// code) to the same body; both are held back here and replaced by one error that says
// what was wrong, under the library's status.
type refusedUpgrades struct {
	graphql.Transport
}

func (t refusedUpgrades) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	uw := &upgradeWriter{ResponseWriter: w}
	t.Transport.Do(uw, r, exec)
	if uw.refused == 0 {
		return
	}
	code, message := resolvers.CodeBadRequest, ""
	switch uw.refused {
	case http.StatusUpgradeRequired:
		w.Header().Set("Upgrade", "websocket")
		message = "a WebSocket upgrade needs HTTP/1.1 and the headers Connection: Upgrade and Upgrade: websocket"
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodGet)
		message = "a WebSocket upgrade must be a GET request"
	case http.StatusBadRequest:
		message = "a WebSocket upgrade needs the header Sec-WebSocket-Version: 13 and one valid Sec-WebSocket-Key"
	case http.StatusForbidden:
		code = resolvers.CodeForbidden
		message = "WebSockets may be opened from the service's own origin or one listed in CORS_ALLOWED_ORIGINS; " +
			"this request's Origin is neither"
	default:
		code, message = resolvers.CodeInternal, "internal system error"
	}
	writeError(w, r, uw.refused, code, message)
}

// upgradeWriter passes a successful upgrade through (the 101 and the hijack, which
// finds the connection through Unwrap) and holds back any other answer, remembering its
// status.
type upgradeWriter struct {
	http.ResponseWriter
	upgraded bool
	refused  int
}

func (w *upgradeWriter) WriteHeader(status int) {
	switch {
	case w.upgraded || w.refused != 0:
	case status == http.StatusSwitchingProtocols:
		w.upgraded = true
		w.ResponseWriter.WriteHeader(status)
	default:
		w.refused = status
	}
}

func (w *upgradeWriter) Write(b []byte) (int, error) {
	if w.upgraded {
		return w.ResponseWriter.Write(b)
	}
	if w.refused == 0 {
		w.refused = http.StatusInternalServerError // a body without a status: not a refusal we know
	}
	return len(b), nil
}

func (w *upgradeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
