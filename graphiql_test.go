package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"

	"connectsession/graph"
	"connectsession/httpapi"
	"connectsession/playground"
)

// The example operations a newcomer runs first must stay valid as the schema changes.
func TestExampleOperationsValid(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	doc, errs := gqlparser.LoadQueryWithRules(schema, exampleOperations, nil) // nil: the default rules
	if len(errs) > 0 {
		t.Fatalf("example operations do not validate: %v", errs)
	}
	var names []string
	for _, op := range doc.Operations {
		names = append(names, string(op.Operation)+" "+op.Name)
	}
	if got, want := strings.Join(names, ", "), "query ListSessions, query ReadSession, mutation CreateSession, query RecentEvents"; got != want {
		t.Errorf("operations: got %s, want %s", got, want)
	}
}

func TestPlaygroundConfig(t *testing.T) {
	// A working directory without web/dist, as for a binary started outside the repository.
	t.Chdir(t.TempDir())
	empty := t.TempDir()
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		on      bool
		dir     string
		errWant string // "" = no error
	}{
		{name: "default", on: true},
		{name: "off", env: map[string]string{"PLAYGROUND": "false"}},
		{name: "off by flag", args: []string{"-playground=false"}},
		{name: "flag wins", args: []string{"-playground=true"}, env: map[string]string{"PLAYGROUND": "0"}, on: true},
		{name: "not a bool", env: map[string]string{"PLAYGROUND": "maybe"}, errWant: `PLAYGROUND must be true or false, not "maybe"`},
		{name: "missing dir", env: map[string]string{"PLAYGROUND_ASSETS_DIR": filepath.Join(empty, "nope")},
			errWant: "PLAYGROUND_ASSETS_DIR: playground: assets folder: stat " + filepath.Join(empty, "nope")},
		{name: "empty dir by flag", args: []string{"-playground-assets-dir", empty},
			errWant: "PLAYGROUND_ASSETS_DIR: playground: assets folder " + empty + " lacks react@"},
		// A folder that will not be used is not checked.
		{name: "off with missing dir", env: map[string]string{"PLAYGROUND": "false", "PLAYGROUND_ASSETS_DIR": "/nope"}, dir: "/nope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := parseConfig("connectsession", c.args, func(k string) string { return c.env[k] }, io.Discard)
			if c.errWant != "" {
				if err == nil || !strings.Contains(err.Error(), c.errWant) {
					t.Fatalf("got error %v, want one containing %q", err, c.errWant)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Playground != c.on || cfg.PlaygroundAssetsDir != c.dir || cfg.PlaygroundAssetsFound || cfg.PlaygroundAssetsSkipped != nil {
				t.Errorf("got Playground=%v PlaygroundAssetsDir=%q found=%v skipped=%v, want %v %q", cfg.Playground,
					cfg.PlaygroundAssetsDir, cfg.PlaygroundAssetsFound, cfg.PlaygroundAssetsSkipped, c.on, c.dir)
			}
		})
	}
}

