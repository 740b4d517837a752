package local

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/infra/iamsim"
)

// route is one HttpApi event: a method and a path template.
type route struct {
	method   string // upper case, or ANY
	path     string // as in the template: /v1/items/{id}
	segments []string
	static   int
	fn       invoker
	// iam: the route's authorizer is AWS_IAM (a SigV4-signed caller); arn
	// is its route's ARN up to the path (execute-api's resource,
	// arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>).
	iam bool
	arn string
	// authorizer is the route's Lambda authorizer, if it has one.
	authorizer *lambdaAuthorizer
}

// lambdaAuthorizer is an HttpApi Lambda authorizer (payload 2.0, simple
// responses): its function, and the headers of its identity source.
type lambdaAuthorizer struct {
	fn      invoker
	headers []string
}

func (rt route) key() string { return rt.method + " " + rt.path }

// match returns the path parameters when p matches the route's template.
func (rt route) match(method, p string) (map[string]string, bool) {
	if rt.method != "ANY" && rt.method != method {
		return nil, false
	}
	segs := splitPath(p)
	params := map[string]string{}
	for i, s := range rt.segments {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}") {
			if i >= len(segs) {
				return nil, false
			}
			params[s[1:len(s)-2]] = strings.Join(segs[i:], "/")
			return params, true
		}
		if i >= len(segs) {
			return nil, false
		}
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			if segs[i] == "" {
				return nil, false
			}
			v, err := url.PathUnescape(segs[i])
			if err != nil {
				return nil, false
			}
			params[s[1:len(s)-1]] = v
		} else if s != segs[i] {
			return nil, false
		}
	}
	return params, len(segs) == len(rt.segments)
}

func splitPath(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }

// cors is an HttpApi's CorsConfiguration.
type cors struct {
	origins, methods, headers, expose []string
	maxAge                            int
	credentials                       bool
}

