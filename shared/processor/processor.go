// Package processor is this system as a processor (policy §4, §7: the
// Platform, "as directed by our Clients and for no other purposes"):
// controllers hand it records to hold on their behalf (the records API),
// and send access, portability and erasure requests about the people in
// them machine to machine (OpenDSR, validated by shared/opendsr). A
// request acts on the requesting controller's records only: it never
// reads, returns or changes the site's data (where the company is the
// controller), its ledger or its suppression list, and the template grants
// these functions none of those tables. Requests are stored pending for a
// cancel window; the Worker then fulfils them. Every response is signed.
// Controllers authenticate with HTTP Basic credentials issued per
// controller (privacyctl opendsr-controller), each seeing only its own
// requests and records.
package processor

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	neturl "net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/limit"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Store is what the processor reads and writes: requests, and the
// controllers' records; nothing of the site's.
type Store interface {
	LookupController(ctx context.Context, id string) (privacy.Controller, error)
	CreateRequest(ctx context.Context, r privacy.RightsRequest, e privacy.Event) error
	Request(ctx context.Context, id string) (privacy.RightsRequest, error)
	Transition(ctx context.Context, id string, t privacy.Transition, e privacy.Event) error
	SubjectRequests(ctx context.Context, subject privacy.SubjectID, since time.Time) ([]privacy.RightsRequest, error)
	PutRecord(ctx context.Context, r privacy.Record) (privacy.Record, bool, error)
	GetRecord(ctx context.Context, controller, id string) (privacy.Record, error)
	DeleteRecord(ctx context.Context, controller, id string) error
	KeyedRecords(ctx context.Context, controller string, keys []string) ([]privacy.Record, error)
	GroupRequests(ctx context.Context, controller, group string, max int) ([]privacy.RightsRequest, error)
	SensitiveKeys(ctx context.Context, controller string) ([]string, error)
	SetSensitiveKeys(ctx context.Context, controller string, names []string, now time.Time) error
	limit.Counter
}

// noLedger is the event of an OpenDSR request's steps: none. The ledger
// is the company's evidence as the site's controller; a controller's
// request is not about the site's data, and its own item (received,
// decided, completed, by whom) is its record.
func noLedger(at time.Time) privacy.Event { return privacy.Event{At: at} }

// Service holds the dependencies.
type Service struct {
	Store  Store
	Hasher *privacy.Hasher
	// Signer signs every response; without one (no key configured) every
	// route answers 503, since an unsigned answer is not one.
	Signer  *opendsr.Signer
	CertURL string // processor_certificate in discovery
	BaseURL string // for results_url
	Policy  opendsr.Policy
	// Resolver looks up callback hosts at create (net.DefaultResolver when
	// nil): a name that resolves inside the network is refused.
	Resolver Resolver
	// CreateLimit bounds the requests one controller may create (429 with
	// Retry-After beyond it): a runaway client cannot flood the worker.
	CreateLimit limit.Rule
	// RecordLimit bounds the records one controller may write (PUT and
	// DELETE) in its window.
	RecordLimit limit.Rule
	// Window is how long a new request stays pending, cancellable, before
	// the Worker may start it.
	Window time.Duration
	// ErasureWait is v3's waiting period of an erasure (mParticle's
	// default: days, cancellable throughout); skip_waiting_period makes it
	// Window. Zero: Window.
	ErasureWait time.Duration
	// Region is the region this stack serves: it answers the controllers
	// registered in it and refuses every other (Misdirected), naming
	// Endpoints[their region], each region's public base URL, when set.
	Region    privacy.Region
	Endpoints map[privacy.Region]string
	Now       func() time.Time
	Log       *slog.Logger
}

// SecretHash is the stored form of a controller secret: a keyed hash,
// so a read of the ops table gives no credential.
func SecretHash(h *privacy.Hasher, secret string) string {
	return h.Pseudonym("opendsr-controller", secret)
}

