package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// WebSocket close codes this package sends besides gqlgen's own.
const (
	// closeBadInit (graphql-transport-ws's 4400 Bad Request) refuses a connection_init
	// the server cannot read safely; graphql-ws clients do not retry it.
	closeBadInit = 4400
	// closeKeyless (4403 Forbidden, the protocol's answer to a connection it rejects)
	// ends a WebSocket that carried no valid key once its grace period is over.
	closeKeyless = 4403
	// closeIdle is a normal closure: a lazy client reconnects when it next subscribes.
	closeIdle = 1000
)

// socket is the state of one WebSocket that the Budgets watch. Its counters and
// timestamps are guarded by the ledger's mutex.
type socket struct {
	l      *ledger
	cancel context.CancelFunc // ends the connection's context: its operations stop

	subs, ops int       // subscriptions open; all operations in flight
	idleSince time.Time // when ops last fell to zero
	idle      *time.Timer
	keyless   *time.Timer
	ended     bool

	connMu sync.Mutex
	conn   transport.WebsocketConn
}

type socketKey struct{}

func socketFrom(ctx context.Context) *socket {
	s, _ := ctx.Value(socketKey{}).(*socket)
	return s
}

// budgetedWebsocket is gqlgen's WebSocket transport with each connection watched by the
// ledger: the connection's context carries its socket, and the accepted connection is
// kept so that the socket can be closed with a code and reason of its own.
type budgetedWebsocket struct {
	transport.Websocket
	l *ledger
}

func (t budgetedWebsocket) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx, cancel := context.WithCancel(r.Context())
	s := &socket{l: t.l, cancel: cancel}
	defer s.end()
	t.Websocket.Do(w, r.WithContext(context.WithValue(ctx, socketKey{}, s)), exec)
}

// keepConn is the WebSocket implementation that hands each accepted connection to its
// socket.
type keepConn struct {
	transport.WebsocketImplementation
}

func (k keepConn) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := k.WebsocketImplementation.Accept(w, r, opts)
	if s := socketFrom(r.Context()); s != nil && err == nil {
		s.connMu.Lock()
		s.conn = conn
		s.connMu.Unlock()
	}
	return conn, err
}

// initialized starts the socket's clocks once its connection_init is accepted: the idle
// clock, and the keyless grace when ctx (the connection's context, credential included)
// has no valid key.
func (l *ledger) initialized(ctx context.Context) {
	s := socketFrom(ctx)
	if s == nil {
		return
	}
	keyless := false
	if l.b.KeylessGrace > 0 {
		_, err := l.b.Caller(ctx)
		keyless = err != nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.ended {
		return
	}
	if keyless {
		s.keyless = time.AfterFunc(l.b.KeylessGrace, func() {
			l.mu.Lock()
			ended := s.ended
			l.mu.Unlock()
			if ended {
				return
			}
			s.close("keyless", closeKeyless, fmt.Sprintf("no valid API key in connection_init; closed after %s", l.b.KeylessGrace))
		})
	}
	if l.b.SocketIdle > 0 && s.ops == 0 {
		s.idleSince = time.Now()
		s.idle = time.AfterFunc(l.b.SocketIdle, s.idleCheck)
	}
}

// begin and finish count an operation of the socket; l.mu is held.
func (s *socket) begin(subscription bool) {
	s.ops++
	if subscription {
		s.subs++
	}
	if s.idle != nil {
		s.idle.Stop()
	}
}

func (s *socket) finish(subscription bool) {
	s.ops--
	if subscription {
		s.subs--
	}
	if s.ops == 0 && !s.ended {
		s.idleSince = time.Now()
		if s.idle != nil {
			s.idle.Reset(s.l.b.SocketIdle)
		} else if s.l.b.SocketIdle > 0 {
			s.idle = time.AfterFunc(s.l.b.SocketIdle, s.idleCheck)
		}
	}
}

// idleCheck runs when the idle clock fires; an operation that began or ended since then
// wins over the timer.
func (s *socket) idleCheck() {
	s.l.mu.Lock()
	if s.ended || s.ops > 0 {
		s.l.mu.Unlock()
		return
	}
	if wait := time.Until(s.idleSince.Add(s.l.b.SocketIdle)); wait > 0 {
		s.idle.Reset(wait)
		s.l.mu.Unlock()
		return
	}
	s.l.mu.Unlock()
	s.close("idle", closeIdle, fmt.Sprintf("no operation for %s", s.l.b.SocketIdle))
}

// close ends the connection with code and reason: the close frame goes first, so it is
// what the client sees, then the context ends, which stops the connection's operations
// (gqlgen's own close then finds the handshake under way and adds nothing).
func (s *socket) close(why string, code int, reason string) {
	s.connMu.Lock()
	conn := s.conn
	s.connMu.Unlock()
	if conn != nil {
		_ = conn.WriteClose(code, reason)
	}
	s.cancel()
	if s.l.b.SocketClosed != nil {
		s.l.b.SocketClosed(why)
	}
}

// end stops the socket's clocks when its connection is over.
func (s *socket) end() {
	s.l.mu.Lock()
	s.ended = true
	for _, t := range []*time.Timer{s.idle, s.keyless} {
		if t != nil {
			t.Stop()
		}
	}
	s.l.mu.Unlock()
	s.cancel()
}
