package jsonscan

import "testing"

func TestCompositeEnd(t *testing.T) {
	cases := []struct {
		s   string
		i   int
		end int
		ok  bool
	}{
		{`{}`, 0, 2, true},
		{`x{"a":[1,{"b":"}]"}]}y`, 1, 21, true},
		{`["\"]",{}]`, 0, 10, true},
		{`{"a":"\\"}`, 0, 10, true},
		{`{"a":1`, 0, 0, false},
		{`{"a":"}`, 0, 0, false},
		{`"x"`, 0, 0, false},
		{``, 0, 0, false},
	}
	for _, c := range cases {
		end, ok := CompositeEnd(c.s, c.i)
		if end != c.end || ok != c.ok {
			t.Errorf("%q at %d: %d %v, want %d %v", c.s, c.i, end, ok, c.end, c.ok)
		}
		if bend, bok := CompositeEnd([]byte(c.s), c.i); bend != end || bok != ok {
			t.Errorf("%q as bytes: %d %v", c.s, bend, bok)
		}
	}
}
