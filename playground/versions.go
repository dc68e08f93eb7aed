package playground

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The exact versions of the bundles the page loads. web/package.json pins the same
// versions for the offline copy (a test compares them): change both together, run
// `npm install` and `npm run copy` in web/, and put the hashes it prints in bundles.
// GraphiQL 4 is the newest major that still ships a UMD bundle (with graphql-ws for
// subscriptions inside) and React 18 the newest with UMD builds; 5 and 19 are ESM only.
const (
	// GraphiQLVersion is the version of the graphiql package.
	GraphiQLVersion = "4.1.2"
	// ExplorerVersion is the version of the @graphiql/plugin-explorer package.
	ExplorerVersion = "4.0.6"
	// ReactVersion is the version of the react and react-dom packages.
	ReactVersion = "18.2.0"
)

// CDN is the default base URL of the bundles: jsDelivr's npm mirror, which serves each
// published file byte for byte, so the integrity hashes below hold there too.
const CDN = "https://cdn.jsdelivr.net/npm/"

// bundle is one file of an npm package that the page loads.
type bundle struct {
	pkg, version, file string
	// integrity is the Subresource Integrity hash of the file as published on npm.
	integrity string
}

// path is where the file lives under CDN and in a local copy: <package>@<version>/<file>.
func (b bundle) path() string { return b.pkg + "@" + b.version + "/" + b.file }

func (b bundle) isStyle() bool { return strings.HasSuffix(b.file, ".css") }

// bundles are the page's files, scripts in load order: React before GraphiQL, GraphiQL
// before the explorer plugin, which reads GraphiQL's globals.
var bundles = []bundle{
	{"react", ReactVersion, "umd/react.production.min.js", "sha256-S0lp+k7zWUMk2ixteM6HZvu8L9Eh//OVrt+ZfbCpmgY="},
	{"react-dom", ReactVersion, "umd/react-dom.production.min.js", "sha256-IXWO0ITNDjfnNXIu5POVfqlgYoop36bDzhodR6LW5Pc="},
	{"graphiql", GraphiQLVersion, "dist/index.umd.js", "sha256-hnImuor1znlJkD/FOTL3jayfS/xsyNoP04abi8bFJWs="},
	{"graphiql", GraphiQLVersion, "dist/style.css", "sha256-MEh+B2NdMSpj9kexQNN3QKc8UzMrCXW/Sx/phcpuyIU="},
	{"@graphiql/plugin-explorer", ExplorerVersion, "dist/index.umd.js", "sha256-UM8sWOS0Xa9yLY85q6Clh0pF4qpxX+TOcJ41flECqBs="},
	{"@graphiql/plugin-explorer", ExplorerVersion, "dist/style.css", "sha256-aJCaSuI7+t/EWRrLTis8jU9EFTua5/o7fnwxnroxDvE="},
}

// LocalDir is where web/'s copy script puts the bundles when it is given no folder,
// relative to the repository root, and where FindLocalCopy looks for them.
const LocalDir = "web/dist"

// PrepareCommand fills LocalDir with the bundles, run from the repository root on a
// machine that reaches the npm registry: npm ci installs the versions web/ pins, and its
// copy script lays the files out as the page loads them.
const PrepareCommand = "npm ci --prefix web && npm run copy --prefix web"

// CheckAssets reports whether dir holds every bundle the page loads, each the pinned
// version byte for byte, as web/'s copy script lays them out. It returns an error
// naming the missing or different files and how to fill the folder, or one saying dir
// is not a readable directory.
func CheckAssets(dir string) error {
	return checkAssets(dir, bundles, fillHint(dir))
}

// FindLocalCopy looks for a prepared LocalDir under root (a server's working directory),
// so that a server started from the repository root serves the bundles itself once
// PrepareCommand has run. It returns the folder's absolute path when it holds every
// bundle as CheckAssets requires; "" and nil when there is no such folder; and "" with
// an error naming what is wrong, and PrepareCommand, when the folder is there but
// incomplete or of other versions: such a folder is never served.
func FindLocalCopy(root string) (string, error) {
	return findLocalCopy(root, bundles)
}

func findLocalCopy(root string, want []bundle) (string, error) {
	dir := filepath.Join(root, filepath.FromSlash(LocalDir))
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err := checkAssets(dir, want, "fill it again from the repository root with: "+PrepareCommand); err != nil {
		return "", err
	}
	return dir, nil
}

func checkAssets(dir string, want []bundle, hint string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("playground: assets folder: %w; %s", err, hint)
	}
	if !st.IsDir() {
		return fmt.Errorf("playground: assets folder %s is not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("playground: assets folder: %w", err)
	}
	defer root.Close()
	var missing, differ []string
	for _, b := range want {
		data, err := fs.ReadFile(root.FS(), b.path())
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, b.path())
		case err != nil:
			return fmt.Errorf("playground: assets folder: %w", err)
		case sri(data) != b.integrity:
			differ = append(differ, b.path())
		}
	}
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, "lacks "+strings.Join(missing, ", "))
	}
	if len(differ) > 0 {
		problems = append(problems, "has other versions of "+strings.Join(differ, ", "))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("playground: assets folder %s %s; %s", dir, strings.Join(problems, " and "), hint)
}

// fillHint says how to fill dir; the path is absolute, as npm runs the script in web/.
func fillHint(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return "fill it from the repository root with: npm ci --prefix web && npm run copy --prefix web -- " + dir
}

// sri is the Subresource Integrity value of data.
func sri(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// packages are the npm packages of bundles with their versions, and the files of each,
// in the shape of web/package.json's "dependencies" and "playgroundAssets".
func packages() (versions map[string]string, files map[string][]string) {
	versions, files = map[string]string{}, map[string][]string{}
	for _, b := range bundles {
		versions[b.pkg] = b.version
		files[b.pkg] = append(files[b.pkg], b.file)
	}
	return versions, files
}
