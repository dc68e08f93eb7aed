package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// readmeExample is one GraphQL block of README's Examples section and the JSON answer
// shown after it ("" when none is shown).
type readmeExample struct {
	query, answer string
	line          int
}

// readmeExamples returns the GraphQL examples of README's "## Examples" section, in order.
func readmeExamples(t *testing.T) []readmeExample {
	t.Helper()
	f, err := os.Open("README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		examples  []readmeExample
		inSection bool
		lang      string // of the open fence; "" outside one
		block     strings.Builder
		start, n  int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case lang == "" && strings.HasPrefix(line, "## "):
			inSection = line == "## Examples"
		case !inSection:
		case lang == "" && strings.HasPrefix(line, "```"):
			lang, start = strings.TrimPrefix(line, "```"), n
			block.Reset()
		case lang != "" && line == "```":
			switch {
			case lang == "graphql":
				examples = append(examples, readmeExample{query: block.String(), line: start})
			case lang == "json" && len(examples) > 0 && examples[len(examples)-1].answer == "":
				examples[len(examples)-1].answer = block.String()
			}
			lang = ""
		case lang != "":
			block.WriteString(line + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return examples
}

// README's Examples are what a newcomer runs first, in order, against a fresh `go run .`
// (the key it printed in GraphiQL's Headers tab, none for authenticateConnectSession, as
// README says): each must answer what README shows. Values that differ on every run
// (tokens, cursors, times) need only be of the same form, and README's token is replaced
// by this run's in later examples; times shown in one object must be as far apart as
// README's (an expiry two hours after the update, say).
func TestREADMEExamplesAnswerAsShown(t *testing.T) {
	examples := readmeExamples(t)
	// Each operation a newcomer needs first has an example.
	var fields []string
	for _, ex := range examples {
		if m := rootField.FindStringSubmatch(ex.query); m != nil {
			fields = append(fields, m[1])
		}
	}
	for _, want := range []string{"connectSessions", "createConnectSession", "authenticateConnectSession",
		"updateConnectSession", "revokeConnectSession", "deleteConnectSession"} {
		if !slices.Contains(fields, want) {
			t.Errorf("README's Examples section has no example of %s (it has %v)", want, fields)
		}
	}

	s := startServer(t, nil)
	key := "Bearer " + s.devKey(t)
	shown := map[string]string{} // README's value -> this run's, for tokens and cursors
	for _, ex := range examples {
		query := ex.query
		for from, to := range shown {
			query = strings.ReplaceAll(query, from, to)
		}
		auth := key
		if strings.Contains(query, "authenticateConnectSession") {
			auth = ""
		}
		r := s.post(t, auth, query, nil)
		got := responseJSON(t, r)
		if ex.answer == "" {
			if len(r.Errors) > 0 {
				t.Errorf("README.md:%d: errors %+v", ex.line, r.Errors)
			}
			continue
		}
		var want, have any
		if err := json.Unmarshal([]byte(ex.answer), &want); err != nil {
			t.Fatalf("README.md:%d: the answer shown is not JSON: %v", ex.line, err)
		}
		if err := json.Unmarshal(got, &have); err != nil {
			t.Fatal(err)
		}
		for _, problem := range matchShown(want, have, "", shown) {
			t.Errorf("README.md:%d: %s\nshown: %s\ngot:   %s", ex.line, problem, strings.TrimSpace(ex.answer), got)
		}
	}
}

// responseJSON is the response as a client receives it: data, and errors if any.
func responseJSON(t *testing.T, r *gqlResponse) []byte {
	t.Helper()
	out := map[string]any{"data": r.Data}
	if len(r.Data) == 0 {
		out["data"] = nil
	}
	if len(r.Errors) > 0 {
		out["errors"] = r.Errors
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	// rootField finds an example's first root field: the first name with arguments.
	rootField  = regexp.MustCompile(`(\w+)\s*\(`)
	tokenShape = regexp.MustCompile(`^cst_[0-9a-z]+_[A-Za-z0-9_-]{32}$`)
	// volatile are the fields whose values differ on every run, with the form they take.
	volatile = map[string]func(string) bool{
		"token":           tokenShape.MatchString,
		"endCursor":       func(v string) bool { return v != "" },
		"createdAt":       isTime,
		"updatedAt":       isTime,
		"expiresAt":       isTime,
		"authenticatedAt": isTime,
	}
)

func isTime(v string) bool {
	_, err := time.Parse(time.RFC3339Nano, v)
	return err == nil
}

// matchShown compares an answer README shows with the one the service gave, field by
// field, and returns what differs. A volatile field matches any value of its form and
// is noted in shown (README's value -> this run's).
func matchShown(want, got any, path string, shown map[string]string) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %v, want an object", path, got)}
		}
		var problems []string
		for k := range g {
			if _, ok := w[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s.%s: got %v, not shown", path, k, g[k]))
			}
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			if form, isVolatile := volatile[k]; isVolatile {
				ws, wok := wv.(string)
				gs, gok := gv.(string)
				switch {
				case wv == nil && gv == nil:
				case !wok || !gok || !form(ws) || !form(gs):
					problems = append(problems, fmt.Sprintf("%s.%s: got %v, want a value like %v", path, k, gv, wv))
				default:
					shown[ws] = gs
				}
				continue
			}
			problems = append(problems, matchShown(wv, gv, path+"."+k, shown)...)
		}
		return append(problems, matchTimeGaps(w, g, path)...)
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %v, want %d items", path, got, len(w))}
		}
		var problems []string
		for i := range w {
			problems = append(problems, matchShown(w[i], g[i], fmt.Sprintf("%s[%d]", path, i), shown)...)
		}
		return problems
	default:
		if !reflect.DeepEqual(want, got) {
			return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
		}
		return nil
	}
}

// matchTimeGaps checks that the times of one object are as far apart as those shown,
// within a second.
func matchTimeGaps(want, got map[string]any, path string) []string {
	var problems []string
	for a := range want {
		for b := range want {
			if a >= b || !isTimeField(a) || !isTimeField(b) {
				continue
			}
			wa, wb, ok1 := times(want[a], want[b])
			ga, gb, ok2 := times(got[a], got[b])
			if !ok1 || !ok2 {
				continue
			}
			if d := wb.Sub(wa) - gb.Sub(ga); d > time.Second || d < -time.Second {
				problems = append(problems, fmt.Sprintf("%s: %s - %s is %v, README shows %v", path, b, a, gb.Sub(ga), wb.Sub(wa)))
			}
		}
	}
	return problems
}

func isTimeField(k string) bool { return strings.HasSuffix(k, "At") }

func times(a, b any) (time.Time, time.Time, bool) {
	as, ok1 := a.(string)
	bs, ok2 := b.(string)
	if !ok1 || !ok2 {
		return time.Time{}, time.Time{}, false
	}
	ta, err1 := time.Parse(time.RFC3339Nano, as)
	tb, err2 := time.Parse(time.RFC3339Nano, bs)
	return ta, tb, err1 == nil && err2 == nil
}
