// Package pages renders the site's HTML pages for the HTTP handlers: the
// privacy center, the action pages a link opens, messages and error pages,
// from the page templates of shared/web. Only the functions that serve
// pages link it.
package pages

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/web"
)

// Lang is the language the request's browser asked for.
func Lang(r httpapi.Request) web.Lang { return web.Negotiate(httpapi.Header(r, "accept-language")) }

func render(r httpapi.Request, status int, title, name string, data any) httpapi.Response {
	body, err := web.Render(web.Page{Lang: Lang(r), Site: web.Site{PolicyURL: r.Site.PolicyURL, PolicyVersion: r.Site.PolicyVersion,
		PolicyUpdated: r.Site.PolicyUpdated, Bases: r.Site.Bases}, Title: title, Name: name, Data: data})
	if err != nil {
		return httpapi.Response{StatusCode: http.StatusInternalServerError, Body: "internal error",
			Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"}}
	}
	return httpapi.Response{StatusCode: status, Body: body, Headers: web.Headers()}
}

// Message renders a page of the catalog entry key: its title is
// key+".title" and its text key+".body", formatted with args.
func Message(r httpapi.Request, status int, key string, args ...any) httpapi.Response {
	l := Lang(r)
	return render(r, status, l.T(key+".title"), "message", struct {
		Paragraphs []string
		Next       string
	}{[]string{l.T(key+".body", args...)}, l.T("site.center")})
}

// Checkbox is one choice on an action page; Label is a catalog key.
type Checkbox struct {
	Name, Value, Label string
	Checked            bool
}

// Action is a page whose one purpose is a button that posts a form: the
// confirmation, unsubscribe, preferences and verification pages. GET shows
// it and changes nothing; the button does the work. Key names the catalog
// entry: key+".title", key+".body" (formatted with Args), key+".button".
type Action struct {
	Key        string
	Args       []any
	URL        string // where the button posts
	Legend     string // catalog key of the checkboxes' group
	Checkboxes []Checkbox
	// SecondURL and SecondButton (a catalog key) make an optional second
	// form (e.g. "unsubscribe from everything" under the topic choices).
	SecondURL, SecondButton string
}

// ActionPage renders an Action with status 200.
func ActionPage(r httpapi.Request, a Action) httpapi.Response {
	l := Lang(r)
	d := struct {
		Message, URL, Button, Legend string
		Checkboxes                   []Checkbox
		SecondURL, SecondButton      string
	}{l.T(a.Key+".body", a.Args...), a.URL, l.T(a.Key + ".button"), l.T(a.Legend), nil, a.SecondURL, l.T(a.SecondButton)}
	for _, c := range a.Checkboxes {
		c.Label = l.T(c.Label)
		d.Checkboxes = append(d.Checkboxes, c)
	}
	return render(r, http.StatusOK, l.T(a.Key+".title"), "action", d)
}

// View renders a page of its own template (status, export, center) with
// the given title.
func View(r httpapi.Request, status int, title, name string, data any) httpapi.Response {
	return render(r, status, title, name, data)
}

// Center is the privacy center's data; Forms holds the state of a form
// drawn again after a plain post.
func Center(r httpapi.Request, status int, c web.Center) httpapi.Response {
	return render(r, status, Lang(r).T("center.title"), "center", c)
}

// Fields is each error of f in the language r asks for (the messages of
// the JSON error body).
func Fields(r httpapi.Request, f privacy.FieldErrors) map[string]string { return Lang(r).Fields(f) }

// centerForms names the privacy center's form of each form route.
var centerForms = map[string]string{"POST /v1/contact": "contact", "POST /v1/subscriptions": "newsletter",
	"POST /v1/rights-requests": "rights"}

// Error renders an error as a page: for a plain post of a privacy
// center form with field errors, the center again with the values sent and
// each error next to its field; otherwise what happened and what to do next.
func Error(r httpapi.Request, e *httpapi.Error) httpapi.Response {
	l := Lang(r)
	if form, ok := centerForms[r.RouteKey]; ok && len(e.Fields) > 0 {
		state := web.Form{Errors: l.Fields(e.Fields), Focus: true, Values: url.Values{}}
		if b, err := httpapi.Body(r); err == nil && strings.HasPrefix(httpapi.Header(r, "content-type"), "application/x-www-form-urlencoded") {
			state.Values, _ = url.ParseQuery(string(b))
		}
		c := web.NewCenter(l.Code)
		switch form {
		case "contact":
			c.Contact = state
		case "newsletter":
			c.Newsletter = state
		case "rights":
			c.Rights = state
		}
		return Center(r, e.Status, c)
	}
	title, msg, next := l.T("error."+e.Code+".title"), e.Message, l.T("error.next")
	if l.Has("error." + e.Code + ".body") {
		msg, next = l.T("error."+e.Code+".body"), l.T("error."+e.Code+".next")
	}
	if !l.Has("error." + e.Code + ".title") {
		title = http.StatusText(e.Status)
	}
	type field struct{ Name, Msg string }
	var fields []field
	for k, v := range e.Fields {
		fields = append(fields, field{k, l.Field(v)})
	}
	sort.Slice(fields, func(i, j int) bool { return fields[i].Name < fields[j].Name })
	return render(r, e.Status, title, "error", struct {
		Message, Next string
		Fields        []field
	}{msg, next, fields})
}
