package model

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// The domain and the store know nothing of the GraphQL library: gqlgen's types stop at
// graph/, graph/scalars, the resolvers and the HTTP layer.
func TestDomainAndStoreDoNotImportGqlgen(t *testing.T) {
	for _, dir := range []string{".", "../../cache"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				if path := strings.Trim(imp.Path.Value, `"`); strings.Contains(path, "gqlgen") || strings.Contains(path, "gqlparser") {
					t.Errorf("%s imports %s", file, path)
				}
			}
		}
	}
}
