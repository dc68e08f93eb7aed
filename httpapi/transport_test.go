package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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

// jsonPOST answers every request byte for byte as gqlgen's transport.POST does: the same
// status, content type and body, over the same executable schema.
func TestJSONPOSTMatchesGqlgen(t *testing.T) {
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
	server := func(tr graphql.Transport) *handler.Server {
		es := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{Store: store, Auth: resolvers.AllowAll{}}, Complexity: complexityRoot()})
		srv := handler.New(es)
		srv.AddTransport(tr)
		opts := HandlerOptions{QueryCacheSize: 100, QueryCacheBytes: 1 << 20, Limits: Limits{Complexity: 200, Depth: 10, Aliases: 30}}
		opts.Limits.defaults()
		useLimits(srv, es, resolvers.AllowAll{}, opts, resolvers.ErrorPresenter(nil))
		srv.SetErrorPresenter(resolvers.ErrorPresenter(nil))
		return srv
	}
	ours, theirs := server(jsonPOST{}), server(transport.POST{})

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

// gqlgenDecode is how transport.POST reads a body.
func gqlgenDecode(body []byte) (graphql.RawParams, error) {
	var p graphql.RawParams
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err := dec.Decode(&p)
	return p, err
}

// FuzzDecodeParams: whatever the plain decoder accepts, gqlgen's decoder reads the same.
func FuzzDecodeParams(f *testing.F) {
	for _, seed := range []string{
		`{"query":"{ a }"}`, `{"query":"q","variables":{"id":5,"f":1.5,"s":"x","n":null,"l":[1,{"a":true}]},"operationName":"Op","extensions":{"persistedQuery":{"version":1,"sha256Hash":"ab"}}}`,
		` {"query" : "a\"b\\c\u00e9" } `, `{"query":null}`, `{}`, `{"query":"a"} x`, `{"Query":"a"}`, `{"query":"a","query":"b"}`,
		`{"variables":{"a":1}}}`, `{"variables":{"a":"}"}}`, `{"query":"\ud800x"}`, "{\"query\":\"\xff\"}", `{"variables":{"a":1,"a":2}}`,
		`{"variables":{"a":[1,-0.5e+3,[],{},"é",true,false,null],"b":{"c":{"d":[[]]}}}}`, `{"variables":{"n":01}}`,
		`{"variables":{"n":1.}}`, `{"variables":{"n":-}}`, "{\"variables\":{\"s\":\"a\nb\"}}", `{"variables":{"n":1E5,"m":-0,"t":truex}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got graphql.RawParams
		if !decodeParams(body, &got) {
			return
		}
		want, err := gqlgenDecode(body)
		if err != nil {
			t.Fatalf("%q: plain decoder accepted, gqlgen's refuses: %v", body, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n plain  %#v\n gqlgen %#v", body, got, want)
		}
	})
}

// FuzzWriteResponse: the direct response writer writes what encoding/json writes.
func FuzzWriteResponse(f *testing.F) {
	for _, seed := range []string{`{"a":1}`, `{"a":"<b>"}`, `{"a":"\u2028"}`, `{"a":"x\"y"}`, `{"a": 1}`, `null`, `{"a":"é"}`, `{"a":"\\"}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		resp := &graphql.Response{Data: data}
		want, err := json.Marshal(resp)
		if err != nil {
			return
		}
		var got bytes.Buffer
		writeResponse(&got, resp)
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("%q: wrote %s, encoding/json %s", data, got.Bytes(), want)
		}
	})
}

// The usual variables take the plain decoder, not encoding/json.
func TestPlainValueTakesUsualVariables(t *testing.T) {
	raw := []byte(`{"in":{"organizationId":1,"projectId":"bench","categories":["HRIS","ATS"],"metadata":{"plan":"growth","seats":42},"multiple":false,"label":null,"x":[-1.5e3]}}`)
	v, end, ok := plainValue(raw, 0, 0)
	if !ok || end != len(raw) {
		t.Fatalf("plain decoder refused %s", raw)
	}
	var want any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&want); err != nil || !reflect.DeepEqual(v, want) {
		t.Errorf("plain %#v\n json %#v (%v)", v, want, err)
	}
}
