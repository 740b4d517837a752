package rights

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/recipients"
)

// Desk is the privacy team's side of rights requests: list, show, approve
// a request held for review, deny or extend with a reason, complete a
// rectification, lift a restriction. The operator command drives it with
// the caller's own AWS credentials, so IAM decides who may act; By names
// that caller in the record and the ledger.
type Desk struct {
	Store     DeskStore
	Fulfiller *Fulfiller
	// Hasher keys a corrected address to its subject (only an approved
	// correction of the address needs it).
	Hasher *privacy.Hasher
	Now    func() time.Time
	NewID  func() string
	By     string
	// AddressChangeWait is how long after a correction's new address
	// confirmed it the old address may still stop it: the team applies it
	// only after (privacy.AddressChangeWait by default).
	AddressChangeWait time.Duration
}

// DeskStore is what the desk reads and writes.
type DeskStore interface {
	Request(ctx context.Context, id string) (privacy.RightsRequest, error)
	RequestsByStatus(ctx context.Context, status privacy.Status, dueBefore time.Time) ([]privacy.RightsRequest, error)
	SubjectLedger(ctx context.Context, subject privacy.SubjectID) ([]privacy.Event, error)
	Transition(ctx context.Context, id string, t privacy.Transition, e privacy.Event) error
	Restriction(ctx context.Context, subject privacy.SubjectID) ([]string, error)
	Lift(ctx context.Context, subject privacy.SubjectID, requestID string, e privacy.Event) error
	SetOutcome(ctx context.Context, id string, o privacy.Outcome, e privacy.Event) error
	CorrectField(ctx context.Context, subject privacy.SubjectID, field, value string) (int, error)
	MoveSubject(ctx context.Context, from, to privacy.SubjectID, email, requestID string, at time.Time) (int, error)
	SubjectHolds(ctx context.Context, subject privacy.SubjectID) (bool, error)
	// CreateRequest records a request the team entered (Enter).
	CreateRequest(ctx context.Context, r privacy.RightsRequest, e privacy.Event) error
	// ProcessorsToTell and TellProcessors tell the registered processors
	// of a rectification carried out (GDPR Art. 19).
	ProcessorsToTell(ctx context.Context) ([]privacy.Processor, error)
	TellProcessors(ctx context.Context, requestID string, ds []privacy.Delivery, at time.Time) error
	// TellLift tells the processors told by email of any of the person's
	// restrictions requestIDs that they may process the person again,
	// each once, naming the person by identity.
	TellLift(ctx context.Context, requestIDs []string, identity string, at time.Time) error
	// SubjectRequests are the person's requests (the restrictions whose
	// processors a last lift tells).
	SubjectRequests(ctx context.Context, subject privacy.SubjectID, since time.Time) ([]privacy.RightsRequest, error)
}

// Errors of the desk, for the operator to read.
var (
	ErrReasonRequired = errors.New("a reason is required: the requester reads it")
	// ErrBadText is a reason or note that holds what hides or reorders
	// text (privacy.CheckText): the requester reads it.
	ErrBadText     = errors.New("the text holds control or invisible formatting characters: the requester reads it")
	ErrWrongStatus = errors.New("not possible in the request's status")
	ErrOutOfRange  = errors.New("outside what the law allows")
)

// Actions returns the decisions the desk takes on req as it stands (the
// names of its methods, as privacyctl and the console name them);
// restrictedBy are the requests whose restriction of the subject is in
// force (Store.Restriction).
func Actions(req privacy.RightsRequest, restrictedBy []string) []string {
	can := func(s privacy.Step) bool { return slices.Contains(s.From(), req.Status) }
	var out []string
	switch st := req.Status; {
	case req.Type == privacy.RightRectification && req.Correction.Field != "" && st != privacy.RequestPending &&
		can(privacy.StepClaim) && (!req.ChangesAddress() || !req.NewAddressConfirmedAt.IsZero()),
		req.Relationship == privacy.RelationshipParent && can(privacy.StepFulfil),
		st == privacy.RequestPending, st == privacy.RequestInProgress:
		out = append(out, "approve")
	}
	if req.Status == privacy.RequestAwaitingReview && can(privacy.StepComplete) {
		out = append(out, "complete")
	}
	if objectsToAll(req) && (req.Status == privacy.RequestAwaitingReview || req.Status == privacy.RequestInProgress) && can(privacy.StepComplete) {
		out = append(out, "uphold")
	}
	if can(privacy.StepLift) && slices.Contains(restrictedBy, req.ID) && (req.Type == privacy.RightRestriction || objectsToAll(req)) {
		out = append(out, "lift")
	}
	if can(privacy.StepAsk) && req.Source == "" {
		out = append(out, "ask")
	}
	if can(privacy.StepExtend) {
		out = append(out, "extend")
	}
	if can(privacy.StepDeny) {
		out = append(out, "deny")
	}
	return out
}

