package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/operator"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/rights"
	"github.com/privacykeeper/privacykeeper/shared/session"
	"github.com/privacykeeper/privacykeeper/shared/web"
)

// The console's HTTP adapter: the only reader of httpapi.Request. It
// admits the signed-in member, reads the form, query and path into plain
// values, and renders the Page the console answers.

// Routes registers the console's pages, each behind the console's
// authorizer (the template's ConsoleSession); signing in and out is
// SignIn's.
func (c *Console) Routes(rt *httpapi.Router) {
	get := func(f func(ctx context.Context, r httpapi.Request, m Member) (Page, error)) httpapi.HandlerFunc {
		return c.signedIn(func(ctx context.Context, r httpapi.Request, m Member, _ url.Values) (Page, error) {
			return f(ctx, r, m)
		})
	}
	rt.Handle("GET /console", get(func(ctx context.Context, r httpapi.Request, m Member) (Page, error) {
		q := r.Query
		return c.Queue(ctx, m, Filter{Status: q["status"], Type: q["type"], Overdue: q["overdue"] == "1", Soon: q["soon"] == "1", Waiting: q["waiting"] == "1"})
	}))
	rt.Handle("GET /console/deadlines", get(func(ctx context.Context, _ httpapi.Request, m Member) (Page, error) { return c.Deadlines(ctx, m) }))
	rt.Handle("GET /console/requests/{id}", get(func(ctx context.Context, r httpapi.Request, m Member) (Page, error) {
		return c.Request(ctx, m, r.Params["id"], r.Query["done"])
	}))
	rt.Handle("POST /console/requests/{id}", c.signedIn(func(ctx context.Context, r httpapi.Request, m Member, f url.Values) (Page, error) {
		return c.Decide(ctx, m, r.Params["id"], Decision{Action: f.Get("action"), Reason: strings.TrimSpace(f.Get("reason")),
			Note: strings.TrimSpace(f.Get("note")), Until: f.Get("until"), Erase: f.Get("erase") == "1", Question: strings.TrimSpace(f.Get("question"))})
	}))
	people := c.signedIn(func(ctx context.Context, _ httpapi.Request, m Member, f url.Values) (Page, error) {
		if f == nil {
			return c.People(ctx, m, nil)
		}
		return c.People(ctx, m, &Lookup{Action: f.Get("action"), Received: f.Get("received"), Reason: strings.TrimSpace(f.Get("reason")),
			Until: f.Get("until"), Entry: rights.Entry{
				Email: f.Get("email"), Name: f.Get("name"), Type: f.Get("type"), Details: f.Get("details"), Channel: f.Get("channel"),
				IdentityCheck: f.Get("identity"), Lang: f.Get("lang")}})
	})
	rt.Handle("GET /console/people", people)
	rt.Handle("POST /console/people", people)
	controllers := c.signedIn(func(ctx context.Context, _ httpapi.Request, m Member, f url.Values) (Page, error) {
		if f == nil {
			return c.Controllers(ctx, m, nil)
		}
		return c.Controllers(ctx, m, &ControllerAction{Action: f.Get("action"), Name: f.Get("name"), ID: f.Get("id"), Region: f.Get("region"),
			Reason: strings.TrimSpace(f.Get("reason"))})
	})
	processors := c.signedIn(func(ctx context.Context, _ httpapi.Request, m Member, f url.Values) (Page, error) {
		switch {
		case f == nil:
			return c.Processors(ctx, m, nil)
		case f.Get("action") == "approve":
			return c.ApproveProcessorAsk(ctx, m, Approval{Ask: f.Get("ask"), Reason: strings.TrimSpace(f.Get("reason"))})
		case f.Get("action") == "contact":
			return c.ChangeProcessorContact(ctx, m, ContactChange{ID: f.Get("id"), Contact: strings.TrimSpace(f.Get("contact")),
				Reason: strings.TrimSpace(f.Get("reason"))})
		}
		return c.Processors(ctx, m, &operator.NewProcessor{Name: f.Get("name"), URL: strings.TrimSpace(f.Get("url")),
			Credentials: f.Get("credentials"), Certificate: f.Get("certificate"), Contact: strings.TrimSpace(f.Get("contact")),
			Reason: strings.TrimSpace(f.Get("reason"))})
	})
	rt.Handle("GET /console/processors", processors)
	rt.Handle("POST /console/processors", processors)
	rt.Handle("GET /console/controllers", controllers)
	rt.Handle("POST /console/controllers", controllers)
	policy := c.signedIn(func(ctx context.Context, _ httpapi.Request, m Member, f url.Values) (Page, error) {
		if f == nil {
			return c.Policy(ctx, m, nil, "")
		}
		bases := map[string]string{}
		for _, p := range privacy.StatedPurposes() {
			if b := f.Get("basis_" + p); b != "" {
				bases[p] = b
			}
		}
		return c.Policy(ctx, m, &operator.Publication{Version: strings.TrimSpace(f.Get("version")), Summary: strings.TrimSpace(f.Get("summary")),
			Material: f.Get("material") == "1", NewPurposes: f["new_purpose"], Bases: bases, Reason: strings.TrimSpace(f.Get("reason"))},
			f.Get("effective"))
	})
	rt.Handle("GET /console/policy", policy)
	rt.Handle("POST /console/policy", policy)
	rt.Handle("GET /console/campaigns", get(func(ctx context.Context, r httpapi.Request, m Member) (Page, error) {
		return c.Campaigns(ctx, m, r.Query["id"])
	}))
	rt.Handle("GET /console/ropa", get(func(ctx context.Context, _ httpapi.Request, m Member) (Page, error) { return c.Ropa(ctx, m) }))
	rt.Handle("GET /console/report", get(func(ctx context.Context, r httpapi.Request, m Member) (Page, error) {
		return c.Report(ctx, m, r.Query["from"], r.Query["to"])
	}))
	rt.Handle("GET /console/audit", get(func(ctx context.Context, r httpapi.Request, m Member) (Page, error) {
		q := r.Query
		return c.Audit(ctx, m, q["from"], q["to"], q["format"])
	}))
}

