package webhooks

import (
	"encoding/json"
	"time"

	"connectsession/graph/model"
)

// The body of a delivery: the event as the API shows it, with the session as
// connectSession returns it (every field, GraphQL names and values) or null for DELETED.
type payload struct {
	Type       model.ConnectSessionEventType `json:"type"`
	EventID    string                        `json:"eventId"`
	OccurredAt string                        `json:"occurredAt"`
	Data       *session                      `json:"data"`
}

type session struct {
	ID              int                        `json:"id"`
	OrganizationID  int                        `json:"organizationId"`
	ProjectID       string                     `json:"projectId"`
	Categories      []string                   `json:"categories"`
	Provider        *string                    `json:"provider"`
	OriginOwnerID   string                     `json:"originOwnerId"`
	OriginOwnerName string                     `json:"originOwnerName"`
	OriginUsername  *string                    `json:"originUsername"`
	AccountID       *string                    `json:"accountId"`
	Label           *string                    `json:"label"`
	CreatedAt       string                     `json:"createdAt"`
	Metadata        json.RawMessage            `json:"metadata"`
	Type            string                     `json:"type"`
	Multiple        bool                       `json:"multiple"`
	ExpiresAt       string                     `json:"expiresAt"`
	Status          model.ConnectSessionStatus `json:"status"`
	AuthenticatedAt *string                    `json:"authenticatedAt"`
	UpdatedAt       string                     `json:"updatedAt"`
}

// dateTime writes a time as the API's DateTime does.
func dateTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// Body returns the JSON body delivered for ev.
func Body(ev *model.ConnectSessionEvent) []byte {
	p := payload{Type: ev.Type, EventID: ev.EventID, OccurredAt: dateTime(ev.OccurredAt)}
	if s := ev.ConnectSession; s != nil && ev.Type != model.ConnectSessionEventTypeDeleted {
		d := &session{ID: s.ID, OrganizationID: s.OrganizationID, ProjectID: s.ProjectID, Provider: s.Provider,
			OriginOwnerID: s.OriginOwnerID, OriginOwnerName: s.OriginOwnerName, OriginUsername: s.OriginUsername,
			AccountID: s.AccountID, Label: s.Label, CreatedAt: dateTime(s.CreatedAt), Metadata: json.RawMessage("null"),
			Type: typeName(s.Type), Multiple: s.Multiple, ExpiresAt: dateTime(s.ExpiresAt), Status: s.Status,
			UpdatedAt: dateTime(s.UpdatedAt)}
		if s.Categories != nil {
			d.Categories = make([]string, len(s.Categories))
			for i, c := range s.Categories {
				d.Categories[i] = c.Name()
			}
		}
		if s.Metadata != nil {
			d.Metadata = json.RawMessage(s.Metadata)
		}
		if s.AuthenticatedAt != nil {
			a := dateTime(*s.AuthenticatedAt)
			d.AuthenticatedAt = &a
		}
		p.Data = d
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic("webhooks: encoding an event: " + err.Error()) // metadata is stored as valid JSON
	}
	return b
}

// typeName is the GraphQL name of a session type.
func typeName(t model.SessionType) string {
	if t == model.TypeTest {
		return "TEST"
	}
	return "PRODUCTION"
}
