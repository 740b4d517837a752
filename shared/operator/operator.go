// Package operator is the privacy team's desk: every action the team takes
// (list and show requests, decide them, legal holds, suppressions,
// controllers' credentials, processors, policy versions, campaign status),
// run on behalf of an authenticated caller whom each decision's ledger
// entry names. The operator function serves it to privacyctl (an
// IAM-authorised route) and to the console (signed-in team members); the
// team's own credentials reach no table and no secret.
package operator

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/campaign"
	"github.com/privacykeeper/privacykeeper/shared/policy"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/processor"
	"github.com/privacykeeper/privacykeeper/shared/recipients"
	"github.com/privacykeeper/privacykeeper/shared/rights"
	"github.com/privacykeeper/privacykeeper/shared/ropa"
)

// Request is one action asked of the operator: its name (privacyctl's
// command, "hold add"), the request or record it is about, and its
// arguments.
type Request struct {
	Action string `json:"action"`
	ID     string `json:"id,omitempty"`
	Args   Args   `json:"args"`
}

// Args are every action's arguments; each action reads its own.
type Args struct {
	Status      []string `json:"status,omitempty"`
	Overdue     bool     `json:"overdue,omitempty"`
	Reason      string   `json:"reason,omitempty"`
	Note        string   `json:"note,omitempty"`
	Until       string   `json:"until,omitempty"` // YYYY-MM-DD
	Email       string   `json:"email,omitempty"`
	Reference   string   `json:"reference,omitempty"`
	Name        string   `json:"name,omitempty"`
	Controller  string   `json:"controller,omitempty"`
	URL         string   `json:"url,omitempty"`
	Credentials string   `json:"credentials,omitempty"`
	Certificate string   `json:"certificate,omitempty"` // PEM
	// Contact registers a processor without an API by its privacy
	// contact address (instead of URL, Credentials and Certificate).
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
}

// Result is what an action answers: a sentence for the person, and the
// data a list or a view shows.
type Result struct {
	Message string `json:"message,omitempty"`
	Data    any    `json:"data,omitempty"`
}

// Caller is who asks: the identity the ledger names (an IAM ARN, or a
// signed-in team member), and whether they may decide or only read.
type Caller struct {
	By        string
	MayDecide bool
}

// Errors of the operator; the HTTP adapter answers each with its status.
var (
	// ErrBadRequest: the arguments do not make a valid action (400).
	ErrBadRequest = errors.New("bad request")
	// ErrForbidden: the caller may not take this action (403).
	ErrForbidden = errors.New("forbidden")
)

// Store is what the operator reads and writes (dynamo.Store).
type Store interface {
	rights.DeskStore
	campaign.StatusStore
	RecordEvent(ctx context.Context, e privacy.Event) error
	SubjectHold(ctx context.Context, subject privacy.SubjectID) (privacy.Hold, bool, error)
	Holds(ctx context.Context) ([]privacy.Hold, error)
	PlaceHold(ctx context.Context, h privacy.Hold, e privacy.Event) error
	LiftHold(ctx context.Context, subject privacy.SubjectID, e privacy.Event) error
	MarkClientTerminated(ctx context.Context, subject privacy.SubjectID, e privacy.Event) (int, error)
	// The actions on controllers and processors write e, who took them,
	// to the ledger in the same write.
	PutController(ctx context.Context, c privacy.Controller, e privacy.Event) error
	SetControllerRetention(ctx context.Context, id string, days int, e privacy.Event) error
	TerminateController(ctx context.Context, id string, e privacy.Event) error
	RevokeController(ctx context.Context, id string, e privacy.Event) error
	Processors(ctx context.Context) ([]privacy.Processor, error)
	PutProcessor(ctx context.Context, p privacy.Processor, e privacy.Event) error
	RemoveProcessor(ctx context.Context, id string, e privacy.Event) error
	Suppressions(ctx context.Context, subject privacy.SubjectID) ([]string, error)
	SuppressionRecords(ctx context.Context, subject privacy.SubjectID) ([]privacy.Suppression, error)
	LiftSuppressions(ctx context.Context, subject privacy.SubjectID, reasons []string, e privacy.Event) error
	PublishPolicy(ctx context.Context, v privacy.PolicyVersion) error
	PolicyVersions(ctx context.Context) ([]privacy.PolicyVersion, error)
	SubjectRequests(ctx context.Context, subject privacy.SubjectID, since time.Time) ([]privacy.RightsRequest, error)
	Controllers(ctx context.Context) ([]privacy.Controller, error)
	// DeliverySummaries lists the deliveries to processors in a status
	// bucket, without the identity told.
	DeliverySummaries(ctx context.Context, status string) ([]privacy.Delivery, error)
}

