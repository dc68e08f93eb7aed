package httpapi

import (
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// The fields operationLimits treats as priced by their arguments are exactly those that
// complexityRoot gives a function: a function missing from the list would have its
// variables ignored by the cached complexity.
func TestPricedByArgumentsMatchesComplexity(t *testing.T) {
	root := reflect.ValueOf(complexityRoot())
	found := map[string]bool{}
	for i := range root.NumField() {
		typ := root.Type().Field(i).Name
		obj := root.Field(i)
		if obj.Kind() != reflect.Struct {
			continue
		}
		for j := range obj.NumField() {
			if obj.Field(j).Kind() == reflect.Func && !obj.Field(j).IsNil() {
				name := obj.Type().Field(j).Name
				r, n := utf8.DecodeRuneInString(name)
				found[typ+"."+string(unicode.ToLower(r))+name[n:]] = true
			}
		}
	}
	found["Query._entities"] = true // priced by pricing.Complexity: its function is not exported
	if !reflect.DeepEqual(found, pricedByArguments) {
		t.Errorf("complexityRoot prices %v, pricedByArguments lists %v", found, pricedByArguments)
	}
	for name := range found {
		if strings.Count(name, ".") != 1 {
			t.Errorf("odd field name %q", name)
		}
	}
}
