package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectsession/cache"
	"connectsession/httpapi"
	"connectsession/playground"
	"connectsession/resolvers"
	"connectsession/webhooks"
)

// config is the service's configuration: each setting is an environment variable and a
// flag of the same name in lower case with dashes; a flag wins over the variable.
type config struct {
	Port              string
	Addr              string
	RedisURL          string
	RedisClusterAddrs []string
	RedisKeyPrefix    string
	SessionRetention  time.Duration
	// EventRetention and EventLogMaxLength bound each project's event log.
	EventRetention    time.Duration
	EventLogMaxLength int
	RecordFormat      string
	// TokenPointers: write a token pointer for every new session (cache.Options.TokenPointers).
	TokenPointers bool
	// PerValueIndexes: index new owner and account values in keys of their own
	// (cache.Options.PerValueIndexes).
	PerValueIndexes bool
	// ReadCache keeps read records in process memory (cache.ReadCache).
	ReadCache             bool
	ReadCacheMaxBytes     int64
	ReadCacheMaxStaleness time.Duration
	APQTTL                time.Duration
	// APQRegistrations is how many persisted queries one API key may register an hour,
	// across instances (0: no limit).
	APQRegistrations int
	MaxBodyBytes     int64
	RequestTimeout   time.Duration
	// Limits bound each operation before it runs (complexity, depth, aliases, and the
	// document's size, tokens and fields, smaller for callers without a key).
	Limits             httpapi.Limits
	QueryCacheBytes    int64
	Introspection      bool
	AuthenticateRate   int
	APIKeyRate         int
	PageScanLimit      int
	TenantScans        int
	TenantScanUnits    int
	OTLPEndpoint       string
	OTelServiceName    string
	AuthLinkBaseURL    *url.URL
	CORSAllowedOrigins []string
	LogLevel           slog.Level
	LogFormat          string
	// Playground serves GraphiQL at /; PlaygroundAssetsDir, when set, is a local copy
	// of its bundles (checked at startup) served at /assets/ instead of the CDN: the
	// setting's folder, or else a prepared web/dist under the working directory.
	Playground          bool
	PlaygroundAssetsDir string
	// PlaygroundAssetsFound says PlaygroundAssetsDir is the prepared web/dist rather than
	// the setting; PlaygroundAssetsSkipped is why a web/dist that is there is not used.
	PlaygroundAssetsFound   bool
	PlaygroundAssetsSkipped error

	// Budgets of one instance: see httpapi.Budgets and httpapi.StreamGate.
	WSMaxSubscriptions     int
	APIKeyMaxSubscriptions int
	APIKeyMaxConcurrent    int
	MaxStreams             int
	MaxPendingStreams      int
	WSInitTimeout          time.Duration
	WSIdleTimeout          time.Duration
	WSKeylessGrace         time.Duration

	// Webhooks: who may be posted to, how deliveries are retried and shared, and the
	// per-project and per-endpoint limits.
	WebhookPolicy          webhooks.Policy
	WebhookRetryBase       time.Duration
	WebhookRetryMaxDelay   time.Duration
	WebhookRetryFor        time.Duration
	WebhookTimeout         time.Duration
	WebhookConcurrency     int
	WebhookPollInterval    time.Duration
	WebhookMaxEndpoints    int
	WebhookMaxRedeliveries int

	// ResponseWriteTimeout is how long a client may take to receive a query's or
	// mutation's answer once it is ready (0: no limit).
	ResponseWriteTimeout time.Duration
}

// setting describes one configuration variable for flags, the environment and the README:
// kind names what it takes, for -help (a number, a duration, one of a few words...).
type setting struct {
	env, kind, def, usage string
}

