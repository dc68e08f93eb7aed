package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"connectsession/graph/model"
)

// Policy says which endpoint URLs the service may post to.
type Policy struct {
	// AllowHTTP accepts plain http URLs (for development and tests); otherwise https only.
	AllowHTTP bool
	// AllowPrivate accepts loopback, private, link-local and other non-public addresses.
	AllowPrivate bool
}

// MaxURLLength is the longest endpoint URL accepted.
const MaxURLLength = 2048

// CheckURL checks an endpoint URL against the policy and returns an *model.InputError on
// field when it breaks a rule. A host given as an IP address is checked here; a name is
// checked on every connection, on the address it resolves to then (Client).
func (p Policy) CheckURL(field, raw string) error {
	if len(raw) > MaxURLLength {
		return model.Invalid(field, fmt.Sprintf("must be at most %d characters", MaxURLLength))
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return model.Invalid(field, "must be an absolute URL such as https://example.com/webhooks")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowHTTP:
	case u.Scheme == "http":
		return model.Invalid(field, "must use https (this service does not allow plain http: WEBHOOK_ALLOW_HTTP)")
	default:
		return model.Invalid(field, "must use https")
	}
	if u.User != nil {
		return model.Invalid(field, "must not carry user info (user:password@)")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return model.Invalid(field, "must not have a fragment (#...)")
	}
	if port := u.Port(); port != "" && (len(port) > 5 || port == "0") {
		return model.Invalid(field, "has an invalid port")
	}
	if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !p.AllowPrivate && !Public(ip) {
		return model.Invalid(field, "must not point at a private, loopback or link-local address (WEBHOOK_ALLOW_PRIVATE)")
	}
	return nil
}

// nonPublic are the ranges an endpoint may not reach unless private addresses are
// allowed, beside those netip classifies itself (loopback, private, link-local,
// multicast, unspecified).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation (TEST-NET-1)
	netip.MustParsePrefix("198.51.100.0/24"), // documentation (TEST-NET-2)
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation (TEST-NET-3)
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
	netip.MustParsePrefix("2001::/32"),       // Teredo: embeds an IPv4 address
	netip.MustParsePrefix("2001:2::/48"),     // benchmarking
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: reaches IPv4 addresses, private ones too
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds an IPv4 address
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("::/128"),          // unspecified
	netip.MustParsePrefix("::ffff:0:0/96"),   // IPv4-mapped: checked unmapped below
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated
}

// globalUnicast is the only IPv6 range with public unicast addresses today; the rest
// (IPv4-compatible ::a.b.c.d, 5f00::/16, ...) is refused whole.
var globalUnicast = netip.MustParsePrefix("2000::/3")

// Public reports whether ip is a public unicast address, the only kind an endpoint may
// reach unless private addresses are allowed. An IPv4-mapped IPv6 address is judged as
// the IPv4 address it maps.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.Is6() && !globalUnicast.Contains(ip) {
		return false
	}
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// ErrAddressRefused is the cause of a connection the policy refused: the endpoint's
// name resolved to an address it may not reach.
var ErrAddressRefused = errors.New("webhooks: address not allowed")

// ClientOptions configure the delivery client.
type ClientOptions struct {
	Policy Policy
	// ConnectTimeout bounds a connection's set-up (default 5s); Timeout a whole attempt,
	// from connecting to reading the answer (default 10s).
	ConnectTimeout time.Duration
	Timeout        time.Duration
	// Resolve, when set, replaces DNS (tests point names at chosen addresses with it).
	// The addresses it returns are checked as resolved ones are.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
}

// NewClient returns the HTTP client deliveries use: every address it connects to is
// checked against the policy as the connection is made (after name resolution, so a
// name that resolves to a refused address, at any time, is refused); it follows no
// redirect (a 3xx answer is a failure), uses no proxy, and gives up after the timeouts.
func NewClient(o ClientOptions) *http.Client {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	d := &net.Dialer{Timeout: o.ConnectTimeout, Control: control(o.Policy)}
	dial := d.DialContext
	if o.Resolve != nil {
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			ips, err := o.Resolve(ctx, host)
			if err != nil || len(ips) == 0 {
				return nil, fmt.Errorf("webhooks: resolving %s: %w", host, errors.Join(err, errors.New("no address")))
			}
			return d.DialContext(ctx, network, net.JoinHostPort(ips[0].String(), port))
		}
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would connect for us, past the address check
		DialContext:           dial,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.Timeout,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// control refuses, as each connection is made, an address the policy does not allow.
func control(p Policy) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if p.AllowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrAddressRefused, address)
		}
		if !Public(ap.Addr()) {
			return fmt.Errorf("%w: %s is not a public address", ErrAddressRefused, ap.Addr())
		}
		return nil
	}
}
