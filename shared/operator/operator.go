// Package operator is the privacy team's desk: every action the team takes
// (list and show requests, decide them, legal holds, suppressions,
// controllers' credentials, processors, policy versions, campaign status,
// the report and the audit), each a method run on behalf of an
// authenticated caller whom each decision's ledger entry names. Its HTTP
// adapter (http.go) serves privacyctl (an IAM-authorised route) and holds
// the only name → method table; the console calls the methods for
// signed-in team members. The team's own credentials reach no table and no
// secret.
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
	"github.com/privacykeeper/privacykeeper/shared/deadlines"
	"github.com/privacykeeper/privacykeeper/shared/policy"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/processor"
	"github.com/privacykeeper/privacykeeper/shared/recipients"
	"github.com/privacykeeper/privacykeeper/shared/rights"
	"github.com/privacykeeper/privacykeeper/shared/ropa"
)

// Caller is who asks: the identity the ledger names (an IAM ARN, or a
// signed-in team member), and whether they may decide or only read.
type Caller struct {
	By        string
	MayDecide bool
}

// Member is the team member an identity names, for the rule that two
// members decide (a lift of a complaint or an objection): the identity
// itself, but for an assumed role's session
// (arn:aws:sts::<account>:assumed-role/<role>/<session>) the role, since
// whoever assumes it picks the session name (AWS STS AssumeRole:
// RoleSessionName "is also used in the ARN of the assumed role
// principal"). Two people sharing one role are one member here: the
// second must come through another role, an IAM user or the console
// (docs/operations.md).
func Member(by string) string {
	const assumed = ":assumed-role/"
	i := strings.Index(by, assumed)
	if !strings.HasPrefix(by, "arn:") || i < 0 {
		return by
	}
	role, _, _ := strings.Cut(by[i+len(assumed):], "/")
	return by[:i+len(assumed)] + role
}

// secondMember is nil when c may approve what asker asked: another member
// (Member), and one whose identity names one person. A federated user's
// name (arn:aws:sts::<account>:federated-user/<name>) is chosen by the IAM
// user who mints it (sts:GetFederationToken), and nothing in it says which
// user that was: one user could be any number of members, so such a
// caller approves nothing (review 10).
func secondMember(asker string, c Caller, what string) error {
	if strings.Contains(c.By, ":federated-user/") {
		return fmt.Errorf("%w: a federated user's name does not say who it is; approve %s as your IAM user, role or console session", ErrForbidden, what)
	}
	if Member(asker) == Member(c.By) {
		return fmt.Errorf("%w: you asked for %s; another team member must approve it", ErrForbidden, what)
	}
	return nil
}

// reads is nil when c may read: every caller with an identity.
func (c Caller) reads() error {
	if strings.TrimSpace(c.By) == "" {
		return fmt.Errorf("%w: no identity", ErrForbidden)
	}
	return nil
}

// decides is nil when c may take action, a decision of the team's.
func (c Caller) decides(action string) error {
	if err := c.reads(); err != nil {
		return err
	}
	if !c.MayDecide {
		return fmt.Errorf("%w: %s needs the privacy team's role; a viewer reads only", ErrForbidden, action)
	}
	return nil
}

// needID is nil when id names something.
func needID(action, id string) error {
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("%w: %s needs an id", ErrBadRequest, action)
	}
	return nil
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
	// The actions on one person's data write the person's entry e and the
	// team's (more) in the same write.
	PlaceHold(ctx context.Context, h privacy.Hold, e privacy.Event, more ...privacy.Event) error
	LiftHold(ctx context.Context, subject privacy.SubjectID, e privacy.Event, more ...privacy.Event) error
	MarkClientTerminated(ctx context.Context, subject privacy.SubjectID, e privacy.Event) (int, error)
	// The actions on controllers and processors write e, who took them,
	// to the ledger in the same write.
	PutController(ctx context.Context, c privacy.Controller, e privacy.Event) error
	SetControllerRetention(ctx context.Context, id string, days int, e privacy.Event) error
	SetControllerRegion(ctx context.Context, id string, r privacy.Region, e privacy.Event) error
	TerminateController(ctx context.Context, id string, e privacy.Event) error
	RevokeController(ctx context.Context, id string, e privacy.Event) error
	Processors(ctx context.Context) ([]privacy.Processor, error)
	RemoveProcessor(ctx context.Context, id string, e privacy.Event) error
	// A processor's registration and a change of its contact address are
	// asked by one member and carried out by another's approval.
	AskProcessor(ctx context.Context, a privacy.ProcessorAsk, e privacy.Event) error
	ProcessorAsks(ctx context.Context) ([]privacy.ProcessorAsk, error)
	ApproveProcessorAsk(ctx context.Context, a privacy.ProcessorAsk, es ...privacy.Event) error
	Suppressions(ctx context.Context, subject privacy.SubjectID) ([]string, error)
	SuppressionRecords(ctx context.Context, subject privacy.SubjectID) ([]privacy.Suppression, error)
	TeamLift(ctx context.Context, subject privacy.SubjectID, reasons []string, ask *privacy.LiftAsk, es ...privacy.Event) error
	AskLift(ctx context.Context, a privacy.LiftAsk, es ...privacy.Event) error
	LiftAsk(ctx context.Context, subject privacy.SubjectID) (privacy.LiftAsk, bool, error)
	PublishPolicy(ctx context.Context, v privacy.PolicyVersion, es ...privacy.Event) error
	PolicyVersions(ctx context.Context) ([]privacy.PolicyVersion, error)
	SubjectRequests(ctx context.Context, subject privacy.SubjectID, since time.Time) ([]privacy.RightsRequest, error)
	Controllers(ctx context.Context) ([]privacy.Controller, error)
	// DeliverySummaries lists the deliveries to processors in a status
	// bucket, without the identity told.
	DeliverySummaries(ctx context.Context, status string) ([]privacy.Delivery, error)
	LedgerBetween(ctx context.Context, subject privacy.SubjectID, from, to time.Time) ([]privacy.Event, error)
}

