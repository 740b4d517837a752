package opendsr

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// NewClient is the HTTP client of every OpenDSR call this system makes
// (callbacks to controllers, requests to the site's processors): a
// bounded wait, redirects never followed (a 3xx is a failed delivery), no proxy, and a dialer that
// connects only to public addresses (loopback too when allowInsecure, in
// development): the address is checked after DNS resolution, on the
// socket about to connect, so a name that resolved to a public address at
// create and to an internal one now (DNS rebinding) is refused.
func NewClient(allowInsecure bool) *http.Client {
	// A short connect timeout: a receiver whose address drops the
	// connection attempt (a black hole) holds a worker for 3 s, not the
	// whole 10 s; a live host answers a SYN well within it, a lost SYN
	// included (Linux sends it again after 1 s).
	dialer := &net.Dialer{Timeout: connectTimeout, Control: func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !PublicAddr(ap.Addr(), allowInsecure) {
			return errInternalAddress
		}
		return nil
	}}
	return &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{Proxy: nil, DialContext: dialer.DialContext, ForceAttemptHTTP2: true,
			TLSHandshakeTimeout: 5 * time.Second, MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// connectTimeout bounds the TCP connect of every OpenDSR call.
const connectTimeout = 3 * time.Second

// errInternalAddress is a host refused at connect time.
var errInternalAddress = errors.New("opendsr: host resolves to an internal address")
