package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"connectsession/auth"
	"connectsession/resolvers"
)

// statusWriter records what a handler wrote, for the access log and metrics. It keeps
// the writer's optional powers (flushing for SSE, hijacking for WebSockets).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijacking not supported")
	}
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}

// requestID returns the caller's X-Request-Id when it is a sane token, or a new one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && !strings.ContainsFunc(id, func(c rune) bool {
		return c < 0x21 || c > 0x7e
	}) {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type requestIDKey struct{}

// RequestIDFrom returns the id accessLog gave the request behind ctx ("" outside one).
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// accessLog gives every request an id (returned in X-Request-Id and put in the log
// context) and logs one line when it ends.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r)
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		base := r.Context() // the line below carries the id itself, so not through its context
		r = r.WithContext(context.WithValue(base, requestIDKey{}, id))
		next.ServeHTTP(sw, r)
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
			level = slog.LevelDebug
		}
		if !log.Enabled(base, level) {
			return // without building the line's attributes
		}
		log.Log(base, level, "request", "id", id, "method", r.Method, "path", r.URL.Path,
			"status", sw.status, "bytes", sw.bytes, "duration", time.Since(start).Round(time.Microsecond),
			"remote", r.RemoteAddr)
	})
}

// isStream reports whether a request becomes a long-lived stream, which request
// deadlines must not cut and MAX_STREAMS counts: exactly those that gqlgen's WebSocket
// and SSE transports take (any Upgrade; a JSON POST whose Accept names
// text/event-stream). A GET, or a POST of another content type, is answered as an
// ordinary request whatever its Accept says, so it is not one. A query or mutation
// served over SSE is still bounded by REQUEST_TIMEOUT, applied per operation
// (HandlerOptions.OperationTimeout).
func isStream(r *http.Request) bool {
	return transport.Websocket{}.Supports(r) || transport.SSE{}.Supports(r)
}

// bodyBuffers holds the buffers request bodies are read into; bodies up to 64 KiB keep
// their buffer for the next request.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const keptBodyBuffer = 64 << 10

// CodePayloadTooLarge refuses a request body over MAX_BODY_BYTES (HTTP 413).
const CodePayloadTooLarge = "PAYLOAD_TOO_LARGE"

// tooLarge is the message of a body over maxBody bytes.
func tooLarge(maxBody int64) string {
	return "the request body is larger than the " + strconv.FormatInt(maxBody, 10) + " bytes allowed (MAX_BODY_BYTES)"
}

// limitRequests guards /graphql: bodies over maxBody get 413, batched (array) bodies a
// clear 400. It then gives the request, in one context, what the resolvers read from it:
// a deadline that they pass on to Redis (so a slow Redis fails a request with
// UNAVAILABLE instead of holding it; streams get none), the client's address for
// per-address rate limits, and the Authorization header for the key check.
func limitRequests(maxBody int64, timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Method == http.MethodPost {
			if r.ContentLength > maxBody {
				writeError(w, r, http.StatusRequestEntityTooLarge, CodePayloadTooLarge, tooLarge(maxBody))
				return
			}
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(30 * time.Second))
			buf := bodyBuffers.Get().(*bytes.Buffer)
			buf.Reset()
			defer func() {
				if buf.Cap() <= keptBodyBuffer {
					bodyBuffers.Put(buf)
				}
			}()
			if _, err := buf.ReadFrom(io.LimitReader(r.Body, maxBody+1)); err != nil {
				writeBadRequest(w, r, "the request body could not be read")
				return
			}
			body := buf.Bytes()
			if int64(len(body)) > maxBody {
				writeError(w, r, http.StatusRequestEntityTooLarge, CodePayloadTooLarge, tooLarge(maxBody))
				return
			}
			if b := bytes.TrimLeft(body, " \t\r\n"); len(b) > 0 && b[0] == '[' {
				writeBadRequest(w, r, "batched operations (a JSON array) are not supported: send one operation, a JSON object, per request")
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		ctx := r.Context()
		if !isStream(r) && timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		ctx = resolvers.WithClientAddr(ctx, clientHost(r))
		if h := r.Header.Get("Authorization"); h != "" {
			ctx = auth.WithAuthorization(ctx, h)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// preventCSRF applies Apollo's CSRF rule, widened for bearer keys: a GET or a POST with a
// content type a form could send must carry a header that makes browsers preflight
// (Authorization, Apollo-Require-Preflight, X-Apollo-Operation-Name), else 400 and
// nothing runs. WebSocket upgrades are checked by origin instead; other methods run
// nothing (they are refused with 405), and browsers preflight them anyway.
func preventCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method != http.MethodGet && r.Method != http.MethodPost) || r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r)
			return
		}
		if r.Header.Get("Authorization") != "" || r.Header.Get("Apollo-Require-Preflight") != "" ||
			r.Header.Get("X-Apollo-Operation-Name") != "" {
			next.ServeHTTP(w, r)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			if mt, _, err := mime.ParseMediaType(ct); err == nil && mt != "application/x-www-form-urlencoded" &&
				mt != "multipart/form-data" && mt != "text/plain" {
				next.ServeHTTP(w, r)
				return
			}
		}
		writeBadRequest(w, r,
			"this request could be a cross-site request forgery: send an Authorization, Apollo-Require-Preflight or "+
				"X-Apollo-Operation-Name header, or a JSON content type")
	})
}

// clientHost is the client's address without its port.
func clientHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// WithRequestIDs wraps h so that every line logged with a request's context carries the
// request id accessLog put there: an error line leads to its request and its
// X-Request-Id.
func WithRequestIDs(h slog.Handler) slog.Handler { return requestIDHandler{h} }

// requestIDHandler is WithRequestIDs' handler.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestIDFrom(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
