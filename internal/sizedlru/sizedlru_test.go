package sizedlru

import "testing"

func TestBoundedByCountAndSize(t *testing.T) {
	var evicted []string
	c := New[string, int](3, 100, func(k string, _ int) { evicted = append(evicted, k) })
	c.Add("a", 1, 10)
	c.Add("b", 2, 10)
	c.Add("c", 3, 10)
	c.Add("d", 4, 10) // over the count: a goes
	if _, ok := c.Get("a"); ok {
		t.Error("a kept past the entry bound")
	}
	c.Get("b")        // b is now the most recent
	c.Add("e", 5, 85) // over the size: c and d go, b stays (10 + 85 <= 100)
	if got, want := c.Size(), int64(95); got != want {
		t.Errorf("size %d, want %d", got, want)
	}
	if _, ok := c.Get("b"); !ok {
		t.Error("b evicted though recently used")
	}
	if got, want := len(evicted), 3; got != want {
		t.Errorf("evicted %v, want 3 entries", evicted)
	}
	c.Add("huge", 6, 101) // larger than the whole budget: not stored, nothing evicted
	if _, ok := c.Get("huge"); ok || c.Len() != 2 {
		t.Errorf("entry over the budget stored (len %d)", c.Len())
	}
	c.Add("b", 7, 5) // replacing keeps the total right
	if got, want := c.Size(), int64(90); got != want {
		t.Errorf("size after replace %d, want %d", got, want)
	}
	if v, _ := c.Get("b"); v != 7 {
		t.Errorf("b = %d, want 7", v)
	}
}
