package operator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/rights"
)

// RouteIAM is the route privacyctl calls, signed with the caller's AWS
// credentials (SigV4); API Gateway's IAM authorizer admits only callers
// whose policy allows execute-api:Invoke on it.
const RouteIAM = "POST /v1/operator"

// Request is one action privacyctl asks of the operator: its name
// (privacyctl's command, "hold add"), the request or record it is about,
// and its arguments.
type Request struct {
	Action string `json:"action"`
	ID     string `json:"id,omitempty"`
	Args   Args   `json:"args"`
}

// Args are every action's arguments; each action reads its own.
type Args struct {
	Status      []privacy.Status `json:"status,omitempty"`
	Overdue     bool             `json:"overdue,omitempty"`
	Reason      string           `json:"reason,omitempty"`
	Note        string           `json:"note,omitempty"`
	Until       string           `json:"until,omitempty"` // YYYY-MM-DD
	Email       string           `json:"email,omitempty"`
	Reference   string           `json:"reference,omitempty"`
	Name        string           `json:"name,omitempty"`
	Controller  string           `json:"controller,omitempty"`
	Region      string           `json:"region,omitempty"` // a controller's: us, eu
	URL         string           `json:"url,omitempty"`
	Credentials string           `json:"credentials,omitempty"`
	Certificate string           `json:"certificate,omitempty"` // PEM
	// Contact is a processor's privacy contact address: the whole
	// registration of one without an API, or beside an OpenDSR URL where
	// it is emailed rectifications and restrictions.
	Contact     string   `json:"contact,omitempty"`
	Only        []string `json:"only,omitempty"`
	Version     string   `json:"version,omitempty"`
	Effective   string   `json:"effective,omitempty"` // YYYY-MM-DD
	Summary     string   `json:"summary,omitempty"`
	NewPurposes []string `json:"new_purposes,omitempty"`
	Material    bool     `json:"material,omitempty"`
	// Bases: a policy version's legal basis per purpose (those not named
	// stay as the version in force states them).
	Bases map[string]string `json:"bases,omitempty"`
	Erase bool              `json:"erase,omitempty"`
	Days  *int              `json:"days,omitempty"`
	// A request the team enters (enter): its type and terms, how it
	// reached the team, the day it did, and how identity was checked.
	Type       string `json:"type,omitempty"`
	Details    string `json:"details,omitempty"`
	Regulation string `json:"regulation,omitempty"`
	Scope      string `json:"scope,omitempty"`
	Lang       string `json:"lang,omitempty"`
	Channel    string `json:"channel,omitempty"`
	Received   string `json:"received,omitempty"` // YYYY-MM-DD
	Identity   string `json:"identity,omitempty"`
	// Question is the team's question to a requester (ask).
	Question string `json:"question,omitempty"`
	// From and To are a period's first and last day (audit, report),
	// YYYY-MM-DD.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// Result is what an action answers: a sentence for the person, and the
// data a list or a view shows.
type Result struct {
	Message string `json:"message,omitempty"`
	Data    any    `json:"data,omitempty"`
}

// action runs one named action: it reads its arguments from r, calls the
// operator's method, and says what was done.
type action func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error)

// data answers v, or err.
func data[T any](v T, err error) (Result, error) {
	if err != nil {
		return Result{}, err
	}
	return Result{Data: v}, nil
}

// said answers msg once err is nil.
func said(err error, format string, a ...any) (Result, error) {
	if err != nil {
		return Result{}, err
	}
	return Result{Message: fmt.Sprintf(format, a...)}, nil
}

// Day parses a day, YYYY-MM-DD, of the field named (zero when empty).
func Day(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s must be a day, YYYY-MM-DD", ErrBadRequest, field)
	}
	return d, nil
}

// Days parses a period's first and last day, YYYY-MM-DD (each zero when
// empty).
func Days(from, to string) (time.Time, time.Time, error) {
	first, err := Day("from", from)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	last, err := Day("to", to)
	return first, last, err
}

