// Package console is the privacy team's console in the browser:
// server-rendered pages (usable without JavaScript, under the site's
// strict CSP) behind the console's authorizer (shared/session), whose
// every action is the operator's (shared/operator), run for the signed-in
// member and recorded in the ledger with their identity; a viewer reads,
// and every action of theirs is refused.
package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/campaign"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/operator"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/ropa"
	"github.com/privacykeeper/privacykeeper/shared/session"
	"github.com/privacykeeper/privacykeeper/shared/web"
)

// Console serves the console's pages; every action is the operator's.
type Console struct {
	Operator *operator.Operator
	// BaseURL is the public base URL of the API: the callback is under it,
	// and a form's Origin must be its origin.
	BaseURL string
	Now     func() time.Time
	Log     *slog.Logger
}

// Routes registers the console's pages, each behind the console's
// authorizer (the template's ConsoleSession); signing in and out is
// SignIn's.
func (c *Console) Routes(rt *httpapi.Router) {
	rt.Handle("GET /console", c.signedIn(c.queue))
	rt.Handle("GET /console/deadlines", c.signedIn(c.deadlines))
	rt.Handle("GET /console/requests/{id}", c.signedIn(c.request))
	rt.Handle("POST /console/requests/{id}", c.signedIn(c.decide))
	rt.Handle("GET /console/people", c.signedIn(c.people))
	rt.Handle("POST /console/people", c.signedIn(c.people))
	rt.Handle("GET /console/controllers", c.signedIn(c.controllers))
	rt.Handle("POST /console/controllers", c.signedIn(c.controllers))
	rt.Handle("GET /console/policy", c.signedIn(c.policy))
	rt.Handle("POST /console/policy", c.signedIn(c.policy))
	rt.Handle("GET /console/campaigns", c.signedIn(c.campaigns))
	rt.Handle("GET /console/ropa", c.signedIn(c.ropa))
}

// member is a signed-in request: the member the authorizer admitted and
// the page's CSRF token.
type member struct {
	session.Member
	csrf string
}

func (s member) caller() operator.Caller {
	return operator.Caller{By: s.Email, MayDecide: s.Role == session.RoleTeam}
}

type handler func(ctx context.Context, r httpapi.Request, s member) (httpapi.Response, error)

var errNoSession = &httpapi.Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "Sign in first: /console/login."}

// signedIn runs h for the member the console's authorizer admitted (its
// context: by, role); a request without it (a route left without its
// authorizer) is refused, never served as nobody. A post must carry the
// session's CSRF token and come from the console's own origin.
func (c *Console) signedIn(h handler) httpapi.HandlerFunc {
	return func(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
		var s member
		if a := r.RequestContext.Authorizer; a != nil {
			s.Email, _ = a.Lambda["by"].(string)
			s.Role, _ = a.Lambda["role"].(string)
		}
		if s.Email == "" || (s.Role != session.RoleTeam && s.Role != session.RoleViewer) {
			return httpapi.Response{}, errNoSession
		}
		s.csrf = session.Cookie(r.Cookies, session.CSRFCookie)
		if r.RequestContext.HTTP.Method == http.MethodPost {
			form, err := readForm(r)
			if err != nil {
				return httpapi.Response{}, err
			}
			if !session.OwnPost(r, form, c.BaseURL) {
				c.Log.WarnContext(ctx, "console post refused: no CSRF token or another origin",
					"route", r.RouteKey)
				return c.page(http.StatusForbidden, "Refused", s, "", "message", session.Message{
					Text: "This form did not come from the console's own page, so nothing was done. Open the page again and retry.",
					Link: "/console", LinkText: "Back to the requests"}), nil
			}
		}
		return h(ctx, r, s)
	}
}

func readForm(r httpapi.Request) (url.Values, error) {
	if ct := strings.ToLower(httpapi.Header(r, "content-type")); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, httpapi.ErrMediaType
	}
	body, err := httpapi.Body(r)
	if err != nil {
		return nil, err
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, httpapi.ErrMalformed
	}
	return v, nil
}

