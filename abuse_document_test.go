package main

// The adversarial suite for documents (their shape, introspection, amplification and
// what they store): each test sends what an attacker would and asserts the refusal, and
// a bound on the work done for it.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"
)

// allocated returns how many bytes the process allocated while fn ran: the memory work
// the server did for a request (tests in this package do not run in parallel).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// aliased returns a document of n aliased copies of field.
func aliased(n int, field string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " a%d: %s", i, field)
	}
	b.WriteString(" }")
	return b.String()
}

func repeated(n int, field string) string {
	return "{" + strings.Repeat(" "+field, n) + " }"
}

func TestAbuseDocumentShape(t *testing.T) {
	s := startServer(t, nil)
	key := "Bearer " + s.devKey(t)
	read := `connectSession(organizationId: 1, projectId: "demo", id: 1) { id }`
	cases := []struct {
		name, auth, query string
	}{
		// Seen: 8 s and 4 GB of RSS for 2,000 aliased fields (117 KB), no key needed.
		{"2,000 aliased fields, no key", "", aliased(2000, read)},
		{"2,000 aliased fields, with a key", key, aliased(2000, read)},
		// Seen: 4-6 s of CPU for 8,000 __typename.
		{"8,000 __typename", key, repeated(8000, "__typename")},
		// Under the size limit, over the field limit (1,000 with fragments expanded).
		{"fragments multiplying fields", key, `{ ...F0 } ` + fragmentTree(12)},
		// Under the size and field limits, but one response name compared in pairs.
		{"one response name 500 times", key, repeated(500, "__typename")},
		{"one alias for 300 different fields", key, "{" + strings.Repeat(` x: connectSession(organizationId: 1, projectId: "demo", id: 2) { id }`, 300) + "}"},
		{"a token flood", key, "{ __typename " + strings.Repeat("@skip(if: false) ", 2000) + "}"},
		{"a keyless document over its allowance", "", "mutation { authenticateConnectSession(token: \"" + strings.Repeat("x", 3000) + "\") { id } }"},
		{"keyless fields over the allowance", "", aliased(60, "__typename")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r *gqlResponse
			alloc := allocated(func() { r = s.post(t, c.auth, c.query, nil) })
			if r.code() != "DOCUMENT_LIMIT_EXCEEDED" || len(r.Errors) != 1 {
				t.Fatalf("got %d %+v, want one DOCUMENT_LIMIT_EXCEEDED", r.status, r.Errors)
			}
			// The refusal costs a few times the document, not its square.
			if limit := uint64(40*len(c.query) + 4<<20); alloc > limit {
				t.Errorf("refusing a %d-byte document allocated %d bytes, want at most %d", len(c.query), alloc, limit)
			}
			stillServes(t, s, strings.TrimPrefix(key, "Bearer "))
		})
	}
	t.Run("what a well-behaved caller sends passes", func(t *testing.T) {
		s.mustData(t, key, aliased(30, read), nil, nil)
		s.mustData(t, key, `{ connectSessions(organizationId: 1, projectId: "demo") { edges { node { ...S } } nodes { ...S } } }
			fragment S on ConnectSession { __typename id status ... on ConnectSession { __typename id } }`, nil, nil)
		// Without a key, the token exchange runs (and refuses this token itself).
		r := s.post(t, "", `mutation { authenticateConnectSession(token: "cst_1_nope") { id status } }`, nil)
		if r.code() != "UNAUTHENTICATED" || len(r.Errors[0].Path) != 1 {
			t.Errorf("got %+v, want the resolver's UNAUTHENTICATED at its path", r.Errors)
		}
	})
}