// Operator runs the team's actions against the stack's store.
type Operator struct {
	Store Store
	// Hasher keys an address to its subject (holds, suppressions, a
	// client's termination, a corrected address, controllers' secrets).
	Hasher *privacy.Hasher
	// CredentialKey seals a processor's credentials.
	CredentialKey []byte
	Policy        privacy.PolicyInForce
	Fulfiller     *rights.Fulfiller
	// Client fetches a processor's discovery (opendsr.NewClient).
	Client *http.Client
	// AllowHTTP admits a processor's http:// URL (development only).
	AllowHTTP bool
	Now       func() time.Time
	NewID     func() string
	Log       *slog.Logger
	// AddressChangeWait is the desk's (rights.Desk).
	AddressChangeWait time.Duration
	// Company, Contact and Region name the controller, the team's address
	// and where data is stored, in the record of processing (ropa).
	Company, Contact, Region string
}

// action is one of the operator's actions: whether it needs an id, whether
// it changes anything (a viewer may take only those that do not), and how
// it runs.
type action struct {
	id      bool
	decides bool
	run     func(ctx context.Context, o *Operator, c Caller, r Request) (Result, error)
}

// actions is every action by name, as privacyctl names its commands.
func actions() map[string]action {
	return map[string]action{
		"list":                {run: list},
		"show":                {id: true, run: show},
		"approve":             {id: true, decides: true, run: approve},
		"enter":               {decides: true, run: enter},
		"deny":                {id: true, decides: true, run: deny},
		"extend":              {id: true, decides: true, run: extend},
		"ask":                 {id: true, decides: true, run: ask},
		"complete":            {id: true, decides: true, run: complete},
		"uphold":              {id: true, decides: true, run: uphold},
		"lift":                {id: true, decides: true, run: lift},
		"terminate-client":    {decides: true, run: terminateClient},
		"opendsr-controller":  {decides: true, run: issueController},
		"opendsr-retention":   {id: true, decides: true, run: controllerRetention},
		"opendsr-revoke":      {id: true, decides: true, run: revokeController},
		"opendsr-controllers": {run: controllerList},
		"processor add":       {decides: true, run: processorAdd},
		"processor list":      {run: processorList},
		"processor overdue":   {run: processorOverdue},
		"ropa":                {run: recordOfProcessing},
		"audit":               {run: teamAudit},
		"processor remove":    {id: true, decides: true, run: processorRemove},
		"hold add":            {decides: true, run: holdAdd},
		"hold lift":           {decides: true, run: holdLift},
		"hold list":           {run: holdList},
		"suppression show":    {run: suppressionShow},
		"person":              {run: person},
		"suppression lift":    {decides: true, run: suppressionLift},
		"policy publish":      {decides: true, run: policyPublish},
		"policy list":         {run: policyList},
		"campaign status":     {id: true, run: campaignStatus},
	}
}

