package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
)

// programName is what the usage calls the program: the base name of the binary (for
// go run, the package's name, never the build cache's path).
func programName(arg0 string) string {
	base := filepath.Base(arg0)
	if base == "." || base == string(filepath.Separator) || base == "" {
		return "connectsession"
	}
	return base
}

// invocation is how the user started the program, for command lines printed to copy:
// "go run ." for a binary in Go's build cache, else the path as it was typed.
func invocation(arg0 string) string {
	if arg0 == "" {
		return "connectsession"
	}
	if slices.ContainsFunc(strings.Split(filepath.ToSlash(arg0), "/"), func(dir string) bool {
		return strings.HasPrefix(dir, "go-build")
	}) {
		return "go run ."
	}
	return arg0
}

// parseFlags parses args into fs. On -h or -help it writes usage to stdout and returns
// flag.ErrHelp, which run turns into a clean exit; any other error names the flag and
// points at -h, without the whole usage.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer, usage func(io.Writer)) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout)
		return err
	}
	if err != nil {
		return fmt.Errorf("%w (%s -h lists the flags)", err, fs.Name())
	}
	return nil
}

// serverUsage is the program's -help: its commands, then every setting.
func serverUsage(w io.Writer, name string, fs *flag.FlagSet) {
	fmt.Fprintf(w, `Usage:
  %[1]s [flags]
        serve the GraphQL API (the default command)
  %[1]s apikey create|list|revoke [flags]
        manage API keys (%[1]s apikey -h)
  %[1]s verify [-org N -project P] [-repair]
        check the stored sessions against their indexes, and fix them (%[1]s verify -h)
  %[1]s help
        this text

Without REDIS_URL or REDIS_CLUSTER_ADDRS the server runs on an embedded in-memory Redis,
listens on 127.0.0.1 only, and prints a development key; demo sessions are in it.

Settings: each is a flag and an environment variable (-redis-url or REDIS_URL, ...);
a flag wins over the variable.

`, name)
	printSettings(w, fs)
}

// printSettings lists the settings that are flags of fs, in the order of the settings
// table, each with its variable and default.
func printSettings(w io.Writer, fs *flag.FlagSet) {
	for _, s := range settings {
		f := fs.Lookup(flagName(s.env))
		if f == nil {
			continue
		}
		if _, ok := f.Value.(*settingValue); !ok {
			continue
		}
		def := ""
		if s.def != "" {
			def = "  default " + s.def
		}
		fmt.Fprintf(w, "  -%s %s  ($%s)%s\n        %s\n", f.Name, s.kind, s.env, def, s.usage)
	}
}

// printOwnFlags lists the flags of fs that are not settings, as flag.PrintDefaults
// does (a `word` in a flag's usage names what it takes).
func printOwnFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := f.Value.(*settingValue); ok {
			return
		}
		kind, usage := flag.UnquoteUsage(f)
		if kind != "" {
			kind = " " + kind
		}
		fmt.Fprintf(w, "  -%s%s\n        %s\n", f.Name, kind, usage)
	})
}

// plural writes n with the noun in the number it needs: 1 tenant, 2 tenants.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
