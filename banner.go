package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"connectsession/cache"
)

// banner is what the server prints on stdout once it listens: where its API and GraphiQL
// are, and how to call it with a key. README.md shows both forms as printed
// (TestREADMEBannersArePrinted).
type banner struct {
	url        string // http://host:port the server answers on
	playground bool   // GraphiQL is served at /
	localOnly  bool   // it listens on a loopback address only

	// devKey is the development key of embedded mode; empty on a configured Redis.
	devKey string

	// On a configured Redis: where it is (without a password), the setting that says
	// so, and how the user ran the program, for the apikey command line to copy.
	redis, redisSetting, prefix, invocation string
}

// newBanner describes a server listening at url with the configuration cfg, started as
// invocation; devKey is the development key of embedded mode.
func newBanner(cfg *config, url string, localOnly bool, devKey, invocation string) banner {
	b := banner{url: url, playground: cfg.Playground, localOnly: localOnly, devKey: devKey,
		prefix: cfg.RedisKeyPrefix, invocation: invocation}
	switch {
	case len(cfg.RedisClusterAddrs) > 0:
		seeds := strings.Join(cfg.RedisClusterAddrs, ",")
		b.redis, b.redisSetting = "Redis Cluster at "+seeds, "REDIS_CLUSTER_ADDRS="+seeds
	case cfg.RedisURL != "":
		u := redactURL(cfg.RedisURL)
		b.redis, b.redisSetting = "Redis at "+u, "REDIS_URL="+u
	}
	return b
}

// redactURL hides a URL's password (the apikey line then shows where to put it back).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<REDIS_URL>"
	}
	return u.Redacted()
}

// write prints the banner, starting and ending with an empty line.
func (b banner) write(w io.Writer) {
	var s strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&s, format, a...) }
	embedded := b.devKey != ""
	key, header := b.devKey, "GraphiQL's Headers tab has it filled in:"
	if !embedded {
		key, header = "<key>", "Put it in GraphiQL's Headers tab as:"
	}
	if !b.playground {
		header = "Send it as a header (GraphiQL is off: PLAYGROUND=false):"
	}

	if embedded {
		p("\nConnectSession API (embedded in-memory Redis: data is lost when the process stops)\n")
	} else {
		p("\nConnectSession API (%s, key prefix %q)\n", b.redis, b.prefix)
	}
	if b.playground {
		p("  GraphiQL:  %s/\n", b.url)
	}
	p("  GraphQL:   %s/graphql\n", b.url)
	if embedded {
		p("  Demo sessions are in organization 1, project \"demo\".\n")
	}
	if b.localOnly {
		port := "<port>"
		if u, err := url.Parse(b.url); err == nil && u.Port() != "" {
			port = u.Port()
		}
		p("  Only this machine can connect: ADDR=:%s listens on every interface.\n", port)
	}
	if embedded {
		p("\nDevelopment API key (organization 1, write, all projects):\n  %s\n", key)
	} else {
		env := b.redisSetting
		if b.prefix != cache.DefaultPrefix {
			env += " REDIS_KEY_PREFIX=" + b.prefix
		}
		p("\nCreate an API key in that Redis (the key is the last line it prints):\n  %s %s apikey create -org 1 -role write\n",
			env, b.invocation)
		if strings.Contains(b.redisSetting, ":xxxxx@") {
			p("  (with the password of this server's REDIS_URL in place of xxxxx)\n")
		}
	}
	p("%s\n  {\"Authorization\": \"Bearer %s\"}\n", header, key)
	if !embedded && b.playground {
		p("  then Shift-Ctrl-R re-fetches the schema for the docs and the explorer.\n")
	}
	p("Or call it with curl:\n"+
		"  curl -s %s/graphql -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n"+
		"    -d '{\"query\":\"{ connectSessions(organizationId: 1, projectId: \\\"demo\\\") { totalCount nodes { id originOwnerName status } } }\"}'\n\n",
		b.url, key)
	_, _ = io.WriteString(w, s.String())
}
