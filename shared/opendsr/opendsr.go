// Package opendsr is the wire protocol of OpenDSR 2.0 and OpenGDPR 1.0
// (../shared/reference/opendsr.md), for controllers that send this system
// rights requests machine to machine: request validation exactly as the
// specification says, each identity type's normalisation (identity.go),
// the error body and response signatures. It is pure: no storage, no HTTP server.
package opendsr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Version is the major version of the protocol a route speaks.
type Version int

// Versions.
const (
	V1 Version = 1 // OpenGDPR 1.0: /v1/opengdpr_requests, X-OpenGDPR-* headers
	V2 Version = 2 // OpenDSR 2.0: /v2/requests, X-OpenDSR-* headers, regulation required
	// V3 is mParticle's "Data Subject Request API Version 3", its own
	// instance of OpenDSR 2.0 (not part of the specification): identities
	// as a dictionary keyed by type, group_id, skip_waiting_period
	// (../shared/reference/opendsr.md §8 and its v3 notes).
	V3 Version = 3
)

// Request statuses (spec §3).
const (
	StatusPending  = "pending"
	StatusProgress = "in_progress"
	StatusDone     = "completed"
	StatusCanceled = "cancelled"
)

// The identity formats and regulations of the specification (§3; the
// identity types are in identity.go).
var (
	formats     = []string{"raw", "sha1", "md5", "sha256"}
	regulations = []string{"gdpr", "ccpa"}
)

// MaxIdentities bounds the identities of one request or record.
const MaxIdentities = 20

// Identity is one identity of the subject.
type Identity struct {
	Type   string `json:"identity_type"`
	Value  string `json:"identity_value"`
	Format string `json:"identity_format"`
}

// Request is a create request as a controller sends it.
type Request struct {
	Regulation       string                     `json:"regulation,omitempty"`
	SubjectRequestID string                     `json:"subject_request_id"`
	Type             string                     `json:"subject_request_type"`
	Identities       []Identity                 `json:"subject_identities"`
	SubmittedTime    string                     `json:"submitted_time"`
	APIVersion       string                     `json:"api_version,omitempty"`
	CallbackURLs     []string                   `json:"status_callback_urls,omitempty"`
	Extensions       map[string]json.RawMessage `json:"extensions,omitempty"`
	// GroupID and SkipWaiting are v3's (zero otherwise).
	GroupID     string `json:"-"`
	SkipWaiting bool   `json:"-"`
}

// requestV3 is a v3 create request as mParticle documents it:
// subject_identities is {"<identity_type>": {"value", "encoding"}}, with
// encoding one of the specification's formats.
type requestV3 struct {
	Regulation       string                     `json:"regulation"`
	SubjectRequestID string                     `json:"subject_request_id"`
	Type             string                     `json:"subject_request_type"`
	SubmittedTime    string                     `json:"submitted_time"`
	APIVersion       string                     `json:"api_version"`
	CallbackURLs     []string                   `json:"status_callback_urls"`
	GroupID          *string                    `json:"group_id"`
	SkipWaiting      bool                       `json:"skip_waiting_period"`
	Extensions       map[string]json.RawMessage `json:"extensions"`
	Identities       map[string]struct {
		Value    string `json:"value"`
		Encoding string `json:"encoding"`
	} `json:"subject_identities"`
}

// groupID is a v3 group_id: 1 to 64 letters, digits or . _ : - (mParticle
// gives no shape; this is ours, so an id cannot carry markup or a break).
var groupID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// ValidGroupID reports whether g is a group_id this processor takes.
func ValidGroupID(g string) bool { return groupID.MatchString(g) }

