package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/errcode"

	"connectsession/cache"
	"connectsession/httpapi"
	"connectsession/resolvers"
)

// runtimeSettings are the variables of the Go runtime that the README's Configuration
// table documents beside the service's own settings, with the default the service
// gives them (gcPercent).
func runtimeSettings() map[string]string {
	return map[string]string{"GOGC": itoa(defaultGCPercent), "GOMEMLIMIT": ""}
}

// The README's Configuration table is written by hand: it must list every setting, with
// the default the code uses, and nothing that is not one.
func TestREADMEConfigurationMatchesSettings(t *testing.T) {
	documented := readmeSettings(t, "README.md")
	want := runtimeSettings()
	for _, s := range settings {
		want[s.env] = s.def
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		def := want[name]
		got, ok := documented[name]
		switch {
		case !ok:
			t.Errorf("README.md's Configuration table has no row for %s (default %q)", name, def)
		case got != def:
			t.Errorf("README.md gives %s the default %q; the code's is %q", name, got, def)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(documented)) {
		if _, ok := want[name]; !ok {
			t.Errorf("README.md's Configuration table documents %s, which is not a setting", name)
		}
	}
}

// readmeSettings reads the table under the "## Configuration" heading of path: each row
// is | `NAME` | `default` | meaning |, the default written "empty" when there is none.
func readmeSettings(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string]string{}
	in, table := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "## ") {
			in = line == "## Configuration"
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if table {
				break // the table has ended
			}
			continue
		}
		table = true
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) != 3 {
			t.Errorf("README.md Configuration row %q: want 3 cells, has %d", line, len(cells))
			continue
		}
		if cells[0] == "variable" || strings.HasPrefix(cells[0], "---") {
			continue // header and separator
		}
		name, ok := codeSpan(cells[0])
		if !ok {
			t.Errorf("README.md Configuration row %q: the first cell should be one `NAME`", line)
			continue
		}
		def := ""
		if cells[1] != "empty" {
			if def, ok = codeSpan(cells[1]); !ok {
				t.Errorf("README.md Configuration row %q: the default should be one `value` or empty", line)
				continue
			}
		}
		if _, dup := rows[name]; dup {
			t.Errorf("README.md's Configuration table has two rows for %s", name)
		}
		rows[name] = def
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("README.md has no Configuration table under a \"## Configuration\" heading")
	}
	return rows
}

// codeSpan returns what is inside a cell that is exactly one `code span`.
func codeSpan(cell string) (string, bool) {
	if len(cell) < 2 || cell[0] != '`' || cell[len(cell)-1] != '`' || strings.Count(cell, "`") != 2 {
		return "", false
	}
	return cell[1 : len(cell)-1], true
}

// -help lists every setting under its flag name, with what it takes, its variable and
// its default, then its meaning.
func TestHelpListsEverySetting(t *testing.T) {
	var out strings.Builder
	_, err := parseConfig("connectsession", []string{"-help"}, func(string) string { return "" }, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-help: %v, want flag.ErrHelp", err)
	}
	help := out.String()
	for _, s := range settings {
		line := fmt.Sprintf("  -%s %s  ($%s)", flagName(s.env), s.kind, s.env)
		if s.def != "" {
			line += "  default " + s.def
		}
		if !strings.Contains(help, line+"\n        "+s.usage+"\n") {
			t.Errorf("-help does not list %s as %q followed by its meaning", s.env, line)
		}
	}
}

// The README shows both banners the server prints at startup, exactly: embedded mode's
// (with the key it shows) and a configured Redis's.
func TestREADMEBannersArePrinted(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	cfg, err := testConfig(cache.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	embedded := readmeBlock(t, readme, "ConnectSession API (embedded")
	key := devKeyPattern.FindString(embedded)
	if key == "" {
		t.Fatalf("README.md's embedded-mode banner shows no development key:\n%s", embedded)
	}
	var got strings.Builder
	newBanner(cfg, "http://127.0.0.1:8080", true, key, "go run .").write(&got)
	if got.String() != "\n"+embedded+"\n" {
		t.Errorf("README.md's embedded-mode banner is not what is printed; printed:\n%s", got.String())
	}

	cfg.RedisURL = "redis://127.0.0.1:6379/0"
	got.Reset()
	newBanner(cfg, "http://localhost:8080", false, "", "go run .").write(&got)
	if want := readmeBlock(t, readme, "ConnectSession API (Redis at"); got.String() != "\n"+want+"\n" {
		t.Errorf("README.md's banner on a configured Redis is not what is printed; printed:\n%s", got.String())
	}
}

// readmeBlock is the fenced code block of readme whose first line starts with first,
// with its final newline.
func readmeBlock(t *testing.T, readme, first string) string {
	t.Helper()
	i := strings.Index(readme, "```\n"+first)
	if i < 0 {
		t.Fatalf("README.md has no code block starting with %q", first)
	}
	block := readme[i+len("```\n"):]
	end := strings.Index(block, "```\n")
	if end < 0 {
		t.Fatalf("README.md's block starting with %q does not end", first)
	}
	return block[:end]
}

// serviceErrorCodes are the extensions.code values the service can send: its own
// constants, and those gqlgen sets (parse, validation, persisted queries).
func serviceErrorCodes() []string {
	return []string{
		resolvers.CodeUnauthenticated, resolvers.CodeForbidden, resolvers.CodeBadUserInput, resolvers.CodeNotFound,
		resolvers.CodeBadRequest, resolvers.CodeUnavailable, resolvers.CodeSlowSubscriber, resolvers.CodeEventsTrimmed, resolvers.CodeRateLimited,
		resolvers.CodeInternal, resolvers.CodeCanceled, resolvers.CodeWebhookLimit,
		httpapi.CodeDocumentLimit, httpapi.CodeComplexityLimit, httpapi.CodeDepthLimit, httpapi.CodeSubscriptionLimit,
		httpapi.CodePayloadTooLarge, httpapi.CodeConnectionLimit,
		errcode.ParseFailed, errcode.ValidationFailed, "PERSISTED_QUERY_NOT_FOUND",
	}
}

// README's error table lists every code the service can send, and only those.
func TestREADMEListsEveryErrorCode(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	in := false
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "#") {
			in = line == "### Errors"
			continue
		}
		if !in || !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.TrimSpace(strings.Split(strings.Trim(line, "|"), "|")[0])
		for span := range strings.SplitSeq(first, ", ") {
			code, ok := codeSpan(span)
			if !ok {
				t.Errorf("README.md error row %q: the first cell should be `CODE`s separated by commas", line)
				continue
			}
			documented[code] = true
		}
	}
	for _, code := range serviceErrorCodes() {
		if !documented[code] {
			t.Errorf("README.md's error table does not list %s", code)
		}
		delete(documented, code)
	}
	for _, code := range slices.Sorted(maps.Keys(documented)) {
		t.Errorf("README.md's error table lists %s, which the service does not send", code)
	}
}
