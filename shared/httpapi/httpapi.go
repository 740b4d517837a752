// Package httpapi is the contract of docs/api.md over plain values: a
// Request as API Gateway's HTTP API delivers it, body limits, content
// types, JSON or form bodies, the error body, HTML answers for browsers,
// and routing by route key. The route keys are the ones template.yaml
// declares, so the template stays the single truth for what is served.
// The Lambda event becomes a Request, and a Response the event's answer,
// in its subpackage apigw: nothing here links aws-lambda-go.
package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// MaxBody is the largest request body accepted (64 KiB).
const MaxBody = 64 << 10

// Request is a request as handlers see it, built once from API Gateway's
// event (apigw.Request), and the site it was made to.
type Request struct {
	// RouteKey is the route the gateway matched ("POST /v1/contact"),
	// which the router dispatches on.
	RouteKey string
	// Method and Path are the request's (Path as sent, not decoded);
	// RawQuery its query string as sent.
	Method, Path, RawQuery string
	// Params are the route's path parameters ({id}); Query the query
	// string's parameters; Headers the headers, which API Gateway names
	// in lower case (read them with Header).
	Params, Query, Headers map[string]string
	Cookies                []string
	// Body is the body as sent; when Base64, base64-encoded (read it
	// with Body).
	Body   string
	Base64 bool
	// SourceIP is the caller's address, kept only as pseudonymous
	// metadata (Meta); RequestID the gateway's id of the request, which
	// every log line of it carries.
	SourceIP, RequestID string
	// Caller is the IAM caller's ARN on a route with the IAM authorizer;
	// Authorizer the context a Lambda authorizer answered (the console's:
	// by, role).
	Caller     string
	Authorizer map[string]any
	Site       Site
}

// Site is what every page of the site says of it: the privacy policy's
// link, the version in force and its "Last updated" day. Every record a
// request makes carries that version.
type Site struct {
	PolicyURL, PolicyVersion, PolicyUpdated string
	// Bases are the legal bases the version in force states: what a
	// record made now says, and what a page tells (read with Of, which
	// answers the default for a purpose a version did not state).
	Bases privacy.Bases
}

// Response is what a handler answers: apigw turns it into the event's
// response.
type Response struct {
	StatusCode int
	Headers    map[string]string
	// Cookies are Set-Cookie values.
	Cookies []string
	Body    string
}

// Error is an error with its place in the contract: a status, a code, a
// message a person can act on, and optional per-field messages.
type Error struct {
	Status     int
	Code       string
	Message    string
	Fields     privacy.FieldErrors
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errors of the contract.
var (
	ErrNotFound = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is nothing at this address."}
	ErrTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large",
		Message: "The request body is larger than 64 KiB."}
	ErrMediaType = &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
		Message: "Send application/json or application/x-www-form-urlencoded."}
	ErrMalformed = &Error{Status: http.StatusBadRequest, Code: "validation_failed",
		Message: "The request body is not valid JSON (an object is expected)."}
	ErrInvalidToken = &Error{Status: http.StatusBadRequest, Code: "invalid_token",
		Message: "This link is not valid: it may have expired, been replaced by a newer one, or been cut short when it was copied. Nothing was changed."}
	// ErrRestricted answers a link that would start something new with
	// the data of a person who restricted its processing (GDPR Art. 18):
	// confirming a signup made before, adding a topic.
	ErrRestricted = &Error{Status: http.StatusConflict, Code: "restricted",
		Message: "You asked us to restrict the processing of your data, so we start nothing new with it: nothing was changed. We will tell you when the restriction is lifted."}
	ErrUnavailable = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable",
		Message:    "We could not save your request just now. Nothing was stored; please try again shortly.",
		RetryAfter: 30 * time.Second}
	// ErrUnavailableRead is ErrUnavailable for a GET: nothing was to be
	// saved, and saying "nothing was stored" of a page would be untrue.
	ErrUnavailableRead = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable",
		Message: "We could not load this just now. Please try again shortly.", RetryAfter: 30 * time.Second}
)

// RateLimited is the contract's 429: the caller went over a limit and may
// try again after retryAfter (rounded up to whole seconds).
func RateLimited(retryAfter time.Duration) *Error {
	return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited",
		Message:    "Too many requests from here just now. Please try again later.",
		RetryAfter: max(time.Second, (retryAfter + time.Second - 1).Truncate(time.Second))}
}