// Routes registers both generations' routes.
func (s *Service) Routes(rt *httpapi.Router) {
	for _, v := range []struct {
		v    opendsr.Version
		base string
	}{{opendsr.V1, "/opendsr/v1/opengdpr_requests"}, {opendsr.V2, "/opendsr/v2/requests"}, {opendsr.V3, "/opendsr/v3/requests"}} {
		v := v
		rt.Handle(fmt.Sprintf("GET /opendsr/v%d/discovery", v.v), s.handle(v.v, false, s.discovery))
		rt.Handle("POST "+v.base, s.handle(v.v, true, s.create))
		rt.Handle("GET "+v.base+"/{id}", s.handle(v.v, true, s.status))
		rt.Handle("DELETE "+v.base+"/{id}", s.handle(v.v, true, s.cancel))
	}
	rt.Handle("GET /opendsr/v3/requests", s.handle(opendsr.V3, true, s.group))
	rt.Handle("PUT "+recordRoute, s.handle(opendsr.V2, true, s.putRecord))
	rt.Handle("GET "+recordRoute, s.handle(opendsr.V2, true, s.getRecord))
	rt.Handle("DELETE "+recordRoute, s.handle(opendsr.V2, true, s.deleteRecord))
	rt.Handle("GET "+resultsRoute, s.handle(opendsr.V2, true, s.results))
	rt.Handle("PUT "+keysRoute, s.handle(opendsr.V2, true, s.putSensitiveKeys))
	rt.Handle("GET "+keysRoute, s.handle(opendsr.V2, true, s.getSensitiveKeys))
}

// call is one authenticated call.
type call struct {
	r          httpapi.Request
	v          opendsr.Version
	controller string
}

type handler func(ctx context.Context, c call) (int, any, error)

var (
	errAuth    = &opendsr.Error{Code: http.StatusUnauthorized, Message: "valid controller credentials are required (HTTP Basic)"}
	errUnknown = &opendsr.Error{Code: http.StatusNotFound, Message: "no request with this subject_request_id"}
)

// handle authenticates (when auth), runs h and signs what it answers.
func (s *Service) handle(v opendsr.Version, auth bool, h handler) httpapi.HandlerFunc {
	return func(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
		if s.Signer == nil {
			return httpapi.Response{}, httpapi.ErrUnavailable
		}
		c := call{r: r, v: v}
		var status int
		var body any
		var err error
		if auth {
			c.controller, err = s.authenticate(ctx, r)
		}
		if err == nil {
			status, body, err = h(ctx, c)
		}
		var e *opendsr.Error
		retryAfter := time.Duration(0)
		if errors.As(err, &e) {
			status, body, retryAfter = e.Code, json.RawMessage(e.Body()), e.RetryAfter
		} else if err != nil {
			return httpapi.Response{}, err // a dependency: 503 from the router
		}
		b, err := json.Marshal(body)
		if err != nil {
			return httpapi.Response{}, err
		}
		headers, err := s.Signer.Headers(v, b)
		if err != nil {
			return httpapi.Response{}, err
		}
		headers["Cache-Control"] = "no-store"
		if status == http.StatusUnauthorized {
			headers["WWW-Authenticate"] = `Basic realm="opendsr"`
		}
		if retryAfter > 0 {
			headers["Retry-After"] = strconv.Itoa(int(retryAfter.Seconds() + 0.999))
		}
		return httpapi.Response{StatusCode: status, Headers: headers, Body: string(b)}, nil
	}
}