// List returns the requests in the given statuses (the open ones when none
// is given), earliest due first; overdueOnly keeps those past their deadline.
func (d *Desk) List(ctx context.Context, statuses []privacy.Status, overdueOnly bool) ([]privacy.RightsRequest, error) {
	if len(statuses) == 0 {
		statuses = privacy.OpenStatuses()
	}
	var before time.Time
	if overdueOnly {
		before = d.Now()
	}
	var out []privacy.RightsRequest
	for _, st := range statuses {
		rs, err := d.Store.RequestsByStatus(ctx, st, before)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if !overdueOnly || privacy.Overdue(r, before) {
				out = append(out, r)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b privacy.RightsRequest) int { return a.DueAt.Compare(b.DueAt) })
	return out, nil
}

// Show returns a request and the ledger entries that refer to it.
func (d *Desk) Show(ctx context.Context, id string) (privacy.RightsRequest, []privacy.Event, error) {
	req, err := d.Store.Request(ctx, id)
	if err != nil {
		return req, nil, fmt.Errorf("request %s: %w", id, err)
	}
	entries, err := d.Store.SubjectLedger(ctx, req.Subject)
	if err != nil {
		return req, nil, err
	}
	var mine []privacy.Event
	for _, e := range entries {
		if e.Ref == id {
			mine = append(mine, e)
		}
	}
	return req, mine, nil
}

func (d *Desk) event(ctx context.Context, req privacy.RightsRequest, name privacy.EventName) privacy.Event {
	return privacy.Event{Subject: req.Subject, Name: name, At: d.Now(), Ref: req.ID,
		LegalBasis: privacy.BasisLegalObligation, PolicyVersion: d.Fulfiller.Policy(ctx).Version,
		Detail: map[string]string{"by": d.By}}
}

// once names one decision's email, so that it is sent once.
func (d *Desk) once() string { return strings.ReplaceAll(d.NewID(), "-", "")[:16] }

func (d *Desk) load(ctx context.Context, id string, allowed ...privacy.Status) (privacy.RightsRequest, error) {
	req, err := d.Store.Request(ctx, id)
	if err != nil {
		return req, fmt.Errorf("request %s: %w", id, err)
	}
	switch {
	case slices.Contains(allowed, req.Status):
		return req, nil
	case req.Status == privacy.RequestIdentityUnverified:
		// Every step the team takes on an open request emails its
		// requester: not an address nobody has proven (a stranger may have
		// named it). The request expires unverified on its own.
		return req, fmt.Errorf("request %s: the requester has not verified the address yet; nothing is mailed to it before: %w",
			id, ErrWrongStatus)
	}
	return req, fmt.Errorf("request %s is %s: %w", id, req.Status, ErrWrongStatus)
}

// Approve fulfils a verified request that was held for the team (flagged as
// possibly excessive), exactly as verification would have; for a
// rectification that names its field and value, it applies the correction.
func (d *Desk) Approve(ctx context.Context, id string) (privacy.Status, error) {
	req, err := d.load(ctx, id, privacy.RequestPending, privacy.RequestInProgress, privacy.RequestAwaitingReview)
	if err != nil {
		return "", err
	}
	switch {
	case req.Type == privacy.RightRectification && req.Correction.Field != "" && req.Status != privacy.RequestPending:
		return privacy.RequestCompleted, d.correct(ctx, req)
	case req.Relationship == privacy.RelationshipParent:
		// The team has accepted the parent's proof: erased, or the copy
		// goes to the parent.
		return d.Fulfiller.Fulfil(ctx, req, d.once(), d.Now())
	case req.Status == privacy.RequestAwaitingReview:
		return "", fmt.Errorf("request %s awaits the team's own action (complete, uphold or deny): %w", id, ErrWrongStatus)
	}
	return d.Fulfiller.Fulfil(ctx, req, d.once(), d.Now())
}

