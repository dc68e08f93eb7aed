package cache

import (
	"io/fs"
	"strconv"
	"strings"
	"testing"
)

// Every .lua file is a script with its KEYS/ARGV table first (or the shared library),
// and loads with every Go constant filled in.
func TestLuaSources(t *testing.T) {
	files, err := fs.Glob(luaFiles, "lua/*.lua")
	if err != nil || len(files) == 0 {
		t.Fatalf("no embedded Lua files: %v", err)
	}
	for _, f := range files {
		name := strings.TrimPrefix(f, "lua/")
		src := luaSource(name)
		if !strings.HasPrefix(src, "-- "+name+" ") && !strings.HasPrefix(src, "-- "+name+":") {
			t.Errorf("%s does not open with a comment naming it", name)
		}
		if strings.Contains(src, "{{") {
			t.Errorf("%s has an unfilled constant", name)
		}
		header, _, _ := strings.Cut(src, "\n\n")
		if name != "lib.lua" && !strings.Contains(src[:strings.Index(src, "\nlocal ")], "ARGV[1]") {
			t.Errorf("%s does not document its ARGV before its first local: %q", name, header)
		}
	}
	for _, c := range []struct{ file, want string }{
		{"lib.lua", "local IX_MAX = " + strconv.Itoa(chunkSize) + "\n"},
		{"lib.lua", "local IX_CHUNK_COST = " + strconv.Itoa(chunkCountCost) + "\n"},
		{"create.lua", "if id > " + strconv.Itoa(maxID) + " then"},
	} {
		if !strings.Contains(luaSource(c.file), c.want) {
			t.Errorf("%s lacks %q", c.file, c.want)
		}
	}
}