// actions is every action by name, as privacyctl names its commands: the
// only place a name is turned into a method.
var actions = map[string]action{
	"list": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		rows, err := o.List(ctx, c, Filter{Status: r.Args.Status, Overdue: r.Args.Overdue})
		if errors.Is(err, ErrPlatformUnread) {
			return Result{Data: rows, Message: ErrPlatformUnread.Error()}, nil
		}
		return data(rows, err)
	},
	"show": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		return data(o.Show(ctx, c, r.ID))
	},
	"approve": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		status, err := o.Approve(ctx, c, r.ID)
		return said(err, "request %s approved: %s", r.ID, status)
	},
	"enter": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		a := r.Args
		received, err := Day("received", a.Received)
		if err != nil || received.IsZero() {
			return Result{}, fmt.Errorf("%w: received must be the day it reached us, YYYY-MM-DD", ErrBadRequest)
		}
		e, err := o.Enter(ctx, c, rights.Entry{Email: a.Email, Name: a.Name, Type: a.Type, Details: a.Details, Regulation: a.Regulation,
			Scope: a.Scope, Lang: a.Lang, Channel: a.Channel, Received: received, IdentityCheck: a.Identity})
		if e.ID == "" {
			return Result{}, err
		}
		next := "the person is sent the verification link"
		if a.Identity != "" {
			next = "identity checked: carried out as a verified request"
		}
		return Result{Message: fmt.Sprintf("request %s entered (%s, received %s, due %s): %s; %s", e.ID, a.Channel,
			a.Received, e.DueAt.Format(time.DateOnly), e.Status, next), Data: e}, err
	},
	"deny": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		return said(o.Deny(ctx, c, r.ID, r.Args.Reason), "request %s denied; the requester is emailed the reason", r.ID)
	},
	"extend": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		until, err := Day("until", r.Args.Until)
		if err != nil {
			return Result{}, err
		}
		until, err = o.Extend(ctx, c, r.ID, r.Args.Reason, until)
		return said(err, "request %s now due %s; the requester is emailed the reason", r.ID, until.Format(time.RFC3339))
	},
	"ask": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		return said(o.Ask(ctx, c, r.ID, r.Args.Question),
			"request %s waits for the requester's answer; the question is emailed (the deadline stays)", r.ID)
	},
	"complete": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		return said(o.Complete(ctx, c, r.ID, r.Args.Note), "request %s completed; the requester is told", r.ID)
	},
	"uphold": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		done := "upheld, the data kept restricted"
		if r.Args.Erase {
			done = "upheld and the data erased"
		}
		return said(o.Uphold(ctx, c, r.ID, r.Args.Erase, r.Args.Note), "objection %s %s; the requester is told", r.ID, done)
	},
	"lift": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		return said(o.Lift(ctx, c, r.ID, r.Args.Reason), "restriction of request %s lifted; the requester is told", r.ID)
	},
	"terminate-client": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		a := r.Args
		t, err := o.TerminateClient(ctx, c, Termination{Email: a.Email, Reference: a.Reference, Controller: a.Controller, Reason: a.Reason})
		if a.Controller != "" {
			return said(err, "controller %s terminated and its credentials revoked; the retention sweep deletes every record it handed over after %s",
				a.Controller, t.DeleteAfter.Format("2 January 2006"))
		}
		return said(err, "%d records marked; the retention sweep deletes them after %s", t.Records, t.DeleteAfter.Format("2 January 2006"))
	},
	"opendsr-controller": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		cr, err := o.IssueController(ctx, c, r.Args.Name, r.Args.Region, r.Args.Reason)
		if err != nil {
			return Result{}, err
		}
		return Result{Message: fmt.Sprintf("controller_id %s\nsecret %s", cr.ControllerID, cr.Secret), Data: cr}, nil
	},
	"opendsr-retention": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		if r.Args.Days == nil {
			return Result{}, fmt.Errorf("%w: opendsr-retention needs days (0 or more)", ErrBadRequest)
		}
		days := *r.Args.Days
		err := o.SetControllerRetention(ctx, c, r.ID, days, r.Args.Reason)
		if days == 0 {
			return said(err, "controller %s: records kept until it erases them (or 12 months after its termination)", r.ID)
		}
		return said(err, "controller %s: records deleted by the sweep %d days after their last write", r.ID, days)
	},
	"opendsr-region": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		return said(o.SetControllerRegion(ctx, c, r.ID, r.Args.Region, r.Args.Reason), "controller %s: region %s recorded; only that region's stack serves it",
			r.ID, r.Args.Region)
	},
	"opendsr-revoke": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		return said(o.RevokeController(ctx, c, r.ID, r.Args.Reason), "controller %s revoked", r.ID)
	},
	"opendsr-controllers": func(ctx context.Context, o *Operator, c Caller, _ Request) (Result, error) {
		return data(o.Controllers(ctx, c))
	},
	"processor add": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		a := r.Args
		ask, err := o.AddProcessor(ctx, c, NewProcessor{Name: a.Name, URL: a.URL, Credentials: a.Credentials, Certificate: a.Certificate,
			Contact: a.Contact, Reason: a.Reason})
		if err != nil {
			return Result{}, err
		}
		p := ask.Processor
		var what string
		switch {
		case p.URL == "":
			what = fmt.Sprintf("emailed every %s, with a link to confirm each done", strings.Join(p.Types, ", "))
		case p.Contact != "":
			what = fmt.Sprintf("told of every %s, naming the person by %s; emailed every rectification and restriction, with a "+
				"link to confirm each done", strings.Join(p.Types, ", "), p.IdentityFormat)
		default:
			what = fmt.Sprintf("told of every %s, naming the person by %s; not told of rectifications or restrictions (no contact "+
				"address): the deadline board lists each", strings.Join(p.Types, ", "), p.IdentityFormat)
		}
		return Result{Message: fmt.Sprintf("asked: registering processor %s (%s) needs a second team member, who approves it "+
			"with processor approve %s before %s; nothing is registered until then. Once approved it is %s", p.ID, p.Name, ask.ID,
			ask.LapsesAt.Format(time.RFC3339), what), Data: ask}, nil
	},
	"processor overdue": func(ctx context.Context, o *Operator, c Caller, _ Request) (Result, error) {
		return data(o.OverdueProcessors(ctx, c))
	},
	"processor list": func(ctx context.Context, o *Operator, c Caller, _ Request) (Result, error) {
		return data(o.Processors(ctx, c))
	},
	"processor contact": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		ask, err := o.ChangeProcessorContact(ctx, c, r.ID, r.Args.Contact, r.Args.Reason)
		if err != nil {
			return Result{}, err
		}
		return Result{Message: fmt.Sprintf("asked: changing processor %s's contact address needs a second team member, who "+
			"approves it with processor approve %s before %s; nothing changes until then", r.ID, ask.ID,
			ask.LapsesAt.Format(time.RFC3339)), Data: ask}, nil
	},
	"processor approve": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		p, err := o.ApproveProcessorAsk(ctx, c, r.ID, r.Args.Reason)
		if err != nil {
			return Result{}, err
		}
		return Result{Message: fmt.Sprintf("approved: processor %s (%s) is registered as asked; what it is emailed from now on, "+
			"what waits for it included, goes to its contact address as registered now", p.ID, p.Name), Data: p}, nil
	},
	"processor asks": func(ctx context.Context, o *Operator, c Caller, _ Request) (Result, error) {
		return data(o.ProcessorAsks(ctx, c))
	},
	"processor remove": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		return said(o.RemoveProcessor(ctx, c, r.ID, r.Args.Reason), "processor %s removed", r.ID)
	},
	"ropa": func(ctx context.Context, o *Operator, c Caller, _ Request) (Result, error) {
		return data(o.RecordOfProcessing(ctx, c))
	},
	"audit": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		from, to, err := Days(r.Args.From, r.Args.To)
		if err != nil {
			return Result{}, err
		}
		return data(o.Audit(ctx, c, from, to))
	},
	"report": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		from, to, err := Days(r.Args.From, r.Args.To)
		if err != nil {
			return Result{}, err
		}
		return data(o.Report(ctx, c, from, to))
	},
	"hold add": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		until, err := Day("until", r.Args.Until)
		if err != nil {
			return Result{}, fmt.Errorf("%w: until must be a future date, YYYY-MM-DD", ErrBadRequest)
		}
		return said(o.PlaceHold(ctx, c, r.Args.Email, r.Args.Reason, until),
			"legal hold placed: erasures of that address are withheld and the sweep keeps its data")
	},
	"hold lift": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		return said(o.LiftHold(ctx, c, r.Args.Email, r.Args.Reason), "legal hold lifted; erasures and the retention sweep apply again")
	},
	"hold list": func(ctx context.Context, o *Operator, c Caller, _ Request) (Result, error) {
		return data(o.Holds(ctx, c))
	},
	"suppression show": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		return data(o.Suppressions(ctx, c, r.Args.Email))
	},
	"person": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		return data(o.Person(ctx, c, r.Args.Email))
	},
	"suppression lift": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		l, err := o.LiftSuppression(ctx, c, r.Args.Email, r.Args.Reason, r.Args.Only)
		switch {
		case err != nil:
			return Result{}, err
		case len(l.Awaiting) > 0:
			return Result{Message: fmt.Sprintf("asked: lifting %s needs a second team member, who approves it with the same "+
				"suppression lift; nothing is lifted until then", strings.Join(l.Awaiting, ", ")), Data: l}, nil
		case l.AskedBy != "":
			return Result{Message: fmt.Sprintf("lifted: %s (asked by %s)", strings.Join(l.Lifted, ", "), l.AskedBy), Data: l}, nil
		case len(l.Lifted) == 0:
			return Result{Message: "nothing to lift: no suppression in force"}, nil
		}
		return Result{Message: "lifted: " + strings.Join(l.Lifted, ", "), Data: l}, nil
	},
	"policy publish": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		a := r.Args
		day, err := Day("effective", a.Effective)
		if err != nil || day.IsZero() {
			return Result{}, fmt.Errorf("%w: effective must be a day, YYYY-MM-DD", ErrBadRequest)
		}
		v, err := o.PublishPolicy(ctx, c, Publication{Version: a.Version, Effective: day, Summary: a.Summary, Material: a.Material,
			NewPurposes: a.NewPurposes, Bases: a.Bases, Reason: a.Reason})
		return said(err, "policy %s published, in force from %s; notices: %s", v.Version, v.LastUpdated(), v.Notices.State)
	},
	"policy list": func(ctx context.Context, o *Operator, c Caller, _ Request) (Result, error) {
		return data(o.Policies(ctx, c))
	},
	"campaign status": func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
		return data(o.CampaignStatus(ctx, c, r.ID))
	},
}

