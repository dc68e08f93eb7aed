package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// keylessSocket opens a graphql-transport-ws socket whose connection_init carries no
// key, as the attack did, and waits for its connection_ack.
func keylessSocket(t *testing.T, s *testServer) *websocket.Conn {
	t.Helper()
	conn, _, err := dialRaw(t, s, protoTransportWS)
	if err != nil {
		t.Fatalf("keyless socket: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, conn, wsMessage{Type: "connection_init", Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	var m wsMessage
	if err := wsjson.Read(ctx, conn, &m); err != nil || m.Type != "connection_ack" {
		t.Fatalf("keyless socket: %+v %v, want connection_ack", m, err)
	}
	return conn
}

// gone reports whether the server has dropped conn.
func gone(conn *websocket.Conn) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			return ctx.Err() == nil
		}
	}
}

// Keyless sockets used to take every MAX_STREAMS place (5,000 in about a second),
// locking out every tenant's subscriptions. Streams without a valid key now share
// MAX_PENDING_STREAMS: with those all taken, a WebSocket keyed in its upgrade, an SSE
// stream and a socket keyed in its connection_init all still connect; each newer
// keyless socket only drops the oldest one, so their number never passes the cap.
func TestAbusePendingStreams(t *testing.T) {
	s := startServer(t, map[string]string{"MAX_STREAMS": "50", "MAX_PENDING_STREAMS": "4",
		"WS_KEYLESS_GRACE": "0", "WS_INIT_TIMEOUT": "1m", "WS_IDLE_TIMEOUT": "0"})
	key := s.devKey(t)
	var keyless []*websocket.Conn
	for range 4 {
		keyless = append(keyless, keylessSocket(t, s))
	}
	s.scrapeIs(t, "connectsession_streams_pending", 4)

	// A key in the upgrade's header: never pending.
	header := dialWS(t, s, protoTransportWS, http.Header{"Authorization": {"Bearer " + key}}, nil)
	header.subscribe("h", eventsSubscription, eventsVars)
	subscribeSSE(t, s, "Bearer "+key, eventsVars)
	s.activeSubscriptions(t, 2)
	s.scrapeIs(t, "connectsession_streams_pending", 4)
	s.scrapeIs(t, "connectsession_streams_displaced_total", 0)

	// A key in connection_init: pending from its upgrade (the oldest keyless socket
	// makes room), and no longer once its key is seen.
	init := dialWS(t, s, protoTransportWS, nil, map[string]any{"Authorization": "Bearer " + key})
	s.scrapeIs(t, "connectsession_streams_displaced_total", 1)
	if !gone(keyless[0]) {
		t.Fatal("the oldest keyless socket was not dropped for a new one")
	}
	s.scrapeIs(t, "connectsession_streams_pending", 3)
	init.subscribe("i", eventsSubscription, eventsVars)
	s.activeSubscriptions(t, 3)

	// More keyless sockets than the cap: each drops the oldest keyless one, never a
	// keyed one, and the pending count stays at the cap.
	for range 3 {
		keyless = append(keyless, keylessSocket(t, s))
	}
	s.scrapeIs(t, "connectsession_streams_pending", 4)
	s.scrapeIs(t, "connectsession_streams_displaced_total", 3)
	for i, c := range keyless[1:3] {
		if !gone(c) {
			t.Fatalf("keyless socket %d still open past the cap", i+1)
		}
	}
	s.scrapeIs(t, "connectsession_streams_open", 4+3) // 4 pending, 2 keyed sockets, 1 SSE
	header.subscribe("h2", eventsSubscription, eventsVars)
	init.subscribe("i2", eventsSubscription, eventsVars)
	s.activeSubscriptions(t, 5)
}

// A socket that never sends connection_init is closed after WS_INIT_TIMEOUT (1002) and
// gives its pending place back.
func TestAbuseSocketWithoutInit(t *testing.T) {
	s := startServer(t, map[string]string{"WS_INIT_TIMEOUT": "200ms"})
	conn, _, err := dialRaw(t, s, protoTransportWS)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err = conn.Read(ctx)
	if code := websocket.CloseStatus(err); code != websocket.StatusProtocolError {
		t.Fatalf("socket without connection_init: %v, want close 1002", err)
	}
	s.scrapeIs(t, "connectsession_streams_pending", 0)
	s.scrapeIs(t, "connectsession_streams_open", 0)
}