// correct applies an approved rectification to every stored item of the
// subject (a new address moves the subject to its key, history and all),
// records which field changed (never the value) and tells the requester,
// at the corrected address when that was the field. It is claimed first
// (in_progress), and a correction cut short is finished by approving it
// again.
func (d *Desk) correct(ctx context.Context, req privacy.RightsRequest) error {
	c := req.Correction
	if c.Field == privacy.FieldEmail && d.Hasher == nil {
		return errors.New("correcting an address needs the subject hasher (the stack's secret)")
	}
	if req.ChangesAddress() && req.NewAddressConfirmedAt.IsZero() {
		return fmt.Errorf("request %s: the new address has not confirmed it by its link yet: %w", req.ID, ErrWrongStatus)
	}
	if until := req.NewAddressConfirmedAt.Add(d.AddressChangeWait); req.ChangesAddress() && d.Now().Before(until) {
		return fmt.Errorf("request %s: the old address, told of the change, may stop it until %s: %w", req.ID,
			until.UTC().Format(time.RFC3339), ErrWrongStatus)
	}
	if req.ChangesAddress() && req.Status == privacy.RequestAwaitingReview {
		// A move onto an address that holds someone's data would merge the
		// two: the earlier holder's links (an export's, a status page's)
		// and requests would reach the other's. Refused before the claim
		// (a move cut short, in_progress, was checked when it started); the
		// team decides such a case by hand.
		if holds, err := d.Store.SubjectHolds(ctx, d.Hasher.Subject(c.Value)); err != nil {
			return err
		} else if holds {
			return fmt.Errorf("request %s: the new address already holds data; a correction never merges two people's records "+
				"(deny it, or handle it by hand): %w", req.ID, ErrWrongStatus)
		}
	}
	if req.Status == privacy.RequestAwaitingReview {
		if err := d.apply(ctx, req, privacy.Transition{Step: privacy.StepClaim, From: []privacy.Status{privacy.RequestAwaitingReview},
			Status: privacy.RequestInProgress}, privacy.EventRectificationApproved); err != nil {
			return err
		}
	}
	var n int
	var err error
	if c.Field == privacy.FieldEmail {
		to := d.Hasher.Subject(c.Value)
		if n, err = d.Store.MoveSubject(ctx, req.Subject, to, c.Value, req.ID, d.Now()); err != nil {
			return err
		}
		req.Subject = to
	} else if n, err = d.Store.CorrectField(ctx, req.Subject, c.Field, c.Value); err != nil {
		return err
	}
	e := d.event(ctx, req, privacy.EventRectificationApplied)
	e.Detail["fields"], e.Detail["items"] = c.Field, strconv.Itoa(n)
	t := privacy.Transition{Step: privacy.StepComplete, From: []privacy.Status{privacy.RequestInProgress}, Status: privacy.RequestCompleted,
		MailDue: privacy.Due(privacy.MailCorrected, d.once()), Reason: "We corrected your " + fieldNames[c.Field] + ".", By: d.By}
	if err := d.Store.Transition(ctx, req.ID, t, e); errors.Is(err, privacy.ErrStale) {
		return fmt.Errorf("request %s changed meanwhile: %w", req.ID, ErrWrongStatus)
	} else if err != nil {
		return err
	}
	return d.tell(ctx, req)
}

// tell tells the processors of a rectification carried out (GDPR Art.
// 19): by email, as OpenDSR has no request type for it. The processors
// hold the person by the address of the request.
func (d *Desk) tell(ctx context.Context, req privacy.RightsRequest) error {
	procs, err := d.Store.ProcessorsToTell(ctx)
	if err != nil {
		return fmt.Errorf("request %s: recipients: %w", req.ID, err)
	}
	at := d.Now().UTC()
	ds, err := recipients.For(req, procs, at)
	if err == nil {
		err = d.Store.TellProcessors(ctx, req.ID, ds, at)
	}
	if err != nil {
		return fmt.Errorf("request %s: recipients: %w", req.ID, err)
	}
	return nil
}

