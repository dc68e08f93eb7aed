package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// wsMessage is a message of either WebSocket subprotocol.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient speaks graphql-transport-ws or the legacy graphql-ws by hand, so the test
// sees exactly what goes over the wire.
type wsClient struct {
	t        *testing.T
	conn     *websocket.Conn
	protocol string
	msgs     chan wsMessage
	// readErr is why reading stopped (the close frame's status included); set before
	// msgs is closed.
	readErr error
	// stopped are the operations the test stopped: the server may still deliver events
	// to them until it has read the stop.
	stopped map[string]bool
}

const (
	protoTransportWS = "graphql-transport-ws"
	protoGraphQLWS   = "graphql-ws"
)

// dialWS opens a WebSocket to /graphql with protocol, sending initPayload in
// connection_init and header on the upgrade, and waits for connection_ack.
func dialWS(t *testing.T, s *testServer, protocol string, header http.Header, initPayload map[string]any) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.url, "http")+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{protocol}, HTTPHeader: header,
	})
	if err != nil {
		t.Fatalf("dial %s: %v", protocol, err)
	}
	if conn.Subprotocol() != protocol {
		t.Fatalf("negotiated %q, want %q", conn.Subprotocol(), protocol)
	}
	c := &wsClient{t: t, conn: conn, protocol: protocol, msgs: make(chan wsMessage, 256)}
	t.Cleanup(func() { _ = conn.Close(websocket.StatusNormalClosure, "") })
	go func() {
		defer close(c.msgs)
		for {
			var m wsMessage
			if err := wsjson.Read(context.Background(), conn, &m); err != nil {
				c.readErr = err
				return
			}
			switch m.Type {
			case "ping":
				_ = wsjson.Write(context.Background(), conn, wsMessage{Type: "pong"})
				continue
			case "ka", "pong":
				continue
			}
			c.msgs <- m
		}
	}()
	payload, _ := json.Marshal(initPayload)
	c.send(wsMessage{Type: "connection_init", Payload: payload})
	if m := c.next(); m.Type != "connection_ack" {
		t.Fatalf("after connection_init: got %+v, want connection_ack", m)
	}
	return c
}

func (c *wsClient) send(m wsMessage) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, c.conn, m); err != nil {
		c.t.Fatalf("ws write: %v", err)
	}
}

// next returns the next message, failing the test after 5 seconds.
func (c *wsClient) next() wsMessage {
	c.t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			c.t.Fatalf("websocket closed")
		}
		return m
	case <-time.After(5 * time.Second):
		c.t.Fatalf("no websocket message within 5s")
	}
	return wsMessage{}
}

// subscribe starts operation id.
func (c *wsClient) subscribe(id, query string, vars map[string]any) {
	c.t.Helper()
	payload, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	typ := "subscribe"
	if c.protocol == protoGraphQLWS {
		typ = "start"
	}
	c.send(wsMessage{ID: id, Type: typ, Payload: payload})
}

func (c *wsClient) stop(id string) {
	c.t.Helper()
	typ := "complete"
	if c.protocol == protoGraphQLWS {
		typ = "stop"
	}
	if c.stopped == nil {
		c.stopped = map[string]bool{}
	}
	c.stopped[id] = true
	c.send(wsMessage{ID: id, Type: typ})
}

// event is one subscription result as a test reads it.
type event struct {
	EventID        string
	ActorKeyID     *string
	Type           string
	ID             int
	ConnectSession *struct {
		ID     int
		Status string
		Label  *string
	}
	Code string
}

// nextEvent reads the next result of operation id: an event, or its error code.
func (c *wsClient) nextEvent(id string) event {
	c.t.Helper()
	m := c.next()
	for c.stray(m, id) {
		m = c.next()
	}
	return c.parse(m, id)
}

// stray reports whether m belongs to an operation other than id that the test is done
// with: its end, or a late event of one the test stopped.
func (c *wsClient) stray(m wsMessage, id string) bool {
	return m.ID != id && (m.Type == "complete" || c.stopped[m.ID])
}

// parse reads message m of operation id: an event, or its error code.
func (c *wsClient) parse(m wsMessage, id string) event {
	c.t.Helper()
	if m.ID != id {
		c.t.Fatalf("message for operation %q: %+v", m.ID, m)
	}
	switch m.Type {
	case "next", "data":
		return decodeResult(c.t, m.Payload)
	case "error":
		var errs []gqlError
		_ = json.Unmarshal(m.Payload, &errs)
		if len(errs) == 0 {
			var one gqlError
			_ = json.Unmarshal(m.Payload, &one)
			errs = append(errs, one)
		}
		return event{Code: errs[0].Code()}
	case "complete":
		return event{Code: "complete"}
	}
	c.t.Fatalf("unexpected message %+v", m)
	return event{}
}

func decodeResult(t *testing.T, payload []byte) event {
	t.Helper()
	var res struct {
		Data struct {
			ConnectSessionEvents *event
		}
		Errors []gqlError
	}
	if err := json.Unmarshal(payload, &res); err != nil {
		t.Fatalf("decode %s: %v", payload, err)
	}
	if len(res.Errors) > 0 {
		return event{Code: res.Errors[0].Code()}
	}
	if res.Data.ConnectSessionEvents == nil {
		t.Fatalf("result without event: %s", payload)
	}
	return *res.Data.ConnectSessionEvents
}

const eventsSubscription = `subscription($org: Int!, $project: String!, $after: ID) {
  connectSessionEvents(organizationId: $org, projectId: $project, after: $after) {
    eventId actorKeyId type id connectSession { id status label }
  }
}`

// sseStream is a graphql-sse subscription over one HTTP response.
type sseStream struct {
	events chan event
	resp   *http.Response
}

func subscribeSSE(t *testing.T, s *testServer, auth string, vars map[string]any) *sseStream {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": eventsSubscription, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("sse: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("sse: status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	st := &sseStream{events: make(chan event, 64), resp: resp}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(st.events)
		sc := bufio.NewScanner(resp.Body)
		name := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event:"):
				name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
				if name == "complete" {
					st.events <- event{Code: "complete"}
				}
			case strings.HasPrefix(line, "data:") && name == "next":
				st.events <- decodeResult(t, []byte(strings.TrimSpace(strings.TrimPrefix(line, "data:"))))
			}
		}
	}()
	return st
}

func (st *sseStream) next(t *testing.T) event {
	t.Helper()
	select {
	case e, ok := <-st.events:
		if !ok {
			t.Fatalf("sse stream ended")
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatalf("no sse event within 5s")
	}
	return event{}
}