// Validation turns a domain validation error into the contract's 400.
func Validation(v *privacy.ValidationError) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "validation_failed",
		Message: "Some fields need your attention.", Fields: v.Fields}
}

// Header returns a request header; API Gateway lower-cases their names.
func Header(r Request, name string) string {
	name = strings.ToLower(name)
	for k, v := range r.Headers {
		if strings.ToLower(k) == name {
			return v
		}
	}
	return ""
}

// Body returns the raw body, decoding base64 when API Gateway encoded it.
func Body(r Request) ([]byte, error) {
	if !r.Base64 {
		if len(r.Body) > MaxBody {
			return nil, ErrTooLarge
		}
		return []byte(r.Body), nil
	}
	if base64.StdEncoding.DecodedLen(len(r.Body)) > MaxBody+3 {
		return nil, ErrTooLarge
	}
	b, err := base64.StdEncoding.DecodeString(r.Body)
	if err != nil {
		return nil, ErrMalformed
	}
	if len(b) > MaxBody {
		return nil, ErrTooLarge
	}
	return b, nil
}

// DecodeInput reads a JSON or form body into a privacy.Input. It enforces
// the body limit and the accepted content types.
func DecodeInput(r Request) (privacy.Input, error) {
	body, err := Body(r)
	if err != nil {
		return nil, err
	}
	ct := Header(r, "content-type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return nil, ErrMediaType
	}
	switch mt {
	case "application/json":
		dec := json.NewDecoder(bytes.NewReader(body))
		var in privacy.Input
		if err := dec.Decode(&in); err != nil || in == nil {
			return nil, ErrMalformed
		}
		if dec.More() {
			return nil, ErrMalformed
		}
		return in, nil
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Code: "validation_failed",
				Message: "The form body could not be read."}
		}
		return privacy.InputFromForm(v), nil
	}
	return nil, ErrMediaType
}

// Query returns a query-string parameter.
func Query(r Request, name string) string { return r.Query[name] }

// SelfLink is the emailed link the request came by, its path and token,
// for the button of the page it shows (which posts to the same link).
func SelfLink(r Request) string { return r.Path + "?token=" + Query(r, "token") }

