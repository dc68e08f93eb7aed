package main

import (
	"log/slog"

	"connectsession/playground"
)

// exampleOperations is GraphiQL's editor content on a first visit: one operation of each
// kind a newcomer tries first, against the demo sessions of embedded mode. A test
// validates it against schema.graphqls.
const exampleOperations = `# ConnectSession API: press the run button and pick an
# operation (or press Ctrl-Enter with the cursor in one).
# Calls need an API key in the Headers tab:
#   {"Authorization": "Bearer <key>"}
# In embedded development mode it is filled in already.

query ListSessions {
  connectSessions(organizationId: 1, projectId: "demo", first: 10) {
    totalCount
    nodes { id originOwnerName provider categories status createdAt expiresAt }
    pageInfo { hasNextPage endCursor }
  }
}

query ReadSession {
  connectSession(organizationId: 1, projectId: "demo", id: 1) {
    id originOwnerId originOwnerName originUsername provider categories label
    metadata type status createdAt expiresAt authenticatedAt updatedAt
  }
}

mutation CreateSession {
  createConnectSession(input: {
    organizationId: 1, projectId: "demo",
    originOwnerId: "umbrella", originOwnerName: "Umbrella Corp",
    provider: "personio", categories: [HRIS], expiresIn: 3600
  }) {
    token
    connectSession { id status expiresAt }
  }
}

# Every change is in the project's event log: who (actorKeyId) did what, in order.
# Subscriptions take the last eventId as after to resume without a gap.
query RecentEvents {
  connectSessionEventLog(organizationId: 1, projectId: "demo", first: 10) {
    eventId type id actorKeyId occurredAt
  }
}
`

// newPlayground is the page at / for cfg, or nil when PLAYGROUND=false. Its Headers tab
// is empty until the embedded mode's development key is set on it.
func newPlayground(cfg *config) *playground.Page {
	if !cfg.Playground {
		return nil
	}
	opts := playground.Options{Title: "ConnectSession GraphiQL", Endpoint: "/graphql", Query: exampleOperations}
	if cfg.PlaygroundAssetsDir != "" {
		opts.AssetsURL = playground.AssetsPath
	}
	return playground.New(opts)
}

// bearer is the Headers tab's content for an API key.
func bearer(key string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + key}
}

// logPlaygroundSource says at startup where the page at / loads GraphiQL's bundles from,
// and, when that is the CDN, how to serve them locally, since offline the page would
// stay blank.
func logPlaygroundSource(log *slog.Logger, cfg *config) {
	switch {
	case !cfg.Playground:
		return
	case cfg.PlaygroundAssetsFound:
		log.Info("GraphiQL loads its bundles from a local folder", "folder", cfg.PlaygroundAssetsDir,
			"from", playground.LocalDir+" under the working directory")
	case cfg.PlaygroundAssetsDir != "":
		log.Info("GraphiQL loads its bundles from a local folder", "folder", cfg.PlaygroundAssetsDir,
			"from", "PLAYGROUND_ASSETS_DIR")
	default:
		if cfg.PlaygroundAssetsSkipped != nil {
			log.Warn("GraphiQL does not use "+playground.LocalDir+", which is not fully prepared", "err", cfg.PlaygroundAssetsSkipped)
		}
		log.Info("GraphiQL loads its bundles from the CDN; without internet access the page stays blank",
			"cdn", playground.CDN,
			"offline", "run "+playground.PrepareCommand+" from the repository root, then restart there (or set PLAYGROUND_ASSETS_DIR)")
	}
}
