package httpapi

import (
	"github.com/vektah/gqlparser/v2/ast"
)

// introspectionLists says how many items each list field of the introspection types
// holds on average in this schema (types, directives: all of them; fields, enumValues,
// ...: per type; args: per field or directive), and how deep ofType chains go, so that
// an introspection selection is priced by about the size of its answer (GraphiQL's
// query within a factor of two). gqlgen's complexity does not price introspection.
// Averages are right for the lists reached through types, which is where answers grow;
// __type(name:) reaches one type, whose lists are at most a few times the average.
type introspectionLists struct {
	items map[string]int
	// wraps is the average number of list and non-null wrappers around a type, rounded
	// up: an ofType nested deeper is null for most types, whatever it selects.
	wraps int
}

func newIntrospectionLists(s *ast.Schema) introspectionLists {
	l := introspectionLists{items: map[string]int{"types": len(s.Types), "directives": len(s.Directives)}}
	var wrapped, typed int
	wraps := func(t *ast.Type) {
		for ; t != nil; t = t.Elem {
			if t.NonNull {
				wrapped++
			}
			if t.Elem != nil {
				wrapped++
			}
		}
		typed++
	}
	type tally struct{ items, owners int }
	per := map[string]*tally{}
	count := func(name string, n int) {
		t := per[name]
		if t == nil {
			t = &tally{}
			per[name] = t
		}
		t.items += n
		t.owners++
	}
	for _, list := range []string{"fields", "inputFields", "enumValues", "interfaces", "possibleTypes"} {
		per[list] = &tally{owners: len(s.Types)} // a type has one kind: the others are null
	}
	for _, def := range s.Types {
		switch def.Kind {
		case ast.Object, ast.Interface:
			per["fields"].items += len(def.Fields)
			for _, f := range def.Fields {
				count("args", len(f.Arguments))
				wraps(f.Type)
				for _, a := range f.Arguments {
					wraps(a.Type)
				}
			}
			per["interfaces"].items += len(def.Interfaces)
		case ast.InputObject:
			per["inputFields"].items += len(def.Fields)
			for _, f := range def.Fields {
				wraps(f.Type)
			}
		case ast.Enum:
			per["enumValues"].items += len(def.EnumValues)
		}
		if def.Kind == ast.Interface || def.Kind == ast.Union {
			per["possibleTypes"].items += len(s.GetPossibleTypes(def))
		}
	}
	for _, d := range s.Directives {
		count("args", len(d.Arguments))
		for _, a := range d.Arguments {
			wraps(a.Type)
		}
	}
	for name, t := range per {
		l.items[name] = max(1, (t.items+t.owners-1)/max(t.owners, 1))
	}
	l.wraps = (wrapped + typed - 1) / max(typed, 1)
	return l
}

// priceCap keeps prices far from overflow; anything near it is refused anyway.
const priceCap = 1 << 40

type shapeWalker struct {
	doc         *ast.QueryDocument
	lists       introspectionLists
	aliases     int
	introspects bool
	// variablePrice: a field in pricedByArguments takes an argument from a variable.
	variablePrice bool
}

// walk returns the depth of a selection set and the price of the introspection fields
// in it (inside: set is already under __schema or __type; ofTypes: under that many
// ofType fields), following fragments
// (validation has already refused cycles; seen guards anyway) and counting aliases on
// the way. The document's fields were counted with fragments expanded before it was
// validated, so this walk is bounded by that limit.
func (w *shapeWalker) walk(set ast.SelectionSet, inside bool, ofTypes int, seen map[string]bool) (depth, price int) {
	for _, sel := range set {
		var d, p int
		switch s := sel.(type) {
		case *ast.Field:
			if s.Alias != "" && s.Alias != s.Name {
				w.aliases++
			}
			if s.ObjectDefinition != nil && pricedByArguments[s.ObjectDefinition.Name+"."+s.Name] && usesVariable(s.Arguments) {
				w.variablePrice = true
			}
			intro := inside || s.Name == "__schema" || s.Name == "__type"
			w.introspects = w.introspects || intro
			nested := ofTypes
			if inside && s.Name == "ofType" {
				nested++
			}
			cd, cp := w.walk(s.SelectionSet, intro, nested, seen)
			d = 1 + cd
			switch {
			case !intro:
			case nested > w.lists.wraps:
				p = 1 // null in this schema
			default:
				mult := 1
				if inside {
					if n, ok := w.lists.items[s.Name]; ok {
						mult = n
					}
				}
				p = min(1+mult*cp, priceCap)
			}
		case *ast.InlineFragment:
			d, p = w.walk(s.SelectionSet, inside, ofTypes, seen)
		case *ast.FragmentSpread:
			if seen[s.Name] {
				continue
			}
			if f := w.doc.Fragments.ForName(s.Name); f != nil {
				if seen == nil {
					seen = map[string]bool{}
				}
				seen[s.Name] = true
				d, p = w.walk(f.SelectionSet, inside, ofTypes, seen)
				delete(seen, s.Name)
			}
		}
		depth = max(depth, d)
		price = min(price+p, priceCap)
	}
	return depth, price
}

// usesVariable reports whether any of the arguments takes a variable, anywhere in its value.
func usesVariable(args ast.ArgumentList) bool {
	var walk func(v *ast.Value) bool
	walk = func(v *ast.Value) bool {
		if v == nil {
			return false
		}
		if v.Kind == ast.Variable {
			return true
		}
		for _, c := range v.Children {
			if walk(c.Value) {
				return true
			}
		}
		return false
	}
	for _, a := range args {
		if walk(a.Value) {
			return true
		}
	}
	return false
}