// Started from a folder whose web/dist is there but not fully prepared (here: empty, as
// while npm run copy is still writing), the service does not serve it: the page loads
// from the CDN and the log says why, and how to fill it. (playground.TestFindLocalCopy
// covers a complete folder, and e2e/playground.test.mjs the real one in a browser.)
func TestPlaygroundIgnoresHalfPreparedWebDist(t *testing.T) {
	wd := t.TempDir()
	if err := os.MkdirAll(filepath.Join(wd, "web", "dist"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(wd)
	cfg, err := parseConfig("connectsession", nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PlaygroundAssetsDir != "" || cfg.PlaygroundAssetsFound || cfg.PlaygroundAssetsSkipped == nil {
		t.Fatalf("got dir %q found=%v skipped=%v, want the CDN and a reason", cfg.PlaygroundAssetsDir, cfg.PlaygroundAssetsFound, cfg.PlaygroundAssetsSkipped)
	}
	// The setting wins over web/dist, and is checked as ever.
	if _, err := parseConfig("connectsession", []string{"-playground-assets-dir", t.TempDir()}, func(string) string { return "" }, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "PLAYGROUND_ASSETS_DIR: playground: assets folder") {
		t.Errorf("an empty PLAYGROUND_ASSETS_DIR: got %v", err)
	}

	s := startServer(t, nil)
	if got := getPlayground(t, s.url+"/").Assets; got != playground.CDN {
		t.Errorf("assets: got %q, want the CDN", got)
	}
	waitFor(t, "the startup log about web/dist", func() bool {
		logs := s.logs.String()
		return strings.Contains(logs, `"msg":"GraphiQL does not use web/dist, which is not fully prepared"`) &&
			strings.Contains(logs, "fill it again from the repository root with: "+playground.PrepareCommand) &&
			strings.Contains(logs, `"msg":"GraphiQL loads its bundles from the CDN`)
	})
}

// The startup log names where the page's bundles come from.
func TestLogPlaygroundSource(t *testing.T) {
	cases := []struct {
		name string
		cfg  config
		want []string // lines, in order, as JSON fragments
	}{
		{"off", config{}, nil},
		{"CDN", config{Playground: true}, []string{
			`"level":"INFO","msg":"GraphiQL loads its bundles from the CDN; without internet access the page stays blank","cdn":"` + playground.CDN +
				`","offline":"run ` + playground.PrepareCommand + ` from the repository root, then restart there (or set PLAYGROUND_ASSETS_DIR)"`}},
		{"setting", config{Playground: true, PlaygroundAssetsDir: "/srv/assets"}, []string{
			`"msg":"GraphiQL loads its bundles from a local folder","folder":"/srv/assets","from":"PLAYGROUND_ASSETS_DIR"`}},
		{"web/dist", config{Playground: true, PlaygroundAssetsDir: "/repo/web/dist", PlaygroundAssetsFound: true}, []string{
			`"msg":"GraphiQL loads its bundles from a local folder","folder":"/repo/web/dist","from":"web/dist under the working directory"`}},
		{"half-prepared web/dist", config{Playground: true, PlaygroundAssetsSkipped: errors.New("it lacks react")}, []string{
			`"level":"WARN","msg":"GraphiQL does not use web/dist, which is not fully prepared","err":"it lacks react"`,
			`"msg":"GraphiQL loads its bundles from the CDN`}},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		logPlaygroundSource(slog.New(slog.NewJSONHandler(&buf, nil)), &c.cfg)
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if buf.Len() == 0 {
			lines = nil
		}
		if len(lines) != len(c.want) {
			t.Errorf("%s: got %d lines, want %d:\n%s", c.name, len(lines), len(c.want), buf.String())
			continue
		}
		for i, want := range c.want {
			if !strings.Contains(lines[i], want) {
				t.Errorf("%s: line %d is %s, want it to contain %s", c.name, i, lines[i], want)
			}
		}
	}
}

// getPage fetches url and returns its status and body.
func getPage(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

var configPattern = regexp.MustCompile(`(?m)^\s*var config = (.*);$`)

// playgroundConfig is what the page at / gives its script.
type playgroundConfig struct{ Endpoint, Headers, Query, Assets string }

// getPlayground fetches the page at url and decodes its configuration.
func getPlayground(t *testing.T, url string) playgroundConfig {
	t.Helper()
	status, body := getPage(t, url)
	if status != http.StatusOK {
		t.Fatalf("GET %s: got %d", url, status)
	}
	m := configPattern.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no config in the page:\n%s", body)
	}
	var cfg playgroundConfig
	if err := json.Unmarshal([]byte(m[1]), &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// In embedded mode the page's Headers tab holds the printed development key. Started
// outside the repository (no web/dist), the page loads its bundles from the CDN.
func TestPlaygroundEmbedded(t *testing.T) {
	t.Chdir(t.TempDir())
	s := startServer(t, nil)
	cfg := getPlayground(t, s.url+"/")
	var headers map[string]string
	if err := json.Unmarshal([]byte(cfg.Headers), &headers); err != nil {
		t.Fatalf("headers %q: %v", cfg.Headers, err)
	}
	if got, want := headers["Authorization"], "Bearer "+s.devKey(t); got != want {
		t.Errorf("Authorization: got %q, want %q", got, want)
	}
	if cfg.Endpoint != "/graphql" || cfg.Query != exampleOperations || cfg.Assets != playground.CDN {
		t.Errorf("config: got %+v", cfg)
	}
	// Without PLAYGROUND_ASSETS_DIR nothing is served under /assets/.
	if status, _ := getPage(t, s.url+"/assets/react@"+playground.ReactVersion+"/umd/react.production.min.js"); status != http.StatusNotFound {
		t.Errorf("GET /assets/...: got %d, want 404", status)
	}
}

// A server on a configured Redis has no development key to offer.
func TestPlaygroundWithoutKey(t *testing.T) {
	s := startServer(t, newSharedRedis(t).env())
	cfg := getPlayground(t, s.url+"/")
	if cfg.Headers != "" || cfg.Endpoint != "/graphql" || cfg.Query != exampleOperations {
		t.Errorf("config: got %+v, want no headers", cfg)
	}
}

func TestPlaygroundOff(t *testing.T) {
	s := startServer(t, map[string]string{"PLAYGROUND": "false"})
	for _, path := range []string{"/", "/assets/react@" + playground.ReactVersion + "/umd/react.production.min.js"} {
		if status, _ := getPage(t, s.url+path); status != http.StatusNotFound {
			t.Errorf("GET %s: got %d, want 404", path, status)
		}
	}
	// The API itself is unaffected.
	var list struct{ ConnectSessions struct{ TotalCount int } }
	s.mustData(t, "Bearer "+s.devKey(t), `{ connectSessions(organizationId: 1, projectId: "demo") { totalCount } }`, nil, &list)
	if list.ConnectSessions.TotalCount < 3 {
		t.Errorf("demo sessions: got %d", list.ConnectSessions.TotalCount)
	}
}

// With a local copy, the page loads its bundles from /assets/, which serves the folder.
// (CheckAssets vouches for the folder's content at startup; the browser test in e2e/
// runs the real bundles.)
func TestPlaygroundLocalAssetsRoutes(t *testing.T) {
	dir := t.TempDir()
	name := "graphiql@" + playground.GraphiQLVersion + "/dist/index.umd.js"
	if err := os.MkdirAll(filepath.Join(dir, "graphiql@"+playground.GraphiQLVersion, "dist"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte("var GraphiQL;"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &config{Playground: true, PlaygroundAssetsDir: dir}
	srv := httptest.NewServer(httpapi.Routes(cfg.routeOptions(), http.NotFoundHandler(), okPinger{}, newPlayground(cfg), http.NotFoundHandler(), slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)

	status, body := getPage(t, srv.URL+"/")
	if status != http.StatusOK || !strings.Contains(body, `src="/assets/`+name+`"`) || strings.Contains(body, "jsdelivr") {
		t.Errorf("GET /: got %d, want a page loading /assets/%s:\n%s", status, name, body)
	}
	if status, body := getPage(t, srv.URL+"/assets/"+name); status != http.StatusOK || body != "var GraphiQL;" {
		t.Errorf("GET /assets/%s: got %d %q", name, status, body)
	}
	for _, path := range []string{"/assets/nope.js", "/assets/../graphiql_test.go", "/assets/%2e%2e/graphiql_test.go"} {
		if status, _ := getPage(t, srv.URL+path); status != http.StatusNotFound {
			t.Errorf("GET %s: got %d, want 404", path, status)
		}
	}
}

type okPinger struct{}

func (okPinger) Ping(context.Context) error { return nil }
