package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"connectsession/auth"
)

const eventLogQuery = `query($org: Int!, $project: String!, $after: ID, $first: Int) {
  connectSessionEventLog(organizationId: $org, projectId: $project, after: $after, first: $first) {
    eventId actorKeyId type id occurredAt connectSession { id status label }
  }
}`

// eventLog pages the project's log through the API.
func eventLog(t *testing.T, s *testServer, key string, vars map[string]any) []event {
	t.Helper()
	var out struct{ ConnectSessionEventLog []event }
	s.mustData(t, "Bearer "+key, eventLogQuery, vars, &out)
	return out.ConnectSessionEventLog
}

func TestEventLogQuery(t *testing.T) {
	s := startServer(t, nil)
	key := s.devKey(t)
	keyID, _ := auth.ParseKey(key)
	project := map[string]any{"org": 1, "project": "eventlog"}
	var ids []int
	for i := range 3 {
		var c created
		s.mustData(t, "Bearer "+key, createMutation, createVars(1, "eventlog", fmt.Sprint("o", i)), &c)
		ids = append(ids, c.CreateConnectSession.ConnectSession.ID)
	}
	var revoked json.RawMessage
	s.mustData(t, "Bearer "+key, `mutation { revokeConnectSession(organizationId: 1, projectId: "eventlog", id: `+fmt.Sprint(ids[0])+`) { id } }`, nil, &revoked)

	all := eventLog(t, s, key, project)
	if len(all) != 4 {
		t.Fatalf("log: %d events, want 4", len(all))
	}
	for i, ev := range all {
		if ev.ActorKeyID == nil || *ev.ActorKeyID != keyID {
			t.Errorf("event %d: actorKeyId %v, want the key's id %s", i, ev.ActorKeyID, keyID)
		}
		if ev.EventID == "" {
			t.Errorf("event %d without eventId", i)
		}
	}
	if all[3].Type != "REVOKED" || all[3].ID != ids[0] || all[3].ConnectSession.Status != "REVOKED" {
		t.Errorf("last event: %+v", all[3])
	}
	rest := eventLog(t, s, key, map[string]any{"org": 1, "project": "eventlog", "after": all[1].EventID, "first": 1})
	if len(rest) != 1 || rest[0].EventID != all[2].EventID {
		t.Errorf("after the second, first 1: %+v, want the third", rest)
	}

	for _, tt := range []struct {
		name string
		vars map[string]any
		code string
	}{
		{"first over 100", map[string]any{"org": 1, "project": "eventlog", "first": 101}, "BAD_USER_INPUT"},
		{"negative first", map[string]any{"org": 1, "project": "eventlog", "first": -1}, "BAD_USER_INPUT"},
		{"malformed after", map[string]any{"org": 1, "project": "eventlog", "after": "yesterday"}, "BAD_USER_INPUT"},
		{"after a later id than the newest", map[string]any{"org": 1, "project": "eventlog", "after": "9007199254740990-0"}, "BAD_USER_INPUT"},
		{"another organization", map[string]any{"org": 2, "project": "eventlog"}, "FORBIDDEN"},
	} {
		if r := s.post(t, "Bearer "+key, eventLogQuery, tt.vars); r.code() != tt.code {
			t.Errorf("%s: %s %+v, want %s", tt.name, r.code(), r.Errors, tt.code)
		}
	}
	if r := s.post(t, "", eventLogQuery, project); r.code() != "UNAUTHENTICATED" {
		t.Errorf("without a key: %s, want UNAUTHENTICATED", r.code())
	}
	// "0-0" is before every event: the whole log, as long as nothing was trimmed.
	if evs := eventLog(t, s, key, map[string]any{"org": 1, "project": "eventlog", "after": "0-0"}); len(evs) != 4 {
		t.Errorf("after 0-0: %d events, want 4", len(evs))
	}

	t.Run("after an event the log no longer holds", func(t *testing.T) {
		s := startServer(t, map[string]string{"EVENT_LOG_MAX_LENGTH": "100"})
		key := s.devKey(t)
		for i := range 102 {
			s.mustData(t, "Bearer "+key, createMutation, createVars(1, "trimmed", fmt.Sprint("o", i)), nil)
		}
		// The first two events were trimmed: resuming after the first misses the second.
		kept := eventLog(t, s, key, map[string]any{"org": 1, "project": "trimmed", "first": 1})
		for _, after := range []string{"0-0", "1-0"} {
			r := s.post(t, "Bearer "+key, eventLogQuery, map[string]any{"org": 1, "project": "trimmed", "after": after})
			if r.code() != "EVENTS_TRIMMED" {
				t.Errorf("after %s: %s %+v, want EVENTS_TRIMMED", after, r.code(), r.Errors)
			}
		}
		c := dialWS(t, s, protoTransportWS, nil, map[string]any{"Authorization": "Bearer " + key})
		c.subscribe("1", eventsSubscription, map[string]any{"org": 1, "project": "trimmed", "after": "0-0"})
		if e := c.nextEvent("1"); e.Code != "EVENTS_TRIMMED" {
			t.Errorf("subscription after 0-0: got %+v, want EVENTS_TRIMMED", e)
		}
		c.subscribe("2", eventsSubscription, map[string]any{"org": 1, "project": "trimmed", "after": kept[0].EventID})
		if e := c.nextEvent("2"); e.Code != "" || e.Type != "CREATED" {
			t.Errorf("subscription after the oldest kept: got %+v, want its successor", e)
		}
	})
}