func (c *cors) allows(origin string) bool {
	for _, o := range c.origins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// API serves HttpApi routes as API Gateway does with payload format 2.0.
type API struct {
	routes []route
	cors   *cors
	admin  http.Handler
	// aws is the AWS front: requests signed for an AWS service go there.
	aws http.Handler
	log io.Writer
	// identities are the IAM users an AWS_IAM route admits, if the gate
	// allows them execute-api:Invoke on it.
	identities []Identity
	gate       *gate
}

// maxAPIBody is API Gateway's payload limit.
const maxAPIBody = 10 << 20

func newAPI(t *Template, r *Resolver, fns []*Function, g *gate, log io.Writer) (*API, error) {
	a := &API{log: log, identities: DevIdentities(), gate: g}
	authorizers, err := lambdaAuthorizers(t, fns)
	if err != nil {
		return nil, err
	}
	for _, f := range fns {
		for _, e := range f.Events {
			if e.Type != "HttpApi" {
				continue
			}
			method := strings.ToUpper(asString(e.Properties["Method"]))
			path := asString(e.Properties["Path"])
			if method == "" || path == "" {
				return nil, fmt.Errorf("%s: an HttpApi event without Path and Method (a catch-all) is not served locally", f.ID)
			}
			rt := route{method: method, path: path, segments: splitPath(path), fn: f}
			switch auth := asMap(e.Properties["Auth"]); {
			case auth == nil:
			case asString(auth["Authorizer"]) == "AWS_IAM":
				api := asString(e.Properties["ApiId"])
				stage := "$default"
				if res, ok := t.Resources[api]; ok && res.Properties["StageName"] != nil {
					v, err := r.Resolve(res.Properties["StageName"])
					if err != nil {
						return nil, fmt.Errorf("%s StageName: %w", api, err)
					}
					stage = asString(v)
				}
				rt.iam = true
				rt.arn = fmt.Sprintf("arn:aws:execute-api:%s:000000000000:%s/%s/%s", r.Pseudo["AWS::Region"], api, stage, method)
			case authorizers[asString(auth["Authorizer"])] != nil:
				rt.authorizer = authorizers[asString(auth["Authorizer"])]
			default:
				// Refuse to serve a route whose authorizer is not enforced
				// here: locally it would be open.
				return nil, fmt.Errorf("%s %s %s: authorizer %v is not served locally", f.ID, method, path, auth["Authorizer"])
			}
			for _, s := range rt.segments {
				if !strings.HasPrefix(s, "{") {
					rt.static++
				}
			}
			a.routes = append(a.routes, rt)
		}
	}
	// Most specific first, as API Gateway chooses.
	sort.SliceStable(a.routes, func(i, j int) bool {
		if a.routes[i].static != a.routes[j].static {
			return a.routes[i].static > a.routes[j].static
		}
		return a.routes[i].method != "ANY" && a.routes[j].method == "ANY"
	})
	for _, id := range t.ResourcesOfType("AWS::Serverless::HttpApi") {
		props, err := r.Resolve(t.Resources[id].Properties["CorsConfiguration"])
		if err != nil {
			return nil, fmt.Errorf("%s CorsConfiguration: %w", id, err)
		}
		if c := asMap(props); c != nil {
			a.cors = &cors{origins: strs(c["AllowOrigins"]), methods: strs(c["AllowMethods"]),
				headers: strs(c["AllowHeaders"]), expose: strs(c["ExposeHeaders"]),
				credentials: asString(c["AllowCredentials"]) == "true"}
			a.cors.maxAge, _ = strconv.Atoi(asString(c["MaxAge"]))
		}
	}
	return a, nil
}

func strs(v any) []string {
	var out []string
	for _, e := range asList(v) {
		out = append(out, asString(e))
	}
	return out
}

func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"message":%q}`, msg)
}

func (a *API) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if a.aws != nil && isAWSCall(req) {
		a.aws.ServeHTTP(w, req)
		return
	}
	origin := req.Header.Get("Origin")
	if a.cors != nil && origin != "" && a.cors.allows(origin) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		if a.cors.credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if len(a.cors.expose) > 0 {
			h.Set("Access-Control-Expose-Headers", strings.Join(a.cors.expose, ","))
		}
		if req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", strings.Join(a.cors.methods, ","))
			h.Set("Access-Control-Allow-Headers", strings.Join(a.cors.headers, ","))
			if a.cors.maxAge > 0 {
				h.Set("Access-Control-Max-Age", strconv.Itoa(a.cors.maxAge))
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	var rt *route
	var params map[string]string
	for i := range a.routes {
		if p, ok := a.routes[i].match(req.Method, req.URL.Path); ok {
			rt, params = &a.routes[i], p
			break
		}
	}
	if rt == nil {
		if a.admin != nil && strings.HasPrefix(req.URL.Path, "/_local/") {
			a.admin.ServeHTTP(w, req)
			return
		}
		apiError(w, http.StatusNotFound, "Not Found")
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxAPIBody+1))
	if err != nil {
		apiError(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > maxAPIBody {
		apiError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	ev := toEvent(req, rt, params, body)
	if rt.iam {
		// API Gateway's IAM authorizer: a valid SigV4 signature of a
		// known caller, or 403 before the function is invoked.
		user, who, err := verifySigV4(req, body, a.identities, time.Now())
		if err == nil && a.gate != nil {
			// And the caller's policies must allow execute-api:Invoke on
			// the route (PrivacyTeamPolicy does, for the operator's).
			var refused *refusal
			refused, err = a.gate.decide(req.Context(), a.gate.byKey[user.AccessKeyID],
				[]iamsim.Request{{Action: "execute-api:Invoke", Resource: rt.arn + req.URL.Path}})
			if err == nil && refused != nil {
				err = errors.New(refused.Message())
			}
		}
		if err != nil {
			fmt.Fprintf(a.log, "gateway\t%s %s: IAM authorizer refused: %v\n", req.Method, req.URL.Path, err)
			apiError(w, http.StatusForbidden, "Forbidden")
			return
		}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{IAM: who}
	}
	if rt.authorizer != nil {
		status, lambdaContext := a.authorize(req, rt, ev)
		if status != 0 {
			apiError(w, status, http.StatusText(status))
			return
		}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: lambdaContext}
	}
	event, err := json.Marshal(ev)
	if err != nil {
		apiError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	out, err := rt.fn.Invoke(req.Context(), event)
	if err != nil {
		fmt.Fprintf(a.log, "gateway\t%s %s: %v\n", req.Method, req.URL.Path, err)
		var fe *FunctionError
		if errors.As(err, &fe) {
			apiError(w, http.StatusInternalServerError, "Internal Server Error")
		} else {
			apiError(w, http.StatusServiceUnavailable, "Service Unavailable")
		}
		return
	}
	if len(out) > maxLambdaResponse {
		// Lambda refuses a synchronous response over 6 MB, and API Gateway
		// answers 500: a page or export that grows past it fails in AWS.
		fmt.Fprintf(a.log, "gateway\t%s %s: response of %d bytes is over Lambda's 6 MB limit\n", req.Method, req.URL.Path, len(out))
		apiError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	writeResponse(w, out)
}

// maxLambdaResponse is Lambda's limit on a synchronous response payload.
const maxLambdaResponse = 6 << 20

func toEvent(req *http.Request, rt *route, params map[string]string, body []byte) events.APIGatewayV2HTTPRequest {
	now := time.Now()
	headers := map[string]string{}
	for k, v := range req.Header {
		if strings.EqualFold(k, "Cookie") {
			continue
		}
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	headers["host"] = req.Host
	ip, _, _ := net.SplitHostPort(req.RemoteAddr)
	// API Gateway appends the address it saw to what the client sent, so a
	// function must never trust the header's first entry.
	if xf := req.Header.Get("X-Forwarded-For"); xf != "" {
		headers["x-forwarded-for"] = xf + ", " + ip
	} else {
		headers["x-forwarded-for"] = ip
	}
	headers["x-forwarded-proto"] = "http"
	var query map[string]string
	if q := req.URL.Query(); len(q) > 0 {
		query = map[string]string{}
		for k, v := range q {
			query[k] = strings.Join(v, ",")
		}
	}
	var cookies []string
	for _, c := range req.Header.Values("Cookie") {
		for _, part := range strings.Split(c, ";") {
			if part = strings.TrimSpace(part); part != "" {
				cookies = append(cookies, part)
			}
		}
	}
	if len(params) == 0 {
		params = nil
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: rt.key(), RawPath: req.URL.EscapedPath(), RawQueryString: req.URL.RawQuery,
		Cookies: cookies, Headers: headers, QueryStringParameters: query, PathParameters: params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: rt.key(), AccountID: "000000000000", Stage: "$default", APIID: "local",
			DomainName: req.Host, DomainPrefix: "localhost", RequestID: uuid.NewString(),
			Time: now.UTC().Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: req.Method, Path: req.URL.Path, Protocol: req.Proto, SourceIP: ip,
				UserAgent: req.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if utf8.Valid(body) && isText(req.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev
}

func isText(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") || strings.Contains(ct, "xml") ||
		strings.Contains(ct, "x-www-form-urlencoded") || strings.Contains(ct, "javascript")
}

func writeResponse(w http.ResponseWriter, out []byte) {
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
		// A handler that returns anything else gets API Gateway's inference:
		// the output is the JSON body of a 200.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			apiError(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
		body = b
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// lambdaAuthorizers are the HttpApi's Lambda authorizers by name
// (Auth.Authorizers with a FunctionArn of a template function).
func lambdaAuthorizers(t *Template, fns []*Function) (map[string]*lambdaAuthorizer, error) {
	out := map[string]*lambdaAuthorizer{}
	for _, id := range t.ResourcesOfType("AWS::Serverless::HttpApi") {
		for name, v := range asMap(asMap(t.Resources[id].Properties["Auth"])["Authorizers"]) {
			def := asMap(v)
			fnID := getAttID(def["FunctionArn"])
			if fnID == "" {
				return nil, fmt.Errorf("%s authorizer %s: FunctionArn is not a template function's Arn", id, name)
			}
			if asString(def["AuthorizerPayloadFormatVersion"]) != "2.0" || asString(def["EnableSimpleResponses"]) != "true" {
				return nil, fmt.Errorf("%s authorizer %s: only payload 2.0 with simple responses is served locally", id, name)
			}
			la := &lambdaAuthorizer{headers: strs(asMap(def["Identity"])["Headers"])}
			for _, f := range fns {
				if f.ID == fnID {
					la.fn = f
				}
			}
			if la.fn == nil {
				return nil, fmt.Errorf("%s authorizer %s: no function %s", id, name, fnID)
			}
			out[name] = la
		}
	}
	return out, nil
}

// getAttID is the logical id of {"Fn::GetAtt": [id, "Arn"]} or "id.Arn".
func getAttID(v any) string {
	switch g := asMap(v)["Fn::GetAtt"].(type) {
	case string:
		id, _, _ := strings.Cut(g, ".")
		return id
	case []any:
		if len(g) == 2 {
			return asString(g[0])
		}
	}
	return ""
}

// authorize runs the route's Lambda authorizer as API Gateway does: 401
// when the identity source is missing (the function is not invoked), 403
// when it answers isAuthorized false, 500 when it fails; else its context.
func (a *API) authorize(req *http.Request, rt *route, ev events.APIGatewayV2HTTPRequest) (int, map[string]any) {
	var identity []string
	for _, h := range rt.authorizer.headers {
		v := req.Header.Get(h)
		if v == "" {
			return http.StatusUnauthorized, nil
		}
		identity = append(identity, v)
	}
	aev := events.APIGatewayV2CustomAuthorizerV2Request{Version: "2.0", Type: "REQUEST",
		RouteArn: "arn:aws:execute-api:us-east-1:000000000000:local/$default/" + req.Method + req.URL.Path, IdentitySource: identity,
		RouteKey: ev.RouteKey, RawPath: ev.RawPath, RawQueryString: ev.RawQueryString, Cookies: ev.Cookies, Headers: ev.Headers,
		QueryStringParameters: ev.QueryStringParameters, RequestContext: ev.RequestContext, PathParameters: ev.PathParameters}
	in, err := json.Marshal(aev)
	if err != nil {
		return http.StatusInternalServerError, nil
	}
	out, err := rt.authorizer.fn.Invoke(req.Context(), in)
	if err != nil {
		fmt.Fprintf(a.log, "gateway\t%s %s: authorizer failed: %v\n", req.Method, req.URL.Path, err)
		return http.StatusInternalServerError, nil
	}
	var resp events.APIGatewayV2CustomAuthorizerSimpleResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		fmt.Fprintf(a.log, "gateway\t%s %s: authorizer answered no simple response: %v\n", req.Method, req.URL.Path, err)
		return http.StatusInternalServerError, nil
	}
	if !resp.IsAuthorized {
		return http.StatusForbidden, nil
	}
	return 0, resp.Context
}
