package resolvers_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"
)

// badInput is one input that breaks one of the API's input rules (lengths, formats,
// ranges).
type badInput struct {
	name  string
	query string
	vars  map[string]any
	field string // the extensions.field the error must name
}

// createWith is the minimal create input with one field replaced.
func createWith(field string, v any) map[string]any {
	in := minimalInput("acme")
	in[field] = v
	return in
}

// createVar is a createConnectSession with the input in a variable.
func createVar(name, field string, v any) badInput {
	return badInput{name: name + " (variable)", query: createMutation, vars: map[string]any{"input": createWith(field, v)}, field: "input." + field}
}

// createLit is a createConnectSession with the input inline; extra is GraphQL input syntax.
func createLit(name, extra, field string) badInput {
	q := `mutation { createConnectSession(input: {organizationId: 1, projectId: "demo", originOwnerId: "o",
		originOwnerName: "O", ` + extra + `}) { token } }`
	return badInput{name: name + " (literal)", query: q, field: field}
}

func createBadInputs() []badInput {
	long := func(n int) string { return strings.Repeat("x", n) }
	return []badInput{
		createVar("organizationId 0", "organizationId", 0),
		createVar("organizationId negative", "organizationId", -3),
		createVar("projectId empty", "projectId", ""),
		createVar("projectId 129 characters", "projectId", long(129)),
		createVar("originOwnerId blank", "originOwnerId", "   "),
		createVar("originOwnerId empty", "originOwnerId", ""),
		createVar("originOwnerId 256 characters", "originOwnerId", long(256)),
		createVar("originOwnerName blank", "originOwnerName", " \t"),
		createVar("originOwnerName 256 characters", "originOwnerName", strings.Repeat("é", 256)),
		createVar("originUsername 256 characters", "originUsername", long(256)),
		createVar("accountId 256 characters", "accountId", long(256)),
		createVar("label 256 characters", "label", long(256)),
		createVar("provider upper case", "provider", "HiBob"),
		createVar("provider leading dash", "provider", "-x"),
		createVar("provider 65 characters", "provider", "a"+long(64)),
		createVar("provider empty", "provider", ""),
		createVar("categories duplicate", "categories", []string{"HRIS", "ATS", "HRIS"}),
		// A category's wire value is not its GraphQL name: the schema's own check lets
		// some of them through in variables, the service must not.
		createVar("categories wire value", "categories", []string{"hris"}),
		createVar("categories wire value after a good one", "categories", []string{"ATS", "crm"}),
		createVar("categories one wire value, not a list", "categories", "hris"),
		createVar("metadata array", "metadata", []any{1, 2}),
		createVar("metadata string", "metadata", "plan=gold"),
		createVar("metadata number", "metadata", 42),
		createVar("metadata over 8 KiB", "metadata", map[string]any{"k": long(8<<10 - 7)}),
		createVar("expiresIn 59", "expiresIn", 59),
		createVar("expiresIn 2592001", "expiresIn", 2592001),
		createVar("expiresIn 0", "expiresIn", 0),
		{name: "organizationId 0 (literal)", field: "input.organizationId", query: `mutation { createConnectSession(input: {
			organizationId: 0, projectId: "demo", originOwnerId: "o", originOwnerName: "O"}) { token } }`},
		createLit("provider upper case", `provider: "HiBob"`, "input.provider"),
		createLit("categories duplicate", `categories: [CRM, CRM]`, "input.categories"),
		createLit("metadata array", `metadata: [1, 2]`, "input.metadata"),
		createLit("metadata string", `metadata: "plan=gold"`, "input.metadata"),
		createLit("metadata number", `metadata: 42`, "input.metadata"),
		createLit("metadata over 8 KiB", `metadata: {k: "`+long(8<<10-7)+`"}`, "input.metadata"),
		createLit("expiresIn 59", `expiresIn: 59`, "input.expiresIn"),
		createLit("expiresIn 2592001", `expiresIn: 2592001`, "input.expiresIn"),
	}
}

func updateBadInputs(id int) []badInput {
	upd := func(name, field string, v any) badInput {
		in := map[string]any{"organizationId": 1, "projectId": "demo", "id": id}
		in[field] = v
		return badInput{name: "update " + name + " (variable)", query: updateMutation, vars: map[string]any{"input": in}, field: "input." + field}
	}
	lit := func(name, args, field string) badInput {
		q := fmt.Sprintf(`mutation { updateConnectSession(input: {organizationId: 1, projectId: "demo", id: %d, %s}) { id } }`, id, args)
		return badInput{name: "update " + name + " (literal)", query: q, field: field}
	}
	return []badInput{
		upd("id 0", "id", 0),
		upd("id negative", "id", -1),
		upd("organizationId 0", "organizationId", 0),
		upd("projectId empty", "projectId", ""),
		upd("originOwnerName null", "originOwnerName", nil),
		upd("originOwnerName blank", "originOwnerName", "  "),
		upd("originUsername 256 characters", "originUsername", strings.Repeat("u", 256)),
		upd("provider invalid", "provider", "Bad Provider"),
		upd("categories duplicate", "categories", []string{"ATS", "ATS"}),
		upd("categories wire value", "categories", []string{"crm"}),
		upd("accountId 256 characters", "accountId", strings.Repeat("a", 256)),
		upd("label 256 characters", "label", strings.Repeat("l", 256)),
		upd("metadata array", "metadata", []any{"a"}),
		upd("metadata over 8 KiB", "metadata", map[string]any{"k": strings.Repeat("x", 8<<10-7)}),
		upd("expiresIn 59", "expiresIn", 59),
		upd("expiresIn 2592001", "expiresIn", 2592001),
		upd("expiresIn null", "expiresIn", nil),
		lit("originOwnerName null", `originOwnerName: null`, "input.originOwnerName"),
		lit("metadata string", `metadata: "x"`, "input.metadata"),
		lit("expiresIn 59", `expiresIn: 59`, "input.expiresIn"),
	}
}