// fromV3 is a v3 request in the common form (identities sorted by type),
// and the problems only v3 has.
func fromV3(body []byte) (Request, []FieldError, error) {
	var in requestV3
	if err := json.Unmarshal(body, &in); err != nil {
		return Request{}, nil, err
	}
	r := Request{Regulation: in.Regulation, SubjectRequestID: in.SubjectRequestID, Type: in.Type, SubmittedTime: in.SubmittedTime,
		APIVersion: in.APIVersion, CallbackURLs: in.CallbackURLs, Extensions: in.Extensions, SkipWaiting: in.SkipWaiting}
	var errs []FieldError
	if in.GroupID != nil {
		r.GroupID = *in.GroupID
		if !ValidGroupID(r.GroupID) {
			errs = append(errs, FieldError{Domain: "Validation", Reason: "InvalidFormat",
				Message: "group_id must be 1 to 64 letters, digits or . _ : -"})
		}
	}
	types := make([]string, 0, len(in.Identities))
	for t := range in.Identities {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		id := in.Identities[t]
		r.Identities = append(r.Identities, Identity{Type: t, Value: id.Value, Format: id.Encoding})
	}
	return r, errs, nil
}

// FieldError is one entry of the error body's "errors".
type FieldError struct {
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Error is the specification's error (§7.5): HTTP 400 with
// {"error": {"code": 400, "message": …, "errors": […]}}; 401, 404 and 409
// use the same shape. It never repeats an identity value.
type Error struct {
	Code    int          `json:"code"`
	Message string       `json:"message,omitempty"`
	Errors  []FieldError `json:"errors,omitempty"`
	// RetryAfter, on a 429, is when to try again (the Retry-After header).
	RetryAfter time.Duration `json:"-"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Message) }

// Body returns the error's JSON body.
func (e *Error) Body() []byte {
	b, _ := json.Marshal(struct {
		Error *Error `json:"error"`
	}{e})
	return b
}

// uuidV4 is a lowercase UUID version 4 (spec §1.1: GUIDs MUST be lowercase v4).
var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// ValidID reports whether id is a lowercase UUID v4.
func ValidID(id string) bool { return uuidV4.MatchString(id) }

// hexLen is the length of each format's digest, as lowercase hex (the
// specification does not say how a digest is written; we document hex).
var hexLen = map[string]int{"md5": 32, "sha1": 40, "sha256": 64}

var lowerHex = regexp.MustCompile(`^[0-9a-f]+$`)

// Policy is what validation allows beyond the specification's own rules.
type Policy struct {
	// AllowInsecure lets callback URLs use http, and loopback hosts
	// (development only: the local gateway's ALLOW_INSECURE_CALLBACKS);
	// otherwise they must be https to a public address.
	AllowInsecure bool
	// MaxCallbacks bounds status_callback_urls (default 10).
	MaxCallbacks int
}

// Parse decodes and validates a create request of version v. Every problem
// is listed, so a controller can fix them all at once.
func Parse(v Version, body []byte, p Policy) (Request, error) {
	var r Request
	var errs []FieldError
	var err error
	if v == V3 {
		r, errs, err = fromV3(body)
	} else {
		err = json.Unmarshal(body, &r)
	}
	if err != nil {
		return r, &Error{Code: 400, Message: "the body is not a JSON request object",
			Errors: []FieldError{{Domain: "Validation", Reason: "MalformedJSON", Message: "the body must be a JSON object"}}}
	}
	add := func(field, reason, msg string) {
		errs = append(errs, FieldError{Domain: "Validation", Reason: reason, Message: field + " " + msg})
	}
	if r.SubjectRequestID == "" {
		add("subject_request_id", "Required", "field is required")
	} else if !ValidID(r.SubjectRequestID) {
		add("subject_request_id", "InvalidFormat", "must be a lowercase UUID v4")
	}
	if r.Type == "" {
		add("subject_request_type", "Required", "field is required")
	} else if !slices.Contains(RequestTypes(), r.Type) {
		add("subject_request_type", "InvalidValue", "must be one of "+strings.Join(RequestTypes(), ", "))
	}
	if r.SubmittedTime == "" {
		add("submitted_time", "Required", "field is required")
	} else if _, err := time.Parse(time.RFC3339, r.SubmittedTime); err != nil {
		add("submitted_time", "InvalidFormat", "must be an RFC 3339 time")
	}
	switch {
	case v >= V2 && r.Regulation == "":
		add("regulation", "Required", "field is required")
	case r.Regulation != "" && !slices.Contains(regulations, r.Regulation):
		add("regulation", "InvalidValue", "must be one of "+strings.Join(regulations, ", "))
	}
	if len(r.Identities) == 0 {
		add("subject_identities", "Required", "field is required (at least one identity)")
	}
	if len(r.Identities) > MaxIdentities {
		add("subject_identities", "TooMany", fmt.Sprintf("may list at most %d identities", MaxIdentities))
	}
	for i, id := range r.Identities {
		field := fmt.Sprintf("subject_identities[%d]", i)
		if v == V3 && slices.Contains(IdentityTypes(), id.Type) { // an unknown key is not echoed
			field = "subject_identities." + id.Type
		}
		errs = append(errs, CheckIdentity(field, id)...)
	}
	max := p.MaxCallbacks
	if max == 0 {
		max = 10
	}
	if len(r.CallbackURLs) > max {
		add("status_callback_urls", "TooMany", fmt.Sprintf("may list at most %d URLs", max))
	}
	for i, u := range r.CallbackURLs {
		if err := checkCallback(u, p); err != nil {
			add(fmt.Sprintf("status_callback_urls[%d]", i), "InvalidURL", err.Error())
		}
	}
	if len(errs) > 0 {
		return r, &Error{Code: 400, Message: errs[0].Message, Errors: errs}
	}
	// An identity that names no one (the zeroed advertising id) is
	// dropped, the others kept; a request naming no one else is refused.
	if r.Identities = Identifying(r.Identities); len(r.Identities) == 0 {
		add("subject_identities", "InvalidValue", NoOne)
		return r, &Error{Code: 400, Message: errs[0].Message, Errors: errs}
	}
	return r, nil
}

// checkCallback allows https URLs to hosts that are not, by their name or
// address, inside the network this system runs in (loopback, private,
// link-local such as the instance metadata service 169.254.169.254,
// unique-local); http and loopback only when the policy allows insecure
// callbacks; never user info (it would be a credential in a log). Names
// are resolved at create (processor) and checked again at connect time.
func checkCallback(raw string, p Policy) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return fmt.Errorf("must be an absolute URL without credentials")
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && p.AllowInsecure) {
		return fmt.Errorf("must use https")
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		if p.AllowInsecure {
			return nil
		}
		return ErrInternalHost
	}
	if a, err := netip.ParseAddr(host); err == nil && !PublicAddr(a, p.AllowInsecure) {
		return ErrInternalHost
	}
	return nil
}

// ErrInternalHost is the reason a callback host inside the network is
// refused.
var ErrInternalHost = errors.New("must name a public host: loopback, private, link-local and unique-local addresses are refused")

// internal are ranges that are not public though netip has no predicate
// for them: "this network", carrier-grade NAT, IETF protocol assignments,
// benchmarking, reserved, and NAT64 / 6to4 / Teredo forms that can embed an
// internal IPv4 address.
var internal = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"), netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"), netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"), netip.MustParsePrefix("2002::/16"), netip.MustParsePrefix("2001::/32"),
}

// PublicAddr reports whether a callback may connect to a: not loopback
// (unless allowLoopback), private (10/8, 172.16/12, 192.168/16, fc00::/7),
// link-local, multicast, unspecified or any other internal range.
func PublicAddr(a netip.Addr, allowLoopback bool) bool {
	a = a.Unmap().WithZone("")
	if a.IsLoopback() {
		return allowLoopback
	}
	if !a.IsValid() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range internal {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// RequestTypes returns the OpenDSR request types this processor takes.
func RequestTypes() []string { return []string{"access", "portability", "erasure"} }