// settings are every setting the service reads (-help lists them). A default is written
// once: where the package that owns the behaviour picks a default for a zero option
// (cache, resolvers), the table reads that package's constant; where the package takes
// zero as "no limit" or has no default, it is written here only. README.md's
// Configuration table repeats them for readers, and readme_test.go checks that it does.
var settings = []setting{
	{"PORT", "port", "8080", "listen port, on 127.0.0.1 with the embedded Redis, on every interface otherwise (ADDR overrides both)"},
	{"ADDR", "host:port", "", "listen address, e.g. 127.0.0.1:9000, or :8080 for every interface; overrides PORT"},
	{"REDIS_URL", "url", "", "redis:// or rediss:// URL of one Redis; empty = embedded in-memory Redis"},
	{"REDIS_CLUSTER_ADDRS", "host:port,...", "", "comma-separated host:port seeds of a Redis Cluster; wins over REDIS_URL"},
	{"REDIS_KEY_PREFIX", "text", cache.DefaultPrefix, "prefix of every key, so deployments can share a Redis"},
	{"SESSION_RETENTION", "duration", durationText(cache.DefaultRetention), "how long an expired session is kept before removal"},
	{"EVENT_RETENTION", "duration", durationText(cache.DefaultEventRetention), "how long a project's event log keeps an event (for resuming subscriptions, connectSessionEventLog and webhook retries)"},
	{"EVENT_LOG_MAX_LENGTH", "number", itoa(cache.DefaultEventLogMaxLength), "most events a project's event log keeps; older ones are trimmed first"},
	{"WEBHOOK_ALLOW_HTTP", "true|false", "false", "accept plain http webhook URLs (for development and tests); otherwise https only"},
	{"WEBHOOK_ALLOW_PRIVATE", "true|false", "false", "let webhooks reach loopback, private, link-local and other non-public addresses (checked on every connection, after name resolution)"},
	{"WEBHOOK_RETRY_BASE", "duration", durationText(webhooks.DefaultRetryBase), "the longest wait before an event's first retry; each retry doubles it (with full jitter) up to WEBHOOK_RETRY_MAX_DELAY"},
	{"WEBHOOK_RETRY_MAX_DELAY", "duration", durationText(webhooks.DefaultRetryMaxDelay), "the longest wait between two attempts at an event"},
	{"WEBHOOK_RETRY_FOR", "duration", durationText(webhooks.DefaultRetryFor), "how long an event is retried from its first failure before its endpoint is disabled"},
	{"WEBHOOK_TIMEOUT", "duration", durationText(webhooks.DefaultTimeout), "the longest one delivery attempt may take, connecting included; an endpoint's lease lasts three of them, so another instance takes over a stopped one's endpoints within that"},
	{"WEBHOOK_CONCURRENCY", "number", itoa(webhooks.DefaultConcurrency), "endpoints one instance delivers to at once"},
	{"WEBHOOK_POLL_INTERVAL", "duration", durationText(webhooks.DefaultPollInterval), "how often an instance looks for endpoints with events to deliver (the most a new event waits while its endpoint is idle)"},
	{"WEBHOOK_MAX_ENDPOINTS", "number", itoa(resolvers.DefaultMaxWebhookEndpoints), "webhook endpoints one project may have"},
	{"WEBHOOK_MAX_REDELIVERIES", "number", itoa(resolvers.DefaultMaxRedeliveries), "redeliveries (redeliverWebhookEvent) one endpoint may have waiting"},
	{"READ_CACHE", "on|off", "on", "keep recently read sessions in process memory, invalidated by Redis (only with REDIS_URL on database 0 and a server that tracks keys; the embedded Redis and a cluster run without)"},
	{"READ_CACHE_MAX_BYTES", "bytes", strconv.FormatInt(cache.DefaultReadCacheMaxBytes, 10), "memory budget of the read cache's entries, as measured in the heap (about 1 KB a session)"},
	{"READ_CACHE_MAX_STALENESS", "duration", durationText(cache.DefaultReadCacheMaxStaleness), "longest a cached entry is served after it was fetched, whatever the invalidations (the backstop for a lost one)"},
	{"RECORD_FORMAT", "binary|json", "binary", "how records are written: binary, or json while instances older than the binary form still run; both are read"},
	{"TOKEN_POINTERS", "write|off", "off", "write: also write a token pointer for every new session, while instances older than authentication by id still run; off: none (tokens are found by their session id)"},
	{"VALUE_INDEXES", "shared|per-value", "shared", "how owner and account values of few sessions are indexed: shared, in one value-ordered index per project and field; per-value, in a key each, while instances older than the value-ordered indexes still run; both are read"},
	{"MAX_BODY_BYTES", "bytes", "1048576", "largest request body accepted; larger ones get 413"},
	{"REQUEST_TIMEOUT", "duration", "10s", "deadline of a query or mutation, Redis calls included"},
	{"RESPONSE_WRITE_TIMEOUT", "duration", "30s", "how long a client may take to receive a query's or mutation's answer once it is ready, after which it is disconnected; 0 = no limit"},
	{"COMPLEXITY_LIMIT", "number", itoa(httpapi.DefaultLimits.Complexity), "most an operation may cost (a list's fields count once per item it can hold; introspection and _entities included)"},
	{"DEPTH_LIMIT", "number", itoa(httpapi.DefaultLimits.Depth), "deepest selection an operation may have (introspection included)"},
	{"ALIAS_LIMIT", "number", itoa(httpapi.DefaultLimits.Aliases), "most aliased fields one operation may use (introspection included)"},
	{"DOCUMENT_SIZE_LIMIT", "bytes", itoa(httpapi.DefaultLimits.DocumentBytes), "largest GraphQL document (query text) in bytes, checked before parsing"},
	{"TOKEN_LIMIT", "number", itoa(httpapi.DefaultLimits.Tokens), "most lexical tokens a document may have, checked before parsing"},
	{"FIELD_LIMIT", "number", itoa(httpapi.DefaultLimits.Fields), "most nodes (fields, arguments, directives, values) a document may hold, fragments expanded per operation, checked before validation"},
	{"REPEATED_FIELD_LIMIT", "number", itoa(httpapi.DefaultLimits.RepeatedFields), "most times one response name may occur in one selection set, checked before validation"},
	{"KEYLESS_DOCUMENT_SIZE_LIMIT", "bytes", itoa(httpapi.DefaultLimits.KeylessDocumentBytes), "largest document from a caller without a valid API key"},
	{"KEYLESS_FIELD_LIMIT", "number", itoa(httpapi.DefaultLimits.KeylessFields), "most nodes (as FIELD_LIMIT counts them) in a document from a caller without a valid API key"},
	{"QUERY_CACHE_BYTES", "bytes", itoa(httpapi.DefaultQueryCacheBytes), "memory budget of each in-process query cache (parsed documents; persisted-query texts)"},
	{"INTROSPECTION", "true|false", "true", "answer __schema and __type queries (federation's _service works either way)"},
	{"AUTHENTICATE_RATE_LIMIT", "number", "60", "authenticateConnectSession calls allowed per client address per minute, across instances; 0 = no limit"},
	{"API_KEY_RATE_LIMIT", "number", "0", "operations allowed per API key per second (burst: as many), across instances; 0 = no limit"},
	{"PAGE_SCAN_LIMIT", "number", itoa(cache.DefaultPageScanLimit), "most index entries one connectSessions call examines in Redis (page, other side and count together); at least 500"},
	{"TENANT_SCAN_CONCURRENCY", "number", "2", "most expensive connectSessions calls (combined filters, counts over a date range) of one organization running at once on an instance; others wait their turn"},
	{"TENANT_SCAN_UNITS_PER_SECOND", "number", "50000", "page-scan work (PAGE_SCAN_LIMIT's units) one organization's connectSessions calls may spend per second on an instance (at 2-3.5 us a unit, 10-18% of Redis); in debt, expensive calls get RATE_LIMITED; 0 = no limit"},
	{"API_KEY_MAX_CONCURRENT", "number", "64", "queries and mutations of one API key in flight at once on this instance; beyond it RATE_LIMITED; 0 = no limit"},
	{"API_KEY_MAX_SUBSCRIPTIONS", "number", "1000", "subscriptions one API key may hold open on this instance (WebSocket and SSE); beyond it SUBSCRIPTION_LIMIT_EXCEEDED; 0 = no limit"},
	{"WS_MAX_SUBSCRIPTIONS", "number", "100", "subscriptions one WebSocket may hold open; beyond it SUBSCRIPTION_LIMIT_EXCEEDED; 0 = no limit"},
	{"MAX_STREAMS", "number", "5000", "WebSockets and SSE streams open at once on this instance; beyond it 503 CONNECTION_LIMIT_EXCEEDED; 0 = no limit"},
	{"MAX_PENDING_STREAMS", "number", "200", "of those, streams without a valid API key yet (a WebSocket until its connection_init shows one); beyond it the oldest such WebSocket is dropped, or 503 CONNECTION_LIMIT_EXCEEDED; 0 = only MAX_STREAMS"},
	{"WS_INIT_TIMEOUT", "duration", durationText(httpapi.DefaultInitTimeout), "a WebSocket that has not sent connection_init this long after its upgrade is closed (1002)"},
	{"WS_IDLE_TIMEOUT", "duration", "60s", "a WebSocket with no operation in flight for this long is closed (1000); 0 = never"},
	{"WS_KEYLESS_GRACE", "duration", "5s", "a WebSocket whose connection_init has no valid API key is closed (4403) this long after it; 0 = never"},
	{"OTEL_EXPORTER_OTLP_ENDPOINT", "url", "", "OTLP/HTTP collector base URL (e.g. http://127.0.0.1:4318); when set, traces go to <url>/v1/traces"},
	{"OTEL_SERVICE_NAME", "text", "connectsession", "service.name of the traces"},
	{"APQ_TTL", "duration", durationText(cache.DefaultAPQTTL), "how long a registered persisted query (APQ) is kept in Redis"},
	{"APQ_REGISTRATIONS_PER_HOUR", "number", "100", "persisted queries one API key may register an hour (burst: as many), across instances; beyond it queries still run but are not registered; 0 = no limit"},
	{"AUTH_LINK_BASE_URL", "url", "", "when set, authLinkUrl = <base>?token=<token>"},
	{"CORS_ALLOWED_ORIGINS", "origin,...", "", "comma-separated origins (scheme://host[:port], or * for any) allowed to call from a browser"},
	{"LOG_LEVEL", "debug|info|warn|error", "info", "debug, info, warn or error"},
	{"LOG_FORMAT", "text|json", "text", "text, or json for machine logs"},
	{"PLAYGROUND", "true|false", "true", "serve GraphiQL at /; false turns it off"},
	{"PLAYGROUND_ASSETS_DIR", "dir", "", "folder with GraphiQL's bundles (filled by web/), served at /assets/ instead of the CDN; empty = web/dist under the working directory once prepared, else the CDN"},
}