func tenantBadInputs(id int) []badInput {
	var out []badInput
	for _, op := range []string{"revokeConnectSession", "deleteConnectSession"} {
		sel := "{ id }"
		q := func(org int, project string, id int) string {
			return fmt.Sprintf(`mutation { %s(organizationId: %d, projectId: %q, id: %d) %s }`, op, org, project, id, sel)
		}
		out = append(out,
			badInput{name: op + " organizationId 0", query: q(0, "demo", id), field: "organizationId"},
			badInput{name: op + " organizationId negative", query: q(-1, "demo", id), field: "organizationId"},
			badInput{name: op + " projectId empty", query: q(1, "", id), field: "projectId"},
			badInput{name: op + " projectId 129 characters", query: q(1, strings.Repeat("p", 129), id), field: "projectId"},
			badInput{name: op + " id 0", query: q(1, "demo", 0), field: "id"},
		)
	}
	return out
}

func listBadInputs() []badInput {
	lst := func(name, args, field string) badInput {
		q := `query { connectSessions(organizationId: 1, projectId: "demo", ` + args + `) { totalCount } }`
		return badInput{name: "list " + name, query: q, field: field}
	}
	v := func(name string, vars map[string]any, field string) badInput {
		vars["org"], vars["project"] = 1, "demo"
		return badInput{name: "list " + name + " (variable)", query: listQuery, vars: vars, field: field}
	}
	return []badInput{
		{name: "list organizationId 0", query: `{ connectSessions(organizationId: 0, projectId: "demo") { totalCount } }`, field: "organizationId"},
		lst("first 101", `first: 101`, "first"),
		lst("first -1", `first: -1`, "first"),
		lst("first and last", `first: 1, last: 1`, "first"),
		lst("last -1", `last: -1`, "last"),
		lst("last 101", `last: 101`, "last"),
		lst("after malformed", `after: "not-a-cursor!"`, "after"),
		lst("after plausible base64", `after: "djE6eDox"`, "after"), // "v1:x:1"
		lst("before malformed", `before: "zzz"`, "before"),
		lst("filter.provider invalid", `filter: {provider: "HiBob"}`, "filter.provider"),
		lst("filter.createdAfter not a date", `filter: {createdAfter: "yesterday"}`, "filter.createdAfter"),
		lst("filter.createdBefore not a date", `filter: {createdBefore: "2026-13-01"}`, "filter.createdBefore"),
		v("first 101", map[string]any{"first": 101}, "first"),
		v("filter.createdAfter not a date", map[string]any{"filter": map[string]any{"createdAfter": "2026-01-02"}}, "filter.createdAfter"),
		v("filter.category wire value", map[string]any{"filter": map[string]any{"category": "hris"}}, "filter.category"),
		{name: "connectSession organizationId 0", query: `{ connectSession(organizationId: 0, projectId: "demo", id: 1) { id } }`, field: "organizationId"},
		{name: "connectSession projectId 129 characters", query: `{ connectSession(organizationId: 1, projectId: "` + strings.Repeat("p", 129) + `", id: 1) { id } }`, field: "projectId"},
	}
}

// TestValidation sends one bad input per rule and checks BAD_USER_INPUT with the field,
// and that not one key under the store's prefix changed.
func TestValidation(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		c := b.client(nil)
		// An existing session, so that refused updates, revokes and deletes have a target.
		id := create(t, c, minimalInput("acme")).CreateConnectSession.ConnectSession.ID
		var tests []badInput
		tests = append(tests, createBadInputs()...)
		tests = append(tests, updateBadInputs(id)...)
		tests = append(tests, tenantBadInputs(id)...)
		tests = append(tests, listBadInputs()...)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := b.snapshot(t)
				if len(before) == 0 {
					t.Fatal("snapshot before: got no keys, want the seeded session's")
				}
				res := do(t, c, tt.query, tt.vars)
				e := wantError(t, res, "BAD_USER_INPUT", tt.field)
				if !strings.HasPrefix(e.Message, tt.field+" ") {
					t.Errorf("message: got %q, want it to start with the field %q", e.Message, tt.field)
				}
				if after := b.snapshot(t); !maps.Equal(after, before) {
					t.Errorf("keys changed:\nbefore %v\n after %v", before, after)
				}
			})
		}
		if got := get(t, b, 1, "demo", id); got == nil || got.Status != "PENDING" || got.UpdatedAt != got.CreatedAt {
			t.Errorf("seeded session after refused writes: got %+v, want unchanged", got)
		}
	})
}

// TestOrganizationIDWithin32Bits: GraphQL Int is a signed 32-bit integer, so an
// organizationId beyond 2^31-1 must be refused before anything is stored.
func TestOrganizationIDWithin32Bits(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		c := b.client(nil)
		create(t, c, minimalInput("acme"))
		tests := []badInput{
			createVar("organizationId 2^31", "organizationId", int64(1)<<31),
			{name: "organizationId 2^40 (literal)", field: "input.organizationId", query: `mutation { createConnectSession(input: {
				organizationId: 1099511627776, projectId: "demo", originOwnerId: "o", originOwnerName: "O"}) { token } }`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := b.snapshot(t)
				res := do(t, c, tt.query, tt.vars)
				if len(res.Errors) == 0 {
					t.Fatalf("got data %s and no error, want the value refused", res.Data)
				}
				if after := b.snapshot(t); !maps.Equal(after, before) {
					t.Errorf("keys changed:\nbefore %v\n after %v", before, after)
				}
			})
		}
	})
}
