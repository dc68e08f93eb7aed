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

const verifyUsage = `usage: verify [-org N -project P] [-repair]
  checks records against their indexes (plain or chunked) and pointers (every tenant
  and the old-form token pointers, or one tenant), prints each inconsistency, and with
  -repair fixes them. Exits non-zero when it found inconsistencies and did not repair
  them (dangling token pointers an interrupted delete may leave are reported as
  harmless). Takes the server's Redis
  settings (-redis-url, -redis-cluster-addrs, -redis-key-prefix or their variables).`

// runVerify is the `verify` command.
func runVerify(ctx context.Context, name string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, verifyUsage) }
	load := configFlags(fs, getenv)
	org := fs.Int("org", 0, "only this organization (with -project)")
	project := fs.String("project", "", "only this project (with -org)")
	repair := fs.Bool("repair", false, "fix what is found")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if cfg.RedisURL == "" && len(cfg.RedisClusterAddrs) == 0 {
		return errors.New("verify: set REDIS_URL (or REDIS_CLUSTER_ADDRS) to the server's Redis")
	}
	var only *model.Tenant
	if *org != 0 || *project != "" {
		if err := model.ValidateTenant("-org", *org, "-project", *project); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		only = &model.Tenant{OrganizationID: *org, ProjectID: *project}
	}
	be, err := openRedis(cfg)
	if err != nil {
		return err
	}
	defer be.Close()
	store := cache.New(be.rdb, cache.Options{Prefix: cfg.RedisKeyPrefix, Retention: cfg.SessionRetention})
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
	fmt.Fprintf(stdout, "checked %d tenants, %d sessions: %d inconsistencies, %d harmless leftovers, %d repaired\n",
		rep.Tenants, rep.Records, rep.Inconsistencies(), len(rep.Problems)-rep.Inconsistencies(), rep.Repaired)
	if !*repair && rep.Inconsistencies() > 0 {
		return fmt.Errorf("verify: %d inconsistencies (run with -repair to fix them)", rep.Inconsistencies())
	}
	return nil
}
