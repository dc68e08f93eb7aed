package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"connectsession/auth"
	"connectsession/cache"
	"connectsession/graph/model"
)

// startDevelopment prepares the embedded store for a newcomer: a development key for
// organization 1 (write, every project), returned for the banner and GraphiQL's Headers
// tab, and a few demo sessions.
func startDevelopment(ctx context.Context, store *cache.Store, log *slog.Logger) (string, error) {
	key, _, err := auth.Issue(ctx, store, 1, nil, model.RoleWrite, "development", time.Now())
	if err != nil {
		return "", fmt.Errorf("development key: %w", err)
	}
	if err := seedDemo(ctx, store); err != nil {
		return "", fmt.Errorf("seed demo sessions: %w", err)
	}
	log.Warn("using the embedded in-memory Redis: data is in memory only and lost when the process stops; set REDIS_URL to keep it")
	return key, nil
}

// seedDemo adds a few sessions to organization 1, project "demo", so that a newcomer's
// first query in GraphiQL returns something.
func seedDemo(ctx context.Context, store interface {
	Create(context.Context, *model.CreateConnectSessionInput) (*model.ConnectSession, string, error)
}) error {
	str := func(s string) *string { return &s }
	test := model.TypeTest
	week := 7 * 24 * 3600
	demos := []model.CreateConnectSessionInput{
		{OriginOwnerID: "acme", OriginOwnerName: "Acme Corp", OriginUsername: str("ada@acme.example"),
			Provider: str("hibob"), Categories: []model.Category{model.CategoryHRIS}, Label: str("Acme HR"),
			Metadata: model.JSON(`{"plan":"enterprise"}`), ExpiresIn: &week},
		{OriginOwnerID: "globex", OriginOwnerName: "Globex", OriginUsername: str("hank@globex.example"),
			Provider: str("bamboohr"), Categories: []model.Category{model.CategoryHRIS, model.CategoryATS}, ExpiresIn: &week},
		{OriginOwnerID: "initech", OriginOwnerName: "Initech", Categories: []model.Category{model.CategoryCRM},
			Type: &test, ExpiresIn: &week},
	}
	for i := range demos {
		demos[i].OrganizationID, demos[i].ProjectID = 1, "demo"
		if _, _, err := store.Create(ctx, &demos[i]); err != nil {
			return err
		}
	}
	return nil
}
