// Package playground serves GraphiQL, the in-browser IDE for a GraphQL endpoint: the
// page (with the explorer plugin, subscriptions over WebSocket, default headers and
// default editor content) and, for networks without internet access, a local copy of
// its JavaScript and CSS bundles.
//
// The page loads the bundles of the exact versions pinned in this package, from a CDN
// by default or from AssetsPath when the server serves a copy with Assets. web/ in the
// repository fills such a copy from npm (PrepareCommand fills LocalDir); CheckAssets
// verifies one and FindLocalCopy finds a prepared LocalDir.
package playground

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"sync/atomic"
)

// Options configures the page.
type Options struct {
	// Title is the page's title; "GraphiQL" when empty.
	Title string
	// Endpoint is the GraphQL endpoint, usually a path such as "/graphql". The page
	// resolves it against its own location, so queries go to http(s)://<host><Endpoint>
	// and subscriptions to ws(s)://<host><Endpoint> behind any host name or TLS proxy.
	Endpoint string
	// Headers fill GraphiQL's Headers tab, which is then shown open: they go with every
	// request and, as the connection_init payload, with every subscription. Empty: none.
	Headers map[string]string
	// Query is the query editor's content on a first visit (GraphiQL keeps what the
	// user leaves there for later visits); GraphiQL's own welcome text when empty.
	Query string
	// AssetsURL is the base URL of the bundles, each at
	// <AssetsURL><package>@<version>/<file>: CDN when empty, AssetsPath for the copy
	// that Assets serves.
	AssetsURL string
}

// Page is the GraphiQL page, an http.Handler for GET and HEAD requests.
type Page struct {
	title, endpoint, query, assetsURL string
	headers                           atomic.Pointer[string]
}

// New returns the page for opts.
func New(opts Options) *Page {
	p := &Page{title: opts.Title, endpoint: opts.Endpoint, query: opts.Query, assetsURL: opts.AssetsURL}
	if p.title == "" {
		p.title = "GraphiQL"
	}
	if p.assetsURL == "" {
		p.assetsURL = CDN
	}
	if !strings.HasSuffix(p.assetsURL, "/") {
		p.assetsURL += "/"
	}
	p.SetHeaders(opts.Headers)
	return p
}

// SetHeaders replaces the headers of the Headers tab for pages served from now on, as
// Options.Headers; for a value known only once the server runs, such as a development
// key issued after the handler was built. It is safe to call while the page is served.
func (p *Page) SetHeaders(headers map[string]string) {
	text := ""
	if len(headers) > 0 {
		// A map of strings always marshals.
		b, _ := json.MarshalIndent(headers, "", "  ")
		text = string(b)
	}
	p.headers.Store(&text)
}

// failureText is what the page says when its bundles from assetsURL did not load. From
// the CDN that most likely means no internet access, so it gives the commands that let
// the server serve a local copy; from AssetsPath, that the folder the server checked at
// startup has changed since.
func failureText(assetsURL string) string {
	switch assetsURL {
	case CDN:
		return "GraphiQL could not load its scripts from " + CDN + " (no internet access?).\n" +
			"To have this server serve them itself, run from the repository root, on a machine that reaches the npm registry:\n" +
			PrepareCommand + "\n" +
			"then restart the server from the repository root (go run .): it serves " + LocalDir + " by itself.\n" +
			"A server started elsewhere takes the folder as PLAYGROUND_ASSETS_DIR=<path to " + LocalDir + ">."
	case AssetsPath:
		return "GraphiQL could not load its scripts from " + AssetsPath + ", the local copy this server checked at startup.\n" +
			"Fill the folder again (from the repository root: " + PrepareCommand + ") and restart the server."
	}
	return "GraphiQL could not load its scripts from " + assetsURL + "."
}

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

// asset is a <script> or <link> of the page.
type asset struct {
	URL       string
	Integrity string
}

// pageConfig is what the page's script reads; html/template writes it as JSON, escaped
// for a <script> element.
type pageConfig struct {
	Endpoint string `json:"endpoint"`
	Headers  string `json:"headers,omitempty"`
	Query    string `json:"query,omitempty"`
	Assets   string `json:"assets"`
	// Failure is what the page shows when its bundles did not load.
	Failure string `json:"failure"`
}

type pageData struct {
	Title           string
	Styles, Scripts []asset
	Config          pageConfig
}

// ServeHTTP writes the page. It is never cached, as its headers may hold a key that
// changes when the server restarts, and it may not be framed by other sites, which
// could otherwise run operations with those headers through a user's clicks.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	data := pageData{Title: p.title, Config: pageConfig{
		Endpoint: p.endpoint, Headers: *p.headers.Load(), Query: p.query, Assets: p.assetsURL,
		Failure: failureText(p.assetsURL),
	}}
	for _, b := range bundles {
		a := asset{URL: p.assetsURL + b.path(), Integrity: b.integrity}
		if b.isStyle() {
			data.Styles = append(data.Styles, a)
		} else {
			data.Scripts = append(data.Scripts, a)
		}
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, data); err != nil {
		// Only a defect of page.html can get here; the tests render it.
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(buf.Bytes())
}