// handler is one console page: the member, and the posted form (nil for
// a GET).
type handler func(ctx context.Context, r httpapi.Request, m Member, form url.Values) (Page, error)

var errNoSession = &httpapi.Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "Sign in first: /console/login."}

// signedIn runs h for the member the console's authorizer admitted (its
// context: by, role); a request without it (a route left without its
// authorizer) is refused, never served as nobody. A post must carry the
// session's CSRF token and come from the console's own origin.
func (c *Console) signedIn(h handler) httpapi.HandlerFunc {
	return func(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
		var m Member
		m.Email, _ = r.Authorizer["by"].(string)
		m.Role, _ = r.Authorizer["role"].(string)
		if m.Email == "" || (m.Role != session.RoleTeam && m.Role != session.RoleViewer) {
			return httpapi.Response{}, errNoSession
		}
		m.CSRF = session.Cookie(r.Cookies, session.CSRFCookie)
		var form url.Values
		if r.Method == http.MethodPost {
			var err error
			if form, err = readForm(r); err != nil {
				return httpapi.Response{}, err
			}
			if !session.OwnPost(r, form, c.BaseURL) {
				c.Log.WarnContext(ctx, "console post refused: no CSRF token or another origin", "route", r.RouteKey)
				return c.render(m, page(http.StatusForbidden, "Refused", "", "message", session.Message{
					Text: "This form did not come from the console's own page, so nothing was done. Open the page again and retry.",
					Link: "/console", LinkText: "Back to the requests"})), nil
			}
		}
		p, err := h(ctx, r, m, form)
		var e *httpapi.Error
		if err != nil && r.Method == http.MethodPost && !errors.As(err, &e) {
			// A dependency failed: the member is told so, not the site's
			// "nothing was stored" (an action of several steps may have
			// made some of them).
			c.Log.ErrorContext(ctx, "console action failed", "route", r.RouteKey, "error", err.Error())
			return httpapi.Response{}, errActionUnavailable
		}
		if err != nil {
			return httpapi.Response{}, err
		}
		return c.render(m, p), nil
	}
}

// errActionUnavailable answers a console form whose action a dependency
// failed.
var errActionUnavailable = &httpapi.Error{Status: http.StatusServiceUnavailable, Code: "unavailable", RetryAfter: 30 * time.Second,
	Message: "The action could not be completed just now: a service it needs did not answer, and part of it may have taken effect. " +
		"Open the page again to see what did before trying again."}

// render is p as the browser gets it: a redirect, a download, or a page.
func (c *Console) render(m Member, p Page) httpapi.Response {
	switch {
	case p.Redirect != "":
		return httpapi.Response{StatusCode: http.StatusSeeOther, Headers: map[string]string{"Location": p.Redirect, "Cache-Control": "no-store"}}
	case p.Download != "":
		return httpapi.Response{StatusCode: http.StatusOK, Body: string(p.Body), Headers: map[string]string{"Content-Type": p.Type,
			"Content-Disposition": `attachment; filename="` + p.Download + `"`, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}}
	}
	return session.Render(c.Log, p.Status, p.Template, web.ConsolePage{Title: p.Title, Member: m.Email, Role: m.Role, CSRF: m.CSRF, Nav: p.Nav, Data: p.Data})
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