// Actions returns the names of every action, sorted.
func Actions() []string {
	names := make([]string, 0, len(actions()))
	for n := range actions() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Do runs r for c.
func (o *Operator) Do(ctx context.Context, c Caller, r Request) (Result, error) {
	a, ok := actions()[r.Action]
	switch {
	case strings.TrimSpace(c.By) == "":
		return Result{}, fmt.Errorf("%w: no identity", ErrForbidden)
	case !ok:
		return Result{}, fmt.Errorf("%w: unknown action %q", ErrBadRequest, r.Action)
	case a.decides && !c.MayDecide:
		return Result{}, fmt.Errorf("%w: %s needs the privacy team's role; a viewer reads only", ErrForbidden, r.Action)
	case a.id && strings.TrimSpace(r.ID) == "":
		return Result{}, fmt.Errorf("%w: %s needs an id", ErrBadRequest, r.Action)
	}
	return a.run(ctx, o, c, r)
}

// desk is the rights desk, acting as c.
func (o *Operator) desk(c Caller) *rights.Desk {
	return &rights.Desk{Store: o.Store, Now: o.Now, NewID: o.NewID, By: c.By, Fulfiller: o.Fulfiller, Hasher: o.Hasher,
		AddressChangeWait: o.AddressChangeWait}
}

func (o *Operator) version(ctx context.Context) string { return o.Policy(ctx).Version }

// Row is a request as the queue lists it: no personal data (show has it).
type Row struct {
	privacy.RightsRequest
	Overdue bool `json:"overdue"`
}

func list(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	reqs, err := o.desk(c).List(ctx, r.Args.Status, r.Args.Overdue)
	if err != nil {
		return Result{}, err
	}
	return Result{Data: rowsOf(reqs, o.Now())}, nil
}

// rowsOf are requests as lists show them: without what they hold of the
// person.
func rowsOf(reqs []privacy.RightsRequest, now time.Time) []Row {
	rows := make([]Row, 0, len(reqs))
	for _, q := range reqs {
		q.Email, q.Name, q.Details, q.Question, q.Answer = "", "", "", "", ""
		q.ParentEmail, q.AgentEmail, q.RecipientEmail, q.Correction = "", "", "", privacy.Correction{}
		rows = append(rows, Row{q, rights.Overdue(q, now)})
	}
	return rows
}

// View is one request as the team sees it to decide: the request with
// what the requester gave, its ledger entries and the legal hold that
// withholds it.
type View struct {
	Request   privacy.RightsRequest `json:"request"`
	Overdue   bool                  `json:"overdue"`
	Ledger    []map[string]any      `json:"ledger"`
	LegalHold *HoldView             `json:"legal_hold,omitempty"`
	// Actions are the decisions the request's state allows.
	Actions []string `json:"actions"`
}

// HoldView is a legal hold as the team reads it.
type HoldView struct {
	Subject  privacy.SubjectID `json:"subject"`
	Reason   string            `json:"reason"`
	PlacedBy string            `json:"placed_by"`
	PlacedAt time.Time         `json:"placed_at"`
	Until    time.Time         `json:"until,omitzero"`
	InForce  bool              `json:"in_force"`
}

func holdView(h privacy.Hold, now time.Time) HoldView {
	return HoldView{Subject: h.Subject, Reason: h.Reason, PlacedBy: h.PlacedBy, PlacedAt: h.PlacedAt, Until: h.Until, InForce: h.InForce(now)}
}

// show is a view of a person's data: the ledger records who saw it.
func show(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	req, ledger, err := o.desk(c).Show(ctx, r.ID)
	if err != nil {
		return Result{}, err
	}
	v := View{Request: req, Overdue: rights.Overdue(req, o.Now()), Ledger: ledger}
	var restrictedBy []string
	if req.Subject != "" {
		if restrictedBy, err = o.Store.Restriction(ctx, req.Subject); err != nil {
			return Result{}, err
		}
	}
	v.Actions = rights.Actions(req, restrictedBy)
	if req.Subject != "" && req.Source == "" {
		// The team sees why an erasure was withheld (the requester is
		// told only that a legal obligation keeps the data).
		h, ok, err := o.Store.SubjectHold(ctx, req.Subject)
		if err != nil {
			return Result{}, err
		}
		if ok {
			hv := holdView(h, o.Now())
			v.LegalHold = &hv
		}
	}
	if err := o.viewed(ctx, c, req.Subject, "request_viewed", req.ID); err != nil {
		return Result{}, err
	}
	return Result{Data: v}, nil
}

// viewed records that c saw a person's data.
// teamEvent is the ledger entry of a team action on the system rather
// than on one person (a controller's credentials, a processor): kept in
// the team's own partition (privacy.TeamSubject), naming who took it, on
// what (ref) and why (the request's reason, when given).
func (o *Operator) teamEvent(ctx context.Context, c Caller, r Request, name, ref string, detail map[string]string) privacy.Event {
	d := map[string]string{"by": c.By, "reason": strings.TrimSpace(r.Args.Reason)}
	maps.Copy(d, detail)
	maps.DeleteFunc(d, func(_, v string) bool { return v == "" })
	return privacy.Event{Subject: privacy.TeamSubject, Name: name, At: o.Now().UTC(), Ref: ref,
		LegalBasis: privacy.BasisLegalObligation, PolicyVersion: o.version(ctx), Detail: d}
}

func (o *Operator) viewed(ctx context.Context, c Caller, subject privacy.SubjectID, name, ref string) error {
	if subject == "" {
		return nil
	}
	return o.Store.RecordEvent(ctx, privacy.Event{Subject: subject, Name: name, At: o.Now().UTC(), Ref: ref,
		LegalBasis: privacy.BasisLegalObligation, PolicyVersion: o.version(ctx), Detail: map[string]string{"by": c.By}})
}

func approve(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	status, err := o.desk(c).Approve(ctx, r.ID)
	return Result{Message: fmt.Sprintf("request %s approved: %s", r.ID, status)}, err
}

// Entered is what entering a request answers: its reference, where it
// stands and when it is due.
type Entered struct {
	ID     string    `json:"id"`
	Status string    `json:"status"`
	DueAt  time.Time `json:"due_at"`
}

func enter(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	a := r.Args
	received, err := time.Parse(time.DateOnly, a.Received)
	if err != nil {
		return Result{}, fmt.Errorf("%w: received must be the day it reached us, YYYY-MM-DD", ErrBadRequest)
	}
	req, err := o.desk(c).Enter(ctx, rights.Entry{Email: a.Email, Name: a.Name, Type: a.Type, Details: a.Details,
		Regulation: a.Regulation, Scope: a.Scope, Lang: a.Lang, Channel: a.Channel, Received: received, IdentityCheck: a.Identity})
	if errors.Is(err, rights.ErrEntry) {
		return Result{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if err != nil && req.ID == "" {
		return Result{}, err
	}
	next := "the person is sent the verification link"
	if a.Identity != "" {
		next = "identity checked: carried out as a verified request"
	}
	return Result{Message: fmt.Sprintf("request %s entered (%s, received %s, due %s): %s; %s", req.ID, req.Channel,
		a.Received, req.DueAt.Format(time.DateOnly), req.Status, next), Data: Entered{ID: req.ID, Status: req.Status, DueAt: req.DueAt}}, err
}

func deny(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	return Result{Message: fmt.Sprintf("request %s denied; the requester is emailed the reason", r.ID)},
		o.desk(c).Deny(ctx, r.ID, r.Args.Reason)
}

func extend(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	var until time.Time
	if r.Args.Until != "" {
		day, err := time.Parse(time.DateOnly, r.Args.Until)
		if err != nil {
			return Result{}, fmt.Errorf("%w: until must be YYYY-MM-DD", ErrBadRequest)
		}
		until = day.Add(24*time.Hour - time.Second) // the end of that day, UTC
	}
	until, err := o.desk(c).Extend(ctx, r.ID, r.Args.Reason, until)
	return Result{Message: fmt.Sprintf("request %s now due %s; the requester is emailed the reason", r.ID, until.Format(time.RFC3339))}, err
}

func ask(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	return Result{Message: fmt.Sprintf("request %s waits for the requester's answer; the question is emailed (the deadline stays)", r.ID)},
		o.desk(c).Ask(ctx, r.ID, r.Args.Question)
}

func complete(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	return Result{Message: fmt.Sprintf("request %s completed; the requester is told", r.ID)}, o.desk(c).Complete(ctx, r.ID, r.Args.Note)
}

func uphold(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	msg := fmt.Sprintf("objection %s upheld, the data kept restricted; the requester is told", r.ID)
	if r.Args.Erase {
		msg = fmt.Sprintf("objection %s upheld and the data erased; the requester is told", r.ID)
	}
	return Result{Message: msg}, o.desk(c).Uphold(ctx, r.ID, r.Args.Erase, r.Args.Note)
}

func lift(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	return Result{Message: fmt.Sprintf("restriction of request %s lifted; the requester is told", r.ID)}, o.desk(c).Lift(ctx, r.ID, r.Args.Reason)
}

// subject is the subject of an action's address.
func (o *Operator) subject(email string) (privacy.SubjectID, error) {
	email = privacy.NormalizeEmail(email)
	if !privacy.ValidEmail(email) {
		return "", fmt.Errorf("%w: email must be a valid address", ErrBadRequest)
	}
	return o.Hasher.Subject(email), nil
}

func notFound(what string, err error) error {
	if errors.Is(err, privacy.ErrNotFound) {
		return fmt.Errorf("no %s: %w", what, err)
	}
	return err
}

func terminateClient(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	now := o.Now()
	if r.Args.Controller != "" {
		if r.Args.Email != "" {
			return Result{}, fmt.Errorf("%w: email or controller, not both", ErrBadRequest)
		}
		e := o.teamEvent(ctx, c, r, "controller_terminated", r.Args.Controller, map[string]string{"reference": r.Args.Reference})
		if err := o.Store.TerminateController(ctx, r.Args.Controller, e); err != nil {
			return Result{}, notFound("controller "+r.Args.Controller, err)
		}
		return Result{Message: fmt.Sprintf("controller %s terminated and its credentials revoked; the retention sweep deletes every record it handed over after %s",
			r.Args.Controller, now.AddDate(0, 0, privacy.ControllerTerminationDays).Format("2 January 2006"))}, nil
	}
	subject, err := o.subject(r.Args.Email)
	if err != nil {
		return Result{}, err
	}
	n, err := o.Store.MarkClientTerminated(ctx, subject, privacy.Event{Subject: subject, Name: "client_termination_requested",
		At: now, Ref: r.Args.Reference, LegalBasis: privacy.BasisLegalObligation, PolicyVersion: o.version(ctx),
		Detail: map[string]string{"by": c.By}})
	if err != nil {
		return Result{}, err
	}
	return Result{Message: fmt.Sprintf("%d records marked; the retention sweep deletes them after %s", n,
		privacy.Retention().ClientTermination.From(now).Format("2 January 2006"))}, nil
}

// Credentials are a controller's OpenDSR credentials, shown once.
type Credentials struct {
	ControllerID string `json:"controller_id"`
	Secret       string `json:"secret"`
}

// issueController creates OpenDSR credentials: a random id and secret,
// stored as a keyed hash; the secret is answered once and never again.
func issueController(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	name := strings.TrimSpace(r.Args.Name)
	if name == "" {
		return Result{}, fmt.Errorf("%w: name is required", ErrBadRequest)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return Result{}, err
	}
	id, secret := o.NewID(), base64.RawURLEncoding.EncodeToString(b)
	e := o.teamEvent(ctx, c, r, "controller_issued", id, map[string]string{"name": name})
	if err := o.Store.PutController(ctx, privacy.Controller{ID: id, Name: name, SecretHash: processor.SecretHash(o.Hasher, secret)}, e); err != nil {
		return Result{}, err
	}
	return Result{Message: fmt.Sprintf("controller_id %s\nsecret %s", id, secret), Data: Credentials{ControllerID: id, Secret: secret}}, nil
}

// ControllerView is an OpenDSR controller as the team lists it (never its
// credential).
type ControllerView struct {
	ID            string    `json:"controller_id"`
	Name          string    `json:"name"`
	CreatedAt     time.Time `json:"created_at"`
	RetentionDays int       `json:"retention_days"`
	TerminatedAt  time.Time `json:"terminated_at,omitzero"`
}

func controllerList(ctx context.Context, o *Operator, _ Caller, _ Request) (Result, error) {
	cs, err := o.Store.Controllers(ctx)
	if err != nil {
		return Result{}, err
	}
	out := make([]ControllerView, 0, len(cs))
	for _, c := range cs {
		out = append(out, ControllerView{ID: c.ID, Name: c.Name, CreatedAt: c.CreatedAt, RetentionDays: c.RetentionDays, TerminatedAt: c.TerminatedAt})
	}
	return Result{Data: out}, nil
}

func controllerRetention(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	if r.Args.Days == nil || *r.Args.Days < 0 {
		return Result{}, fmt.Errorf("%w: opendsr-retention needs days (0 or more)", ErrBadRequest)
	}
	days := *r.Args.Days
	e := o.teamEvent(ctx, c, r, "controller_retention_set", r.ID, map[string]string{"days": strconv.Itoa(days)})
	if err := o.Store.SetControllerRetention(ctx, r.ID, days, e); err != nil {
		return Result{}, notFound("controller "+r.ID, err)
	}
	if days == 0 {
		return Result{Message: fmt.Sprintf("controller %s: records kept until it erases them (or 12 months after its termination)", r.ID)}, nil
	}
	return Result{Message: fmt.Sprintf("controller %s: records deleted by the sweep %d days after their last write", r.ID, days)}, nil
}

func revokeController(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	if err := o.Store.RevokeController(ctx, r.ID, o.teamEvent(ctx, c, r, "controller_revoked", r.ID, nil)); err != nil {
		return Result{}, notFound("controller "+r.ID, err)
	}
	return Result{Message: fmt.Sprintf("controller %s revoked", r.ID)}, nil
}

// ProcessorView is a registered processor, without its credentials.
type ProcessorView struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	URL            string   `json:"url"`
	IdentityFormat string   `json:"identity_format"`
	Types          []string `json:"types"`
	// Contact is the privacy contact address of a processor told by
	// email (URL empty).
	Contact string `json:"contact,omitempty"`
}

// teamAudit is the team's actions on the system (controllers, processors),
// each with who took it, when, on what and why, oldest first.
func teamAudit(ctx context.Context, o *Operator, _ Caller, _ Request) (Result, error) {
	entries, err := o.Store.SubjectLedger(ctx, privacy.TeamSubject)
	if err != nil {
		return Result{}, err
	}
	return Result{Data: entries}, nil
}

// recordOfProcessing is the Art. 30 record, built from the code's tables,
// the policy version in force and the processors registered.
func recordOfProcessing(ctx context.Context, o *Operator, _ Caller, _ Request) (Result, error) {
	procs, err := o.Store.Processors(ctx)
	if err != nil {
		return Result{}, err
	}
	rec, err := ropa.Build(o.Company, o.Contact, o.Region, o.Policy(ctx), procs, o.Now())
	if err != nil {
		return Result{}, err
	}
	return Result{Data: rec}, nil
}

func processorList(ctx context.Context, o *Operator, _ Caller, _ Request) (Result, error) {
	ps, err := o.Store.Processors(ctx)
	if err != nil {
		return Result{}, err
	}
	out := make([]ProcessorView, 0, len(ps))
	for _, p := range ps {
		out = append(out, ProcessorView{ID: p.ID, Name: p.Name, URL: p.URL, IdentityFormat: p.IdentityFormat, Types: p.Types, Contact: p.Contact})
	}
	return Result{Data: out}, nil
}

func processorRemove(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	if err := o.Store.RemoveProcessor(ctx, r.ID, o.teamEvent(ctx, c, r, "processor_removed", r.ID, nil)); err != nil {
		return Result{}, notFound("processor "+r.ID, err)
	}
	return Result{Message: fmt.Sprintf("processor %s removed", r.ID)}, nil
}

// processorAdd registers a processor the site's erasures are told to,
// once its signed discovery says how to name people to it.
func processorAdd(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	a := r.Args
	if a.Contact != "" || a.URL == "" {
		return processorAddByEmail(ctx, o, c, r)
	}
	u, err := url.Parse(a.URL)
	user, _, hasPass := strings.Cut(a.Credentials, ":")
	switch {
	case strings.TrimSpace(a.Name) == "":
		return Result{}, fmt.Errorf("%w: name is required", ErrBadRequest)
	case err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && o.AllowHTTP)):
		return Result{}, fmt.Errorf("%w: url must be the processor's https OpenDSR v2 base URL", ErrBadRequest)
	case !hasPass || user == "":
		return Result{}, fmt.Errorf("%w: credentials must be USER:PASSWORD", ErrBadRequest)
	case a.Certificate == "":
		return Result{}, fmt.Errorf("%w: certificate is required (the PEM of the processor's signing certificate)", ErrBadRequest)
	}
	var pub *rsa.PublicKey
	if pub, err = recipients.CertificateKey(a.Certificate); err != nil {
		return Result{}, fmt.Errorf("%w: certificate: %v", ErrBadRequest, err)
	}
	// Its discovery, signed with that certificate's key, says how to name
	// people to it and that it takes erasures.
	format, types, err := recipients.Discover(ctx, o.Client, a.URL, pub)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	id := o.NewID()
	sealed, err := recipients.Seal(o.CredentialKey, id, a.Credentials)
	if err != nil {
		return Result{}, err
	}
	p := privacy.Processor{ID: id, Name: strings.TrimSpace(a.Name), URL: strings.TrimRight(a.URL, "/"), Credentials: sealed,
		Certificate: a.Certificate, IdentityFormat: format, Types: types}
	e := o.teamEvent(ctx, c, r, "processor_added", id, map[string]string{"name": p.Name, "url": p.URL, "identity_format": format})
	if err := o.Store.PutProcessor(ctx, p, e); err != nil {
		return Result{}, err
	}
	return Result{Message: fmt.Sprintf("processor %s registered: told of every %s, naming the person by %s", id, strings.Join(types, ", "), format),
		Data: ProcessorView{ID: id, Name: p.Name, URL: p.URL, IdentityFormat: format, Types: types}}, nil
}