func (s *Service) authenticate(ctx context.Context, r httpapi.Request) (string, error) {
	raw, ok := strings.CutPrefix(httpapi.Header(r, "authorization"), "Basic ")
	if !ok {
		return "", errAuth
	}
	pair, err := base64.StdEncoding.DecodeString(strings.TrimSpace(raw))
	if err != nil {
		return "", errAuth
	}
	id, secret, ok := strings.Cut(string(pair), ":")
	if !ok || id == "" || len(id) > 64 {
		return "", errAuth
	}
	// An id of another region is sent there before anything is read: the
	// answer depends on the id alone (its prefix, which its holder
	// knows), the same whether such a controller exists or not.
	if home, ok := privacy.IDRegion(id); ok && home != s.Region {
		return "", s.misdirected(home, r)
	}
	c, err := s.Store.LookupController(ctx, id)
	if errors.Is(err, privacy.ErrNotFound) {
		return "", errAuth
	}
	if err != nil {
		return "", err
	}
	if c.Revoked || subtle.ConstantTimeCompare([]byte(c.SecretHash), []byte(SecretHash(s.Hasher, secret))) != 1 {
		return "", errAuth
	}
	// A controller registered before regions is told its region only once
	// authenticated (its id names none), and served only where the team
	// recorded it.
	switch {
	case c.Region == "":
		return "", opendsr.ErrRegionNotRecorded
	case c.Region != s.Region:
		return "", s.misdirected(c.Region, r)
	}
	return id, nil
}

// misdirected refuses a call of a controller of region home, naming the
// same path at that region's endpoint.
func (s *Service) misdirected(home privacy.Region, r httpapi.Request) *opendsr.Error {
	path := r.Path
	if r.RawQuery != "" {
		path += "?" + r.RawQuery
	}
	return opendsr.Misdirected(home, s.Region, s.Endpoints[home], path)
}

func version(v opendsr.Version) string { return fmt.Sprintf("%d.0", v) }

// supported is discovery's supported_identities: every type of the
// specification in every format (opendsr.IdentityTypes, opendsr.Formats).
func supported() []map[string]string {
	var out []map[string]string
	for _, t := range opendsr.IdentityTypes() {
		for _, f := range opendsr.Formats() {
			out = append(out, map[string]string{"identity_type": t, "identity_format": f})
		}
	}
	return out
}

func (s *Service) discovery(ctx context.Context, c call) (int, any, error) {
	return http.StatusOK, map[string]any{
		"api_version":                     version(c.v),
		"supported_identities":            supported(),
		"supported_subject_request_types": opendsr.RequestTypes(),
		"processor_certificate":           s.CertURL,
		// Not of the specification (a processor may add keys): where this
		// endpoint keeps the data it is handed.
		"region": s.Region,
	}, nil
}