// fieldNames are the correctable fields as the requester reads them.
var fieldNames = map[string]string{privacy.FieldName: "name", privacy.FieldCompany: "company name",
	privacy.FieldPhone: "phone number", privacy.FieldEmail: "email address"}

// said checks a reason or note the requester will read: required (when
// it must be given), and nothing in it hiding or reordering text.
func said(text string, required bool) error {
	if required && strings.TrimSpace(text) == "" {
		return ErrReasonRequired
	}
	if err := privacy.CheckText("reason", text, privacy.MaxDetails); err != nil {
		return fmt.Errorf("%w: %v", ErrBadText, err)
	}
	return nil
}

// Deny refuses an open request; the reason is stored and emailed to the
// requester with their right to complain to a supervisory authority.
func (d *Desk) Deny(ctx context.Context, id, reason string) error {
	if err := said(reason, true); err != nil {
		return err
	}
	req, err := d.load(ctx, id, privacy.StepDeny.From()...)
	if err != nil {
		return err
	}
	if objectsToAll(req) {
		// Compelling grounds override the objection: the processing it
		// restricted resumes, unless another request of the person's still
		// restricts it (a denial run again finds nothing to lift).
		if err := d.liftOwn(ctx, req); err != nil {
			return err
		}
	}
	// Lifted: the request's restriction has ended, so its address goes
	// with the lifted restriction's class, not the request's 3 years.
	t := privacy.Transition{Step: privacy.StepDeny, Status: privacy.RequestDenied,
		MailDue: privacy.Due(privacy.MailDenied, d.once()), Reason: reason, Lifted: objectsToAll(req)}
	if req.Status == privacy.RequestIdentityUnverified {
		// Nobody proved the address (a stranger may have named it, or
		// named it as a parent's): the denial is not mailed to it, and the
		// address and what was written go with the denial, unless the
		// requester verified meanwhile (then this denial is stale).
		t.From, t.MailDue, t.Forget = []privacy.Status{privacy.RequestIdentityUnverified}, privacy.MailDue{}, true
	}
	if objectsToAll(req) {
		// The objection may have been the last restriction in force: the
		// processors of the restrictions lifted while it was are told now,
		// before the denial (a failure leaves both to the next run).
		if err := d.tellLift(ctx, req); err != nil {
			return err
		}
	}
	return d.apply(ctx, req, t, privacy.EventRequestDenied)
}

// Extend moves an open request's deadline, at most as far as the law
// allows (privacy.ExtendedDue of the first deadline; until zero means that
// far), records the reason and emails the requester. The requester must be
// told within the first deadline (GDPR Art. 12(3)): once it has passed an
// extension is refused (ErrWrongStatus), so a missed deadline shows as
// missed.
func (d *Desk) Extend(ctx context.Context, id, reason string, until time.Time) (time.Time, error) {
	if err := said(reason, true); err != nil {
		return time.Time{}, err
	}
	req, err := d.load(ctx, id, privacy.StepExtend.From()...)
	if err != nil {
		return time.Time{}, err
	}
	first := req.DueAt
	if !req.OriginalDueAt.IsZero() {
		first = req.OriginalDueAt
	}
	if now := d.Now(); now.After(first) {
		return time.Time{}, fmt.Errorf("request %s was due %s: an extension must be told within the first deadline (GDPR Art. 12(3)); "+
			"answer it now: %w", id, first.Format(time.RFC3339), ErrWrongStatus)
	}
	limit := privacy.ExtendedDue(req.Regulation, first)
	if until.IsZero() {
		until = limit
	}
	if until.After(limit) {
		return time.Time{}, fmt.Errorf("request %s may be extended to %s at most: %w", id, limit.Format(time.RFC3339), ErrOutOfRange)
	}
	if !until.After(req.DueAt) {
		return time.Time{}, fmt.Errorf("request %s is already due %s; an extension must be later: %w", id,
			req.DueAt.Format(time.RFC3339), ErrOutOfRange)
	}
	return until, d.apply(ctx, req, privacy.Transition{Step: privacy.StepExtend, MailDue: privacy.Due(privacy.MailExtended, d.once()),
		Extend: until, ExtensionReason: reason}, privacy.EventDeadlineExtended)
}

