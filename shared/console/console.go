// Package console is the privacy team's console in the browser:
// server-rendered pages (usable without JavaScript, under the site's
// strict CSP) behind the console's authorizer (shared/session), whose
// every action is the operator's (shared/operator), run for the signed-in
// member and recorded in the ledger with their identity; a viewer reads,
// and every action of theirs is refused.
package console

import (
	"bytes"
	"cmp"
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
	"github.com/privacykeeper/privacykeeper/shared/report"
	"github.com/privacykeeper/privacykeeper/shared/rights"
	"github.com/privacykeeper/privacykeeper/shared/session"
)

// Console is the console's pages; every action is the operator's. It
// takes plain values and answers a Page; its HTTP adapter (http.go) reads
// the request and renders the page.
type Console struct {
	Operator *operator.Operator
	// BaseURL is the public base URL of the API: the callback is under it,
	// and a form's Origin must be its origin.
	BaseURL string
	Now     func() time.Time
	Log     *slog.Logger
}

// Member is who is signed in: the member the authorizer admitted, and the
// CSRF token each form of their page posts back.
type Member struct {
	session.Member
	CSRF string
}

func (m Member) caller() operator.Caller {
	return operator.Caller{By: m.Email, MayDecide: m.Role == session.RoleTeam}
}

// Page is what a console page answers: its status, title, section and
// template with their data; or, with Redirect set, a 303 to that path.
type Page struct {
	Status               int
	Title, Nav, Template string
	Data                 any
	Redirect             string
	// Download, when set, is a file to download (its name): Body, of
	// media type Type.
	Download, Type string
	Body           []byte
}

func page(status int, title, nav, template string, data any) Page {
	return Page{Status: status, Title: title, Nav: nav, Template: template, Data: data}
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
	if r.Platform {
		// A controller's OpenDSR request: the processor worker's, shown
		// for its deadline (no page of its own, no decision here).
		out.Flags = append(out.Flags, "Platform, controller "+r.Controller)
	}
	if !r.ExtendedUntil.IsZero() {
		out.Flags = append(out.Flags, "extended")
	}
	if r.Excessive {
		out.Flags = append(out.Flags, "possibly excessive")
	}
	if r.Status.Waiting() {
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
	case f.Type != "" && string(r.Type) != f.Type,
		f.Overdue && !r.Overdue,
		f.Soon && (r.Overdue || r.DueAt.After(now.AddDate(0, 0, 7))),
		f.Waiting && !r.Status.Waiting():
		return false
	}
	return true
}

type count struct {
	Label, URL string
	N          int
}

// statuses the queue filters by: the open ones, then the closed.
func statuses() []privacy.Status {
	return append(privacy.OpenStatuses(), privacy.RequestCompleted, privacy.RequestDenied)
}