// fragmentTree returns fragments F0..F(depth-1), each spreading the next twice, so that
// F0 expands to 2^depth fields in a few hundred bytes.
func fragmentTree(depth int) string {
	var b strings.Builder
	for i := range depth - 1 {
		fmt.Fprintf(&b, "fragment F%d on Query { a%d: __typename ...F%d ...F%d }\n", i, i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { __typename }\n", depth-1)
	return b.String()
}

func TestAbuseKeylessAllowance(t *testing.T) {
	s := startServer(t, nil)
	for name, q := range map[string]string{
		"a page":                            `{ connectSessions(organizationId: 1, projectId: "demo") { totalCount } }`,
		"introspection":                     `{ __schema { queryType { name } } }`,
		"__type":                            `{ __type(name: "ConnectSession") { name } }`,
		"federation sdl":                    `{ _service { sdl } }`,
		"introspection through a fragment":  `{ ...Q } fragment Q on Query { __schema { queryType { name } } }`,
		"a page through an inline fragment": `{ ... on Query { connectSessions(organizationId: 1, projectId: "demo") { totalCount } } }`,
		"a create":                          `mutation { createConnectSession(input: {organizationId: 1, projectId: "demo", originOwnerId: "o", originOwnerName: "O"}) { token } }`,
		"one allowed, one not":              `mutation { authenticateConnectSession(token: "cst_1_x") { id } deleteConnectSession(organizationId: 1, projectId: "demo", id: 1) { deleted } }`,
	} {
		t.Run(name, func(t *testing.T) {
			r := s.post(t, "", q, nil)
			if r.code() != "UNAUTHENTICATED" || len(r.Errors) != 1 || string(r.Data) != "null" {
				t.Errorf("got data %s errors %+v, want only UNAUTHENTICATED before anything ran", r.Data, r.Errors)
			}
		})
	}
	// A made-up key is no key.
	r := s.post(t, "Bearer csk_0123456789abcdef_"+strings.Repeat("A", 43), aliased(60, "__typename"), nil)
	if r.code() != "DOCUMENT_LIMIT_EXCEEDED" {
		t.Errorf("unknown key: got %+v, want the keyless allowance (DOCUMENT_LIMIT_EXCEEDED)", r.Errors)
	}
	s.mustData(t, "", `{ __typename }`, nil, nil)
}

func TestAbuseIntrospection(t *testing.T) {
	s := startServer(t, nil)
	key := "Bearer " + s.devKey(t)
	t.Run("GraphiQL's own introspection query passes", func(t *testing.T) {
		q, err := os.ReadFile("httpapi/testdata/graphiql-introspection.graphql")
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Schema struct{ Types []any } `json:"__schema"`
		}
		s.mustData(t, key, string(q), nil, &out)
		if len(out.Schema.Types) < 10 {
			t.Errorf("introspection found %d types", len(out.Schema.Types))
		}
	})
	// Seen: 40 aliases of types x 40 of fields x 40 of name, 2 KB in, 106 MB out.
	bomb := func(n int) string {
		return "{ __schema { ...T } } fragment T on __Schema " + aliased(n, "types { ...F }") +
			" fragment F on __Type " + aliased(n, "fields { ...N }") + " fragment N on __Field " + aliased(n, "name")
	}
	for name, q := range map[string]string{
		"aliases multiplying the answer, 40 a level": bomb(40),
		"aliases multiplying the answer, 8 a level":  bomb(8),
		"lists nested in lists":                      `{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }`,
		"every type's lists under aliases":           `{ __schema { types ` + aliased(29, "fields { name args { name type { name } } type { name kind ofType { name } } }") + ` } }`,
	} {
		t.Run(name, func(t *testing.T) {
			var r *gqlResponse
			alloc := allocated(func() { r = s.post(t, key, q, nil) })
			if len(r.Errors) == 0 || string(r.Data) != "null" {
				t.Fatalf("got data of %d bytes, want a refusal", len(r.Data))
			}
			if c := r.code(); c != "COMPLEXITY_LIMIT_EXCEEDED" && c != "GRAPHQL_VALIDATION_FAILED" && c != "DEPTH_LIMIT_EXCEEDED" && c != "DOCUMENT_LIMIT_EXCEEDED" {
				t.Errorf("got %+v, want a limit's code", r.Errors)
			}
			if alloc > 8<<20 {
				t.Errorf("refusal allocated %d bytes", alloc)
			}
		})
	}
}

// apqBody is a persisted-query request carrying its text.
func apqBody(query string) map[string]any {
	sum := sha256.Sum256([]byte(query))
	return map[string]any{"query": query, "extensions": map[string]any{
		"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}}
}

// hashOnly asks for a persisted query by hash alone, over GET.
func hashOnly(t *testing.T, s *testServer, auth, query string) *gqlResponse {
	t.Helper()
	sum := sha256.Sum256([]byte(query))
	ext, _ := json.Marshal(map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}})
	req, _ := http.NewRequest(http.MethodGet, s.url+"/graphql?extensions="+url.QueryEscape(string(ext)), nil)
	req.Header.Set("Apollo-Require-Preflight", "true")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	_, r, _ := raw(t, req)
	return r
}

func TestAbusePersistedQueryRegistration(t *testing.T) {
	shared := newSharedRedis(t)
	s := startServer(t, shared.env())
	key, err := shared.apikey(t, "create", "-org", "1", "-role", "read")
	if err != nil {
		t.Fatal(err)
	}
	key = "Bearer " + key
	postJSON := func(auth string, body map[string]any) *gqlResponse {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		_, r, _ := raw(t, req)
		return r
	}
	before := len(shared.dump(t))
	// Seen: 1,000 comment-only "queries" of 1 MB with their hashes, each stored for 24 h.
	huge := "#" + strings.Repeat("x", 900<<10) + "\n{ __typename }"
	for _, auth := range []string{"", key} {
		if r := postJSON(auth, apqBody(huge)); r.code() != "DOCUMENT_LIMIT_EXCEEDED" {
			t.Errorf("huge document (auth %t): got %+v", auth != "", r.Errors)
		}
	}
	invalid := `{ connectSession { nope } }`
	if r := postJSON(key, apqBody(invalid)); r.code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("invalid query: got %+v", r.Errors)
	}
	keyless := `{ __typename keyless: __typename }`
	if r := postJSON("", apqBody(keyless)); len(r.Errors) > 0 {
		t.Errorf("keyless query with its hash: %+v", r.Errors)
	}
	for name, q := range map[string]string{"too large": huge, "invalid": invalid, "sent without a key": keyless} {
		if r := hashOnly(t, s, key, q); r.code() != "PERSISTED_QUERY_NOT_FOUND" {
			t.Errorf("%s query was registered: %+v", name, r.Errors)
		}
	}
	if after := len(shared.dump(t)); after != before {
		t.Errorf("redis keys %d -> %d: something was stored", before, after)
	}
	// A valid query from a caller with a key is registered for every instance.
	good := `{ __typename registered: __typename }`
	if r := postJSON(key, apqBody(good)); len(r.Errors) > 0 {
		t.Fatalf("valid query: %+v", r.Errors)
	}
	if r := hashOnly(t, startServer(t, shared.env()), key, good); len(r.Errors) > 0 {
		t.Errorf("registered query not found on another instance: %+v", r.Errors)
	}
}