// RecipientView is a processor's delivery of a request the team is to
// follow up: one that failed, or told by email and not confirmed within
// privacy.ConfirmWithin.
type RecipientView struct {
	RequestID string    `json:"request_id"`
	Processor string    `json:"processor"`
	State     string    `json:"state"`
	Why       string    `json:"why"`
	Since     time.Time `json:"since"`
}

// processorOverdue lists the deliveries the team is to follow up (the
// deadline digest's failed bucket), oldest first.
func processorOverdue(ctx context.Context, o *Operator, _ Caller, _ Request) (Result, error) {
	ds, err := o.Store.DeliverySummaries(ctx, privacy.DeliveryFailed)
	if err != nil {
		return Result{}, err
	}
	out := make([]RecipientView, 0, len(ds))
	for _, d := range ds {
		out = append(out, RecipientView{RequestID: d.RequestID, Processor: d.ProcessorName, State: d.State, Why: d.LastError, Since: d.SubmittedAt})
	}
	slices.SortFunc(out, func(a, b RecipientView) int { return a.Since.Compare(b.Since) })
	return Result{Data: out}, nil
}

// processorAddByEmail registers a processor without an API by its
// privacy contact address: it is emailed every erasure, rectification
// and restriction (recipients.EmailTypes) with a link to confirm each
// done. The ledger names who registered it and why, and the contact's
// domain, never the address.
func processorAddByEmail(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	a := r.Args
	contact := privacy.NormalizeEmail(a.Contact)
	switch {
	case strings.TrimSpace(a.Name) == "":
		return Result{}, fmt.Errorf("%w: name is required", ErrBadRequest)
	case a.URL != "" || a.Credentials != "" || a.Certificate != "":
		return Result{}, fmt.Errorf("%w: a processor has either an OpenDSR url (with credentials and certificate) or a contact address, not both", ErrBadRequest)
	case !privacy.ValidEmail(contact):
		return Result{}, fmt.Errorf("%w: contact must be the processor's privacy contact address (or give its OpenDSR -url)", ErrBadRequest)
	}
	id := o.NewID()
	p := privacy.Processor{ID: id, Name: strings.TrimSpace(a.Name), Contact: contact, IdentityFormat: "raw", Types: recipients.EmailTypes()}
	_, domain, _ := strings.Cut(contact, "@")
	e := o.teamEvent(ctx, c, r, "processor_added", id, map[string]string{"name": p.Name, "by": "email", "contact_domain": domain})
	if err := o.Store.PutProcessor(ctx, p, e); err != nil {
		return Result{}, err
	}
	return Result{Message: fmt.Sprintf("processor %s registered: emailed every %s, with a link to confirm each done", id, strings.Join(p.Types, ", ")),
		Data: ProcessorView{ID: id, Name: p.Name, IdentityFormat: p.IdentityFormat, Types: p.Types, Contact: contact}}, nil
}