// Resolver resolves host names (net.Resolver does).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// checkCallbackHosts resolves the callback URLs' host names and refuses a
// name that does not resolve or resolves to an internal address (a
// controller must not make this system call into its own network). The
// client's dialer checks again at connect time, where DNS may answer
// otherwise (rebinding).
func (s *Service) checkCallbackHosts(ctx context.Context, urls []string) error {
	resolver := s.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	var errs []opendsr.FieldError
	for i, raw := range urls {
		u, _ := neturl.Parse(raw) // Parse checked it
		host := u.Hostname()
		if _, err := netip.ParseAddr(host); err == nil || (s.Policy.AllowInsecure && host == "localhost") {
			continue // an address literal is Parse's to judge
		}
		lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		addrs, err := resolver.LookupNetIP(lctx, "ip", host)
		cancel()
		reason := ""
		switch {
		case err != nil || len(addrs) == 0:
			reason = "must name a host that resolves"
		case slices.ContainsFunc(addrs, func(a netip.Addr) bool { return !opendsr.PublicAddr(a, s.Policy.AllowInsecure) }):
			reason = opendsr.ErrInternalHost.Error()
		}
		if reason != "" {
			errs = append(errs, opendsr.FieldError{Domain: "Validation", Reason: "InvalidURL",
				Message: fmt.Sprintf("status_callback_urls[%d] %s", i, reason)})
		}
	}
	if len(errs) > 0 {
		return &opendsr.Error{Code: http.StatusBadRequest, Message: errs[0].Message, Errors: errs}
	}
	return nil
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// create handles POST …/opengdpr_requests and …/requests: the request is
// stored pending, and answered with a signed receipt; the Worker fulfils
// it once its cancel window is over. A retry of the same bytes by the same
// controller is answered with the same receipt.
func (s *Service) create(ctx context.Context, c call) (int, any, error) {
	body, err := httpapi.Body(c.r)
	if err != nil {
		return 0, nil, &opendsr.Error{Code: http.StatusBadRequest, Message: "the body cannot be read"}
	}
	req, err := opendsr.Parse(c.v, body, s.Policy)
	if err != nil {
		return 0, nil, err
	}
	if err := s.checkCallbackHosts(ctx, req.CallbackURLs); err != nil {
		return 0, nil, err
	}
	now := s.Now().UTC()
	if ex, err := limit.Apply(ctx, s.Store, now, limit.Check{Rule: s.CreateLimit, Key: c.controller}); err != nil {
		return 0, nil, err
	} else if ex != nil {
		s.Log.WarnContext(ctx, "opendsr controller over its limit", "controller_id", c.controller, "limit", ex.Rule.Name)
		return 0, nil, &opendsr.Error{Code: http.StatusTooManyRequests, RetryAfter: ex.RetryAfter,
			Message: fmt.Sprintf("more than %d requests in %s: try again later", ex.Rule.Max, ex.Rule.Window)}
	}
	keys := s.requestKeys(c.controller, req.Identities)
	subject := s.identitySet(c.controller, keys)
	regulation := req.Regulation
	if regulation == "" {
		regulation = privacy.RegulationGDPR
	}
	sum := sha256.Sum256(body)
	digest := hex.EncodeToString(sum[:])
	rr := privacy.RightsRequest{ID: req.SubjectRequestID, Subject: subject, Type: privacy.Right(req.Type),
		Regulation: regulation, Status: privacy.RequestPending, ReceivedAt: now,
		DueAt: privacy.DueAt(regulation, now), Source: privacy.SourceOpenDSR, Controller: c.controller,
		CallbackURLs: req.CallbackURLs, OpenDSRVersion: int(c.v), FulfilAfter: now.Add(s.Window),
		BodyDigest: digest, IdentityKeys: keys, GroupID: req.GroupID}
	if c.v == opendsr.V3 && privacy.Right(req.Type) == privacy.RightErasure && !req.SkipWaiting && s.ErasureWait > s.Window {
		rr.FulfilAfter = now.Add(s.ErasureWait)
	}
	if open, err := s.inFlight(ctx, subject, c.controller, req.Type); err != nil {
		return 0, nil, err
	} else if open != "" && open != rr.ID {
		return 0, nil, &opendsr.Error{Code: http.StatusConflict,
			Message: "a " + req.Type + " request with these identities is in flight already: " + open}
	}
	err = s.Store.CreateRequest(ctx, rr, noLedger(now))
	if errors.Is(err, privacy.ErrExists) {
		// The same request again (a retry after a lost answer) gets the
		// first receipt; anything else under this id is a conflict.
		if rr, err = s.Store.Request(ctx, rr.ID); err != nil {
			return 0, nil, err
		}
		if rr.Controller != c.controller || rr.BodyDigest != digest {
			return 0, nil, &opendsr.Error{Code: http.StatusConflict, Message: "a request with this subject_request_id exists already"}
		}
	} else if err != nil {
		return 0, nil, err
	}
	s.Log.InfoContext(ctx, "opendsr request received", "subject_request_id", rr.ID, "type", rr.Type, "controller_id", c.controller,
		"identities", len(keys))
	return http.StatusCreated, map[string]string{
		"controller_id": c.controller, "received_time": rfc3339(rr.ReceivedAt), "expected_completion_time": expected(rr),
		"encoded_request": base64.StdEncoding.EncodeToString(body), "subject_request_id": rr.ID,
	}, nil
}

// requestKeys are a request's identities as keys at controller
// (Hasher.IdentityKey), sorted, each once: a raw value is normalised for
// its type and named by its sha256 digest (a record keeps a key per
// digest format); a digest is named as sent. Parse checked every shape.
func (s *Service) requestKeys(controller string, ids []opendsr.Identity) []string {
	var keys []string
	for _, id := range ids {
		format, digest := id.Format, id.Value
		if id.Format == "raw" {
			v, _ := opendsr.NormalizeIdentity(id.Type, id.Value)
			format, digest = "sha256", privacy.IdentityDigest("sha256", v)
		}
		keys = append(keys, s.Hasher.IdentityKey(controller, id.Type, format, digest))
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// identitySet is the subject of a request: its set of identity keys,
// keyed once more, so two requests naming the same identities (in any
// order, raw or digested alike as sha256) have the same one, and a second
// of the same type is refused while the first is in flight (mParticle's
// 409 for "the same identities").
func (s *Service) identitySet(controller string, keys []string) privacy.SubjectID {
	return privacy.SubjectID(s.Hasher.Pseudonym("opendsr-identities\x00"+controller, strings.Join(keys, ",")))
}

// inFlight returns the id of the controller's pending or in-progress
// request of this type for subject, or "".
func (s *Service) inFlight(ctx context.Context, subject privacy.SubjectID, controller, typ string) (string, error) {
	reqs, err := s.Store.SubjectRequests(ctx, subject, time.Time{})
	if err != nil {
		return "", err
	}
	for _, r := range reqs {
		if r.Source == privacy.SourceOpenDSR && r.Controller == controller && string(r.Type) == typ &&
			(r.Status == privacy.RequestPending || r.Status == privacy.RequestInProgress) {
			return r.ID, nil
		}
	}
	return "", nil
}

// expected is a request's expected_completion_time: when it was
// completed, else one worker period after its cancel window, else (a
// request from before the window) its legal deadline.
func expected(r privacy.RightsRequest) string {
	if !r.CompletedAt.IsZero() {
		return rfc3339(r.CompletedAt)
	}
	if !r.FulfilAfter.IsZero() {
		return rfc3339(r.FulfilAfter.Add(WorkerEvery))
	}
	return rfc3339(r.DueAt)
}

// ResultsValidity is how long after completion an access or portability
// request's results can be fetched.
const ResultsValidity = 7 * 24 * time.Hour

// resultsURL is where the controller fetches a completed access or
// portability request's records, with its own credentials (never an open
// link), while they are available; false otherwise.
func resultsURL(base string, req privacy.RightsRequest, now time.Time) (string, bool) {
	done := req.CompletedAt
	if done.IsZero() || req.Status != privacy.RequestCompleted || (req.Type != privacy.RightAccess && req.Type != privacy.RightPortability) ||
		!now.Before(done.Add(ResultsValidity)) {
		return "", false
	}
	return base + resultsPath(req.ID), true
}

// StatusBody is a request's status as the status route answers it and a
// callback carries it (with status_callback_url added), in protocol
// version v: every key a strict client's schema requires is present,
// null when empty (mParticle's v3 status and callbacks; v1 and v2 alike):
// results_url (access and portability, while the results are kept),
// extensions and, in v3, group_id; results_count in v2. An outcome the
// specification has no status for, "denied" (with the team's reason), is
// said under extensions: in v1 and v2 as {<domain>: {outcome, reason}},
// in v3 as this processor's own entry {domain, name, status "skipped",
// status_message}. The Platform forwards a controller's erasure to no
// downstream partner, so v3's per-partner entries are otherwise none.
func StatusBody(v opendsr.Version, base, domain string, req privacy.RightsRequest, status string, now time.Time) map[string]any {
	out := map[string]any{"controller_id": req.Controller, "subject_request_id": req.ID, "api_version": version(v),
		"request_status": status, "expected_completion_time": expected(req), "results_url": nil, "extensions": nil}
	if v == opendsr.V3 {
		out["group_id"] = nil
		if req.GroupID != "" {
			out["group_id"] = req.GroupID
		}
	}
	if status != opendsr.StatusDone {
		return out
	}
	if url, ok := resultsURL(base, req, now); ok {
		out["results_url"] = url
	}
	if v == opendsr.V2 && req.Status == privacy.RequestCompleted && req.ResultsCount != nil {
		out["results_count"] = *req.ResultsCount
	}
	if req.Status == privacy.RequestDenied {
		if v == opendsr.V3 {
			out["extensions"] = map[string]any{domain: map[string]string{"domain": domain, "name": "Platform", "status": "skipped",
				"status_message": "denied: " + req.Reason}}
		} else {
			out["extensions"] = map[string]any{domain: map[string]string{"outcome": "denied", "reason": req.Reason}}
		}
	}
	return out
}

// mine loads a request of the calling controller; another controller's is
// as unknown as one that does not exist.
func (s *Service) mine(ctx context.Context, c call) (privacy.RightsRequest, error) {
	id := c.r.Params["id"]
	if !opendsr.ValidID(id) {
		return privacy.RightsRequest{}, errUnknown
	}
	req, err := s.Store.Request(ctx, id)
	if errors.Is(err, privacy.ErrNotFound) || err == nil && (req.Source != privacy.SourceOpenDSR || req.Controller != c.controller) {
		return req, errUnknown
	}
	return req, err
}

// RequestStatus maps a request's status onto the protocol's four.
func RequestStatus(status privacy.Status) string {
	switch status {
	case privacy.RequestPending:
		return opendsr.StatusPending
	case privacy.RequestCompleted, privacy.RequestDenied:
		return opendsr.StatusDone
	case privacy.RequestCancelled:
		return opendsr.StatusCanceled
	}
	return opendsr.StatusProgress
}

func (s *Service) status(ctx context.Context, c call) (int, any, error) {
	req, err := s.mine(ctx, c)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, StatusBody(c.v, s.BaseURL, s.Signer.Domain, req, RequestStatus(req.Status), s.Now()), nil
}

// MaxGroup is the most requests GET /opendsr/v3/requests?group_id= lists
// (mParticle's limit of a group's requests).
const MaxGroup = 150

// group handles GET /opendsr/v3/requests?group_id=: the status of each of
// the calling controller's requests in the group (another controller's
// group of the same name is not its: an empty list).
func (s *Service) group(ctx context.Context, c call) (int, any, error) {
	g := httpapi.Query(c.r, "group_id")
	if !opendsr.ValidGroupID(g) {
		return 0, nil, invalid("group_id", "InvalidFormat", "must be 1 to 64 letters, digits or . _ : -")
	}
	reqs, err := s.Store.GroupRequests(ctx, c.controller, g, MaxGroup)
	if err != nil {
		return 0, nil, err
	}
	now := s.Now()
	out := make([]map[string]any, 0, len(reqs))
	for _, r := range reqs {
		if r.Source == privacy.SourceOpenDSR && r.Controller == c.controller {
			out = append(out, StatusBody(opendsr.Version(r.OpenDSRVersion), s.BaseURL, s.Signer.Domain, r, RequestStatus(r.Status), now))
		}
	}
	return http.StatusOK, out, nil
}

func (s *Service) cancel(ctx context.Context, c call) (int, any, error) {
	req, err := s.mine(ctx, c)
	if err != nil {
		return 0, nil, err
	}
	now := s.Now()
	err = s.Store.Transition(ctx, req.ID, privacy.Transition{Step: privacy.StepCancel, Status: privacy.RequestCancelled,
		By: "controller:" + c.controller}, noLedger(now))
	if errors.Is(err, privacy.ErrStale) {
		return 0, nil, &opendsr.Error{Code: http.StatusConflict, Message: "only a pending request can be cancelled; this one is " +
			RequestStatus(req.Status)}
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, map[string]string{"controller_id": c.controller, "received_time": rfc3339(now),
		"subject_request_id": req.ID, "api_version": version(c.v)}, nil
}