func flagName(env string) string { return strings.ToLower(strings.ReplaceAll(env, "_", "-")) }

// parseConfig reads the environment, then the flags in args. On -h or -help it writes
// the usage to stdout and returns flag.ErrHelp.
func parseConfig(name string, args []string, getenv func(string) string, stdout io.Writer) (*config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	load := settingFlags(fs, getenv)
	if err := parseFlags(fs, args, stdout, func(w io.Writer) { serverUsage(w, name, fs) }); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (the commands are apikey and verify; %s -h tells more)", fs.Arg(0), name)
	}
	cfg, err := load()
	if err != nil {
		return nil, err
	}
	// Without the setting, a server started from the repository root serves the copy that
	// playground.PrepareCommand left in web/dist, once it holds every bundle; an
	// incomplete one is left aside (serve logs why) and the page loads from the CDN.
	if cfg.Playground && cfg.PlaygroundAssetsDir == "" {
		cfg.PlaygroundAssetsDir, cfg.PlaygroundAssetsSkipped = playground.FindLocalCopy(".")
		cfg.PlaygroundAssetsFound = cfg.PlaygroundAssetsDir != ""
	}
	return cfg, nil
}

// settingValue is a setting as a flag: its text, from the environment or the command
// line, with what -help shows about it.
type settingValue struct {
	setting
	text string
}