func holdList(ctx context.Context, o *Operator, _ Caller, _ Request) (Result, error) {
	hs, err := o.Store.Holds(ctx)
	if err != nil {
		return Result{}, err
	}
	now := o.Now()
	out := make([]HoldView, 0, len(hs))
	for _, h := range hs {
		out = append(out, holdView(h, now))
	}
	return Result{Data: out}, nil
}

// heldSubject is the subject of a hold action's address, with the ledger
// entry of what is done to its hold.
func (o *Operator) heldSubject(ctx context.Context, c Caller, r Request, name string) (privacy.SubjectID, privacy.Event, error) {
	if strings.TrimSpace(r.Args.Reason) == "" {
		return "", privacy.Event{}, fmt.Errorf("%w: the hold actions need an email and a reason", ErrBadRequest)
	}
	subject, err := o.subject(r.Args.Email)
	if err != nil {
		return "", privacy.Event{}, err
	}
	return subject, privacy.Event{Subject: subject, Name: name, At: o.Now().UTC(), LegalBasis: privacy.BasisLegalObligation,
		PolicyVersion: o.version(ctx), Detail: map[string]string{"by": c.By}}, nil
}

func holdAdd(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	subject, e, err := o.heldSubject(ctx, c, r, "legal_hold_placed")
	if err != nil {
		return Result{}, err
	}
	hold := privacy.Hold{Subject: subject, Reason: strings.TrimSpace(r.Args.Reason), PlacedBy: c.By, PlacedAt: e.At}
	if r.Args.Until != "" {
		d, err := time.Parse(time.DateOnly, r.Args.Until)
		if err != nil || !d.After(e.At) {
			return Result{}, fmt.Errorf("%w: until must be a future date, YYYY-MM-DD", ErrBadRequest)
		}
		hold.Until = d
	}
	if err := o.Store.PlaceHold(ctx, hold, e); err != nil {
		return Result{}, err
	}
	return Result{Message: "legal hold placed: erasures of that address are withheld and the sweep keeps its data"}, nil
}