// page renders a console page with the given status.
func (c *Console) page(status int, title string, s member, nav, name string, data any) httpapi.Response {
	return session.Render(c.Log, status, name, web.ConsolePage{Title: title, Member: s.Email, Role: s.Role, CSRF: s.csrf, Nav: nav, Data: data})
}

// refused sorts an operator error: a refusal of the caller's (400, 403,
// 404, 409) sets the status and the message the page shows and is
// handled; anything else is returned, for the router (logged, 503).
func refused(err error, status *int, msg *string) error {
	var e *httpapi.Error
	if errors.As(operator.Problem(err), &e) {
		*status, *msg = e.Status, e.Message
		return nil
	}
	return err
}

// Row is a request as the console's lists show it.
type Row struct {
	operator.Row
	Short string
	Flags []string
}

func rowOf(r operator.Row) Row {
	out := Row{Row: r, Short: r.ID}
	if len(r.ID) > 8 {
		out.Short = r.ID[:8]
	}
	if r.Overdue {
		out.Flags = append(out.Flags, "overdue")
	}
	if !r.ExtendedUntil.IsZero() {
		out.Flags = append(out.Flags, "extended")
	}
	if r.Excessive {
		out.Flags = append(out.Flags, "possibly excessive")
	}
	if r.Status == privacy.RequestWaitingForInformation {
		out.Flags = append(out.Flags, "waiting on the requester")
	}
	return out
}

// Filter is the queue's filter, from the query.
type Filter struct {
	Status, Type           string
	Overdue, Soon, Waiting bool
}

func (f Filter) keep(r operator.Row, now time.Time) bool {
	switch {
	case f.Type != "" && r.Type != f.Type,
		f.Overdue && !r.Overdue,
		f.Soon && (r.Overdue || r.DueAt.After(now.AddDate(0, 0, 7))),
		f.Waiting && !waitsOnRequester(r.Status):
		return false
	}
	return true
}

// waitsOnRequester reports whether a request in status waits on its
// requester: to verify the address, or to answer the team's question
// (the deadline runs all the same).
func waitsOnRequester(status string) bool {
	return status == privacy.RequestIdentityUnverified || status == privacy.RequestWaitingForInformation
}

type count struct {
	Label, URL string
	N          int
}

func (c *Console) list(ctx context.Context, s member, statuses ...string) ([]operator.Row, error) {
	res, err := c.Operator.Do(ctx, s.caller(), operator.Request{Action: "list", Args: operator.Args{Status: statuses}})
	if err != nil {
		return nil, err
	}
	return res.Data.([]operator.Row), nil
}

// statuses the queue filters by: the open ones, then the closed.
func statuses() []string {
	return append(privacy.OpenStatuses(), privacy.RequestCompleted, privacy.RequestDenied)
}

func (c *Console) queue(ctx context.Context, r httpapi.Request, s member) (httpapi.Response, error) {
	q := r.QueryStringParameters
	f := Filter{Status: q["status"], Type: q["type"], Overdue: q["overdue"] == "1", Soon: q["soon"] == "1", Waiting: q["waiting"] == "1"}
	if f.Status != "" && !slices.Contains(statuses(), f.Status) {
		f.Status = ""
	}
	var want []string
	if f.Status != "" {
		want = []string{f.Status}
	}
	rows, err := c.list(ctx, s, want...)
	if err != nil {
		return httpapi.Response{}, err
	}
	now := c.Now()
	open := rows
	if f.Status != "" {
		if open, err = c.list(ctx, s); err != nil {
			return httpapi.Response{}, err
		}
	}
	counts := []count{{Label: "Open", URL: "/console", N: len(open)},
		{Label: "Overdue", URL: "/console?overdue=1"}, {Label: "Due within 7 days", URL: "/console?soon=1"},
		{Label: "Waiting on the requester", URL: "/console?waiting=1"}}
	for _, o := range open {
		if (Filter{Overdue: true}).keep(o, now) {
			counts[1].N++
		}
		if (Filter{Soon: true}).keep(o, now) {
			counts[2].N++
		}
		if (Filter{Waiting: true}).keep(o, now) {
			counts[3].N++
		}
	}
	var shown []Row
	for _, o := range rows {
		if f.keep(o, now) {
			shown = append(shown, rowOf(o))
		}
	}
	return c.page(http.StatusOK, "Rights requests", s, "queue", "queue", struct {
		Filter          Filter
		Counts          []count
		Rows            []Row
		Statuses, Types []string
	}{f, counts, shown, statuses(), privacy.RightTypes()}), nil
}

