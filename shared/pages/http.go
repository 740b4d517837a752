package pages

import (
	"net/url"
	"strings"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/web"
)

// Lang is the language the request's browser asked for.
func Lang(r httpapi.Request) web.Lang { return web.Negotiate(httpapi.Header(r, "accept-language")) }

// For is who the request's pages are for.
func For(r httpapi.Request) Reader {
	return Reader{Lang: Lang(r), Site: web.Site{PolicyURL: r.Site.PolicyURL, PolicyVersion: r.Site.PolicyVersion,
		PolicyUpdated: r.Site.PolicyUpdated, Bases: r.Site.Bases}}
}

// Response is p as the handlers answer it.
func Response(p Page) httpapi.Response {
	if p.Failed {
		return httpapi.Response{StatusCode: p.Status, Body: "internal error",
			Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"}}
	}
	return httpapi.Response{StatusCode: p.Status, Body: p.HTML, Headers: web.Headers()}
}

// Message answers Reader.Message for r.
func Message(r httpapi.Request, status int, key string, args ...any) httpapi.Response {
	return Response(For(r).Message(status, key, args...))
}

// Answer is the contract's answer to a change: the page of message key
// (with args) when a browser asked for one, else body as JSON.
func Answer(r httpapi.Request, status int, body any, key string, args ...any) httpapi.Response {
	if httpapi.WantsHTML(r) {
		return Message(r, status, key, args...)
	}
	return httpapi.JSON(status, body)
}

// ActionPage answers Reader.Action for r.
func ActionPage(r httpapi.Request, a Action) httpapi.Response { return Response(For(r).Action(a)) }

// View answers Reader.View for r.
func View(r httpapi.Request, status int, title, name string, data any) httpapi.Response {
	return Response(For(r).View(status, title, name, data))
}

// Center answers Reader.Center for r.
func Center(r httpapi.Request, status int, c web.Center) httpapi.Response {
	return Response(For(r).Center(status, c))
}

// Fields is each error of f in the language r asks for (the messages of
// the JSON error body).
func Fields(r httpapi.Request, f privacy.FieldErrors) map[string]string { return Lang(r).Fields(f) }

// centerForms names the privacy center's form of each form route.
var centerForms = map[string]string{"POST /v1/contact": "contact", "POST /v1/subscriptions": "newsletter",
	"POST /v1/rights-requests": "rights"}

// Error renders an error as a page (the router's error page): for a plain
// post of a privacy center form with field errors, the center again with
// the values sent (Reader.CenterForm); otherwise Reader.Error.
func Error(r httpapi.Request, e *httpapi.Error) httpapi.Response {
	if form, ok := centerForms[r.RouteKey]; ok && len(e.Fields) > 0 {
		values := url.Values{}
		if b, err := httpapi.Body(r); err == nil && strings.HasPrefix(httpapi.Header(r, "content-type"), "application/x-www-form-urlencoded") {
			values, _ = url.ParseQuery(string(b))
		}
		return Response(For(r).CenterForm(e.Status, form, e.Fields, values))
	}
	return Response(For(r).Error(e.Status, e.Code, e.Message, e.Fields))
}