func holdLift(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	subject, e, err := o.heldSubject(ctx, c, r, "legal_hold_lifted")
	if err != nil {
		return Result{}, err
	}
	if err := o.Store.LiftHold(ctx, subject, e); err != nil {
		return Result{}, notFound("legal hold on that address", err)
	}
	return Result{Message: "legal hold lifted; erasures and the retention sweep apply again"}, nil
}

// SuppressionView is one reason marketing to an address is held back.
type SuppressionView struct {
	Reason   string    `json:"reason"`
	Since    time.Time `json:"since"`
	LiftedAt time.Time `json:"lifted_at,omitzero"`
	InForce  bool      `json:"in_force"`
}

func suppressionViews(recs []privacy.Suppression) []SuppressionView {
	out := make([]SuppressionView, 0, len(recs))
	for _, s := range recs {
		out = append(out, SuppressionView{Reason: s.Reason, Since: s.Since, LiftedAt: s.LiftedAt, InForce: s.InForce()})
	}
	return out
}

// suppressionShow is a view of a person's data: the ledger records it.
func suppressionShow(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	subject, err := o.subject(r.Args.Email)
	if err != nil {
		return Result{}, err
	}
	recs, err := o.Store.SuppressionRecords(ctx, subject)
	if err != nil {
		return Result{}, err
	}
	out := suppressionViews(recs)
	if len(out) > 0 {
		if err := o.viewed(ctx, c, subject, "suppressions_viewed", "privacy-team"); err != nil {
			return Result{}, err
		}
	}
	return Result{Data: out}, nil
}

