package main

import (
	"context"
	"strings"
	"testing"

	"connectsession/auth"
)

// cacheArg0 is os.Args[0] under go run: a binary in Go's build cache.
const cacheArg0 = "/tmp/go-build1234567/b001/exe/connectsession"

// runCLI runs the program with args and env, returning its error and what it wrote.
func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut strings.Builder
	err = run(context.Background(), append([]string{cacheArg0}, args...), func(k string) string { return env[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

// Help, asked for in any of the usual ways and at any level, succeeds (exit 0), goes to
// stdout, names the program by its base name and shows what that command takes.
func TestHelpExitsCleanly(t *testing.T) {
	cases := []struct {
		args     []string
		want     []string // in the usage
		mustNot  []string // never in it
		synopsis string   // its first line starts so
	}{
		{[]string{"-h"}, []string{"connectsession apikey create|list|revoke", "connectsession verify [-org N -project P] [-repair]",
			"serve the GraphQL API (the default command)", "-port port  ($PORT)  default 8080", "-introspection true|false",
			"-session-retention duration", "-cors-allowed-origins origin,..."}, []string{" string\n"}, "Usage:"},
		{[]string{"-help"}, []string{"connectsession apikey create|list|revoke"}, nil, "Usage:"},
		{[]string{"help"}, []string{"connectsession apikey create|list|revoke"}, nil, "Usage:"},
		{[]string{"apikey", "-h"}, []string{"connectsession apikey create -org N", "connectsession apikey revoke KEY", "csk_<id>_<secret>"}, nil,
			"Usage: connectsession apikey create|list|revoke"},
		{[]string{"apikey", "help"}, []string{"connectsession apikey list -org N"}, nil, "Usage: connectsession apikey"},
		{[]string{"apikey", "create", "-h"}, []string{"-org id", "-role read|write", "-project project", "-label text", "-redis-url url  ($REDIS_URL)",
			"-redis-key-prefix text  ($REDIS_KEY_PREFIX)  default cs"}, []string{"-port", "-complexity-limit", "-playground", "-repair"},
			"Usage: connectsession apikey create -org N -role read|write"},
		{[]string{"apikey", "list", "-help"}, []string{"-org id", "-redis-cluster-addrs"}, []string{"-role", "-port"}, "Usage: connectsession apikey list -org N"},
		{[]string{"apikey", "revoke", "-h"}, []string{"-redis-url"}, []string{"-org", "-port"}, "Usage: connectsession apikey revoke KEY"},
		{[]string{"verify", "-h"}, []string{"-org id", "-project project", "-repair", "-redis-url", "-session-retention duration"},
			[]string{"-port", "-complexity-limit"}, "Usage: connectsession verify [-org N -project P] [-repair]"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			stdout, stderr, err := runCLI(t, nil, c.args...)
			if err != nil {
				t.Fatalf("got %v, want success (exit 0)", err)
			}
			if stderr != "" {
				t.Errorf("help wrote to stderr: %q", stderr)
			}
			if !strings.HasPrefix(stdout, c.synopsis) {
				t.Errorf("usage starts %q, want %q", firstLine(stdout), c.synopsis)
			}
			if strings.Contains(stdout, "go-build") || strings.Contains(stdout, "flag: help requested") {
				t.Errorf("usage shows the build cache or the flag package's message:\n%s", stdout)
			}
			for _, w := range c.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("usage lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range c.mustNot {
				if strings.Contains(stdout, w) {
					t.Errorf("usage has %q, which is not this command's:\n%s", w, stdout)
				}
			}
		})
	}
}

func firstLine(s string) string { line, _, _ := strings.Cut(s, "\n"); return line }

// Mistakes fail (exit 1) with one line that says what is wrong, not the whole usage.
func TestCLIMistakes(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-nope"}, nil, "flag provided but not defined: -nope (connectsession -h lists the flags)"},
		{[]string{"serve"}, nil, `unexpected argument "serve"`},
		{[]string{"apikey", "create", "-port", "1"}, nil, "flag provided but not defined: -port (connectsession apikey create -h"},
		{[]string{"apikey", "rotate"}, nil, `apikey: unknown command "rotate"`},
		{[]string{"apikey"}, nil, "apikey: missing command"},
		{[]string{"apikey", "revoke", "csk_0123456789abcdef_short"}, nil, "not a whole API key"},
		{[]string{"verify", "-org", "1"}, nil, "-org and -project go together"},
		{[]string{"verify", "-project", "demo"}, nil, "-org and -project go together"},
		{[]string{"verify", "-org", "1", "-project", "demo"}, nil, "set REDIS_URL"},
		{nil, map[string]string{"PORT": "abc"}, `PORT must be a port number from 0 to 65535, not "abc"`},
		{nil, map[string]string{"PORT": "70000"}, `PORT must be a port number`},
		{nil, map[string]string{"ADDR": "localhost"}, `ADDR must be host:port with a numeric port`},
		{nil, map[string]string{"ADDR": ":http"}, `ADDR must be host:port with a numeric port`},
		{nil, map[string]string{"CORS_ALLOWED_ORIGINS": "notaurl"}, `CORS_ALLOWED_ORIGINS: "notaurl" is not an origin`},
		{nil, map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com/"}, `CORS_ALLOWED_ORIGINS: "https://app.example.com/" is not an origin`},
		{nil, map[string]string{"CORS_ALLOWED_ORIGINS": "https://ok.example, https://app.example.com/path"}, `"https://app.example.com/path" is not an origin`},
		{nil, map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com?"}, `is not an origin`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " ")+mapText(c.env), func(t *testing.T) {
			stdout, stderr, err := runCLI(t, c.env, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if strings.Contains(stdout+stderr, "  -redis-url") {
				t.Errorf("a mistake printed the whole usage:\n%s%s", stdout, stderr)
			}
		})
	}
}

func mapText(env map[string]string) string {
	var b strings.Builder
	for k, v := range env {
		b.WriteString(" " + k + "=" + v)
	}
	return b.String()
}

// Origins as browsers send them are accepted, and so is "*".
func TestCORSOriginsAccepted(t *testing.T) {
	for _, o := range []string{"*", "https://app.example.com", "http://localhost:3000", "https://*.example.com", "http://[::1]:8080"} {
		cfg, err := parseConfig("connectsession", nil, func(k string) string {
			if k == "CORS_ALLOWED_ORIGINS" {
				return o
			}
			return ""
		}, nil)
		if err != nil || len(cfg.CORSAllowedOrigins) != 1 || cfg.CORSAllowedOrigins[0] != o {
			t.Errorf("CORS_ALLOWED_ORIGINS=%s: %v, %v", o, cfg, err)
		}
	}
}

// With the embedded Redis, whose banner shows a write key, the server listens on the
// loopback interface only unless ADDR says otherwise; with a configured Redis, on every
// interface.
func TestListenAddress(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{nil, "127.0.0.1:8080"},
		{map[string]string{"PORT": "9000"}, "127.0.0.1:9000"},
		{map[string]string{"ADDR": ":8080"}, ":8080"},
		{map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0"}, ":8080"},
		{map[string]string{"REDIS_CLUSTER_ADDRS": "10.0.0.1:6379", "PORT": "9000"}, ":9000"},
		{map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0", "ADDR": "127.0.0.1:9001"}, "127.0.0.1:9001"},
	}
	for _, c := range cases {
		cfg, err := parseConfig("connectsession", nil, func(k string) string { return c.env[k] }, nil)
		if err != nil {
			t.Fatalf("%v: %v", c.env, err)
		}
		if cfg.Addr != c.want {
			t.Errorf("%v: listens on %q, want %q", c.env, cfg.Addr, c.want)
		}
	}
}

// A boolean setting given as a bare flag means true, as for any Go flag.
func TestBareBooleanFlag(t *testing.T) {
	cfg, err := parseConfig("connectsession", []string{"-introspection"}, func(k string) string {
		if k == "INTROSPECTION" {
			return "false"
		}
		return ""
	}, nil)
	if err != nil || !cfg.Introspection {
		t.Errorf("-introspection over INTROSPECTION=false: %v %v, want true", cfg.Introspection, err)
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 inconsistencies", 1: "1 inconsistency", 2: "2 inconsistencies"} {
		if got := plural(n, "inconsistency", "inconsistencies"); got != want {
			t.Errorf("plural(%d) = %q, want %q", n, got, want)
		}
	}
}

// apikey revoke takes the key as the user has it, whole, as well as its id; it says so
// when the key was revoked before, and fails for an unknown one.
func TestAPIKeyRevokeWholeKeyOrID(t *testing.T) {
	r := newSharedRedis(t)
	env := r.env()
	key, err := r.apikey(t, "create", "-org", "3", "-role", "read")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := auth.ParseKey(key)

	stdout, _, err := runCLI(t, env, "apikey", "revoke", key)
	if err != nil || !strings.HasPrefix(stdout, "revoked "+id+" (organization 3, all projects)") {
		t.Fatalf("revoke by the whole key: %v %q", err, stdout)
	}
	for _, again := range []string{key, id} {
		stdout, _, err = runCLI(t, env, "apikey", "revoke", again)
		if err != nil || !strings.Contains(stdout, id+" (organization 3, all projects) was already revoked on ") {
			t.Errorf("revoke %s again: %v %q, want success saying it was already revoked", again, err, stdout)
		}
	}
	_, _, err = runCLI(t, env, "apikey", "revoke", "0123456789abcdef")
	if err == nil || !strings.Contains(err.Error(), `no key with id "0123456789abcdef"`) {
		t.Errorf("revoke of an unknown id: %v, want an error naming it", err)
	}
	_, _, err = runCLI(t, env, "apikey", "revoke", "csk_0123456789abcdef_"+key[len(key)-43:])
	if err == nil || !strings.Contains(err.Error(), `no key with id "0123456789abcdef"`) {
		t.Errorf("revoke of an unknown whole key: %v, want an error naming its id", err)
	}
}

// verify's summary speaks of one tenant and one session in the singular.
func TestVerifySummaryAgrees(t *testing.T) {
	r := newSharedRedis(t)
	key, err := r.apikey(t, "create", "-org", "1", "-role", "write")
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, r.env())
	s.mustData(t, "Bearer "+key, createMutation, createVars(1, "one", "acme"), nil)
	stdout, _, err := runCLI(t, r.env(), "verify", "-org", "1", "-project", "one")
	if err != nil {
		t.Fatal(err)
	}
	if want := "checked 1 tenant, 1 session: 0 inconsistencies, 0 harmless leftovers, 0 repaired\n"; stdout != want {
		t.Errorf("verify printed %q, want %q", stdout, want)
	}
}

// TOKEN_POINTERS reaches the server and verify: a server with it writes a token pointer
// (its project checks clean either way), and verify with it wants one for every usable
// session, so a project written without pointers shows its sessions' missing pointers
// then, and none without it.
func TestTokenPointersSetting(t *testing.T) {
	r := newSharedRedis(t)
	key, err := r.apikey(t, "create", "-org", "1", "-role", "write")
	if err != nil {
		t.Fatal(err)
	}
	with := r.env()
	with["TOKEN_POINTERS"] = "write"
	startServer(t, with).mustData(t, "Bearer "+key, createMutation, createVars(1, "with", "acme"), nil)
	startServer(t, r.env()).mustData(t, "Bearer "+key, createMutation, createVars(1, "without", "acme"), nil)
	clean := "checked 1 tenant, 1 session: 0 inconsistencies, 0 harmless leftovers, 0 repaired\n"
	for _, c := range []struct {
		env     map[string]string
		project string
		want    string
	}{
		{r.env(), "with", clean},
		{with, "with", clean},
		{r.env(), "without", clean},
		{with, "without", "checked 1 tenant, 1 session: 1 inconsistency, 0 harmless leftovers, 0 repaired\n"},
	} {
		stdout, _, _ := runCLI(t, c.env, "verify", "-org", "1", "-project", c.project)
		if got := stdout[strings.LastIndex(strings.TrimSuffix(stdout, "\n"), "\n")+1:]; got != c.want {
			t.Errorf("verify of %s with TOKEN_POINTERS=%q: %q, want %q", c.project, c.env["TOKEN_POINTERS"], stdout, c.want)
		}
	}
}

// The banner never shows a secret: a password in REDIS_URL is masked, and the line to
// create a key says what to put back.
func TestBannerHidesRedisPassword(t *testing.T) {
	cfg, err := testConfig("cs")
	if err != nil {
		t.Fatal(err)
	}
	cfg.RedisURL = "rediss://app:hunter2@redis.internal:6380/2"
	var out strings.Builder
	newBanner(cfg, "http://localhost:8080", false, "", "/usr/local/bin/connectsession").write(&out)
	banner := out.String()
	if strings.Contains(banner, "hunter2") {
		t.Errorf("the banner shows the Redis password:\n%s", banner)
	}
	for _, want := range []string{"REDIS_URL=rediss://app:xxxxx@redis.internal:6380/2 /usr/local/bin/connectsession apikey create",
		"in place of xxxxx"} {
		if !strings.Contains(banner, want) {
			t.Errorf("the banner lacks %q:\n%s", want, banner)
		}
	}
}

// Command lines to copy name the program as it was started; under go run, "go run .".
func TestInvocation(t *testing.T) {
	for arg0, want := range map[string]string{cacheArg0: "go run .", "./connectsession": "./connectsession",
		"/usr/local/bin/cs": "/usr/local/bin/cs"} {
		if got := invocation(arg0); got != want {
			t.Errorf("invocation(%q) = %q, want %q", arg0, got, want)
		}
	}
	if got := programName(cacheArg0); got != "connectsession" {
		t.Errorf("programName under go run = %q", got)
	}
}