// Actions returns the names of every action, sorted.
func Actions() []string {
	names := make([]string, 0, len(actions))
	for n := range actions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// dispatch runs the action r names for c; the method checks who may.
func (o *Operator) dispatch(ctx context.Context, c Caller, r Request) (Result, error) {
	a, ok := actions[r.Action]
	if !ok {
		return Result{}, fmt.Errorf("%w: unknown action %q", ErrBadRequest, r.Action)
	}
	return a(ctx, o, c, r)
}

// Routes registers the operator's routes.
func (o *Operator) Routes(rt *httpapi.Router) { rt.Handle(RouteIAM, o.serveIAM) }

// serveIAM runs one action for the IAM caller API Gateway authorised: its
// ARN is who acts. A request without one (a route left without its
// authorizer) is refused, never run as nobody.
func (o *Operator) serveIAM(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	by := r.Caller
	if by == "" {
		return httpapi.Response{}, &httpapi.Error{Status: http.StatusUnauthorized, Code: "unauthorized",
			Message: "Sign the request with AWS credentials (SigV4)."}
	}
	body, err := httpapi.Body(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	var req Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return httpapi.Response{}, httpapi.ErrMalformed
	}
	res, err := o.dispatch(ctx, Caller{By: by, MayDecide: true}, req)
	if err != nil {
		p := Problem(err)
		if e := (*httpapi.Error)(nil); !errors.As(p, &e) {
			// A dependency failed: the team is told so, not the site's
			// "nothing was stored" (a step of several may have been made).
			o.Log.ErrorContext(ctx, "operator action failed", "action", req.Action, "error", err.Error())
			return httpapi.Response{}, errActionUnavailable
		}
		return httpapi.Response{}, p
	}
	return httpapi.JSON(http.StatusOK, res), nil
}

// errActionUnavailable answers an action a dependency failed.
var errActionUnavailable = &httpapi.Error{Status: http.StatusServiceUnavailable, Code: "unavailable", RetryAfter: 30 * time.Second,
	Message: "The action could not be completed just now: a service it needs did not answer. " +
		"Check what took effect (privacyctl show, or the ledger) before trying again."}

// Problem is err as the contract answers it: the caller's mistakes with
// their status and message (the team reads them), anything else as it is
// (the router logs it and answers 503).
func Problem(err error) error {
	status, code := 0, ""
	switch {
	case errors.Is(err, ErrForbidden):
		status, code = http.StatusForbidden, "forbidden"
	case errors.Is(err, ErrBadRequest), errors.Is(err, rights.ErrReasonRequired), errors.Is(err, rights.ErrOutOfRange),
		errors.Is(err, rights.ErrBadText):
		status, code = http.StatusBadRequest, "bad_request"
	case errors.Is(err, privacy.ErrNotFound):
		status, code = http.StatusNotFound, "not_found"
	case errors.Is(err, rights.ErrWrongStatus), errors.Is(err, privacy.ErrExists), errors.Is(err, privacy.ErrStale):
		status, code = http.StatusConflict, "conflict"
	default:
		return err
	}
	return &httpapi.Error{Status: status, Code: code, Message: err.Error()}
}
