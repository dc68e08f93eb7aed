package playground

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// assetsDir makes <tmp>/assets holding files (slash-separated name → content) beside
// <tmp>/secret.txt, which no request may reach; it returns the assets folder.
func assetsDir(t *testing.T, files map[string]string) string {
	t.Helper()
	top := t.TempDir()
	dir := filepath.Join(top, "assets")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(top, "secret.txt"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestAssetsServesFiles(t *testing.T) {
	dir := assetsDir(t, map[string]string{
		"lib@1.0.0/dist/index.js":  "var lib = 1;",
		"lib@1.0.0/dist/style.css": "body{}",
		"@scope/x@2.0.0/a.umd.js":  "var x;",
		"lib@1.0.0/dist/index.xyz": "?",
	})
	h := Assets(dir)
	cases := []struct{ path, body, contentType string }{
		{"/assets/lib@1.0.0/dist/index.js", "var lib = 1;", "text/javascript; charset=utf-8"},
		{"/assets/lib@1.0.0/dist/style.css", "body{}", "text/css; charset=utf-8"},
		{"/assets/@scope/x@2.0.0/a.umd.js", "var x;", "text/javascript; charset=utf-8"},
		{"/assets/lib@1.0.0/dist/index.xyz", "?", "application/octet-stream"},
	}
	for _, c := range cases {
		resp, body := get(t, h, http.MethodGet, c.path)
		if resp.StatusCode != http.StatusOK || body != c.body {
			t.Errorf("GET %s: got %d %q, want 200 %q", c.path, resp.StatusCode, body, c.body)
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != c.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", c.path, got, c.contentType)
		}
		if got := resp.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q", c.path, got)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", c.path, got)
		}
	}
	if resp, body := get(t, h, http.MethodHead, "/assets/lib@1.0.0/dist/index.js"); resp.StatusCode != http.StatusOK || body != "" {
		t.Errorf("HEAD: got %d %q", resp.StatusCode, body)
	}
	if resp, _ := get(t, h, http.MethodPost, "/assets/lib@1.0.0/dist/index.js"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: got %d, want 405", resp.StatusCode)
	}
}

func TestAssetsNotFound(t *testing.T) {
	dir := assetsDir(t, map[string]string{"lib@1.0.0/dist/index.js": "var lib;"})
	h := Assets(dir)
	for _, path := range []string{
		"/assets/lib@1.0.0/dist/missing.js",
		"/assets/lib@1.0.0/dist",  // a directory: no listing
		"/assets/lib@1.0.0/dist/", // nor this way
		"/assets/",
		"/other/lib@1.0.0/dist/index.js",
	} {
		if resp, body := get(t, h, http.MethodGet, path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: got %d %q, want 404", path, resp.StatusCode, body)
		}
	}
}

func TestAssetsRefusesTraversal(t *testing.T) {
	dir := assetsDir(t, map[string]string{"lib@1.0.0/index.js": "var lib;"})
	// A link inside the folder to a file outside it.
	if err := os.Symlink(filepath.Join(dir, "..", "secret.txt"), filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, ".."), filepath.Join(dir, "up")); err != nil {
		t.Fatal(err)
	}
	h := Assets(dir)
	for _, path := range []string{
		"/assets/../secret.txt",
		"/assets/lib@1.0.0/../../secret.txt",
		"/assets/%2e%2e/secret.txt",
		"/assets/lib@1.0.0%2f..%2f..%2fsecret.txt",
		"/assets/..%5csecret.txt",
		"/assets//secret.txt",
		"/assets/link.txt",
		"/assets/up/secret.txt",
	} {
		resp, body := get(t, h, http.MethodGet, path)
		if resp.StatusCode != http.StatusNotFound || body == "secret" {
			t.Errorf("GET %s: got %d %q, want 404", path, resp.StatusCode, body)
		}
	}
}

func TestAssetsThroughMux(t *testing.T) {
	dir := assetsDir(t, map[string]string{"lib@1.0.0/index.js": "var lib;"})
	mux := http.NewServeMux()
	mux.Handle("GET "+AssetsPath, Assets(dir))
	if resp, body := get(t, mux, http.MethodGet, "/assets/lib@1.0.0/index.js"); resp.StatusCode != http.StatusOK || body != "var lib;" {
		t.Errorf("got %d %q", resp.StatusCode, body)
	}
	// The mux cleans the path and redirects; the redirect leads nowhere outside.
	resp, body := get(t, mux, http.MethodGet, "/assets/../secret.txt")
	if resp.StatusCode == http.StatusOK || body == "secret" {
		t.Errorf("traversal through the mux: got %d %q", resp.StatusCode, body)
	}
}