func (v *settingValue) String() string     { return v.text }
func (v *settingValue) Set(s string) error { v.text = s; return nil }

// IsBoolFlag lets -playground stand for -playground=true, as for any boolean flag.
func (v *settingValue) IsBoolFlag() bool { return v.kind == "true|false" }

// settingFlags defines the named settings (every setting when none is named) as flags of
// fs, each defaulting to its environment variable, and returns the function that reads the
// configuration once fs is parsed. Settings not named keep their defaults, so that a
// command reads only what it uses.
func settingFlags(fs *flag.FlagSet, getenv func(string) string, names ...string) func() (*config, error) {
	values := map[string]*settingValue{}
	for _, s := range settings {
		v := &settingValue{setting: s, text: s.def}
		values[s.env] = v
		if len(names) > 0 && !slices.Contains(names, s.env) {
			continue
		}
		if e := getenv(s.env); e != "" {
			v.text = e
		}
		fs.Var(v, flagName(s.env), s.usage)
	}
	return func() (*config, error) {
		return buildConfig(func(env string) string { return strings.TrimSpace(values[env].text) })
	}
}

func buildConfig(get func(string) string) (*config, error) {
	c := &config{
		Port:              get("PORT"),
		Addr:              get("ADDR"),
		RedisURL:          get("REDIS_URL"),
		RedisClusterAddrs: splitList(get("REDIS_CLUSTER_ADDRS")),
		RedisKeyPrefix:    get("REDIS_KEY_PREFIX"),
		LogFormat:         get("LOG_FORMAT"),
		RecordFormat:      get("RECORD_FORMAT"),
		OTLPEndpoint:      get("OTEL_EXPORTER_OTLP_ENDPOINT"),
		OTelServiceName:   get("OTEL_SERVICE_NAME"),
	}
	var errs []error
	if n, err := strconv.Atoi(c.Port); err != nil || n < 0 || n > 65535 {
		errs = append(errs, fmt.Errorf("PORT must be a port number from 0 to 65535, not %q", c.Port))
	}
	if c.Addr == "" {
		// A development server hands out a write key on its banner: only this machine
		// may reach it unless ADDR says otherwise.
		host := ""
		if c.Embedded() {
			host = "127.0.0.1"
		}
		c.Addr = net.JoinHostPort(host, c.Port)
	} else if _, port, err := net.SplitHostPort(c.Addr); err != nil || !isPort(port) {
		errs = append(errs, fmt.Errorf("ADDR must be host:port with a numeric port, such as 127.0.0.1:9000 or :8080, not %q", c.Addr))
	}
	c.CORSAllowedOrigins = splitList(get("CORS_ALLOWED_ORIGINS"))
	for _, o := range c.CORSAllowedOrigins {
		if !isOrigin(o) {
			errs = append(errs, fmt.Errorf("CORS_ALLOWED_ORIGINS: %q is not an origin; write scheme://host[:port] "+
				"(such as https://app.example.com, no path or trailing slash), or * for any", o))
		}
	}
	if c.OTLPEndpoint != "" {
		if u, err := url.Parse(c.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, not %q", c.OTLPEndpoint))
		}
	}
	if c.RedisKeyPrefix == "" || strings.ContainsAny(c.RedisKeyPrefix, "{}: \t") {
		errs = append(errs, errors.New("REDIS_KEY_PREFIX must be non-empty, without braces, colons or spaces"))
	}
	d, err := time.ParseDuration(get("SESSION_RETENTION"))
	if err != nil || d <= 0 {
		errs = append(errs, fmt.Errorf("SESSION_RETENTION must be a positive duration such as 720h, not %q", get("SESSION_RETENTION")))
	}
	c.SessionRetention = d
	if c.EventRetention, err = time.ParseDuration(get("EVENT_RETENTION")); err != nil || c.EventRetention < time.Minute {
		errs = append(errs, fmt.Errorf("EVENT_RETENTION must be a duration of at least 1m such as 168h, not %q", get("EVENT_RETENTION")))
	}
	positive := func(name string, min int) int {
		n, err := strconv.Atoi(get(name))
		if err != nil || n < min {
			errs = append(errs, fmt.Errorf("%s must be a whole number of at least %d, not %q", name, min, get(name)))
		}
		return n
	}
	c.MaxBodyBytes = int64(positive("MAX_BODY_BYTES", 1024))
	c.Limits = httpapi.Limits{
		Complexity:           positive("COMPLEXITY_LIMIT", 1),
		Depth:                positive("DEPTH_LIMIT", 1),
		Aliases:              positive("ALIAS_LIMIT", 1),
		DocumentBytes:        positive("DOCUMENT_SIZE_LIMIT", 64),
		Tokens:               positive("TOKEN_LIMIT", 16),
		Fields:               positive("FIELD_LIMIT", 1),
		RepeatedFields:       positive("REPEATED_FIELD_LIMIT", 1),
		KeylessDocumentBytes: positive("KEYLESS_DOCUMENT_SIZE_LIMIT", 64),
		KeylessFields:        positive("KEYLESS_FIELD_LIMIT", 1),
	}
	c.QueryCacheBytes = int64(positive("QUERY_CACHE_BYTES", 1<<16))
	c.EventLogMaxLength = positive("EVENT_LOG_MAX_LENGTH", 100)
	c.AuthenticateRate = positive("AUTHENTICATE_RATE_LIMIT", 0)
	c.APIKeyRate = positive("API_KEY_RATE_LIMIT", 0)
	c.APQRegistrations = positive("APQ_REGISTRATIONS_PER_HOUR", 0)
	// Below 500, a page of 100 with one filter and its count could be cut short.
	c.PageScanLimit = positive("PAGE_SCAN_LIMIT", 500)
	c.TenantScans = positive("TENANT_SCAN_CONCURRENCY", 1)
	c.TenantScanUnits = positive("TENANT_SCAN_UNITS_PER_SECOND", 0)
	c.APIKeyMaxConcurrent = positive("API_KEY_MAX_CONCURRENT", 0)
	c.APIKeyMaxSubscriptions = positive("API_KEY_MAX_SUBSCRIPTIONS", 0)
	c.WSMaxSubscriptions = positive("WS_MAX_SUBSCRIPTIONS", 0)
	c.MaxStreams = positive("MAX_STREAMS", 0)
	c.MaxPendingStreams = positive("MAX_PENDING_STREAMS", 0)
	if c.WSInitTimeout, err = time.ParseDuration(get("WS_INIT_TIMEOUT")); err != nil || c.WSInitTimeout <= 0 {
		errs = append(errs, fmt.Errorf("WS_INIT_TIMEOUT must be a positive duration such as 5s, not %q", get("WS_INIT_TIMEOUT")))
	}
	for _, d := range []struct {
		name string
		to   *time.Duration
	}{{"WS_IDLE_TIMEOUT", &c.WSIdleTimeout}, {"WS_KEYLESS_GRACE", &c.WSKeylessGrace}} {
		if *d.to, err = time.ParseDuration(get(d.name)); err != nil || *d.to < 0 {
			errs = append(errs, fmt.Errorf("%s must be a duration such as 60s, or 0 for never, not %q", d.name, get(d.name)))
		}
	}
	if c.RequestTimeout, err = time.ParseDuration(get("REQUEST_TIMEOUT")); err != nil || c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("REQUEST_TIMEOUT must be a positive duration such as 10s, not %q", get("REQUEST_TIMEOUT")))
	}
	if c.ResponseWriteTimeout, err = time.ParseDuration(get("RESPONSE_WRITE_TIMEOUT")); err != nil || c.ResponseWriteTimeout < 0 {
		errs = append(errs, fmt.Errorf("RESPONSE_WRITE_TIMEOUT must be a duration such as 30s (0 = no limit), not %q", get("RESPONSE_WRITE_TIMEOUT")))
	}
	if c.Introspection, err = strconv.ParseBool(get("INTROSPECTION")); err != nil {
		errs = append(errs, fmt.Errorf("INTROSPECTION must be true or false, not %q", get("INTROSPECTION")))
	}
	if c.APQTTL, err = time.ParseDuration(get("APQ_TTL")); err != nil || c.APQTTL <= 0 {
		errs = append(errs, fmt.Errorf("APQ_TTL must be a positive duration such as 24h, not %q", get("APQ_TTL")))
	}
	if raw := get("AUTH_LINK_BASE_URL"); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("AUTH_LINK_BASE_URL must be an absolute http(s) URL, not %q", raw))
		}
		c.AuthLinkBaseURL = u
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, not %q", get("LOG_LEVEL")))
	}
	switch get("READ_CACHE") {
	case "on":
		c.ReadCache = true
	case "off":
	default:
		errs = append(errs, fmt.Errorf("READ_CACHE must be on or off, not %q", get("READ_CACHE")))
	}
	c.ReadCacheMaxBytes = int64(positive("READ_CACHE_MAX_BYTES", 1<<20))
	for _, b := range []struct {
		name string
		to   *bool
	}{{"WEBHOOK_ALLOW_HTTP", &c.WebhookPolicy.AllowHTTP}, {"WEBHOOK_ALLOW_PRIVATE", &c.WebhookPolicy.AllowPrivate}} {
		if *b.to, err = strconv.ParseBool(get(b.name)); err != nil {
			errs = append(errs, fmt.Errorf("%s must be true or false, not %q", b.name, get(b.name)))
		}
	}
	for _, d := range []struct {
		name string
		to   *time.Duration
	}{{"WEBHOOK_RETRY_BASE", &c.WebhookRetryBase}, {"WEBHOOK_RETRY_MAX_DELAY", &c.WebhookRetryMaxDelay},
		{"WEBHOOK_RETRY_FOR", &c.WebhookRetryFor}, {"WEBHOOK_TIMEOUT", &c.WebhookTimeout}, {"WEBHOOK_POLL_INTERVAL", &c.WebhookPollInterval}} {
		if *d.to, err = time.ParseDuration(get(d.name)); err != nil || *d.to < 10*time.Millisecond {
			errs = append(errs, fmt.Errorf("%s must be a duration of at least 10ms such as 5s, not %q", d.name, get(d.name)))
		}
	}
	c.WebhookConcurrency = positive("WEBHOOK_CONCURRENCY", 1)
	c.WebhookMaxEndpoints = positive("WEBHOOK_MAX_ENDPOINTS", 1)
	c.WebhookMaxRedeliveries = positive("WEBHOOK_MAX_REDELIVERIES", 1)
	if c.ReadCacheMaxStaleness, err = time.ParseDuration(get("READ_CACHE_MAX_STALENESS")); err != nil || c.ReadCacheMaxStaleness <= 0 {
		errs = append(errs, fmt.Errorf("READ_CACHE_MAX_STALENESS must be a positive duration such as 5s, not %q", get("READ_CACHE_MAX_STALENESS")))
	}
	if c.RecordFormat != "binary" && c.RecordFormat != "json" {
		errs = append(errs, fmt.Errorf("RECORD_FORMAT must be binary or json, not %q", c.RecordFormat))
	}
	switch get("TOKEN_POINTERS") {
	case "write":
		c.TokenPointers = true
	case "off":
	default:
		errs = append(errs, fmt.Errorf("TOKEN_POINTERS must be write or off, not %q", get("TOKEN_POINTERS")))
	}
	switch get("VALUE_INDEXES") {
	case "per-value":
		c.PerValueIndexes = true
	case "shared":
	default:
		errs = append(errs, fmt.Errorf("VALUE_INDEXES must be shared or per-value, not %q", get("VALUE_INDEXES")))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("LOG_FORMAT must be text or json, not %q", c.LogFormat))
	}
	if c.Playground, err = strconv.ParseBool(get("PLAYGROUND")); err != nil {
		errs = append(errs, fmt.Errorf("PLAYGROUND must be true or false, not %q", get("PLAYGROUND")))
	}
	// Checked only when it will be used: a copy that is missing or of other versions
	// would leave the page blank in the browser, so say so at startup instead.
	if c.PlaygroundAssetsDir = get("PLAYGROUND_ASSETS_DIR"); c.PlaygroundAssetsDir != "" && c.Playground {
		if err := playground.CheckAssets(c.PlaygroundAssetsDir); err != nil {
			errs = append(errs, fmt.Errorf("PLAYGROUND_ASSETS_DIR: %w", err))
		}
	}
	return c, errors.Join(errs...)
}