func TestAbuseEntities(t *testing.T) {
	s := startServer(t, nil)
	key := "Bearer " + s.devKey(t)
	one := map[string]any{"__typename": "ConnectSession", "id": 1}
	reps := make([]any, 1000)
	for i := range reps {
		reps[i] = one
	}
	vars := map[string]any{"r": reps}
	entities := func(aliases int, fields string) string {
		return "query($r: [_Any!]!) " + aliased(aliases, "_entities(representations: $r) { ... on ConnectSession { "+fields+" } }")
	}
	// Seen: 30 aliases sharing 1,000 copies of one id, 49 KB in, 245 MB out.
	for name, q := range map[string]string{
		"30 aliases of 1,000 representations": entities(30, "id"),
		"2 aliases of 1,000":                  entities(2, "id"),
		"1,000 with metadata":                 entities(1, "id metadata"),
	} {
		t.Run(name, func(t *testing.T) {
			var r *gqlResponse
			alloc := allocated(func() { r = s.post(t, key, q, vars) })
			if r.code() != "COMPLEXITY_LIMIT_EXCEEDED" || string(r.Data) != "null" {
				t.Fatalf("got %d bytes of data, errors %+v, want COMPLEXITY_LIMIT_EXCEEDED", len(r.Data), r.Errors)
			}
			if alloc > 16<<20 {
				t.Errorf("refusal allocated %d bytes", alloc)
			}
		})
	}
	var out struct {
		Entities []*struct{ ID int } `json:"_entities"`
	}
	s.mustData(t, key, `query($r: [_Any!]!) { _entities(representations: $r) { ... on ConnectSession { id } } }`, vars, &out)
	if len(out.Entities) != 1000 || out.Entities[999] == nil || out.Entities[999].ID != 1 {
		t.Errorf("1,000 representations of one session: got %d entities", len(out.Entities))
	}
}

