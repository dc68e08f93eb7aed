package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"connectsession/auth"
	"connectsession/cache"
	"connectsession/graph/model"
)

const apikeyUsage = `usage:
  apikey create -org N [-project P]... -role read|write [-label TEXT]
      prints the new key alone on the last line of stdout (and its id on stderr);
      without -project the key covers every project of the organization
  apikey list -org N
  apikey revoke KEY-ID
Each also takes the server's Redis settings (-redis-url, -redis-cluster-addrs,
-redis-key-prefix or their environment variables).`

// projectList collects a repeated -project flag.
type projectList []string

func (p *projectList) String() string     { return strings.Join(*p, ",") }
func (p *projectList) Set(v string) error { *p = append(*p, v); return nil }

// runAPIKey is the `apikey` command: it manages API keys in the Redis the server uses.
func runAPIKey(ctx context.Context, name string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "help" {
		fmt.Fprintln(stderr, apikeyUsage)
		if len(args) == 0 {
			return errors.New("apikey: missing subcommand")
		}
		return nil
	}
	sub := args[0]
	fs := flag.NewFlagSet(name+" "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := configFlags(fs, getenv)
	org := fs.Int("org", 0, "organization id")
	var projects projectList
	role := "read"
	label := ""
	if sub == "create" {
		fs.Var(&projects, "project", "a project the key covers (repeat for several; none = all)")
		fs.StringVar(&role, "role", "", "read (queries, subscriptions) or write (everything)")
		fs.StringVar(&label, "label", "", "a note to recognize the key by")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if cfg.RedisURL == "" && len(cfg.RedisClusterAddrs) == 0 {
		return errors.New("apikey: set REDIS_URL (or REDIS_CLUSTER_ADDRS) to the server's Redis; " +
			"the embedded in-memory Redis lives inside a running server, which prints its own development key")
	}
	be, err := openRedis(cfg)
	if err != nil {
		return err
	}
	defer be.Close()
	store := cache.New(be.rdb, cache.Options{Prefix: cfg.RedisKeyPrefix})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	switch sub {
	case "create":
		if fs.NArg() > 0 {
			return fmt.Errorf("apikey create: unexpected argument %q", fs.Arg(0))
		}
		var list []string
		if len(projects) > 0 {
			list = projects
		}
		raw, key, err := auth.Issue(ctx, store, *org, list, model.Role(role), label, time.Now())
		if err != nil {
			return fmt.Errorf("apikey create: %w", err)
		}
		fmt.Fprintf(stderr, "created API key %s for organization %d (%s, %s)\n", key.ID, key.OrganizationID, scopeText(key), key.Role)
		fmt.Fprintln(stdout, raw)
		return nil
	case "list":
		if *org <= 0 {
			return errors.New("apikey list: -org must be a positive organization id")
		}
		keys, err := store.ListKeys(ctx, *org)
		if err != nil {
			return fmt.Errorf("apikey list: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tORG\tPROJECTS\tROLE\tLABEL\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := "-"
			if k.RevokedAt != nil {
				revoked = k.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.OrganizationID, scopeText(k), k.Role,
				k.Label, k.CreatedAt.Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return errors.New("apikey revoke: give exactly one key id (see apikey list)")
		}
		key, err := store.RevokeKey(ctx, fs.Arg(0))
		if errors.Is(err, model.ErrNotFound) {
			return fmt.Errorf("apikey revoke: no key with id %q", fs.Arg(0))
		}
		if err != nil {
			return fmt.Errorf("apikey revoke: %w", err)
		}
		fmt.Fprintf(stdout, "revoked %s (organization %d, %s)\n", key.ID, key.OrganizationID, scopeText(key))
		return nil
	default:
		fmt.Fprintln(stderr, apikeyUsage)
		return fmt.Errorf("apikey: unknown subcommand %q", sub)
	}
}

func scopeText(k *model.APIKey) string {
	if k.Projects == nil {
		return "all projects"
	}
	return "projects " + strings.Join(k.Projects, ",")
}
