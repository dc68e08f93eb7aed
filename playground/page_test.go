package playground

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// get serves one request to h and returns the response and its body.
func get(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	resp := rec.Result()
	return resp, rec.Body.String()
}

var configPattern = regexp.MustCompile(`(?m)^\s*var config = (.*);$`)

// pageConfigOf decodes the configuration the page's script reads.
func pageConfigOf(t *testing.T, body string) pageConfig {
	t.Helper()
	m := configPattern.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no config in the page:\n%s", body)
	}
	var c pageConfig
	if err := json.Unmarshal([]byte(m[1]), &c); err != nil {
		t.Fatalf("config %s: %v", m[1], err)
	}
	return c
}

func TestPageCDN(t *testing.T) {
	resp, body := get(t, New(Options{Endpoint: "/graphql"}), http.MethodGet, "/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d, want 200", resp.StatusCode)
	}
	for header, want := range map[string]string{
		"Content-Type":    "text/html; charset=utf-8",
		"Cache-Control":   "no-store",
		"X-Frame-Options": "DENY",
	} {
		if got := resp.Header.Get(header); got != want {
			t.Errorf("%s: got %q, want %q", header, got, want)
		}
	}
	for _, b := range bundles {
		want := `="https://cdn.jsdelivr.net/npm/` + b.pkg + "@" + b.version + "/" + b.file + `" integrity="` +
			strings.ReplaceAll(b.integrity, "+", "&#43;") + `" crossorigin="anonymous"`
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	for _, v := range []string{"graphiql@" + GraphiQLVersion, "react@" + ReactVersion, "react-dom@" + ReactVersion,
		"@graphiql/plugin-explorer@" + ExplorerVersion} {
		if !strings.Contains(body, CDN+v+"/") {
			t.Errorf("page does not load %s from the CDN", v)
		}
	}
	if strings.Contains(body, AssetsPath) {
		t.Errorf("a CDN page refers to %s", AssetsPath)
	}
	c := pageConfigOf(t, body)
	if c.Endpoint != "/graphql" || c.Headers != "" || c.Query != "" || c.Assets != CDN {
		t.Errorf("config: got %+v", c)
	}
	for _, want := range []string{"{ url: url.href, subscriptionUrl: subscriptionUrl.href }", "GraphiQL.createFetcher(fetcherOptions)",
		`"wss:" : "ws:"`, "GraphiQLPluginExplorer.explorerPlugin()", "<title>GraphiQL</title>"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestPageLocalAssets(t *testing.T) {
	_, body := get(t, New(Options{Endpoint: "/graphql", AssetsURL: AssetsPath}), http.MethodGet, "/")
	for _, b := range bundles {
		if want := `="/assets/` + b.path() + `"`; !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, "jsdelivr") || strings.Contains(body, "https://") {
		t.Errorf("a page with local assets refers to another host:\n%s", body)
	}
	c := pageConfigOf(t, body)
	if c.Assets != AssetsPath {
		t.Errorf("assets: got %q, want %q", c.Assets, AssetsPath)
	}
	// If the folder changed after the startup check, the page says to fill it again.
	if !strings.Contains(c.Failure, "from "+AssetsPath) || !strings.Contains(c.Failure, PrepareCommand) {
		t.Errorf("failure text: got %q", c.Failure)
	}
}

// Offline, a page on the CDN cannot load GraphiQL: it shows what to run so that the
// server serves the bundles itself.
func TestPageFailureTextGivesTheCommands(t *testing.T) {
	_, body := get(t, New(Options{Endpoint: "/graphql"}), http.MethodGet, "/")
	c := pageConfigOf(t, body)
	for _, want := range []string{
		"could not load its scripts from " + CDN,
		"npm ci --prefix web && npm run copy --prefix web\n",
		"restart the server from the repository root (go run .): it serves web/dist by itself",
		"PLAYGROUND_ASSETS_DIR=",
	} {
		if !strings.Contains(c.Failure, want) {
			t.Errorf("failure text lacks %q:\n%s", want, c.Failure)
		}
	}
	// The script shows it when a bundle is missing.
	if !strings.Contains(body, "root.firstChild.textContent = config.failure;") {
		t.Errorf("the page does not show config.failure")
	}
}

func TestPageHeaders(t *testing.T) {
	const key = "csk_0123456789abcdef_secret"
	p := New(Options{Endpoint: "/graphql", Headers: map[string]string{"Authorization": "Bearer " + key}})
	headersOf := func() map[string]string {
		t.Helper()
		_, body := get(t, p, http.MethodGet, "/")
		c := pageConfigOf(t, body)
		if c.Headers == "" {
			return nil
		}
		var h map[string]string
		if err := json.Unmarshal([]byte(c.Headers), &h); err != nil {
			t.Fatalf("headers %q: %v", c.Headers, err)
		}
		return h
	}
	if got := headersOf()["Authorization"]; got != "Bearer "+key {
		t.Errorf("Authorization: got %q, want the key", got)
	}
	p.SetHeaders(map[string]string{"Authorization": "Bearer other"})
	if got := headersOf()["Authorization"]; got != "Bearer other" {
		t.Errorf("after SetHeaders: got %q", got)
	}
	p.SetHeaders(nil)
	if got := headersOf(); got != nil {
		t.Errorf("after SetHeaders(nil): got %v, want none", got)
	}
	_, body := get(t, New(Options{Endpoint: "/graphql"}), http.MethodGet, "/")
	if strings.Contains(body, "Authorization") || pageConfigOf(t, body).Headers != "" {
		t.Errorf("a page without headers has some")
	}
}

// The page is served while the development key is set.
func TestPageSetHeadersConcurrently(t *testing.T) {
	p := New(Options{Endpoint: "/graphql"})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if i == 0 {
					p.SetHeaders(map[string]string{"Authorization": "Bearer k"})
				}
				if resp, _ := get(t, p, http.MethodGet, "/"); resp.StatusCode != http.StatusOK {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
}

// Text from options lands in a <script> element: it must stay data.
func TestPageEscapesQuery(t *testing.T) {
	query := "# </script><script>alert(1)</script>\n{ a }"
	_, body := get(t, New(Options{Endpoint: "/graphql", Query: query, Title: "<b>x</b>"}), http.MethodGet, "/")
	if strings.Contains(body, "<script>alert(1)") || strings.Contains(body, "<b>x</b>") {
		t.Fatalf("unescaped text in the page:\n%s", body)
	}
	if got := pageConfigOf(t, body).Query; got != query {
		t.Errorf("query: got %q, want %q", got, query)
	}
}

func TestPageMethods(t *testing.T) {
	p := New(Options{Endpoint: "/graphql"})
	if resp, body := get(t, p, http.MethodHead, "/"); resp.StatusCode != http.StatusOK || body != "" {
		t.Errorf("HEAD: got %d with %d bytes", resp.StatusCode, len(body))
	}
	if resp, _ := get(t, p, http.MethodPost, "/"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: got %d, want 405", resp.StatusCode)
	}
}