// Meta extracts the pseudonymous request metadata the policy says we keep.
func Meta(r Request, now time.Time) privacy.RequestMeta {
	return privacy.RequestMeta{
		SourceIP:       r.SourceIP,
		UserAgent:      clip(Header(r, "user-agent"), 512),
		AcceptLanguage: clip(Header(r, "accept-language"), 128),
		Referrer:       clip(Header(r, "referer"), 1024),
		ReceivedAt:     now.UTC(),
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut at a rune boundary so stored text stays valid UTF-8.
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// GPC reports whether the request carries the Global Privacy Control
// signal (Sec-GPC: 1): an opt-out of the sale and sharing of the sender's
// personal data.
func GPC(r Request) bool { return strings.TrimSpace(Header(r, "sec-gpc")) == "1" }

// WantsHTML reports whether the caller is a browser that asked for a page.
func WantsHTML(r Request) bool {
	accept := Header(r, "accept")
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := mime.ParseMediaType(strings.TrimSpace(part))
		switch mt {
		case "application/json":
			return false
		case "text/html":
			return true
		}
	}
	return false
}

// JSON answers with a JSON body.
func JSON(status int, v any) Response {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	return Response{StatusCode: status, Body: string(b), Headers: map[string]string{
		"Content-Type":           "application/json; charset=utf-8",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	}}
}

type errorBody struct {
	Error struct {
		Code        string              `json:"code"`
		Message     string              `json:"message"`
		Fields      map[string]string   `json:"fields,omitempty"`
		FieldErrors privacy.FieldErrors `json:"field_errors,omitempty"`
	} `json:"error"`
}

// fail answers with the contract's error body, or the router's error page
// for browsers when it has one.
func (rt *Router) fail(r Request, e *Error) Response {
	var resp Response
	if rt.errorPage != nil && WantsHTML(r) {
		resp = rt.errorPage(r, e)
	} else {
		var body errorBody
		body.Error.Code, body.Error.Message, body.Error.FieldErrors = e.Code, e.Message, e.Fields
		if rt.fields != nil {
			body.Error.Fields = rt.fields(r, e.Fields)
		} else if len(e.Fields) > 0 {
			// A router that renders no messages (no page of its own)
			// names each field's code as its message.
			body.Error.Fields = make(map[string]string, len(e.Fields))
			for k, v := range e.Fields {
				body.Error.Fields[k] = string(v.Code)
			}
		}
		resp = JSON(e.Status, body)
	}
	if e.RetryAfter > 0 {
		resp.Headers["Retry-After"] = strconv.Itoa(int(e.RetryAfter.Seconds()))
	}
	return resp
}

// HandlerFunc handles one route.
type HandlerFunc func(ctx context.Context, r Request) (Response, error)

// Router dispatches on the route key API Gateway sets ("POST /v1/contact").
type Router struct {
	routes    map[string]HandlerFunc
	log       *slog.Logger
	site      Site
	policy    privacy.PolicyInForce
	errorPage func(Request, *Error) Response
	fields    func(Request, privacy.FieldErrors) map[string]string
}

// NewRouter returns an empty router that logs through log, for site; it
// answers a browser's failed request with errorPage (pages.Error), or,
// when that is nil (an API of machines), always with the JSON error body.
func NewRouter(log *slog.Logger, site Site, errorPage func(Request, *Error) Response) *Router {
	return &Router{routes: map[string]HandlerFunc{}, log: log, site: site, errorPage: errorPage}
}

// InForce makes each request's site carry the policy version in force as
// policy answers it (the published versions, cached briefly), instead of
// the version the router was made with.
func (rt *Router) InForce(policy privacy.PolicyInForce) { rt.policy = policy }

// LocalizeFields has fn write the field messages of the JSON error body
// from their codes (pages.Fields: in the language the browser asks for,
// English by default, so a page's script shows them as the page would).
func (rt *Router) LocalizeFields(fn func(Request, privacy.FieldErrors) map[string]string) {
	rt.fields = fn
}

// Handle registers h for a route key such as "POST /v1/contact".
func (rt *Router) Handle(routeKey string, h HandlerFunc) { rt.routes[routeKey] = h }

// Routes registers a service's handlers by route key, each error they
// return answered as problem maps it (the service's typed errors to the
// contract's *Error; any other error is left as it is, answered 503).
func (rt *Router) Routes(problem func(error) error, routes map[string]HandlerFunc) {
	for key, h := range routes {
		rt.Handle(key, func(ctx context.Context, r Request) (Response, error) {
			resp, err := h(ctx, r)
			if err != nil {
				return resp, problem(err)
			}
			return resp, nil
		})
	}
}

// Serve answers r (apigw.Handler(rt.Serve) is the Lambda handler). An
// *Error from a route becomes its contract answer; any other error is
// logged and answered 503, never leaking details, since every such error
// here is a dependency that failed.
func (rt *Router) Serve(ctx context.Context, r Request) Response {
	start := time.Now()
	ctx = lambdalog.WithRequestID(ctx, r.RequestID)
	r.Site = rt.site
	if rt.policy != nil {
		v := rt.policy(ctx)
		r.Site.PolicyVersion, r.Site.PolicyUpdated, r.Site.Bases = v.Version, v.LastUpdated(), v.Bases
	}
	log := rt.log.With("route", r.RouteKey)
	h, ok := rt.routes[r.RouteKey]
	var resp Response
	var err error
	if !ok {
		resp = rt.fail(r, ErrNotFound)
	} else {
		resp, err = h(ctx, r)
	}
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			log.ErrorContext(ctx, "request failed", "error", err.Error())
			e = ErrUnavailable
			if strings.HasPrefix(r.RouteKey, "GET ") || strings.HasPrefix(r.RouteKey, "HEAD ") {
				e = ErrUnavailableRead
			}
		}
		resp = rt.fail(r, e)
	}
	log.InfoContext(ctx, "request", "status", resp.StatusCode, "duration_ms", time.Since(start).Milliseconds())
	return resp
}

// Time is t as response bodies show it: RFC 3339 in UTC, with the
// fraction when it has one; "" for the zero time.
func Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Deadline is a deadline as response bodies show it: RFC 3339 in UTC, to
// the second; "" for the zero time.
func Deadline(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
