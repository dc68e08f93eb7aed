package playground

import (
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// webDir is web/, where the offline copy's npm packages are pinned.
const webDir = "../web"

// The page's CDN URLs and the offline copy must be the same files: the versions and
// files of bundles must be web/package.json's.
func TestVersionsMatchWebPackage(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(webDir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Dependencies     map[string]string   `json:"dependencies"`
		PlaygroundAssets map[string][]string `json:"playgroundAssets"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		t.Fatalf("web/package.json: %v", err)
	}
	versions, files := packages()
	if !maps.Equal(pkg.Dependencies, versions) {
		t.Errorf("web/package.json dependencies: got %v, want the pinned %v", pkg.Dependencies, versions)
	}
	if !reflect.DeepEqual(pkg.PlaygroundAssets, files) {
		t.Errorf("web/package.json playgroundAssets: got %v, want %v", pkg.PlaygroundAssets, files)
	}

	// The lock file must install exactly those versions.
	raw, err = os.ReadFile(filepath.Join(webDir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(raw, &lock); err != nil {
		t.Fatalf("web/package-lock.json: %v", err)
	}
	for name, v := range versions {
		if got := lock.Packages["node_modules/"+name].Version; got != v {
			t.Errorf("web/package-lock.json: %s is %q, want %q", name, got, v)
		}
	}
}

// modulesInstalledEnv, set to 1, says web/node_modules has been installed (.ci/run sets
// it after e2e/run.sh's npm ci), so the test that needs it fails instead of skipping.
const modulesInstalledEnv = "WEB_NODE_MODULES_INSTALLED"

// The integrity hashes are those of the published files, when web/ has installed them
// (bash e2e/run.sh does, and the browser checks them there too).
func TestIntegrityMatchesNodeModules(t *testing.T) {
	modules := filepath.Join(webDir, "node_modules")
	if _, err := os.Stat(modules); err != nil {
		if os.Getenv(modulesInstalledEnv) == "1" {
			t.Fatalf("%s=1 but web/node_modules is missing: %v", modulesInstalledEnv, err)
		}
		t.Skip("web/node_modules is not installed (cd web && npm ci); " + modulesInstalledEnv + "=1 makes that a failure")
	}
	for _, b := range bundles {
		data, err := os.ReadFile(filepath.Join(modules, filepath.FromSlash(b.pkg), filepath.FromSlash(b.file)))
		if err != nil {
			t.Errorf("%s: %v", b.path(), err)
			continue
		}
		if got := sri(data); got != b.integrity {
			t.Errorf("%s: npm's file is %s, the table says %s", b.path(), got, b.integrity)
		}
	}
}

func TestBundlesAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range bundles {
		if seen[b.path()] {
			t.Errorf("%s twice", b.path())
		}
		seen[b.path()] = true
		if !fs.ValidPath(b.path()) || !strings.HasPrefix(b.integrity, "sha256-") {
			t.Errorf("bad bundle %+v", b)
		}
	}
	// Scripts in load order: the explorer reads GraphiQL's globals, GraphiQL React's.
	var scripts []string
	for _, b := range bundles {
		if !b.isStyle() {
			scripts = append(scripts, b.pkg)
		}
	}
	if want := []string{"react", "react-dom", "graphiql", "@graphiql/plugin-explorer"}; !slices.Equal(scripts, want) {
		t.Errorf("script order: got %v, want %v", scripts, want)
	}
}

func TestCheckAssets(t *testing.T) {
	fake := []bundle{
		{"lib", "1.0.0", "dist/index.js", sri([]byte("var lib;"))},
		{"@scope/x", "2.0.0", "style.css", sri([]byte("body{}"))},
	}
	good := map[string]string{"lib@1.0.0/dist/index.js": "var lib;", "@scope/x@2.0.0/style.css": "body{}"}
	if err := checkAssets(assetsDir(t, good), fake, "hint"); err != nil {
		t.Errorf("a complete folder: %v", err)
	}

	cases := []struct {
		name  string
		dir   string
		wants []string
	}{
		{"missing folder", filepath.Join(t.TempDir(), "nope"), []string{"nope", "no such file", "hint"}},
		{"a file", filepath.Join(assetsDir(t, good), "lib@1.0.0", "dist", "index.js"), []string{"not a directory"}},
		{"empty", assetsDir(t, nil), []string{"lacks lib@1.0.0/dist/index.js, @scope/x@2.0.0/style.css", "hint"}},
		{"other version", assetsDir(t, map[string]string{"lib@1.0.0/dist/index.js": "var lib = 2;", "@scope/x@2.0.0/style.css": "body{}"}),
			[]string{"has other versions of lib@1.0.0/dist/index.js"}},
	}
	for _, c := range cases {
		err := checkAssets(c.dir, fake, "hint")
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, want := range c.wants {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q lacks %q", c.name, err, want)
			}
		}
	}
	if err := checkAssets(filepath.Join(t.TempDir(), "nope"), fake, "hint"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing folder: got %v, want fs.ErrNotExist", err)
	}

	// The real table names the real files, and the error says how to fill the folder.
	empty := assetsDir(t, nil)
	err := CheckAssets(empty)
	if err == nil || !strings.Contains(err.Error(), "graphiql@"+GraphiQLVersion+"/dist/index.umd.js") ||
		!strings.Contains(err.Error(), "npm ci --prefix web && npm run copy --prefix web -- "+empty) {
		t.Errorf("CheckAssets on an empty folder: got %v", err)
	}
}

// A server started from the repository root serves web/dist once it is prepared, and
// never a folder that is there but incomplete.
func TestFindLocalCopy(t *testing.T) {
	fake := []bundle{
		{"lib", "1.0.0", "dist/index.js", sri([]byte("var lib;"))},
		{"@scope/x", "2.0.0", "style.css", sri([]byte("body{}"))},
	}
	// root returns a fresh working directory with web/dist holding files (none: no web/dist).
	root := func(files map[string]string) string {
		t.Helper()
		wd := t.TempDir()
		if files == nil {
			return wd
		}
		dist := filepath.Join(wd, "web", "dist")
		if err := os.MkdirAll(dist, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range files {
			p := filepath.Join(dist, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return wd
	}

	// Not prepared: nothing to serve, and nothing wrong.
	if dir, err := findLocalCopy(root(nil), fake); dir != "" || err != nil {
		t.Errorf("no web/dist: got %q, %v", dir, err)
	}

	// Prepared: its absolute path, also from a relative root.
	wd := root(map[string]string{"lib@1.0.0/dist/index.js": "var lib;", "@scope/x@2.0.0/style.css": "body{}"})
	if dir, err := findLocalCopy(wd, fake); dir != filepath.Join(wd, "web", "dist") || err != nil {
		t.Errorf("prepared web/dist: got %q, %v", dir, err)
	}
	t.Chdir(wd)
	if dir, err := findLocalCopy(".", fake); dir != filepath.Join(wd, "web", "dist") || err != nil {
		t.Errorf("prepared web/dist from %q: got %q, %v", ".", dir, err)
	}

	// Half prepared (a file missing, another of a different version): not served, and the
	// error names the files and the command that fills the folder.
	for name, files := range map[string]map[string]string{
		"empty":         {},
		"a file short":  {"lib@1.0.0/dist/index.js": "var lib;"},
		"other version": {"lib@1.0.0/dist/index.js": "var lib = 2;", "@scope/x@2.0.0/style.css": "body{}"},
	} {
		wd := root(files)
		dir, err := findLocalCopy(wd, fake)
		if dir != "" || err == nil {
			t.Errorf("%s: got %q, %v; want no folder and an error", name, dir, err)
			continue
		}
		for _, want := range []string{filepath.Join(wd, "web", "dist"), "from the repository root with: " + PrepareCommand} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q lacks %q", name, err, want)
			}
		}
	}
}
