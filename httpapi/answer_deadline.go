package httpapi

import (
	"net/http"
	"time"
)

// answerDeadline bounds how long the client of a query or mutation may take to receive
// its answer once the answer is ready: the first write sets the connection's write
// deadline to d from then. A client that stops reading would otherwise hold the handler,
// and the whole answer in memory, for as long as its connection stays up; past d the
// write fails and the connection is closed. Streams (SSE, WebSocket) are exempt: they
// write for as long as they are open. net/http clears the deadline once the answer is
// finished, so it never reaches the next request on a keep-alive connection. d <= 0
// turns it off.
func answerDeadline(d time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isStream(r) {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(&deadlineWriter{ResponseWriter: w, d: d}, r)
	})
}

// deadlineWriter sets the write deadline when the handler starts answering.
type deadlineWriter struct {
	http.ResponseWriter
	d     time.Duration
	armed bool
}

func (w *deadlineWriter) arm() {
	if !w.armed {
		w.armed = true
		setWriteDeadline(w.ResponseWriter, time.Now().Add(w.d))
	}
}

func (w *deadlineWriter) WriteHeader(code int) {
	w.arm()
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	w.arm()
	return w.ResponseWriter.Write(b)
}

func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// setWriteDeadline sets the connection's write deadline through w's wrappers, as
// http.ResponseController does but without allocating one per request; writers that
// cannot (test recorders) are left alone.
func setWriteDeadline(w http.ResponseWriter, t time.Time) {
	for {
		switch x := w.(type) {
		case interface{ SetWriteDeadline(time.Time) error }:
			_ = x.SetWriteDeadline(t)
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return
		}
	}
}