// Embedded reports whether the service runs on its own in-memory Redis (no Redis is
// configured).
func (c *config) Embedded() bool { return c.RedisURL == "" && len(c.RedisClusterAddrs) == 0 }

func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 65535
}

// isOrigin accepts what a browser sends as Origin, scheme://host[:port] (the host may
// begin with "*." for every subdomain, as the CORS and WebSocket checks both allow), and
// "*" for any origin.
func isOrigin(o string) bool {
	if o == "*" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Scheme != "" && u.Host != "" && u.User == nil && u.Path == "" &&
		u.RawQuery == "" && !u.ForceQuery && u.Fragment == "" && !strings.Contains(o, "#")
}

func itoa(n int) string { return strconv.Itoa(n) }

// durationText writes a default duration as one would type it: 720h, not 720h0m0s.
func durationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (c *config) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if c.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(httpapi.WithRequestIDs(h))
}

// routeOptions are the settings the HTTP surface reads.
func (c *config) routeOptions() httpapi.RouteOptions {
	return httpapi.RouteOptions{
		MaxBodyBytes: c.MaxBodyBytes, RequestTimeout: c.RequestTimeout,
		ResponseWriteTimeout: c.ResponseWriteTimeout, CORSAllowedOrigins: c.CORSAllowedOrigins,
		PlaygroundAssetsDir: c.PlaygroundAssetsDir,
	}
}