// PlatformRequests reads the Platform's requests (the controllers' OpenDSR
// requests, PlatformRequestsTable) as the team's board shows them: those
// in a status due at or before until (any time when zero), summarised
// (id, type, status, times, controller), never their identities.
type PlatformRequests interface {
	DueRequests(ctx context.Context, status privacy.Status, until time.Time) ([]privacy.RightsRequest, error)
}

// Operator runs the team's actions against the stack's store.
type Operator struct {
	Store Store
	// Platform lists the Platform's open requests on the team's board,
	// read-only: the processor worker fulfils them and the controller
	// cancels them; the desk acts on the site's alone. Nil lists none.
	Platform PlatformRequests
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
	// PlatformRegion is the Platform region this stack serves: controllers
	// are registered with the stack of their region.
	PlatformRegion privacy.Region
}

// desk is the rights desk, acting as c.
func (o *Operator) desk(c Caller) *rights.Desk {
	return &rights.Desk{Store: o.Store, Now: o.Now, NewID: o.NewID, By: c.By, Fulfiller: o.Fulfiller, Hasher: o.Hasher,
		AddressChangeWait: o.AddressChangeWait}
}

func (o *Operator) version(ctx context.Context) string { return o.Policy(ctx).Version }

// Row is a request as the queue lists it: no personal data (show has it).
// Platform marks a controller's OpenDSR request (its controller in
// Controller): listed for its deadline, not the desk's to show or decide.
type Row struct {
	privacy.RightsRequest
	Overdue  bool `json:"overdue"`
	Platform bool `json:"platform,omitempty"`
}

// Filter is which requests List lists: those in the statuses (the open
// ones when none), and only the overdue ones.
type Filter struct {
	Status  []privacy.Status
	Overdue bool
}

// List lists the requests f keeps, by due date. When the Platform's
// requests cannot be read it returns the site's rows with
// ErrPlatformUnread (wrapped): the site's deadlines stay on the board.
func (o *Operator) List(ctx context.Context, c Caller, f Filter) ([]Row, error) {
	if err := c.reads(); err != nil {
		return nil, err
	}
	reqs, err := o.desk(c).List(ctx, f.Status, f.Overdue)
	if err != nil {
		return nil, err
	}
	now := o.Now()
	rows := rowsOf(reqs, now)
	platform, err := o.platformRows(ctx, f, now)
	if err != nil {
		o.Log.ErrorContext(ctx, "the board lists the site's requests alone", "error", err.Error())
		return rows, fmt.Errorf("%w (%v)", ErrPlatformUnread, err)
	}
	if len(platform) == 0 {
		return rows, nil
	}
	rows = append(rows, platform...)
	slices.SortStableFunc(rows, func(a, b Row) int { return a.DueAt.Compare(b.DueAt) })
	return rows, nil
}

// ErrPlatformUnread is what List returns, wrapped, beside the site's rows
// when the Platform's requests could not be read: the board shows the
// site's deadlines and says the Platform's are missing, as the digest does.
var ErrPlatformUnread = errors.New("the Platform's requests could not be read: only the site's are listed")

// platformRows are the Platform's open requests f keeps, marked as the
// Platform's. Only open ones: the board is for deadlines, and a closed
// Platform request is the controller's to read through OpenDSR.
func (o *Operator) platformRows(ctx context.Context, f Filter, now time.Time) ([]Row, error) {
	if o.Platform == nil {
		return nil, nil
	}
	statuses := f.Status
	if len(statuses) == 0 {
		statuses = privacy.OpenStatuses()
	}
	// As the digest: those due within deadlines.Soon (overdue among
	// them), not every open one: a controller files up to its hourly
	// allowance, and its requests are the worker's until they near their
	// date. At most MaxPlatformRows, the earliest due (a page stays
	// within what a Lambda may answer whatever a controller files).
	until := now.Add(deadlines.Soon)
	if f.Overdue {
		until = now
	}
	var rows []Row
	for _, st := range statuses {
		if !st.Open() {
			continue
		}
		rs, err := o.Platform.DueRequests(ctx, st, until)
		if err != nil {
			return nil, fmt.Errorf("the Platform's requests: %w", err)
		}
		for _, r := range rs {
			late := privacy.Overdue(r, now)
			if f.Overdue && !late {
				continue
			}
			// Only what the summary holds: no identity, no callback.
			q := privacy.RightsRequest{ID: r.ID, Type: r.Type, Status: r.Status, DueAt: r.DueAt, ReceivedAt: r.ReceivedAt,
				Controller: r.Controller, Source: privacy.SourceOpenDSR}
			rows = append(rows, Row{RightsRequest: q, Overdue: late, Platform: true})
		}
	}
	if len(rows) > MaxPlatformRows {
		slices.SortStableFunc(rows, func(a, b Row) int { return a.DueAt.Compare(b.DueAt) })
		o.Log.WarnContext(ctx, "the Platform's requests due soon exceed the board's rows", "due_soon", len(rows), "shown", MaxPlatformRows)
		rows = rows[:MaxPlatformRows]
	}
	return rows, nil
}

// MaxPlatformRows is how many of the Platform's requests the board lists
// at most, the earliest due first.
const MaxPlatformRows = 500

