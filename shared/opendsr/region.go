package opendsr

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Misdirected is the refusal of a call for a controller whose data is
// kept in region home, made to a stack of region here: HTTP 421
// Misdirected Request ("the request was directed at a server that is
// unable or unwilling to produce an authoritative response for the target
// URI", RFC 9110 §15.5.20), in the specification's error body (§6), naming
// the region and, when this stack is told it (endpoint, the other
// region's public base URL), the same path there. The specification
// defines no code but 400 for errors; 400 would tell a client to fix its
// body, which is not what is wrong.
func Misdirected(home, here privacy.Region, endpoint, path string) *Error {
	to := "the Platform's " + string(home) + " endpoint"
	if endpoint != "" {
		to = strings.TrimSuffix(endpoint, "/") + path
	}
	msg := fmt.Sprintf("this controller's data is kept in region %s and this endpoint serves region %s: send its records and requests to %s",
		home, here, to)
	return &Error{Code: http.StatusMisdirectedRequest, Message: msg,
		Errors: []FieldError{{Domain: "Region", Reason: "WrongRegion", Message: msg}}}
}

// ErrRegionNotRecorded refuses a controller registered before regions
// until the team records where its data is kept: no stack serves it in
// a region it may not have chosen.
var ErrRegionNotRecorded = &Error{Code: http.StatusForbidden,
	Message: "this controller's region is not recorded yet: the Platform's team records where its data is kept before any endpoint serves it",
	Errors: []FieldError{{Domain: "Region", Reason: "RegionNotRecorded",
		Message: "the Platform's team must record this controller's region (us or eu)"}}}

// ParseEndpoints reads each region's public base URL from
// "us=https://…,eu=https://…" (the template's PlatformEndpoints); "" is
// none. Each URL is an absolute https URL without credentials, query or
// fragment (http only for a loopback host, as the local stacks are).
func ParseEndpoints(s string) (map[privacy.Region]string, error) {
	out := map[privacy.Region]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, pair := range strings.Split(s, ",") {
		name, raw, ok := strings.Cut(strings.TrimSpace(pair), "=")
		r, known := privacy.ParseRegion(name)
		if !ok || !known {
			return nil, fmt.Errorf("platform endpoints: %q is not region=URL with region one of us, eu", pair)
		}
		if _, dup := out[r]; dup {
			return nil, fmt.Errorf("platform endpoints: region %s twice", r)
		}
		u, err := url.Parse(raw)
		loopback := u != nil && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1")
		if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
			!(u.Scheme == "https" || u.Scheme == "http" && loopback) {
			return nil, fmt.Errorf("platform endpoints: region %s: %q is not an https base URL", r, raw)
		}
		out[r] = strings.TrimSuffix(raw, "/")
	}
	return out, nil
}