// A document within the size limits written to fail validation many times over: a
// fragment validated once per operation that spreads it, conflicting fields compared in
// pairs. The answer must stay small, and the work with it.
func TestAbuseValidationErrors(t *testing.T) {
	s := startServer(t, nil)
	key := "Bearer " + s.devKey(t)
	// Seen: 1,979 bytes without a key answered 2.58 MB (19,035 errors); 7.4 KB with a
	// read key 66.8 MB (491,470 errors).
	spread := func(ops, vars int, directive bool) string {
		var b strings.Builder
		for range ops {
			b.WriteString("{...F} ")
		}
		b.WriteString("fragment F on Query { __typename")
		if directive {
			b.WriteString(strings.Repeat(" @x", vars))
		} else {
			b.WriteString("(a: [")
			for i := range vars {
				fmt.Fprintf(&b, " $v%d", i)
			}
			b.WriteString("])")
		}
		b.WriteString(" }")
		return b.String()
	}
	// Conflicting fields in one operation: one alias for 20 different pages, each with
	// two nodes blocks in which one response name means two fields.
	var conflict strings.Builder
	conflict.WriteString("{")
	for i := range 20 {
		fmt.Fprintf(&conflict, ` c: connectSessions(organizationId: 1, projectId: "p%d") { nodes { id: projectId id } nodes { id: label id } }`, i)
	}
	conflict.WriteString(" }")
	cases := []struct{ name, auth, query string }{
		{"one fragment, many operations, no key", "", spread(45, 420, false)},
		{"one fragment, many operations", key, spread(490, 1000, false)},
		{"unknown directives", key, spread(300, 1000, true)},
		{"one operation, many undefined variables", key, spread(1, 300, false)},
		{"conflicting fields", key, conflict.String()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r *gqlResponse
			alloc := allocated(func() { r = s.post(t, c.auth, c.query, nil) })
			size := 0
			for _, e := range r.Errors {
				b, _ := json.Marshal(e)
				size += len(b)
			}
			if code := r.code(); code != "DOCUMENT_LIMIT_EXCEEDED" && code != "GRAPHQL_VALIDATION_FAILED" {
				t.Fatalf("got %+v, want a refusal", r.Errors[:min(len(r.Errors), 3)])
			}
			if len(r.Errors) > 100 || size > 64<<10 {
				t.Errorf("%d errors, %d bytes: want at most 100 errors and 64 KiB", len(r.Errors), size)
			}
			if limit := uint64(40*len(c.query) + 8<<20); alloc > limit {
				t.Errorf("refusing a %d-byte document allocated %d bytes, want at most %d", len(c.query), alloc, limit)
			}
		})
	}
}