// rowsOf are requests as lists show them: without what they hold of the
// person.
func rowsOf(reqs []privacy.RightsRequest, now time.Time) []Row {
	rows := make([]Row, 0, len(reqs))
	for _, q := range reqs {
		q.Email, q.Name, q.Details, q.Question, q.Answer = "", "", "", "", ""
		q.ParentEmail, q.AgentEmail, q.RecipientEmail, q.Correction = "", "", "", privacy.Correction{}
		rows = append(rows, Row{RightsRequest: q, Overdue: privacy.Overdue(q, now)})
	}
	return rows
}

// View is one request as the team sees it to decide: the request with
// what the requester gave, its ledger entries and the legal hold that
// withholds it.
type View struct {
	Request   privacy.RightsRequest `json:"request"`
	Overdue   bool                  `json:"overdue"`
	Ledger    []privacy.Event       `json:"ledger"`
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

// Show is one request as the team sees it to decide; it is a view of a
// person's data, and the ledger records who saw it.
func (o *Operator) Show(ctx context.Context, c Caller, id string) (View, error) {
	if err := c.reads(); err != nil {
		return View{}, err
	}
	if err := needID("show", id); err != nil {
		return View{}, err
	}
	req, ledger, err := o.desk(c).Show(ctx, id)
	if err != nil {
		return View{}, err
	}
	v := View{Request: req, Overdue: privacy.Overdue(req, o.Now()), Ledger: ledger}
	var restrictedBy []string
	if req.Subject != "" {
		if restrictedBy, err = o.Store.Restriction(ctx, req.Subject); err != nil {
			return View{}, err
		}
	}
	v.Actions = rights.Actions(req, restrictedBy)
	if req.Subject != "" && req.Source == "" {
		// The team sees why an erasure was withheld (the requester is
		// told only that a legal obligation keeps the data).
		h, ok, err := o.Store.SubjectHold(ctx, req.Subject)
		if err != nil {
			return View{}, err
		}
		if ok {
			hv := holdView(h, o.Now())
			v.LegalHold = &hv
		}
	}
	if err := o.viewed(ctx, c, req.Subject, "request_viewed", req.ID); err != nil {
		return View{}, err
	}
	return v, nil
}

// teamEvent is the ledger entry of a team action: kept in the team's own
// partition (privacy.TeamSubject), naming who took it, on what (ref) and
// why. An action on one person (a hold, a suppression's lift) has its
// entry in the person's partition too; the team's names the person only
// by the subject hash.
func (o *Operator) teamEvent(ctx context.Context, c Caller, name privacy.EventName, ref, reason string, detail map[string]string) privacy.Event {
	d := map[string]string{"by": c.By, "reason": strings.TrimSpace(reason)}
	maps.Copy(d, detail)
	maps.DeleteFunc(d, func(_, v string) bool { return v == "" })
	return privacy.Event{Subject: privacy.TeamSubject, Name: name, At: o.Now().UTC(), Ref: ref,
		LegalBasis: privacy.BasisLegalObligation, PolicyVersion: o.version(ctx), Detail: d}
}

// viewed records that c saw a person's data.
func (o *Operator) viewed(ctx context.Context, c Caller, subject privacy.SubjectID, name privacy.EventName, ref string) error {
	if subject == "" {
		return nil
	}
	return o.Store.RecordEvent(ctx, privacy.Event{Subject: subject, Name: name, At: o.Now().UTC(), Ref: ref,
		LegalBasis: privacy.BasisLegalObligation, PolicyVersion: o.version(ctx), Detail: map[string]string{"by": c.By}})
}

// Approve fulfils a verified request held for review, or applies a
// rectification's correction; it answers the request's new status.
func (o *Operator) Approve(ctx context.Context, c Caller, id string) (privacy.Status, error) {
	if err := decision(c, "approve", id); err != nil {
		return "", err
	}
	return o.desk(c).Approve(ctx, id)
}

// decision is nil when c may decide request id.
func decision(c Caller, action, id string) error {
	if err := c.decides(action); err != nil {
		return err
	}
	return needID(action, id)
}

// Entered is what entering a request answers: its reference, where it
// stands and when it is due.
type Entered struct {
	ID     string         `json:"id"`
	Status privacy.Status `json:"status"`
	DueAt  time.Time      `json:"due_at"`
}

// Enter enters a request that reached the team by email, phone, post or
// in person. A request entered whose verification email could not be
// made due is answered with its reference and the error.
func (o *Operator) Enter(ctx context.Context, c Caller, e rights.Entry) (Entered, error) {
	if err := c.decides("enter"); err != nil {
		return Entered{}, err
	}
	req, err := o.desk(c).Enter(ctx, e)
	if errors.Is(err, rights.ErrEntry) {
		return Entered{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if err != nil && req.ID == "" {
		return Entered{}, err
	}
	return Entered{ID: req.ID, Status: req.Status, DueAt: req.DueAt}, err
}

// Deny refuses request id; the requester is emailed the reason.
func (o *Operator) Deny(ctx context.Context, c Caller, id, reason string) error {
	if err := decision(c, "deny", id); err != nil {
		return err
	}
	return o.desk(c).Deny(ctx, id, reason)
}

// Extend extends request id's deadline to the end of the day until (the
// furthest allowed when zero) and answers the new deadline.
func (o *Operator) Extend(ctx context.Context, c Caller, id, reason string, until time.Time) (time.Time, error) {
	if err := decision(c, "extend", id); err != nil {
		return time.Time{}, err
	}
	if !until.IsZero() {
		until = until.Add(24*time.Hour - time.Second) // the end of that day, UTC
	}
	return o.desk(c).Extend(ctx, id, reason, until)
}

// Ask asks the requester of id for what is needed to answer it.
func (o *Operator) Ask(ctx context.Context, c Caller, id, question string) error {
	if err := decision(c, "ask", id); err != nil {
		return err
	}
	return o.desk(c).Ask(ctx, id, question)
}

// Complete closes a rectification the team carried out.
func (o *Operator) Complete(ctx context.Context, c Caller, id, note string) error {
	if err := decision(c, "complete", id); err != nil {
		return err
	}
	return o.desk(c).Complete(ctx, id, note)
}

// Uphold upholds objection id (and erases the person's data with erase).
func (o *Operator) Uphold(ctx context.Context, c Caller, id string, erase bool, note string) error {
	if err := decision(c, "uphold", id); err != nil {
		return err
	}
	return o.desk(c).Uphold(ctx, id, erase, note)
}

// Lift lifts the restriction of processing request id made.
func (o *Operator) Lift(ctx context.Context, c Caller, id, reason string) error {
	if err := decision(c, "lift", id); err != nil {
		return err
	}
	return o.desk(c).Lift(ctx, id, reason)
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

// Termination is a client's termination: by its address (Email, with the
// written request's Reference), or an OpenDSR controller's (Controller).
type Termination struct {
	Email, Reference, Controller string
	Reason                       string
}

// Terminated is what a termination did: the records marked, and the day
// after which the sweep deletes them.
type Terminated struct {
	Records     int
	DeleteAfter time.Time
}

// TerminateClient starts the 12-month deletion clock of a terminated
// client, or revokes an OpenDSR controller's credentials and starts it for
// everything it handed over.
func (o *Operator) TerminateClient(ctx context.Context, c Caller, t Termination) (Terminated, error) {
	if err := c.decides("terminate-client"); err != nil {
		return Terminated{}, err
	}
	now := o.Now()
	if t.Controller != "" {
		if t.Email != "" {
			return Terminated{}, fmt.Errorf("%w: email or controller, not both", ErrBadRequest)
		}
		e := o.teamEvent(ctx, c, "controller_terminated", t.Controller, t.Reason, map[string]string{"reference": t.Reference})
		if err := o.Store.TerminateController(ctx, t.Controller, e); err != nil {
			return Terminated{}, notFound("controller "+t.Controller, err)
		}
		return Terminated{DeleteAfter: now.AddDate(0, 0, privacy.ControllerTerminationDays)}, nil
	}
	subject, err := o.subject(t.Email)
	if err != nil {
		return Terminated{}, err
	}
	n, err := o.Store.MarkClientTerminated(ctx, subject, privacy.Event{Subject: subject, Name: "client_termination_requested",
		At: now, Ref: t.Reference, LegalBasis: privacy.BasisLegalObligation, PolicyVersion: o.version(ctx),
		Detail: map[string]string{"by": c.By}})
	if err != nil {
		return Terminated{}, err
	}
	return Terminated{Records: n, DeleteAfter: privacy.Retention().ClientTermination.From(now)}, nil
}

// Credentials are a controller's OpenDSR credentials, shown once.
type Credentials struct {
	ControllerID string `json:"controller_id"`
	Secret       string `json:"secret"`
}

// IssueController creates OpenDSR credentials for a controller whose
// data is kept in region: a random id naming the region
// (privacy.ControllerID) and a secret, stored as a keyed hash; the secret
// is answered once and never again. Only the stack of that region
// registers it: its tables are where the controller's data will be.
func (o *Operator) IssueController(ctx context.Context, c Caller, name, region, reason string) (Credentials, error) {
	if err := c.decides("opendsr-controller"); err != nil {
		return Credentials{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return Credentials{}, fmt.Errorf("%w: name is required", ErrBadRequest)
	}
	r, err := o.ownRegion(region)
	if err != nil {
		return Credentials{}, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return Credentials{}, err
	}
	id, secret := privacy.ControllerID(r, o.NewID()), base64.RawURLEncoding.EncodeToString(b)
	e := o.teamEvent(ctx, c, "controller_issued", id, reason, map[string]string{"name": name, "region": string(r)})
	if err := o.Store.PutController(ctx, privacy.Controller{ID: id, Name: name, SecretHash: processor.SecretHash(o.Hasher, secret), Region: r}, e); err != nil {
		return Credentials{}, err
	}
	return Credentials{ControllerID: id, Secret: secret}, nil
}

// ControllerView is an OpenDSR controller as the team lists it (never its
// credential).
type ControllerView struct {
	ID            string    `json:"controller_id"`
	Name          string    `json:"name"`
	CreatedAt     time.Time `json:"created_at"`
	RetentionDays int       `json:"retention_days"`
	TerminatedAt  time.Time `json:"terminated_at,omitzero"`
	// Region is where its data is kept; "" until the team records it for
	// a controller registered before regions.
	Region string `json:"region"`
}

// Controllers lists the OpenDSR controllers.
func (o *Operator) Controllers(ctx context.Context, c Caller) ([]ControllerView, error) {
	if err := c.reads(); err != nil {
		return nil, err
	}
	cs, err := o.Store.Controllers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ControllerView, 0, len(cs))
	for _, c := range cs {
		out = append(out, ControllerView{ID: c.ID, Name: c.Name, CreatedAt: c.CreatedAt, RetentionDays: c.RetentionDays, TerminatedAt: c.TerminatedAt,
			Region: string(c.Region)})
	}
	return out, nil
}

// SetControllerRetention keeps controller id's records days after their
// last write (0: until it erases them).
func (o *Operator) SetControllerRetention(ctx context.Context, c Caller, id string, days int, reason string) error {
	if err := decision(c, "opendsr-retention", id); err != nil {
		return err
	}
	if days < 0 {
		return fmt.Errorf("%w: opendsr-retention needs days (0 or more)", ErrBadRequest)
	}
	e := o.teamEvent(ctx, c, "controller_retention_set", id, reason, map[string]string{"days": strconv.Itoa(days)})
	return notFound("controller "+id, o.Store.SetControllerRetention(ctx, id, days, e))
}

// regionArg is a region as the team gives it.
func regionArg(region string) (privacy.Region, error) {
	r, ok := privacy.ParseRegion(strings.TrimSpace(region))
	if !ok {
		return "", fmt.Errorf("%w: region is required: one of us, eu (where the controller chose its data kept)", ErrBadRequest)
	}
	return r, nil
}

// ownRegion checks that region names one and that this stack serves it.
func (o *Operator) ownRegion(region string) (privacy.Region, error) {
	r, err := regionArg(region)
	if err != nil {
		return "", err
	}
	if r != o.PlatformRegion {
		return "", fmt.Errorf("%w: this stack serves region %s: register a controller of region %s with that region's stack", ErrBadRequest,
			o.PlatformRegion, r)
	}
	return r, nil
}

// SetControllerRegion records the region of controller id, registered
// before regions (its id names none), once: until then no stack serves
// it. A region is never changed (privacy.ErrExists: the controller's data
// stays where it is; a move is a registration in the other region's
// stack and a termination here).
func (o *Operator) SetControllerRegion(ctx context.Context, c Caller, id, region, reason string) error {
	if err := decision(c, "opendsr-region", id); err != nil {
		return err
	}
	if _, named := privacy.IDRegion(id); named {
		return fmt.Errorf("%w: controller %s names its region in its id; it cannot change", privacy.ErrExists, id)
	}
	r, err := regionArg(region)
	if err != nil {
		return err
	}
	e := o.teamEvent(ctx, c, "controller_region_set", id, reason, map[string]string{"region": string(r)})
	err = o.Store.SetControllerRegion(ctx, id, r, e)
	if errors.Is(err, privacy.ErrExists) {
		return fmt.Errorf("%w: controller %s has its region recorded already", privacy.ErrExists, id)
	}
	return notFound("controller "+id, err)
}

// RevokeController revokes controller id's credentials.
func (o *Operator) RevokeController(ctx context.Context, c Caller, id, reason string) error {
	if err := decision(c, "opendsr-revoke", id); err != nil {
		return err
	}
	return notFound("controller "+id, o.Store.RevokeController(ctx, id, o.teamEvent(ctx, c, "controller_revoked", id, reason, nil)))
}

// ProcessorView is a registered processor, without its credentials.
type ProcessorView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url"`
	// Host is the URL's host alone: where its discovery was fetched and
	// every erasure's identity is sent, shown apart from the URL so what
	// the approver checks is that host (review 10).
	Host           string   `json:"host,omitempty"`
	IdentityFormat string   `json:"identity_format"`
	Types          []string `json:"types"`
	// Contact is the privacy contact address of a processor told by
	// email (URL empty).
	Contact string `json:"contact,omitempty"`
}

// RecordOfProcessing is the Art. 30 record, built from the code's tables,
// the policy version in force and the processors registered.
func (o *Operator) RecordOfProcessing(ctx context.Context, c Caller) (ropa.Record, error) {
	if err := c.reads(); err != nil {
		return ropa.Record{}, err
	}
	procs, err := o.Store.Processors(ctx)
	if err != nil {
		return ropa.Record{}, err
	}
	return ropa.Build(o.Company, o.Contact, o.Region, o.Policy(ctx), procs, o.Now())
}

// Processors lists the registered processors.
func (o *Operator) Processors(ctx context.Context, c Caller) ([]ProcessorView, error) {
	if err := c.reads(); err != nil {
		return nil, err
	}
	ps, err := o.Store.Processors(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ProcessorView, 0, len(ps))
	for _, p := range ps {
		out = append(out, ProcessorView{ID: p.ID, Name: p.Name, URL: p.URL, IdentityFormat: p.IdentityFormat, Types: p.Types, Contact: p.Contact})
	}
	return out, nil
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

// OverdueProcessors lists the deliveries the team is to follow up (the
// deadline digest's failed bucket), oldest first.
func (o *Operator) OverdueProcessors(ctx context.Context, c Caller) ([]RecipientView, error) {
	if err := c.reads(); err != nil {
		return nil, err
	}
	ds, err := o.Store.DeliverySummaries(ctx, privacy.DeliveryFailed)
	if err != nil {
		return nil, err
	}
	out := make([]RecipientView, 0, len(ds))
	for _, d := range ds {
		out = append(out, RecipientView{RequestID: d.RequestID, Processor: d.ProcessorName, State: d.State, Why: d.LastError, Since: d.SubmittedAt})
	}
	slices.SortFunc(out, func(a, b RecipientView) int { return a.Since.Compare(b.Since) })
	return out, nil
}

// RemoveProcessor stops telling processor id (what is queued still goes).
func (o *Operator) RemoveProcessor(ctx context.Context, c Caller, id, reason string) error {
	if err := decision(c, "processor remove", id); err != nil {
		return err
	}
	return notFound("processor "+id, o.Store.RemoveProcessor(ctx, id, o.teamEvent(ctx, c, "processor_removed", id, reason, nil)))
}

// NewProcessor is a processor to register: its name, OpenDSR v2 base URL,
// HTTP Basic credentials (USER:PASSWORD), the PEM of the certificate that
// signs its answers, optionally its privacy contact address (Contact:
// where it is emailed the rectifications and restrictions OpenDSR has no
// request type for), and why it is registered; or, for a processor
// without an API, its privacy contact address alone.
type NewProcessor struct {
	Name, URL, Credentials, Certificate string
	Contact                             string
	Reason                              string
}

// AddProcessor asks to register a processor the site's erasures are
// told to, once its signed discovery says how to name people to it: the
// registration waits for another member's approval (ApproveProcessorAsk),
// since every person's erasure goes to it from then on.
func (o *Operator) AddProcessor(ctx context.Context, c Caller, a NewProcessor) (ProcessorAskView, error) {
	if err := c.decides("processor add"); err != nil {
		return ProcessorAskView{}, err
	}
	if a.URL == "" {
		return o.addProcessorByEmail(ctx, c, a)
	}
	if err := processorText(a); err != nil {
		return ProcessorAskView{}, err
	}
	u, err := url.Parse(a.URL)
	user, _, hasPass := strings.Cut(a.Credentials, ":")
	contact, domain, contactErr := contactOf(a.Contact)
	switch {
	case a.Contact != "" && contactErr != nil:
		return ProcessorAskView{}, contactErr
	case err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && o.AllowHTTP)):
		return ProcessorAskView{}, fmt.Errorf("%w: url must be the processor's https OpenDSR v2 base URL", ErrBadRequest)
	// What the approver reads must be where the identities go: no
	// userinfo ("https://their.example@elsewhere.example/" is
	// elsewhere.example's), no query, no fragment.
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(a.URL, "@?#") || u.Opaque != "":
		return ProcessorAskView{}, fmt.Errorf("%w: url must be the processor's OpenDSR v2 base URL alone: "+
			"no user or password before its host (\"@\"), no query (\"?\"), no fragment (\"#\")", ErrBadRequest)
	case !hasPass || user == "":
		return ProcessorAskView{}, fmt.Errorf("%w: credentials must be USER:PASSWORD", ErrBadRequest)
	case a.Certificate == "":
		return ProcessorAskView{}, fmt.Errorf("%w: certificate is required (the PEM of the processor's signing certificate)", ErrBadRequest)
	}
	var pub *rsa.PublicKey
	if pub, err = recipients.CertificateKey(a.Certificate); err != nil {
		return ProcessorAskView{}, fmt.Errorf("%w: certificate: %v", ErrBadRequest, err)
	}
	// Its discovery, signed with that certificate's key, says how to name
	// people to it and that it takes erasures.
	format, types, err := recipients.Discover(ctx, o.Client, a.URL, pub)
	if err != nil {
		return ProcessorAskView{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	id := o.NewID()
	sealed, err := recipients.Seal(o.CredentialKey, id, a.Credentials)
	if err != nil {
		return ProcessorAskView{}, err
	}
	p := privacy.Processor{ID: id, Name: strings.TrimSpace(a.Name), URL: strings.TrimRight(a.URL, "/"), Credentials: sealed,
		Certificate: a.Certificate, IdentityFormat: format, Types: types, Contact: contact}
	detail := map[string]string{"name": p.Name, "url": p.URL, "host": u.Host, "identity_format": format}
	if contact != "" {
		detail["contact_domain"] = domain
	}
	return o.askProcessor(ctx, c, privacy.ProcessorAsk{Kind: privacy.ProcessorAskAdd, Processor: p, Reason: a.Reason}, detail)
}

// processorText checks a registration's name and reason: required name,
// each one line without control characters (the name goes into the
// email to the processor's former contact, an outside address, when its
// contact changes; the reason into the ask the approver reads).
func processorText(a NewProcessor) error {
	if strings.TrimSpace(a.Name) == "" {
		return fmt.Errorf("%w: name is required", ErrBadRequest)
	}
	if err := privacy.CheckLine("name", a.Name, privacy.MaxName); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if err := privacy.CheckLine("reason", a.Reason, privacy.MaxDetails); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return nil
}

// contactOf is a processor's privacy contact address, normalised, and
// its domain (what the ledger names, never the address).
func contactOf(address string) (contact, domain string, err error) {
	contact = privacy.NormalizeEmail(address)
	if !privacy.ValidEmail(contact) {
		return "", "", fmt.Errorf("%w: contact must be the processor's privacy contact address", ErrBadRequest)
	}
	_, domain, _ = strings.Cut(contact, "@")
	return contact, domain, nil
}

// addProcessorByEmail registers a processor without an API by its
// privacy contact address: it is emailed every erasure, rectification
// and restriction (recipients.EmailTypes) with a link to confirm each
// done. The ledger names who registered it and why, and the contact's
// domain, never the address.
func (o *Operator) addProcessorByEmail(ctx context.Context, c Caller, a NewProcessor) (ProcessorAskView, error) {
	if err := processorText(a); err != nil {
		return ProcessorAskView{}, err
	}
	contact, domain, err := contactOf(a.Contact)
	switch {
	case a.Credentials != "" || a.Certificate != "":
		return ProcessorAskView{}, fmt.Errorf("%w: credentials and a certificate go with the processor's OpenDSR url", ErrBadRequest)
	case err != nil:
		return ProcessorAskView{}, fmt.Errorf("%w (or give its OpenDSR url)", err)
	}
	id := o.NewID()
	p := privacy.Processor{ID: id, Name: strings.TrimSpace(a.Name), Contact: contact, IdentityFormat: "raw", Types: recipients.EmailTypes()}
	return o.askProcessor(ctx, c, privacy.ProcessorAsk{Kind: privacy.ProcessorAskAdd, Processor: p, Reason: a.Reason},
		map[string]string{"name": p.Name, "told_by": "email", "contact_domain": domain})
}

// Holds lists every legal hold.
func (o *Operator) Holds(ctx context.Context, c Caller) ([]HoldView, error) {
	if err := c.reads(); err != nil {
		return nil, err
	}
	hs, err := o.Store.Holds(ctx)
	if err != nil {
		return nil, err
	}
	now := o.Now()
	out := make([]HoldView, 0, len(hs))
	for _, h := range hs {
		out = append(out, holdView(h, now))
	}
	return out, nil
}

// heldSubject is the subject of a hold action's address, with the ledger
// entry of what is done to its hold.
func (o *Operator) heldSubject(ctx context.Context, c Caller, email, reason string, name privacy.EventName) (privacy.SubjectID, privacy.Event, error) {
	if strings.TrimSpace(reason) == "" {
		return "", privacy.Event{}, fmt.Errorf("%w: the hold actions need an email and a reason", ErrBadRequest)
	}
	subject, err := o.subject(email)
	if err != nil {
		return "", privacy.Event{}, err
	}
	return subject, privacy.Event{Subject: subject, Name: name, At: o.Now().UTC(), LegalBasis: privacy.BasisLegalObligation,
		PolicyVersion: o.version(ctx), Detail: map[string]string{"by": c.By}}, nil
}

// PlaceHold puts the data of email's person under a legal hold (until a
// day, or until it is lifted when zero): erasures are withheld, the sweep
// keeps it.
func (o *Operator) PlaceHold(ctx context.Context, c Caller, email, reason string, until time.Time) error {
	if err := c.decides("hold add"); err != nil {
		return err
	}
	subject, e, err := o.heldSubject(ctx, c, email, reason, "legal_hold_placed")
	if err != nil {
		return err
	}
	hold := privacy.Hold{Subject: subject, Reason: strings.TrimSpace(reason), PlacedBy: c.By, PlacedAt: e.At, Until: until}
	var ends string
	if !until.IsZero() {
		if !until.After(e.At) {
			return fmt.Errorf("%w: until must be a future date, YYYY-MM-DD", ErrBadRequest)
		}
		ends = until.Format(time.DateOnly)
	}
	return o.Store.PlaceHold(ctx, hold, e, o.teamEvent(ctx, c, e.Name, string(subject), reason, map[string]string{"until": ends}))
}

// LiftHold ends the legal hold on email's person.
func (o *Operator) LiftHold(ctx context.Context, c Caller, email, reason string) error {
	if err := c.decides("hold lift"); err != nil {
		return err
	}
	subject, e, err := o.heldSubject(ctx, c, email, reason, "legal_hold_lifted")
	if err != nil {
		return err
	}
	return notFound("legal hold on that address", o.Store.LiftHold(ctx, subject, e, o.teamEvent(ctx, c, e.Name, string(subject), reason, nil)))
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

// Suppressions are why marketing to email is held back; a view of a
// person's data, which the ledger records.
func (o *Operator) Suppressions(ctx context.Context, c Caller, email string) ([]SuppressionView, error) {
	if err := c.reads(); err != nil {
		return nil, err
	}
	subject, err := o.subject(email)
	if err != nil {
		return nil, err
	}
	recs, err := o.Store.SuppressionRecords(ctx, subject)
	if err != nil {
		return nil, err
	}
	out := suppressionViews(recs)
	if len(out) > 0 {
		if err := o.viewed(ctx, c, subject, "suppressions_viewed", "privacy-team"); err != nil {
			return nil, err
		}
	}
	return out, nil
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

// Person looks an address up by its subject hash (the address itself is
// neither stored nor logged); finding anything is a view of the person's
// data, and the ledger records it.
func (o *Operator) Person(ctx context.Context, c Caller, email string) (Person, error) {
	if err := c.reads(); err != nil {
		return Person{}, err
	}
	subject, err := o.subject(email)
	if err != nil {
		return Person{}, err
	}
	p := Person{Subject: subject}
	recs, err := o.Store.SuppressionRecords(ctx, subject)
	if err != nil {
		return Person{}, err
	}
	p.Suppressions = suppressionViews(recs)
	h, ok, err := o.Store.SubjectHold(ctx, subject)
	if err != nil {
		return Person{}, err
	}
	if ok {
		hv := holdView(h, o.Now())
		p.Hold = &hv
	}
	reqs, err := o.Store.SubjectRequests(ctx, subject, time.Time{})
	if err != nil {
		return Person{}, err
	}
	p.Requests = rowsOf(reqs, o.Now())
	if len(p.Suppressions) > 0 || p.Hold != nil || len(p.Requests) > 0 {
		if err := o.viewed(ctx, c, subject, "person_viewed", "privacy-team"); err != nil {
			return Person{}, err
		}
	}
	return p, nil
}

// Lift is what a suppression lift did: the reasons lifted, or those asked
// to lift that wait for a second team member's approval.
type Lift struct {
	Lifted   []string `json:"lifted,omitempty"`
	Awaiting []string `json:"awaiting,omitempty"`
	// AskedBy is who asked for the lift this one approved.
	AskedBy string `json:"asked_by,omitempty"`
}

// LiftSuppression lifts the reasons marketing to email is held back
// (every one in force, or only those named), each lift named in the
// person's ledger and the team's with who and why. A complaint or an
// objection is lifted only by two members (privacy.SecondMemberLifts):
// the first asks, and the lift waits; another member's lift approves it.
// Nobody approves their own ask.
func (o *Operator) LiftSuppression(ctx context.Context, c Caller, email, reason string, only []string) (Lift, error) {
	if err := c.decides("suppression lift"); err != nil {
		return Lift{}, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Lift{}, fmt.Errorf("%w: suppression lift needs a reason", ErrBadRequest)
	}
	subject, err := o.subject(email)
	if err != nil {
		return Lift{}, err
	}
	inForce, err := o.Store.Suppressions(ctx, subject)
	if err != nil {
		return Lift{}, err
	}
	lift := inForce
	if len(only) > 0 {
		lift = nil
		for _, r := range only {
			if !slices.Contains(inForce, r) {
				return Lift{}, fmt.Errorf("%w: %q is not a reason in force for that address (in force: %s)", ErrBadRequest, r,
					strings.Join(inForce, ", "))
			}
			lift = append(lift, r)
		}
	}
	if len(lift) == 0 {
		return Lift{}, nil
	}
	lift = slices.Sorted(slices.Values(lift)) // an ask and its approval name them in any order
	reasons := strings.Join(lift, ",")
	detail := map[string]string{"reasons": reasons}
	person := privacy.Event{Subject: subject, Name: "suppression_lifted", At: o.Now().UTC(), Ref: "privacy-team",
		Purpose: privacy.PurposeMarketing, LegalBasis: o.Policy(ctx).Basis(privacy.PurposeMarketing), PolicyVersion: o.version(ctx),
		Detail: map[string]string{"reasons": reasons, "by": c.By, "reason": reason}}
	if !privacy.SecondMemberLifts(lift) {
		if err := o.Store.TeamLift(ctx, subject, lift, nil, person, o.teamEvent(ctx, c, "suppression_lifted", string(subject), reason, detail)); err != nil {
			return Lift{}, err
		}
		return Lift{Lifted: lift}, nil
	}
	ask, asked, err := o.Store.LiftAsk(ctx, subject)
	if err != nil {
		return Lift{}, err
	}
	if asked && slices.Equal(ask.Reasons, lift) {
		if err := secondMember(ask.AskedBy, c, "this lift"); err != nil {
			return Lift{}, err
		}
		person.Detail["asked_by"], detail["asked_by"] = ask.AskedBy, ask.AskedBy
		if err := o.Store.TeamLift(ctx, subject, lift, &ask, person,
			o.teamEvent(ctx, c, "suppression_lift_approved", string(subject), reason, detail)); err != nil {
			return Lift{}, err
		}
		return Lift{Lifted: lift, AskedBy: ask.AskedBy}, nil
	}
	a := privacy.LiftAsk{Subject: subject, Reasons: lift, AskedBy: c.By, AskedAt: person.At, Reason: reason}
	if err := o.Store.AskLift(ctx, a, o.teamEvent(ctx, c, "suppression_lift_asked", string(subject), reason, detail)); err != nil {
		return Lift{}, err
	}
	return Lift{Awaiting: lift}, nil
}

// Publication is a policy version to publish: its name, the day it takes
// force, what changed, whether it is material, the topics it adds and the
// legal basis it states per purpose (those not named stay as the version
// in force states them).
type Publication struct {
	Version     string
	Effective   time.Time
	Summary     string
	Material    bool
	NewPurposes []string
	Bases       map[string]string
	// Reason is why it is published (the team's audit reads it).
	Reason string
}

// PublishPolicy records a policy version; the notices function makes its
// notices due (each person once, at the configured rate).
func (o *Operator) PublishPolicy(ctx context.Context, c Caller, p Publication) (privacy.PolicyVersion, error) {
	if err := c.decides("policy publish"); err != nil {
		return privacy.PolicyVersion{}, err
	}
	// A version states every basis: those it does not name stay as the
	// version in force states them.
	inForce := o.Policy(ctx)
	bases := inForce.Bases.Complete()
	maps.Copy(bases, p.Bases)
	v, err := policy.Publish(privacy.PolicyVersion{Version: p.Version, Effective: p.Effective, Summary: p.Summary,
		Material: p.Material, NewPurposes: p.NewPurposes, Bases: bases, PublishedAt: o.Now().UTC(), PublishedBy: c.By},
		inForce)
	if err != nil {
		return privacy.PolicyVersion{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	e := o.teamEvent(ctx, c, "policy_published", v.Version, p.Reason, map[string]string{"effective": v.Effective.Format(time.DateOnly),
		"material": strconv.FormatBool(v.Material)})
	if err := o.Store.PublishPolicy(ctx, v, e); errors.Is(err, privacy.ErrExists) {
		return privacy.PolicyVersion{}, fmt.Errorf("version %s was published before; a published version is never changed: publish a new one: %w", v.Version, err)
	} else if err != nil {
		return privacy.PolicyVersion{}, err
	}
	return v, nil
}

// Policies are the published versions and the one in force.
type Policies struct {
	InForce string `json:"in_force"`
	// Bases are those the version in force states.
	Bases    privacy.Bases           `json:"bases"`
	Versions []privacy.PolicyVersion `json:"versions"`
}

// Policies lists the published versions, oldest first, and the one in force.
func (o *Operator) Policies(ctx context.Context, c Caller) (Policies, error) {
	if err := c.reads(); err != nil {
		return Policies{}, err
	}
	vs, err := o.Store.PolicyVersions(ctx)
	if err != nil {
		return Policies{}, err
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].PublishedAt.Before(vs[j].PublishedAt) })
	in := o.Policy(ctx)
	return Policies{InForce: in.Version, Bases: in.Bases.Complete(), Versions: vs}, nil
}

// CampaignStatus is how campaign id stands.
func (o *Operator) CampaignStatus(ctx context.Context, c Caller, id string) (campaign.Status, error) {
	if err := c.reads(); err != nil {
		return campaign.Status{}, err
	}
	if err := needID("campaign status", id); err != nil {
		return campaign.Status{}, err
	}
	st, found, err := campaign.ReadStatus(ctx, o.Store, id)
	if err != nil {
		return campaign.Status{}, err
	}
	if !found {
		return campaign.Status{}, fmt.Errorf("no campaign %q: %w", id, privacy.ErrNotFound)
	}
	return st, nil
}
