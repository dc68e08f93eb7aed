package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"connectsession/cache"
	"connectsession/graph"
	"connectsession/graph/model"
	"connectsession/internal/redistest"
	"connectsession/resolvers"
)

// checkedPOST answers every decodable request byte for byte as gqlgen's transport.POST does: the same
// status, content type and body, over the same executable schema.
func TestCheckedPOSTMatchesGqlgen(t *testing.T) {
	store := cache.New(redistest.Mini(t, "").RDB, cache.Options{})
	label, user := `<b>HR & "co"</b>`, "ünïcödé\u2028user"
	s, _, err := store.Create(context.Background(), &model.CreateConnectSessionInput{OrganizationID: 1, ProjectID: "demo",
		OriginOwnerID: "o1", OriginOwnerName: "Owner", Label: &label, OriginUsername: &user})
	if err != nil {
		t.Fatal(err)
	}
	plain, _, err := store.Create(context.Background(), &model.CreateConnectSessionInput{OrganizationID: 1, ProjectID: "demo",
		OriginOwnerID: "o2", OriginOwnerName: "Plain"})
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := transportServer(store, checkedPOST{}), transportServer(store, transport.POST{})

	read := func(id int, fields string) string {
		b, _ := json.Marshal(map[string]any{"query": `query($id: Int!) { connectSession(organizationId: 1, projectId: "demo", id: $id) { ` + fields + ` } }`,
			"variables": map[string]any{"id": id}})
		return string(b)
	}
	bodies := []string{
		read(plain.ID, "id originOwnerId status createdAt categories"),
		read(s.ID, "id label originUsername"), // data encoding/json escapes
		read(999999, "id"),                    // null data
		`{"query":"{ __typename }"}`,
		` { "query" : "{ __typename }" , "variables" : null , "operationName" : null , "extensions" : null } `,
		`{"query":"query Q { __typename } query R { a: __typename }","operationName":"R"}`,
		`{"query":"query Q { __typename } query R { __typename }","operationName":"S"}`,
		`{"query":"query Q { __typename } query R { __typename }"}`,
		`{"query":"{ connectSession(organizationId: 1, projectId: \"demo\", id: 1) { id } }","extensions":{"x":[1,2.5,{"y":"z"}]}}`,
		`{"query":"query($n: Int) { connectSessions(organizationId: 1, projectId: \"demo\", first: $n) { edges { node { id label } } } }","variables":{"n":1}}`,
		`{"query":"query($n: Int) { connectSessions(organizationId: 1, projectId: \"demo\", first: $n) { edges { node { id label } } } }","variables":{"n":100}}`,
		`{"query":"query($n: Int) { connectSessions(organizationId: 1, projectId: \"demo\", first: $n) { totalCount } }","variables":{"n":"x"}}`,
		`{"query":"query($id: Int!) { connectSession(organizationId: 1, projectId: \"demo\", id: $id) { id } }","variables":{"id":1e400}}`,
		`{"query":"query($id: Int!) { connectSession(organizationId: 1, projectId: \"demo\", id: $id) { id } }","variables":{"id":12345678901234567890}}`,
		`{"query":"query($id: Int!) { connectSession(organizationId: 1, projectId: \"demo\", id: $id) { id } }"}`,
		`{"query":"{ nope }"}`,
		`{"query":"{ __typename"}`,
		`{"query":"\u007b __typename }"}`,
		`{"query":"{ __typename }"} trailing`,
		`{"query":"{ __typename }"}{"query":"{ x }"}`,
		`{"Query":"{ __typename }"}`,
		`{"query":"{ __typename }","query":"{ x }"}`,
		`{"query":"{ __typename }","other":1}`,
		`{"query":1}`,
		`{"query":"{ __typename }","variables":[1]}`,
		`{"query":"{ __typename }","variables":"x"}`,
		`{"query":"{ __typename }","variables":{"a":}}`,
		`{"query":"{ __typename }","variables":{"a":1}}}`,
		`{"query":"{ __typename }",}`,
		`{"query":"{ __typename }"`,
		`{"qu\u0065ry":"{ __typename }"}`,
		`{"query":"{ __typename }", "operationName": 5}`,
		`{"query":"\ud800"}`,
		"{\"query\":\"{ __typename }\xff\"}",
		`{}`,
		`[]`,
		`null`,
		``,
		`   `,
		`{"query":nul}`,
		`{"query":"{ __typename }","variables":{"a":tru}}`,
	}
	accepts := []string{"", "application/json", "application/graphql-response+json",
		"application/graphql-response+json, application/json;q=0.9", "*/*", "text/html", "text/html, application/*", ";;;"}
	for _, body := range bodies {
		for _, accept := range accepts {
			do := func(h http.Handler) *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if accept != "" {
					req.Header.Set("Accept", accept)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			a, b := do(ours), do(theirs)
			if _, err := gqlgenDecode([]byte(body)); err != nil {
				// gqlgen repeats an undecodable body in its answer; ours is a short
				// BAD_REQUEST in the negotiated content type instead.
				var got struct {
					Errors []struct{ Extensions map[string]any }
				}
				if a.Code != http.StatusBadRequest || json.Unmarshal(a.Body.Bytes(), &got) != nil || len(got.Errors) != 1 ||
					got.Errors[0].Extensions["code"] != resolvers.CodeBadRequest || a.Header().Get("Content-Type") != b.Header().Get("Content-Type") ||
					(len(body) > 2 && strings.Contains(a.Body.String(), body)) {
					t.Errorf("undecodable body %q, Accept %q: %d %v %s", body, accept, a.Code, a.Header(), a.Body)
				}
				continue
			}
			if a.Code != b.Code || !reflect.DeepEqual(a.Header(), b.Header()) || !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
				t.Errorf("body %q, Accept %q:\n ours   %d %v %s\n gqlgen %d %v %s", body, accept,
					a.Code, a.Header(), a.Body, b.Code, b.Header(), b.Body)
			}
		}
	}
}