// Person is what the team finds of one address: the reasons marketing to
// it is held back, the legal hold on it, and its rights requests (without
// what they hold of the person: a request's own page has that).
type Person struct {
	Subject      privacy.SubjectID `json:"subject"`
	Suppressions []SuppressionView `json:"suppressions"`
	Hold         *HoldView         `json:"legal_hold,omitempty"`
	Requests     []Row             `json:"requests"`
}

// person looks an address up by its subject hash (the address itself is
// neither stored nor logged); finding anything is a view of the person's
// data, and the ledger records it.
func person(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	subject, err := o.subject(r.Args.Email)
	if err != nil {
		return Result{}, err
	}
	p := Person{Subject: subject}
	recs, err := o.Store.SuppressionRecords(ctx, subject)
	if err != nil {
		return Result{}, err
	}
	p.Suppressions = suppressionViews(recs)
	h, ok, err := o.Store.SubjectHold(ctx, subject)
	if err != nil {
		return Result{}, err
	}
	if ok {
		hv := holdView(h, o.Now())
		p.Hold = &hv
	}
	reqs, err := o.Store.SubjectRequests(ctx, subject, time.Time{})
	if err != nil {
		return Result{}, err
	}
	p.Requests = rowsOf(reqs, o.Now())
	if len(p.Suppressions) > 0 || p.Hold != nil || len(p.Requests) > 0 {
		if err := o.viewed(ctx, c, subject, "person_viewed", "privacy-team"); err != nil {
			return Result{}, err
		}
	}
	return Result{Data: p}, nil
}