func (c *Console) deadlines(ctx context.Context, r httpapi.Request, s member) (httpapi.Response, error) {
	rows, err := c.list(ctx, s)
	if err != nil {
		return httpapi.Response{}, err
	}
	type group struct {
		ID, Label string
		Rows      []Row
	}
	now := c.Now()
	groups := []group{{ID: "overdue", Label: "Overdue"}, {ID: "week", Label: "Due within 7 days"}, {ID: "later", Label: "Due later"}}
	for _, o := range rows {
		i := 2
		switch {
		case o.Overdue:
			i = 0
		case !o.DueAt.After(now.AddDate(0, 0, 7)):
			i = 1
		}
		groups[i].Rows = append(groups[i].Rows, rowOf(o))
	}
	// The processors to follow up: a delivery that failed, or a
	// processor told by email whose confirmation is overdue.
	res, err := c.Operator.Do(ctx, s.caller(), operator.Request{Action: "processor overdue"})
	if err != nil {
		return httpapi.Response{}, err
	}
	recipients, _ := res.Data.([]operator.RecipientView)
	return c.page(http.StatusOK, "Deadlines", s, "deadlines", "deadlines", struct {
		Groups     []group
		Recipients []operator.RecipientView
	}{groups, recipients}), nil
}

// Entry is one line of a request's timeline.
type Entry struct {
	At        time.Time
	Event, By string
}

type requestPage struct {
	View        operator.View
	Actions     []string
	Timeline    []Entry
	Done, Error string
}

func (c *Console) requestPage(ctx context.Context, s member, id string) (requestPage, error) {
	res, err := c.Operator.Do(ctx, s.caller(), operator.Request{Action: "show", ID: id})
	if err != nil {
		return requestPage{}, err
	}
	p := requestPage{View: res.Data.(operator.View)}
	// The console shows what a decision needs: what was asked, not who
	// asked (the address stays in the request, for the emails).
	p.View.Request.Email, p.View.Request.Name = "", ""
	p.View.Request.ParentEmail, p.View.Request.AgentEmail, p.View.Request.RecipientEmail = "", "", ""
	if s.Role == session.RoleTeam {
		p.Actions = p.View.Actions
	}
	for _, e := range p.View.Ledger {
		en := Entry{}
		en.Event, _ = e["event"].(string)
		if at, ok := e["at"].(string); ok {
			en.At, _ = time.Parse(time.RFC3339Nano, at)
		}
		if d, ok := e["detail"].(map[string]any); ok {
			en.By, _ = d["by"].(string)
		}
		p.Timeline = append(p.Timeline, en)
	}
	return p, nil
}

func (c *Console) request(ctx context.Context, r httpapi.Request, s member) (httpapi.Response, error) {
	id := r.PathParameters["id"]
	p, err := c.requestPage(ctx, s, id)
	if err != nil {
		var status int
		var msg string
		if err := refused(err, &status, &msg); err != nil {
			return httpapi.Response{}, err
		}
		return c.page(status, "Request", s, "queue", "message", session.Message{Text: msg, Link: "/console", LinkText: "Back to the requests"}), nil
	}
	p.Done = decisions[r.QueryStringParameters["done"]]
	return c.page(http.StatusOK, "Request "+p.View.Request.Type, s, "queue", "request", p), nil
}

// decisions are the request page's decisions, each with what the page
// says once it is taken.
var decisions = map[string]string{"approve": "Approved.", "deny": "Denied; the requester is emailed the reason.",
	"extend": "Deadline extended; the requester is emailed the reason.", "complete": "Completed; the requester is told.",
	"uphold": "Objection upheld; the requester is told.", "lift": "Restriction lifted; the requester is told.",
	"ask": "Question sent; the request waits for the requester's answer. The deadline stays."}