// Ask asks the requester for the information the team needs to answer
// the request (policy §8: "we may contact you for further information"):
// the request waits for the answer (privacy.RequestWaitingForInformation)
// and the question is emailed, with the link that answers it, to where
// the request is answered (AnswerTo). Only a verified request of the
// site's is asked: an unverified one's address is unproven, and a
// controller's requester is the controller's to ask. The deadline stays:
// under the GDPR the clock does not stop while the team waits.
func (d *Desk) Ask(ctx context.Context, id, question string) error {
	if strings.TrimSpace(question) == "" {
		return fmt.Errorf("a question is required: %w", ErrReasonRequired)
	}
	if err := privacy.CheckText("question", question, privacy.MaxQuestion); err != nil {
		return fmt.Errorf("%w: %v", ErrBadText, err)
	}
	req, err := d.load(ctx, id, privacy.StepAsk.From()...)
	if err != nil {
		return err
	}
	if req.Source != "" || req.AnswerTo() == "" {
		return fmt.Errorf("request %s: no requester of ours to ask (a controller's request, or no address kept): %w", id, ErrWrongStatus)
	}
	once := d.once()
	return d.apply(ctx, req, privacy.Transition{Step: privacy.StepAsk, From: []privacy.Status{req.Status}, Status: privacy.RequestWaitingForInformation,
		MailDue: privacy.Due(privacy.MailQuestion, once), Ask: privacy.Question{Text: question, From: req.Status, Nonce: once}},
		privacy.EventInformationRequested)
}

// Complete closes a rectification the team has carried out; note tells the
// requester what was corrected.
func (d *Desk) Complete(ctx context.Context, id, note string) error {
	if err := said(note, false); err != nil {
		return err
	}
	req, err := d.load(ctx, id, privacy.RequestAwaitingReview)
	if err != nil {
		return err
	}
	// Only a rectification is closed by hand: any other request awaiting
	// review waits for the team's approval (a parent's proof, an excessive
	// request) or denial, and completing it would tell the processors of
	// a filing nobody accepted.
	if req.Type != privacy.RightRectification {
		return fmt.Errorf("request %s: complete closes a rectification; approve or deny this %s: %w", id, req.Type, ErrWrongStatus)
	}
	if err := d.apply(ctx, req, privacy.Transition{Step: privacy.StepComplete, From: []privacy.Status{privacy.RequestAwaitingReview},
		Status: privacy.RequestCompleted, MailDue: privacy.Due(privacy.MailCorrected, d.once()), Reason: note},
		privacy.EventRectificationDone); err != nil {
		return err
	}
	return d.tell(ctx, req)
}

// Lift ends the restriction a restriction request put in place, and tells
// the requester (GDPR Art. 18(3)).
func (d *Desk) Lift(ctx context.Context, id, reason string) error {
	if err := said(reason, true); err != nil {
		return err
	}
	req, err := d.load(ctx, id, privacy.StepLift.From()...)
	if err != nil {
		return err
	}
	if req.Type != privacy.RightRestriction && !objectsToAll(req) {
		return fmt.Errorf("request %s: not a restriction: %w", id, ErrWrongStatus)
	}
	// Only this request's restriction ends; another of the person's keeps
	// them restricted.
	err = d.Store.Lift(ctx, req.Subject, req.ID, d.event(ctx, req, privacy.EventRestrictionLifted))
	switch {
	case errors.Is(err, privacy.ErrNotFound) && (req.Email == "" || req.MailDue.Kind == privacy.MailLifted):
		return fmt.Errorf("request %s: no restriction of its own in place: %w", id, ErrWrongStatus)
	case errors.Is(err, privacy.ErrNotFound):
		// Ended by a run of this lift that failed before its end was
		// told (the requester's email not yet due: the address is still
		// kept): this run finishes it. Nothing is lost when a step fails.
	case err != nil:
		return err
	}
	// The processors first: the requester's email, once sent, takes the
	// address the processors are told by; a failure here leaves the whole
	// telling to the next run.
	if err := d.tellLift(ctx, req); err != nil {
		return err
	}
	return d.apply(ctx, req, privacy.Transition{Step: privacy.StepLift,
		MailDue: privacy.Due(privacy.MailLifted, d.once()), Reason: reason, Lifted: true}, privacy.EventRestrictionLiftNotified)
}

