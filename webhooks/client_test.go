package webhooks

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"connectsession/graph/model"
)

func TestPublicAddresses(t *testing.T) {
	for _, c := range []struct {
		ip     string
		public bool
	}{
		{"93.184.216.34", true},
		{"8.8.8.8", true},
		{"2606:4700:4700::1111", true},
		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"100.64.0.1", false}, // carrier-grade NAT
		{"100.127.255.255", false},
		{"198.18.0.1", false},
		{"224.0.0.1", false},
		{"255.255.255.255", false},
		{"240.0.0.1", false},
		{"::1", false},
		{"::", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"ff02::1", false},
		{"::ffff:127.0.0.1", false}, // IPv4-mapped loopback
		{"::ffff:10.0.0.1", false},
		{"::ffff:93.184.216.34", true},
		{"64:ff9b::7f00:1", false}, // NAT64 of 127.0.0.1
		{"2002:7f00:1::", false},   // 6to4 of 127.0.0.1
		{"fec0::1", false},
	} {
		if got := Public(netip.MustParseAddr(c.ip)); got != c.public {
			t.Errorf("Public(%s) = %v, want %v", c.ip, got, c.public)
		}
	}
}

func TestCheckURL(t *testing.T) {
	strict, loose := Policy{}, Policy{AllowHTTP: true, AllowPrivate: true}
	for _, c := range []struct {
		url       string
		policy    Policy
		wantError string // part of the message; "" = accepted
	}{
		{"https://hooks.example.com/connect", strict, ""},
		{"https://hooks.example.com:8443/connect?x=1", strict, ""},
		{"https://93.184.216.34/hook", strict, ""},
		{"http://hooks.example.com/connect", strict, "must use https"},
		{"http://hooks.example.com/connect", loose, ""},
		{"ftp://hooks.example.com/", loose, "must use https"},
		{"hooks.example.com/connect", strict, "absolute URL"},
		{"/connect", strict, "absolute URL"},
		{"https://", strict, "absolute URL"},
		{"https://user:pw@hooks.example.com/", strict, "user info"},
		{"https://hooks.example.com/#frag", strict, "fragment"},
		{"https://127.0.0.1/hook", strict, "private, loopback"},
		{"https://10.0.0.8/hook", strict, "private, loopback"},
		{"https://169.254.169.254/latest/meta-data", strict, "private, loopback"},
		{"https://[::1]:8443/hook", strict, "private, loopback"},
		{"https://[::ffff:127.0.0.1]/hook", strict, "private, loopback"},
		{"https://[fd00::1]/hook", strict, "private, loopback"},
		{"https://0.0.0.0/hook", strict, "private, loopback"},
		{"https://100.64.1.1/hook", strict, "private, loopback"},
		{"https://127.0.0.1/hook", Policy{AllowPrivate: true}, ""},
		{"https://hooks.example.com/" + strings.Repeat("a", MaxURLLength), strict, "at most 2048"},
	} {
		err := c.policy.CheckURL("input.url", c.url)
		if c.wantError == "" {
			if err != nil {
				t.Errorf("CheckURL(%q, %+v) = %v, want nil", c.url, c.policy, err)
			}
			continue
		}
		var in *model.InputError
		if !errors.As(err, &in) || in.Field != "input.url" || !strings.Contains(in.Message, c.wantError) {
			t.Errorf("CheckURL(%q, %+v) = %v, want an input error on input.url saying %q", c.url, c.policy, err, c.wantError)
		}
	}
}

// A name that resolves to a loopback address when the connection is made is refused
// then, whatever it was when the endpoint was saved: the check is on the address dialled.
func TestClientRefusesNamesResolvingToPrivateAddresses(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	target := "http://hooks.example.test:" + port + "/hook"
	if err := (Policy{AllowHTTP: true}).CheckURL("url", target); err != nil {
		t.Fatalf("the name passes when saved: %v", err)
	}
	// The resolver answers what a rebinding DNS server would: a public address (which
	// CheckURL never saw either) would have passed; this one is loopback.
	resolve := func(ctx context.Context, host string) ([]netip.Addr, error) {
		if host != "hooks.example.test" {
			return nil, errors.New("unknown host")
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	post := func(p Policy) (*http.Response, error) {
		c := NewClient(ClientOptions{Policy: p, Resolve: resolve})
		req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader("{}"))
		return c.Do(req)
	}
	resp, err := post(Policy{AllowHTTP: true})
	if err == nil {
		resp.Body.Close()
		t.Fatalf("posted to a name resolving to 127.0.0.1: %s", resp.Status)
	}
	if !errors.Is(err, ErrAddressRefused) {
		t.Fatalf("error %v, want ErrAddressRefused", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("the receiver was reached %d times", hits.Load())
	}
	// The same name and resolver reach the receiver once private addresses are allowed,
	// so the refusal above was the policy's.
	resp, err = post(Policy{AllowHTTP: true, AllowPrivate: true})
	if err != nil {
		t.Fatalf("with private addresses allowed: %v", err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatalf("receiver hits %d, want 1", hits.Load())
	}
}

// localhost is a name (it passes when saved) that the system resolver turns into a
// loopback address: refused at connection time without any test hook.
func TestClientRefusesLocalhostThroughTheSystemResolver(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the receiver was reached")
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	target := "http://localhost:" + u.Port() + "/"
	c := NewClient(ClientOptions{Policy: Policy{AllowHTTP: true}})
	resp, err := c.Post(target, "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		t.Fatal("posted to localhost")
	}
	if !errors.Is(err, ErrAddressRefused) {
		t.Fatalf("error %v, want ErrAddressRefused", err)
	}
}

func TestClientFollowsNoRedirect(t *testing.T) {
	var reached atomic.Int32
	inner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	defer inner.Close()
	outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inner.URL, http.StatusTemporaryRedirect)
	}))
	defer outer.Close()
	c := NewClient(ClientOptions{Policy: Policy{AllowHTTP: true, AllowPrivate: true}})
	resp, err := c.Post(outer.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || reached.Load() != 0 {
		t.Fatalf("status %d, redirect target reached %d times; want 307 and 0", resp.StatusCode, reached.Load())
	}
}
