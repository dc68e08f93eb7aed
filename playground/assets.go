package playground

import (
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strings"
)

// AssetsPath is the URL path under which Assets serves a local copy of the bundles;
// give it as Options.AssetsURL to load the page's bundles from there.
const AssetsPath = "/assets/"

// Assets returns a handler that serves the files of dir at AssetsPath/<file>, for GET
// and HEAD. Anything else under the path, a directory, or a name that would leave dir
// (.., or a symbolic link pointing outside) is 404. Responses may be cached for a year:
// every file's path carries its package's exact version, so it never changes.
func Assets(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, AssetsPath)
		if !ok || !fs.ValidPath(name) || name == "." || strings.Contains(name, `\`) {
			http.NotFound(w, r)
			return
		}
		// OpenInRoot refuses to resolve outside dir, symbolic links included.
		f, err := os.OpenInRoot(dir, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", contentType(name))
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, name, st.ModTime(), f)
	})
}

// contentType names the types of the bundles' files explicitly rather than trusting
// the machine's MIME tables, which may lack .map or call .js application/javascript.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".map", ".json":
		return "application/json"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}