// checkedGET answers every query as gqlgen's transport.GET does: the same status,
// content type and body, over the same executable schema. What it refuses (a malformed
// query string, variables or extensions; a mutation or subscription) gets one error with
// a code instead of gqlgen's uncoded one.
func TestCheckedGETMatchesGqlgen(t *testing.T) {
	store := cache.New(redistest.Mini(t, "").RDB, cache.Options{})
	if _, _, err := store.Create(context.Background(), &model.CreateConnectSessionInput{OrganizationID: 1, ProjectID: "demo",
		OriginOwnerID: "o1", OriginOwnerName: "Owner"}); err != nil {
		t.Fatal(err)
	}
	ours, theirs := transportServer(store, checkedGET{}), transportServer(store, transport.GET{})
	q := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	read := `query($id: Int!) { connectSession(organizationId: 1, projectId: "demo", id: $id) { id originOwnerId status } }`
	answered := []string{
		q("query", read, "variables", `{"id":1}`),
		q("query", read, "variables", `{"id":999}`),
		q("query", read, "variables", `{"id":"x"}`),
		q("query", read),
		q("query", `{ __typename }`, "variables", `null`, "extensions", `{}`),
		q("query", `query Q { __typename } query R { a: __typename }`, "operationName", "R"),
		q("query", `query Q { __typename } query R { __typename }`, "operationName", "S"),
		q("query", `query Q { __typename } query R { __typename }`),
		q("query", `{ nope }`),
		q("query", `{ __typename`),
		q("query", `{ __typename }`, "variables", `{"a":1} trailing`),
		q("query", `{ connectSessions(organizationId: 1, projectId: "demo") { totalCount } }`),
		q("query", `{ __typename }`, "extensions", `{"persistedQuery":{"version":1,"sha256Hash":"00"}}`),
		"",
		"query=",
		"other=1",
	}
	refused := []struct {
		query, code string
		status      int
	}{
		{q("query", `mutation { authenticateConnectSession(token: "x") { id } }`), resolvers.CodeBadRequest, http.StatusMethodNotAllowed},
		{q("query", `subscription { connectSessionEvents(organizationId: 1, projectId: "demo") { id } }`), resolvers.CodeBadRequest, http.StatusMethodNotAllowed},
		{q("query", `query Q { __typename } mutation M { deleteConnectSession(organizationId: 1, projectId: "demo", id: 1) { id } }`, "operationName", "M"),
			resolvers.CodeBadRequest, http.StatusMethodNotAllowed},
		{q("query", `{ __typename }`, "variables", `{"a":`), resolvers.CodeBadRequest, http.StatusBadRequest},
		{q("query", `{ __typename }`, "variables", `[1]`), resolvers.CodeBadRequest, http.StatusBadRequest},
		{q("query", `{ __typename }`, "extensions", `"x"`), resolvers.CodeBadRequest, http.StatusBadRequest},
		{"query=%zz", resolvers.CodeBadRequest, http.StatusBadRequest},
	}
	accepts := []string{"", "application/json", "application/graphql-response+json", "*/*", "text/html", ";;;"}
	do := func(h http.Handler, query, accept string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/graphql?"+query, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, accept := range accepts {
		for _, query := range answered {
			a, b := do(ours, query, accept), do(theirs, query, accept)
			if a.Code != b.Code || !reflect.DeepEqual(a.Header(), b.Header()) || !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
				t.Errorf("GET ?%s, Accept %q:\n ours   %d %v %s\n gqlgen %d %v %s", query, accept,
					a.Code, a.Header(), a.Body, b.Code, b.Header(), b.Body)
			}
		}
		for _, r := range refused {
			a, b := do(ours, r.query, accept), do(theirs, r.query, accept)
			var got struct {
				Errors []struct{ Extensions map[string]any }
				Data   json.RawMessage
			}
			if a.Code != r.status || json.Unmarshal(a.Body.Bytes(), &got) != nil || len(got.Errors) != 1 ||
				got.Errors[0].Extensions["code"] != r.code || string(got.Data) != "null" ||
				a.Header().Get("Content-Type") != negotiateContentType(accept) {
				t.Errorf("GET ?%s, Accept %q: %d %v %s, want %d %s", r.query, accept, a.Code, a.Header(), a.Body, r.status, r.code)
			}
			if b.Code == a.Code && bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
				t.Errorf("GET ?%s: answered as gqlgen does (%d %s); this case is no longer a refusal of ours", r.query, b.Code, b.Body)
			}
		}
	}
}

// gqlgenDecode is how transport.POST reads a body.
func gqlgenDecode(body []byte) (graphql.RawParams, error) {
	var p graphql.RawParams
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err := dec.Decode(&p)
	return p, err
}

// transportServer is a handler over store with the limits and presenter of the service
// and tr as its only transport, for comparing a transport of ours with gqlgen's.
func transportServer(store *cache.Store, tr graphql.Transport) *handler.Server {
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{Store: store, Auth: resolvers.AllowAll{}}, Complexity: complexityRoot()})
	srv := handler.New(es)
	srv.AddTransport(tr)
	opts := HandlerOptions{QueryCacheSize: 100, QueryCacheBytes: 1 << 20, Limits: Limits{Complexity: 200, Depth: 10, Aliases: 30}}
	opts.Limits.defaults()
	useLimits(srv, es, resolvers.AllowAll{}, opts, resolvers.ErrorPresenter(nil))
	srv.SetErrorPresenter(resolvers.ErrorPresenter(nil))
	return srv
}