// Queue is the requests f keeps, with the counts of the open ones.
func (c *Console) Queue(ctx context.Context, m Member, f Filter) (Page, error) {
	if f.Status != "" && !slices.Contains(statuses(), privacy.Status(f.Status)) {
		f.Status = ""
	}
	var want []privacy.Status
	if f.Status != "" {
		want = []privacy.Status{privacy.Status(f.Status)}
	}
	rows, warning, err := c.list(ctx, m, operator.Filter{Status: want})
	if err != nil {
		return Page{}, err
	}
	now := c.Now()
	open := rows
	if f.Status != "" {
		var w string
		if open, w, err = c.list(ctx, m, operator.Filter{}); err != nil {
			return Page{}, err
		}
		warning = cmp.Or(warning, w)
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
	return page(http.StatusOK, "Rights requests", "queue", "queue", struct {
		Filter   Filter
		Counts   []count
		Rows     []Row
		Statuses []privacy.Status
		Types    []privacy.Right
		Warning  string
	}{f, counts, shown, statuses(), privacy.RightTypes(), warning}), nil
}

// list is the operator's List for a page: when the Platform's requests
// cannot be read, the site's rows and what the page says of it.
func (c *Console) list(ctx context.Context, m Member, f operator.Filter) ([]operator.Row, string, error) {
	rows, err := c.Operator.List(ctx, m.caller(), f)
	if errors.Is(err, operator.ErrPlatformUnread) {
		return rows, "The Platform's requests could not be read just now: only the site's are listed. Reload the page to try again.", nil
	}
	return rows, "", err
}

// Deadlines are the open requests grouped by when they are due.
func (c *Console) Deadlines(ctx context.Context, m Member) (Page, error) {
	rows, warning, err := c.list(ctx, m, operator.Filter{})
	if err != nil {
		return Page{}, err
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
	recipients, err := c.Operator.OverdueProcessors(ctx, m.caller())
	if err != nil {
		return Page{}, err
	}
	// The processor registrations and contact changes waiting for a
	// second member: each sends people's data somewhere once approved.
	asks, err := c.Operator.ProcessorAsks(ctx, m.caller())
	if err != nil {
		return Page{}, err
	}
	return page(http.StatusOK, "Deadlines", "deadlines", "deadlines", struct {
		Groups     []group
		Recipients []operator.RecipientView
		Asks       []operator.ProcessorAskView
		Warning    string
	}{groups, recipients, asks, warning}), nil
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

func (c *Console) requestPage(ctx context.Context, m Member, id string) (requestPage, error) {
	v, err := c.Operator.Show(ctx, m.caller(), id)
	if err != nil {
		return requestPage{}, err
	}
	p := requestPage{View: v}
	// The console shows what a decision needs: what was asked, not who
	// asked (the address stays in the request, for the emails).
	p.View.Request.Email, p.View.Request.Name = "", ""
	p.View.Request.ParentEmail, p.View.Request.AgentEmail, p.View.Request.RecipientEmail = "", "", ""
	if m.Role == session.RoleTeam {
		p.Actions = p.View.Actions
	}
	for _, e := range p.View.Ledger {
		p.Timeline = append(p.Timeline, Entry{At: e.At, Event: string(e.Name), By: e.Detail["by"]})
	}
	return p, nil
}

// refusedPage is a message page for a refusal.
func refusedPage(status int, msg string) Page {
	return page(status, "Request", "queue", "message", session.Message{Text: msg, Link: "/console", LinkText: "Back to the requests"})
}

// Request is request id's page; done names the decision just taken.
func (c *Console) Request(ctx context.Context, m Member, id, done string) (Page, error) {
	p, err := c.requestPage(ctx, m, id)
	if err != nil {
		var status int
		var msg string
		if err := refused(err, &status, &msg); err != nil {
			return Page{}, err
		}
		return refusedPage(status, msg), nil
	}
	p.Done = decisions[done]
	return page(http.StatusOK, "Request "+string(p.View.Request.Type), "queue", "request", p), nil
}

// decisions are the request page's decisions, each with what the page
// says once it is taken.
var decisions = map[string]string{"approve": "Approved.", "deny": "Denied; the requester is emailed the reason.",
	"extend": "Deadline extended; the requester is emailed the reason.", "complete": "Completed; the requester is told.",
	"uphold": "Objection upheld; the requester is told.", "lift": "Restriction lifted; the requester is told.",
	"ask": "Question sent; the request waits for the requester's answer. The deadline stays."}

// Decision is one of the request page's decisions with its terms.
type Decision struct {
	Action                        string
	Reason, Note, Until, Question string
	Erase                         bool
}

// decide runs d on request id.
func (c *Console) decide(ctx context.Context, m Member, id string, d Decision) error {
	op, by := c.Operator, m.caller()
	switch d.Action {
	case "approve":
		_, err := op.Approve(ctx, by, id)
		return err
	case "deny":
		return op.Deny(ctx, by, id, d.Reason)
	case "extend":
		until, err := operator.Day("until", d.Until)
		if err != nil {
			return err
		}
		_, err = op.Extend(ctx, by, id, d.Reason, until)
		return err
	case "complete":
		return op.Complete(ctx, by, id, d.Note)
	case "uphold":
		return op.Uphold(ctx, by, id, d.Erase, d.Note)
	case "lift":
		return op.Lift(ctx, by, id, d.Reason)
	case "ask":
		return op.Ask(ctx, by, id, d.Question)
	}
	return fmt.Errorf("%w: unknown decision", operator.ErrBadRequest)
}

// Decide takes d on request id and sends the browser back to the page
// (303); a refused one is shown on the page with its status.
func (c *Console) Decide(ctx context.Context, m Member, id string, d Decision) (Page, error) {
	if _, ok := decisions[d.Action]; !ok {
		return Page{}, &httpapi.Error{Status: http.StatusBadRequest, Code: "bad_request", Message: "Unknown decision."}
	}
	err := c.decide(ctx, m, id, d)
	if err == nil {
		return Page{Redirect: "/console/requests/" + url.PathEscape(id) + "?done=" + d.Action}, nil
	}
	var status int
	var msg string
	if err := refused(err, &status, &msg); err != nil {
		return Page{}, err
	}
	p, perr := c.requestPage(ctx, m, id)
	if perr != nil {
		return refusedPage(status, msg), nil
	}
	p.Error = msg
	return page(status, "Request "+string(p.View.Request.Type), "queue", "request", p), nil
}

// Lookup is what the people page posts: an address to find (Action ""),
// a request that reached the team by email, phone or post to enter
// ("enter"), or a team action on the address with its reason: "hold add"
// (until a day, as typed), "hold lift", "suppression lift".
type Lookup struct {
	Action string
	Entry  rights.Entry
	// Received is the day the entry reached the team, as typed.
	Received      string
	Reason, Until string
}

// People finds a person by address (posted, never in a URL, so never in
// a log; hashed by the operator, not kept), enters a request, or takes a
// team action on an address; q is nil for the empty page.
func (c *Console) People(ctx context.Context, m Member, q *Lookup) (Page, error) {
	var d struct {
		Person   *operator.Person
		Entered  *operator.Entered
		Channels []string
		Today    string
		Done     string
		Error    string
	}
	d.Channels, d.Today = privacy.Channels(), c.Now().UTC().Format(time.DateOnly)
	status := http.StatusOK
	if q != nil {
		var err error
		switch email := q.Entry.Email; q.Action {
		case "hold add":
			var until time.Time
			if until, err = operator.Day("until", q.Until); err == nil {
				if err = c.Operator.PlaceHold(ctx, m.caller(), email, q.Reason, until); err == nil {
					d.Done = "Legal hold placed: erasures of that address are withheld and the sweep keeps its data."
				}
			}
		case "hold lift":
			if err = c.Operator.LiftHold(ctx, m.caller(), email, q.Reason); err == nil {
				d.Done = "Legal hold lifted."
			}
		case "suppression lift":
			var l operator.Lift
			if l, err = c.Operator.LiftSuppression(ctx, m.caller(), email, q.Reason, nil); err == nil {
				switch {
				case len(l.Awaiting) > 0:
					d.Done = "Asked: lifting " + strings.Join(l.Awaiting, ", ") + " needs a second team member, who approves it with the same lift. Nothing is lifted until then."
				case len(l.Lifted) > 0:
					d.Done = "Lifted: " + strings.Join(l.Lifted, ", ") + "."
				default:
					d.Done = "Nothing to lift: no suppression in force."
				}
			}
		case "enter":
			e := q.Entry
			if e.Received, err = operator.Day("received", q.Received); err == nil && e.Received.IsZero() {
				err = fmt.Errorf("%w: received must be the day it reached us, YYYY-MM-DD", operator.ErrBadRequest)
			}
			if err == nil {
				var en operator.Entered
				if en, err = c.Operator.Enter(ctx, m.caller(), e); en.ID != "" {
					d.Entered = &en
				}
			}
		default:
			var p operator.Person
			if p, err = c.Operator.Person(ctx, m.caller(), email); err == nil {
				d.Person = &p
			}
		}
		if err != nil {
			if err := refused(err, &status, &d.Error); err != nil {
				return Page{}, err
			}
		}
	}
	return page(status, "People", "people", "people", d), nil
}

// ControllerAction is what the controllers page posts: issue (Name and
// Region), region (record the Region of ID, a controller registered
// before regions) or revoke (ID), and why.
type ControllerAction struct {
	Action, Name, ID, Region, Reason string
}

// Controllers lists the OpenDSR controllers, after taking a, when not nil.
func (c *Console) Controllers(ctx context.Context, m Member, a *ControllerAction) (Page, error) {
	var d struct {
		Controllers []operator.ControllerView
		// Region is the one this stack serves: the only one it registers.
		Region string
		Issued *struct {
			operator.Credentials
			Name string
		}
		Done, Error string
	}
	status := http.StatusOK
	if a != nil {
		var err error
		switch a.Action {
		case "issue":
			var cr operator.Credentials
			if cr, err = c.Operator.IssueController(ctx, m.caller(), a.Name, a.Region, a.Reason); err == nil {
				d.Issued = &struct {
					operator.Credentials
					Name string
				}{cr, strings.TrimSpace(a.Name)}
			}
		case "region":
			if err = c.Operator.SetControllerRegion(ctx, m.caller(), a.ID, a.Region, a.Reason); err == nil {
				d.Done = "Region recorded."
			}
		case "revoke":
			if err = c.Operator.RevokeController(ctx, m.caller(), a.ID, a.Reason); err == nil {
				d.Done = "Credentials revoked."
			}
		default:
			err = fmt.Errorf("%w: unknown action", operator.ErrBadRequest)
		}
		if err != nil {
			if err := refused(err, &status, &d.Error); err != nil {
				return Page{}, err
			}
		}
	}
	cs, err := c.Operator.Controllers(ctx, m.caller())
	if err != nil {
		return Page{}, err
	}
	d.Controllers, d.Region = cs, string(c.Operator.PlatformRegion)
	return page(status, "Controllers", "controllers", "controllers", d), nil
}

// Processors lists the site's processors and the asks waiting for a
// second member and, for the team, asks to register a (when not nil)
// through the operator's AddProcessor, the action privacyctl processor
// add takes: by its OpenDSR URL (with its credentials, certificate and,
// optionally, a privacy contact address), or by its privacy contact
// address alone; the team's ledger names who and why. The registration
// waits for another member's approval (ApproveProcessorAsk).
func (c *Console) Processors(ctx context.Context, m Member, a *operator.NewProcessor) (Page, error) {
	return c.processors(ctx, m, processorAction{add: a})
}

// ContactChange is the team's ask to change a registered processor's
// privacy contact address, with why.
type ContactChange struct {
	ID, Contact, Reason string
}

// ChangeProcessorContact asks to change a processor's privacy contact
// address through the operator's ChangeProcessorContact, the action
// privacyctl processor contact takes (same checks, same ledger entry), and
// shows the Processors page with the ask waiting.
func (c *Console) ChangeProcessorContact(ctx context.Context, m Member, ch ContactChange) (Page, error) {
	return c.processors(ctx, m, processorAction{contact: &ch})
}

// Approval is a member's approval of another's processor ask (its id),
// with what they checked.
type Approval struct {
	Ask, Reason string
}

// ApproveProcessorAsk approves another member's processor ask through the
// operator's ApproveProcessorAsk, the action privacyctl processor approve
// takes: the asker's own approval, a replaced or lapsed ask and an ask
// over a processor changed since are refused.
func (c *Console) ApproveProcessorAsk(ctx context.Context, m Member, a Approval) (Page, error) {
	return c.processors(ctx, m, processorAction{approve: &a})
}

// processorAction is what a post of the Processors page asks: at most one.
type processorAction struct {
	add     *operator.NewProcessor
	contact *ContactChange
	approve *Approval
}

func (c *Console) processors(ctx context.Context, m Member, act processorAction) (Page, error) {
	var d struct {
		Processors []operator.ProcessorView
		Asks       []operator.ProcessorAskView
		Asked      *operator.ProcessorAskView
		Approved   *operator.ProcessorView
		Me, Lapses string
		Error      string
	}
	d.Me, d.Lapses = operator.Member(m.caller().By), fmt.Sprintf("%d hours", int(privacy.ProcessorAskLapses.Hours()))
	status := http.StatusOK
	var err error
	switch {
	case act.add != nil:
		var a operator.ProcessorAskView
		if a, err = c.Operator.AddProcessor(ctx, m.caller(), *act.add); err == nil {
			d.Asked = &a
		}
	case act.contact != nil:
		var a operator.ProcessorAskView
		ch := act.contact
		if a, err = c.Operator.ChangeProcessorContact(ctx, m.caller(), ch.ID, ch.Contact, ch.Reason); err == nil {
			d.Asked = &a
		}
	case act.approve != nil:
		var p operator.ProcessorView
		if p, err = c.Operator.ApproveProcessorAsk(ctx, m.caller(), act.approve.Ask, act.approve.Reason); err == nil {
			d.Approved = &p
		}
	}
	if err != nil {
		if err := refused(err, &status, &d.Error); err != nil {
			return Page{}, err
		}
	}
	ps, err := c.Operator.Processors(ctx, m.caller())
	if err != nil {
		return Page{}, err
	}
	if d.Asks, err = c.Operator.ProcessorAsks(ctx, m.caller()); err != nil {
		return Page{}, err
	}
	for i := range d.Asks {
		d.Asks[i].AskedBy = operator.Member(d.Asks[i].AskedBy)
	}
	d.Processors = ps
	return page(status, "Processors", "processors", "processors", d), nil
}

// Policy lists the published versions and, for the team, publishes p
// (when not nil; Effective as typed).
func (c *Console) Policy(ctx context.Context, m Member, p *operator.Publication, effective string) (Page, error) {
	var d struct {
		Policies    operator.Policies
		Topics      []string
		Purposes    []string // those a version states a basis for
		LegalBases  []string
		Done, Error string
	}
	status := http.StatusOK
	if p != nil {
		day, err := operator.Day("effective", effective)
		if err == nil {
			p.Effective = day
			var v privacy.PolicyVersion
			if v, err = c.Operator.PublishPolicy(ctx, m.caller(), *p); err == nil {
				d.Done = fmt.Sprintf("policy %s published, in force from %s; notices: %s", v.Version, v.LastUpdated(), v.Notices.State)
			}
		}
		if err != nil {
			if err := refused(err, &status, &d.Error); err != nil {
				return Page{}, err
			}
		}
	}
	ps, err := c.Operator.Policies(ctx, m.caller())
	if err != nil {
		return Page{}, err
	}
	d.Policies, d.Topics = ps, privacy.Topics()
	d.Purposes, d.LegalBases = privacy.StatedPurposes(), privacy.LegalBases()
	return page(status, "Privacy policy versions", "policy", "policy", d), nil
}

// Ropa is the record of processing activities (Art. 30), printable.
func (c *Console) Ropa(ctx context.Context, m Member) (Page, error) {
	rec, err := c.Operator.RecordOfProcessing(ctx, m.caller())
	if err != nil {
		return Page{}, err
	}
	return page(http.StatusOK, "Record of processing activities", "ropa", "ropa", rec), nil
}

// Campaigns shows how campaign id stands ("": the empty page).
func (c *Console) Campaigns(ctx context.Context, m Member, id string) (Page, error) {
	var d struct {
		ID     string
		Status *campaign.Status
		Error  string
	}
	status := http.StatusOK
	if d.ID = strings.TrimSpace(id); d.ID != "" {
		st, err := c.Operator.CampaignStatus(ctx, m.caller(), d.ID)
		if err != nil {
			if err := refused(err, &status, &d.Error); err != nil {
				return Page{}, err
			}
		} else {
			d.Status = &st
		}
	}
	return page(status, "Campaigns", "campaigns", "campaigns", d), nil
}

// Report is the report of the days from..to (as typed; empty: this month
// so far).
func (c *Console) Report(ctx context.Context, m Member, from, to string) (Page, error) {
	var d struct {
		From, To string
		Report   *report.Report
		Error    string
	}
	status := http.StatusOK
	first, last, err := operator.Days(from, to)
	var r report.Report
	if err == nil {
		r, err = c.Operator.Report(ctx, m.caller(), first, last)
	}
	if err != nil {
		if err := refused(err, &status, &d.Error); err != nil {
			return Page{}, err
		}
		d.From, d.To = from, to
	} else {
		d.Report, d.From, d.To = &r, r.From.Format(time.DateOnly), r.To.Format(time.DateOnly)
	}
	return page(status, "Report", "report", "report", d), nil
}

// Audit is every team action of the days from..to (as typed; empty from:
// since the first, empty to: today) as a file in format (jsonl or csv).
func (c *Console) Audit(ctx context.Context, m Member, from, to, format string) (Page, error) {
	first, last, err := operator.Days(from, to)
	var entries []operator.AuditEntry
	if err == nil && !slices.Contains(operator.AuditFormats, format) {
		err = fmt.Errorf("%w: format must be jsonl or csv", operator.ErrBadRequest)
	}
	if err == nil {
		entries, err = c.Operator.Audit(ctx, m.caller(), first, last)
	}
	var buf bytes.Buffer
	if err == nil {
		err = operator.WriteAudit(&buf, format, entries)
	}
	if err != nil {
		var status int
		var msg string
		if err := refused(err, &status, &msg); err != nil {
			return Page{}, err
		}
		return page(status, "Audit", "report", "message", session.Message{Text: msg, Link: "/console/report", LinkText: "Back to the report"}), nil
	}
	types := map[string]string{"jsonl": "application/jsonl; charset=utf-8", "csv": "text/csv; charset=utf-8"}
	return Page{Status: http.StatusOK, Download: "team-actions." + format, Type: types[format], Body: buf.Bytes()}, nil
}