func suppressionLift(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	if strings.TrimSpace(r.Args.Reason) == "" {
		return Result{}, fmt.Errorf("%w: suppression lift needs a reason", ErrBadRequest)
	}
	subject, err := o.subject(r.Args.Email)
	if err != nil {
		return Result{}, err
	}
	inForce, err := o.Store.Suppressions(ctx, subject)
	if err != nil {
		return Result{}, err
	}
	lift := inForce
	if len(r.Args.Only) > 0 {
		lift = nil
		for _, reason := range r.Args.Only {
			if !slices.Contains(inForce, reason) {
				return Result{}, fmt.Errorf("%w: %q is not a reason in force for that address (in force: %s)", ErrBadRequest, reason,
					strings.Join(inForce, ", "))
			}
			lift = append(lift, reason)
		}
	}
	if len(lift) == 0 {
		return Result{Message: "nothing to lift: no suppression in force"}, nil
	}
	e := privacy.Event{Subject: subject, Name: "suppression_lifted", At: o.Now().UTC(), Ref: "privacy-team",
		Purpose: privacy.PurposeMarketing, LegalBasis: o.Policy(ctx).Basis(privacy.PurposeMarketing), PolicyVersion: o.version(ctx),
		Detail: map[string]string{"reasons": strings.Join(lift, ","), "by": c.By, "reason": strings.TrimSpace(r.Args.Reason)}}
	if err := o.Store.LiftSuppressions(ctx, subject, lift, e); err != nil {
		return Result{}, err
	}
	return Result{Message: "lifted: " + strings.Join(lift, ", ")}, nil
}

// policyPublish records a policy version; the notices function makes its
// notices due (each person once, at the configured rate).
func policyPublish(ctx context.Context, o *Operator, c Caller, r Request) (Result, error) {
	day, err := time.Parse(time.DateOnly, r.Args.Effective)
	if err != nil {
		return Result{}, fmt.Errorf("%w: effective must be a day, YYYY-MM-DD", ErrBadRequest)
	}
	// A version states every basis: those it does not name stay as the
	// version in force states them.
	inForce := o.Policy(ctx)
	bases := inForce.Bases.Complete()
	for p, b := range r.Args.Bases {
		bases[p] = b
	}
	v, err := policy.Publish(privacy.PolicyVersion{Version: r.Args.Version, Effective: day, Summary: r.Args.Summary,
		Material: r.Args.Material, NewPurposes: r.Args.NewPurposes, Bases: bases, PublishedAt: o.Now().UTC(), PublishedBy: c.By},
		inForce)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if err := o.Store.PublishPolicy(ctx, v); errors.Is(err, privacy.ErrExists) {
		return Result{}, fmt.Errorf("version %s was published before; a published version is never changed: publish a new one: %w", v.Version, err)
	} else if err != nil {
		return Result{}, err
	}
	return Result{Message: fmt.Sprintf("policy %s published, in force from %s; notices: %s", v.Version, v.LastUpdated(), v.Notices.State)}, nil
}

// Policies are the published versions and the one in force.
type Policies struct {
	InForce string `json:"in_force"`
	// Bases are those the version in force states.
	Bases    privacy.Bases           `json:"bases"`
	Versions []privacy.PolicyVersion `json:"versions"`
}

func policyList(ctx context.Context, o *Operator, _ Caller, _ Request) (Result, error) {
	vs, err := o.Store.PolicyVersions(ctx)
	if err != nil {
		return Result{}, err
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].PublishedAt.Before(vs[j].PublishedAt) })
	in := o.Policy(ctx)
	return Result{Data: Policies{InForce: in.Version, Bases: in.Bases.Complete(), Versions: vs}}, nil
}

func campaignStatus(ctx context.Context, o *Operator, _ Caller, r Request) (Result, error) {
	st, found, err := campaign.ReadStatus(ctx, o.Store, r.ID)
	if err != nil {
		return Result{}, err
	}
	if !found {
		return Result{}, fmt.Errorf("no campaign %q: %w", r.ID, privacy.ErrNotFound)
	}
	return Result{Data: st}, nil
}