// tellLift tells the processors that they may process req's person again
// (Art. 19), once no restriction of the person is in force (while one
// is, they must not resume): every processor told of any of the person's
// restrictions, each once, not only those told of req's. A restriction
// lifted while another was in force told no one; its processors learn
// of the end now, with the last one's.
func (d *Desk) tellLift(ctx context.Context, req privacy.RightsRequest) error {
	if by, err := d.Store.Restriction(ctx, req.Subject); err != nil || len(by) > 0 {
		return err
	}
	reqs, err := d.Store.SubjectRequests(ctx, req.Subject, time.Time{})
	if err != nil {
		return fmt.Errorf("request %s: the person's restrictions: %w", req.ID, err)
	}
	ids := []string{req.ID} // and the person's other restrictions (TellLift orders them)
	for _, r := range reqs {
		if r.Type == privacy.RightRestriction && r.ID != req.ID {
			ids = append(ids, r.ID)
		}
	}
	return d.Store.TellLift(ctx, ids, privacy.NormalizeEmail(req.Email), d.Now().UTC())
}

// objectsToAll reports whether req objects to all processing on
// legitimate interest (not only to marketing).
func objectsToAll(req privacy.RightsRequest) bool {
	return req.Type == privacy.RightObjection && req.Scope == privacy.ScopeAll
}

// liftOwn lifts the restriction req put in place, if it is still in place,
// and no other.
func (d *Desk) liftOwn(ctx context.Context, req privacy.RightsRequest) error {
	err := d.Store.Lift(ctx, req.Subject, req.ID, d.event(ctx, req, privacy.EventRestrictionLifted))
	if errors.Is(err, privacy.ErrNotFound) {
		return nil
	}
	return err
}

// Uphold upholds an objection to all processing on legitimate interest
// (the team found no compelling grounds): with erase, what is not needed
// goes (an erasure, told to the processors; a legal hold still withholds
// it, and the restriction then stays); without, the data stays restricted
// until the team lifts it. note tells the requester what was done.
func (d *Desk) Uphold(ctx context.Context, id string, erase bool, note string) error {
	if err := said(note, false); err != nil {
		return err
	}
	req, err := d.load(ctx, id, privacy.RequestAwaitingReview, privacy.RequestInProgress)
	if err != nil {
		return err
	}
	if !objectsToAll(req) {
		return fmt.Errorf("request %s is not an objection to all processing: %w", id, ErrWrongStatus)
	}
	from := []privacy.Status{privacy.RequestAwaitingReview, privacy.RequestInProgress}
	if !erase {
		return d.apply(ctx, req, privacy.Transition{Step: privacy.StepComplete, From: from, Status: privacy.RequestCompleted,
			MailDue: privacy.Due(privacy.MailUpheld, d.once()), Reason: note}, privacy.EventObjectionUpheld)
	}
	// Claimed first, so a denial cannot cross the erasure; an erasure cut
	// short is finished by running Uphold again.
	if err := d.apply(ctx, req, privacy.Transition{Step: privacy.StepClaim, From: from, Status: privacy.RequestInProgress, Reason: note},
		privacy.EventObjectionUpheld); err != nil {
		return err
	}
	o, err := d.Fulfiller.erase(ctx, req, d.Now(), d.event(ctx, req, privacy.EventErased))
	if err != nil {
		return err
	}
	o.MailDue = privacy.Due(privacy.MailUpheldErased, d.once())
	if o.Withheld {
		o.MailDue.Kind, o.Restricts = privacy.MailUpheld, true // a legal hold keeps the data, and so the restriction
	}
	return changedMeanwhile(req.ID, d.Store.SetOutcome(ctx, req.ID, o, d.event(ctx, req, privacy.EventObjectionUpheldErased)))
}

func (d *Desk) apply(ctx context.Context, req privacy.RightsRequest, t privacy.Transition, event privacy.EventName) error {
	t.By = d.By
	return changedMeanwhile(req.ID, d.Store.Transition(ctx, req.ID, t, d.event(ctx, req, event)))
}

// changedMeanwhile is the store's privacy.ErrStale as the desk says it: a
// step the request left meanwhile (decided, cancelled, expired) is not
// possible in its status; other errors are as they are.
func changedMeanwhile(id string, err error) error {
	if errors.Is(err, privacy.ErrStale) {
		return fmt.Errorf("request %s changed meanwhile: %w", id, ErrWrongStatus)
	}
	return err
}
