package model

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestCategoryListMarshalsNames(t *testing.T) {
	var buf bytes.Buffer
	CategoryList(AllCategories).MarshalGQL(&buf)
	var names []string
	if err := json.Unmarshal(buf.Bytes(), &names); err != nil {
		t.Fatalf("not a JSON array: %s: %v", buf.String(), err)
	}
	if len(names) != len(AllCategories) {
		t.Fatalf("got %d names, want %d", len(names), len(AllCategories))
	}
	for i, n := range names {
		c, ok := CategoryByName(n)
		if !ok || c != AllCategories[i] {
			t.Errorf("name %q: got %q, want %q", n, c, AllCategories[i])
		}
	}
	if names[2] != "HRIS_LEGACY" {
		t.Errorf("hris-legacy: got %q, want HRIS_LEGACY", names[2])
	}

	buf.Reset()
	CategoryList{}.MarshalGQL(&buf)
	if buf.String() != "[]" {
		t.Errorf("empty list: got %s", buf.String())
	}
}

func TestCategoryUnmarshal(t *testing.T) {
	var l CategoryList
	if err := l.UnmarshalGQL([]any{"HRIS", "ATS"}); err != nil || len(l) != 2 || l[0] != CategoryHRIS || l[1] != CategoryATS {
		t.Errorf("list: got %v, %v", l, err)
	}
	if err := l.UnmarshalGQL("CRM"); err != nil || len(l) != 1 || l[0] != CategoryCRM {
		t.Errorf("single value: got %v, %v", l, err)
	}
	for _, bad := range []any{[]any{"hris"}, []any{"NOPE"}, []any{1}} {
		if err := l.UnmarshalGQL(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	var c Category
	if err := c.UnmarshalGQL("HRIS_LEGACY"); err != nil || c != CategoryHRISLegacy {
		t.Errorf("category: got %q, %v", c, err)
	}
	if err := c.UnmarshalGQL("hris-legacy"); err == nil {
		t.Errorf("a wire value was taken for a GraphQL name")
	}
	var buf bytes.Buffer
	CategoryMarketing.MarshalGQL(&buf)
	if buf.String() != `"MARKETING"` {
		t.Errorf("marshal: got %s", buf.String())
	}
}