// A subscriber whose connection drops resumes with the last eventId it got and receives
// exactly the events written meanwhile, in order, over either WebSocket protocol.
func TestSubscriptionResumesAfterADroppedConnection(t *testing.T) {
	s := startServer(t, nil)
	key := s.devKey(t)
	for _, proto := range []string{protoTransportWS, protoGraphQLWS} {
		t.Run(proto, func(t *testing.T) {
			project := "resume-" + proto
			vars := map[string]any{"org": 1, "project": project}
			c := dialWS(t, s, proto, nil, map[string]any{"Authorization": "Bearer " + key})
			c.subscribe("1", eventsSubscription, vars)
			waitSubscribed(t, s, key, c, "1", 1, project)
			create := func(owner string) int {
				var cr created
				s.mustData(t, "Bearer "+key, createMutation, createVars(1, project, owner), &cr)
				return cr.CreateConnectSession.ConnectSession.ID
			}
			var last event
			for i := range 3 {
				id := create(fmt.Sprint("before", i))
				if last = c.nextEvent("1"); last.ID != id || last.EventID == "" {
					t.Fatalf("got %+v, want CREATED %d with an eventId", last, id)
				}
			}
			_ = c.conn.CloseNow() // the connection drops

			var missed []int
			for i := range 4 {
				missed = append(missed, create(fmt.Sprint("missed", i)))
			}
			again := dialWS(t, s, proto, nil, map[string]any{"Authorization": "Bearer " + key})
			again.subscribe("2", eventsSubscription, map[string]any{"org": 1, "project": project, "after": last.EventID})
			for _, id := range missed {
				if e := again.nextEvent("2"); e.Type != "CREATED" || e.ID != id {
					t.Fatalf("resumed: got %+v, want CREATED %d", e, id)
				}
			}
			live := create("live")
			if e := again.nextEvent("2"); e.ID != live {
				t.Fatalf("live after the replay: got %+v, want %d", e, live)
			}

			again.subscribe("3", eventsSubscription, map[string]any{"org": 1, "project": project, "after": "9007199254740990-0"})
			if e := again.nextEvent("3"); e.Code != "BAD_USER_INPUT" {
				t.Errorf("after an id later than the newest: got %+v, want BAD_USER_INPUT", e)
			}
			again.subscribe("4", eventsSubscription, map[string]any{"org": 1, "project": project, "after": "soon"})
			if e := again.nextEvent("4"); e.Code != "BAD_USER_INPUT" {
				t.Errorf("malformed after: got %+v, want BAD_USER_INPUT", e)
			}
		})
	}
}
