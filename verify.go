package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"connectsession/cache"
	"connectsession/graph/model"
)

// verifyUsage is `verify -h` before its flags; %[1]s is the command's name.
const verifyUsage = `Usage: %[1]s [-org N -project P] [-repair]
Checks every record against its index entries (plain or chunked) and pointers, every
index entry against its record, and every token pointer against its session, in every
tenant or in one (-org and -project together); prints each inconsistency, and fixes them
with -repair. A session needs a token pointer only with TOKEN_POINTERS=write (as the
server's). Exits non-zero when it found inconsistencies and did not repair them
(dangling token pointers an interrupted create may leave are reported as harmless).

Flags:
`

// runVerify is the `verify` command.
func runVerify(ctx context.Context, name string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	load := settingFlags(fs, getenv, append(redisSettings, "SESSION_RETENTION", "TOKEN_POINTERS")...)
	org := fs.Int("org", 0, "only this organization's `id` (with -project)")
	project := fs.String("project", "", "only this `project` (with -org)")
	repair := fs.Bool("repair", false, "fix what is found")
	usage := func(w io.Writer) {
		fmt.Fprintf(w, verifyUsage, name)
		printOwnFlags(w, fs)
		fmt.Fprintln(w, "\nThe server's Redis, retention and token pointers (as for the server, flag or variable):")
		printSettings(w, fs)
	}
	if err := parseFlags(fs, args, stdout, usage); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("verify: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	var only *model.Tenant
	if *org != 0 || *project != "" {
		if *org == 0 || *project == "" {
			return errors.New("verify: -org and -project go together: give both to check one project, neither to check every tenant")
		}
		if err := model.ValidateTenant("-org", *org, "-project", *project); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		only = &model.Tenant{OrganizationID: *org, ProjectID: *project}
	}
	if cfg.Embedded() {
		return errors.New("verify: set REDIS_URL (or REDIS_CLUSTER_ADDRS) to the server's Redis")
	}
	be, err := openRedis(cfg)
	if err != nil {
		return err
	}
	defer be.Close()
	store := cache.New(be.rdb, cache.Options{Prefix: cfg.RedisKeyPrefix, Retention: cfg.SessionRetention, TokenPointers: cfg.TokenPointers, PerValueIndexes: cfg.PerValueIndexes})
	rep, err := store.Verify(ctx, only, *repair)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	for _, p := range rep.Problems {
		note := ""
		if p.Harmless {
			note = " [harmless leftover]"
		}
		fmt.Fprintf(stdout, "%s: %s (%s)%s\n", p.Kind, p.Key, p.Detail, note)
	}
	bad := rep.Inconsistencies()
	fmt.Fprintf(stdout, "checked %s, %s: %s, %s, %d repaired\n",
		plural(rep.Tenants, "tenant", "tenants"), plural(rep.Records, "session", "sessions"),
		plural(bad, "inconsistency", "inconsistencies"),
		plural(len(rep.Problems)-bad, "harmless leftover", "harmless leftovers"), rep.Repaired)
	if rep.Converted > 0 {
		fmt.Fprintf(stdout, "moved %s into the value-ordered indexes\n", plural(rep.Converted, "owner or account index", "owner or account indexes"))
	}
	if !*repair && bad > 0 {
		return fmt.Errorf("verify: %s found (run again with -repair to fix)", plural(bad, "inconsistency", "inconsistencies"))
	}
	return nil
}