// decide runs one of the request page's decisions and sends the browser
// back to the page (303); a refused one is shown on the page with its
// status.
func (c *Console) decide(ctx context.Context, r httpapi.Request, s member) (httpapi.Response, error) {
	id := r.PathParameters["id"]
	form, err := readForm(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	action := form.Get("action")
	if _, ok := decisions[action]; !ok {
		return httpapi.Response{}, &httpapi.Error{Status: http.StatusBadRequest, Code: "bad_request", Message: "Unknown decision."}
	}
	_, err = c.Operator.Do(ctx, s.caller(), operator.Request{Action: action, ID: id, Args: operator.Args{
		Reason: strings.TrimSpace(form.Get("reason")), Note: strings.TrimSpace(form.Get("note")), Until: form.Get("until"),
		Erase: form.Get("erase") == "1", Question: strings.TrimSpace(form.Get("question"))}})
	if err == nil {
		return httpapi.Response{StatusCode: http.StatusSeeOther, Headers: map[string]string{
			"Location": "/console/requests/" + url.PathEscape(id) + "?done=" + action, "Cache-Control": "no-store"}}, nil
	}
	var status int
	var msg string
	if err := refused(err, &status, &msg); err != nil {
		return httpapi.Response{}, err
	}
	p, perr := c.requestPage(ctx, s, id)
	if perr != nil {
		return c.page(status, "Request", s, "queue", "message", session.Message{Text: msg, Link: "/console", LinkText: "Back to the requests"}), nil
	}
	p.Error = msg
	return c.page(status, "Request "+p.View.Request.Type, s, "queue", "request", p), nil
}

// people finds a person by address: the address is posted (never in a
// URL, so never in a log), hashed by the operator, not kept.
func (c *Console) people(ctx context.Context, r httpapi.Request, s member) (httpapi.Response, error) {
	var d struct {
		Person   *operator.Person
		Entered  *operator.Entered
		Channels []string
		Today    string
		Error    string
	}
	d.Channels, d.Today = privacy.Channels(), time.Now().UTC().Format(time.DateOnly)
	status := http.StatusOK
	if r.RequestContext.HTTP.Method == http.MethodPost {
		form, err := readForm(r)
		if err != nil {
			return httpapi.Response{}, err
		}
		req := operator.Request{Action: "person", Args: operator.Args{Email: form.Get("email")}}
		if form.Get("action") == "enter" {
			// A request that reached the team by email, phone or post.
			req = operator.Request{Action: "enter", Args: operator.Args{Email: form.Get("email"), Name: form.Get("name"),
				Type: form.Get("type"), Details: form.Get("details"), Channel: form.Get("channel"), Received: form.Get("received"),
				Identity: form.Get("identity"), Lang: form.Get("lang")}}
		}
		res, err := c.Operator.Do(ctx, s.caller(), req)
		switch {
		case err != nil:
			if err := refused(err, &status, &d.Error); err != nil {
				return httpapi.Response{}, err
			}
		case req.Action == "enter":
			if e, ok := res.Data.(operator.Entered); ok {
				d.Entered = &e
			}
		default:
			if p, ok := res.Data.(operator.Person); ok {
				d.Person = &p
			}
		}
	}
	return c.page(status, "People", s, "people", "people", d), nil
}

func (c *Console) controllers(ctx context.Context, r httpapi.Request, s member) (httpapi.Response, error) {
	var d struct {
		Controllers []operator.ControllerView
		Issued      *struct {
			operator.Credentials
			Name string
		}
		Done, Error string
	}
	status := http.StatusOK
	if r.RequestContext.HTTP.Method == http.MethodPost {
		form, err := readForm(r)
		if err != nil {
			return httpapi.Response{}, err
		}
		var res operator.Result
		switch form.Get("action") {
		case "issue":
			res, err = c.Operator.Do(ctx, s.caller(), operator.Request{Action: "opendsr-controller", Args: operator.Args{Name: form.Get("name")}})
			if err == nil {
				d.Issued = &struct {
					operator.Credentials
					Name string
				}{res.Data.(operator.Credentials), strings.TrimSpace(form.Get("name"))}
			}
		case "revoke":
			if _, err = c.Operator.Do(ctx, s.caller(), operator.Request{Action: "opendsr-revoke", ID: form.Get("id")}); err == nil {
				d.Done = "Credentials revoked."
			}
		default:
			err = fmt.Errorf("%w: unknown action", operator.ErrBadRequest)
		}
		if err != nil {
			if err := refused(err, &status, &d.Error); err != nil {
				return httpapi.Response{}, err
			}
		}
	}
	res, err := c.Operator.Do(ctx, s.caller(), operator.Request{Action: "opendsr-controllers"})
	if err != nil {
		return httpapi.Response{}, err
	}
	d.Controllers = res.Data.([]operator.ControllerView)
	return c.page(status, "Controllers", s, "controllers", "controllers", d), nil
}

// policy lists the published versions and, for the team, publishes one.
func (c *Console) policy(ctx context.Context, r httpapi.Request, s member) (httpapi.Response, error) {
	var d struct {
		Policies    operator.Policies
		Topics      []string
		Purposes    []string // those a version states a basis for
		LegalBases  []string
		Done, Error string
	}
	status := http.StatusOK
	if r.RequestContext.HTTP.Method == http.MethodPost {
		form, err := readForm(r)
		if err != nil {
			return httpapi.Response{}, err
		}
		bases := map[string]string{}
		for _, p := range privacy.StatedPurposes() {
			if b := form.Get("basis_" + p); b != "" {
				bases[p] = b
			}
		}
		res, err := c.Operator.Do(ctx, s.caller(), operator.Request{Action: "policy publish", Args: operator.Args{
			Version: strings.TrimSpace(form.Get("version")), Effective: form.Get("effective"), Summary: strings.TrimSpace(form.Get("summary")),
			Material: form.Get("material") == "1", NewPurposes: form["new_purpose"], Bases: bases}})
		if err != nil {
			if err := refused(err, &status, &d.Error); err != nil {
				return httpapi.Response{}, err
			}
		} else {
			d.Done = res.Message
		}
	}
	res, err := c.Operator.Do(ctx, s.caller(), operator.Request{Action: "policy list"})
	if err != nil {
		return httpapi.Response{}, err
	}
	d.Policies, d.Topics = res.Data.(operator.Policies), privacy.Topics()
	d.Purposes, d.LegalBases = privacy.StatedPurposes(), privacy.LegalBases()
	return c.page(status, "Privacy policy versions", s, "policy", "policy", d), nil
}

// ropa shows the record of processing activities (Art. 30), printable.
func (c *Console) ropa(ctx context.Context, _ httpapi.Request, s member) (httpapi.Response, error) {
	res, err := c.Operator.Do(ctx, s.caller(), operator.Request{Action: "ropa"})
	if err != nil {
		return httpapi.Response{}, err
	}
	rec, ok := res.Data.(ropa.Record)
	if !ok {
		return httpapi.Response{}, fmt.Errorf("ropa: the operator answered %T", res.Data)
	}
	return c.page(http.StatusOK, "Record of processing activities", s, "ropa", "ropa", rec), nil
}

// campaigns shows how a campaign stands.
func (c *Console) campaigns(ctx context.Context, r httpapi.Request, s member) (httpapi.Response, error) {
	var d struct {
		ID     string
		Status *campaign.Status
		Error  string
	}
	status := http.StatusOK
	if d.ID = strings.TrimSpace(r.QueryStringParameters["id"]); d.ID != "" {
		res, err := c.Operator.Do(ctx, s.caller(), operator.Request{Action: "campaign status", ID: d.ID})
		if err != nil {
			if err := refused(err, &status, &d.Error); err != nil {
				return httpapi.Response{}, err
			}
		} else {
			st := res.Data.(campaign.Status)
			d.Status = &st
		}
	}
	return c.page(status, "Campaigns", s, "campaigns", "campaigns", d), nil
}
