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

// redisSettings are the settings the apikey and verify commands read: where the
// server's Redis is and its key prefix.
var redisSettings = []string{"REDIS_URL", "REDIS_CLUSTER_ADDRS", "REDIS_KEY_PREFIX"}

// apikeyUsage is `apikey -h`; %[1]s is the command's name.
const apikeyUsage = `Usage: %[1]s create|list|revoke [flags]
  %[1]s create -org N -role read|write [-project P]... [-label TEXT]
        creates a key and prints it alone on the last line of stdout (its id on
        stderr); without -project it covers every project of the organization
  %[1]s list -org N
        lists the organization's keys: id, projects, role, label, created, revoked
  %[1]s revoke KEY
        revokes a key, given whole (csk_<id>_<secret>) or by its id (the hex after
        csk_); every instance refuses it within a second
Each works on the server's Redis: set REDIS_URL or REDIS_CLUSTER_ADDRS (and
REDIS_KEY_PREFIX) as for the server, or pass them as flags.
"%[1]s create -h" lists a command's flags.
`

// apikeyCommand is one subcommand of apikey: its synopsis and what it does.
type apikeyCommand struct{ synopsis, about string }

var apikeyCommands = map[string]apikeyCommand{
	"create": {"-org N -role read|write [-project P]... [-label TEXT]",
		"Creates an API key and prints it alone on the last line of stdout (its id on stderr).\n" +
			"Without -project the key covers every project of the organization."},
	"list":   {"-org N", "Lists the organization's keys: id, projects, role, label, created, revoked."},
	"revoke": {"KEY", "Revokes a key, given whole (csk_<id>_<secret>) or by its id (the hex after csk_)."},
}

// projectList collects a repeated -project flag.
type projectList []string

func (p *projectList) String() string     { return strings.Join(*p, ",") }
func (p *projectList) Set(v string) error { *p = append(*p, v); return nil }

// runAPIKey is the `apikey` command: it manages API keys in the Redis the server uses.
func runAPIKey(ctx context.Context, name string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintf(stderr, apikeyUsage, name)
		return errors.New("apikey: missing command (create, list or revoke)")
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stdout, apikeyUsage, name)
		return flag.ErrHelp
	}
	sub := args[0]
	cmd, ok := apikeyCommands[sub]
	if !ok {
		fmt.Fprintf(stderr, apikeyUsage, name)
		return fmt.Errorf("apikey: unknown command %q (create, list or revoke)", sub)
	}
	fs := flag.NewFlagSet(name+" "+sub, flag.ContinueOnError)
	load := settingFlags(fs, getenv, redisSettings...)
	var (
		org      int
		projects projectList
		role     string
		label    string
	)
	if sub != "revoke" {
		fs.IntVar(&org, "org", 0, "the organization's `id`")
	}
	if sub == "create" {
		fs.Var(&projects, "project", "a `project` the key covers (repeat for several; none = every project)")
		fs.StringVar(&role, "role", "", "what the key may do: `read|write` (read: queries and subscriptions; write: everything)")
		fs.StringVar(&label, "label", "", "a `text` to recognize the key by")
	}
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: %s %s\n%s\n", fs.Name(), cmd.synopsis, cmd.about)
		if sub != "revoke" {
			fmt.Fprintln(w, "\nFlags:")
			printOwnFlags(w, fs)
		}
		fmt.Fprintln(w, "\nThe server's Redis (as for the server, flag or variable):")
		printSettings(w, fs)
	}
	if err := parseFlags(fs, args[1:], stdout, usage); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	var revoke string
	switch sub {
	case "create", "list":
		if fs.NArg() > 0 {
			return fmt.Errorf("apikey %s: unexpected argument %q", sub, fs.Arg(0))
		}
		if sub == "list" && org <= 0 {
			return errors.New("apikey list: -org must be a positive organization id")
		}
	case "revoke":
		if fs.NArg() != 1 {
			return errors.New("apikey revoke: give one key, whole or by its id (apikey list shows the ids)")
		}
		if revoke, err = keyID(fs.Arg(0)); err != nil {
			return err
		}
	}
	if cfg.Embedded() {
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
		var list []string
		if len(projects) > 0 {
			list = projects
		}
		raw, key, err := auth.Issue(ctx, store, org, list, model.Role(role), label, time.Now())
		if err != nil {
			return fmt.Errorf("apikey create: %w", err)
		}
		fmt.Fprintf(stderr, "created API key %s for organization %d (%s, %s)\n", key.ID, key.OrganizationID, scopeText(key), key.Role)
		fmt.Fprintln(stdout, raw)
		return nil
	case "list":
		keys, err := store.ListKeys(ctx, org)
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
	default: // revoke
		return revokeKey(ctx, store, revoke, stdout)
	}
}

// keyID is the id of a key given whole or by its id alone.
func keyID(arg string) (string, error) {
	if strings.HasPrefix(arg, "csk_") {
		id, ok := auth.ParseKey(arg)
		if !ok {
			return "", errors.New("apikey revoke: that is not a whole API key (csk_<16 hex digits>_<43 characters>); give the key as printed, or its id")
		}
		return id, nil
	}
	return arg, nil
}

// revokeKey revokes the key with this id and says what it did. Revoking a key already
// revoked announces it again (harmless) and says when it was revoked.
func revokeKey(ctx context.Context, store *cache.Store, id string, stdout io.Writer) error {
	before, err := store.GetKey(ctx, id)
	if errors.Is(err, model.ErrNotFound) {
		return fmt.Errorf("apikey revoke: there is no key with id %q under this REDIS_KEY_PREFIX (apikey list -org N shows the keys)", id)
	}
	if err != nil {
		return fmt.Errorf("apikey revoke: %w", err)
	}
	key, err := store.RevokeKey(ctx, id)
	if err != nil {
		return fmt.Errorf("apikey revoke: %w", err)
	}
	if before.RevokedAt != nil {
		fmt.Fprintf(stdout, "%s (organization %d, %s) was already revoked on %s\n", key.ID, key.OrganizationID,
			scopeText(key), before.RevokedAt.Format(time.RFC3339))
		return nil
	}
	fmt.Fprintf(stdout, "revoked %s (organization %d, %s)\n", key.ID, key.OrganizationID, scopeText(key))
	return nil
}

func scopeText(k *model.APIKey) string {
	if k.Projects == nil {
		return "all projects"
	}
	return "projects " + strings.Join(k.Projects, ",")
}
