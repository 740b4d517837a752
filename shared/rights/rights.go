// Package rights takes data-subject requests (docs/api.md "Rights requests"):
// intake with its deadline, duplicate and excess handling, identity
// verification by an emailed single-use link, and the requester's status
// view. Verified requests are fulfilled by the Fulfiller; the privacy
// team's decisions are the Desk's.
package rights

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/limit"
	"github.com/privacykeeper/privacykeeper/shared/links"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// Store is what the handlers need.
type Store interface {
	SubjectRequests(ctx context.Context, subject privacy.SubjectID, since time.Time) ([]privacy.RightsRequest, error)
	CreateRequest(ctx context.Context, r privacy.RightsRequest, e privacy.Event) error
	// RecordSaleOptOut marks a subject opted out of sale and sharing.
	RecordSaleOptOut(ctx context.Context, subject privacy.SubjectID, source string, e privacy.Event) error
	Request(ctx context.Context, id string) (privacy.RightsRequest, error)
	// VerifyRequest marks the requester verified; review says why the
	// team decides next instead of fulfilment (privacy.ReviewNone).
	VerifyRequest(ctx context.Context, id, nonce string, review privacy.Review, e privacy.Event) error
	// ConfirmAgent records that a request's agent confirmed their address.
	ConfirmAgent(ctx context.Context, id string, e privacy.Event) error
	// ConfirmNewAddress records that a correction's new address confirmed
	// it, and makes the team's review and the old address's notice due.
	ConfirmNewAddress(ctx context.Context, id, once string, e privacy.Event) error
	// Transition applies a change of status (the old address stopping a
	// correction of the address).
	Transition(ctx context.Context, id string, t privacy.Transition, e privacy.Event) error
	ResendVerification(ctx context.Context, id, nonce string, now time.Time, cooldown time.Duration) (bool, error)
	NoteJoined(ctx context.Context, id string, open []privacy.Status, now time.Time, cooldown time.Duration) (bool, error)
	// ConfirmDelivery records that a processor told of a request by email
	// confirmed it done (again: no change; none such: privacy.ErrNotFound).
	ConfirmDelivery(ctx context.Context, requestID, processorID string, e privacy.Event) error
	// ProcessorContactChangedAt is when the team last changed a
	// processor's contact address (zero: never, or no such processor).
	ProcessorContactChangedAt(ctx context.Context, processorID string) (time.Time, error)
	limit.Counter
}

// Handlers holds the dependencies.
type Handlers struct {
	Store     Store
	Fulfiller *Fulfiller
	Hasher    *privacy.Hasher
	Tokens    *token.Signer
	Now       func() time.Time
	NewID     func() string
	Log       *slog.Logger
	// BaseURL is the API's public base URL, for results links.
	BaseURL string
	// ExcessPerMonth is how many verified requests per subject in 30 days
	// are answered without a second look; more are flagged "possibly
	// excessive" for the team (policy §8), never dropped. Only verified
	// requests count, so no stranger's filings can flag a person's own.
	ExcessPerMonth int
	// PerIP bounds how often requests can be filed from one source: over
	// it the caller is told (429 with Retry-After) and nothing is stored,
	// sent or counted. PerAddress bounds the mail filings send to one
	// mailbox, per role: as requester, and as an address a filer named
	// (parent, agent, recipient, new address), each with a budget of its own, so
	// that strangers who name someone cannot spend what that person needs
	// to file their own. Over it the filing is answered and kept as any
	// other (its clock runs, the team sees it) and nothing is mailed to
	// that address for it.
	PerIP, PerAddress limit.Rule
}

// Default limits of the intake: generous for people, tight for floods of
// acknowledgement emails to one inbox.
var (
	DefaultPerIP      = limit.Rule{Name: "rights_ip", Max: 10, Window: time.Hour}
	DefaultPerAddress = limit.Rule{Name: "rights_addr", Max: 10, Window: 24 * time.Hour}
)

// ResendCooldown is how long a requester waits before filing the same
// request again sends a fresh verification link.
const ResendCooldown = 10 * time.Minute

// Filing is a rights request as the site received it: the form, who
// filed it (what the ledger keeps of where it came from), in which
// language, under which version of the policy.
type Filing struct {
	Form privacy.RightsRequestForm
	// Decoy says the form's honeypot was filled (a bot): the filing is
	// answered as any other, and nothing is stored or sent.
	Decoy         bool
	Lang          string
	From          privacy.RequestMeta
	PolicyVersion string
}

// Filed is the answer to a filing: the same whether it is new, joins an
// open request, goes over a per-address limit or is a decoy (status
// identity_unverified, a deadline counted from now, a new id); a
// completed opt-out of sale, or redirected to the company's client.
type Filed struct {
	ID     string
	Status privacy.Status
	DueAt  time.Time
}

// RateLimited is a filing refused by the source's limit: nothing was
// stored, sent or counted.
type RateLimited struct{ RetryAfter time.Duration }

func (e *RateLimited) Error() string { return "rights requests over the source's limit" }

// File takes a rights request (docs/api.md "Rights requests").
func (h *Handlers) File(ctx context.Context, fl Filing) (Filed, error) {
	f, now := fl.Form, h.Now().UTC()
	if fl.Decoy {
		return h.fresh(f, now), nil
	}
	if f.Relationship == privacy.RelationshipPlatformEndUser {
		// The company only processes this data for its client: the client
		// answers. Nothing is stored.
		return Filed{Status: privacy.RequestRedirected}, nil
	}
	// The answer is the same whether this request is new, joins an open
	// one, or goes over a per-address limit: status identity_unverified, a
	// deadline counted from now, a new id. Anything else would tell whoever
	// typed an address that its owner has a request, how far it has got,
	// or that it is being flooded.
	answer := h.fresh(f, now)
	subject := h.Hasher.Subject(f.Email)
	req := privacy.RightsRequest{Lang: fl.Lang, ID: answer.ID, Subject: subject, Email: f.Email, Name: f.Name,
		Type: f.Type, Details: f.Details, Relationship: f.Relationship, Regulation: f.Regulation, Scope: f.Scope,
		RecipientEmail: f.RecipientEmail, Correction: f.Correction, AgentEmail: f.AgentEmail, ParentEmail: f.ParentEmail,
		Status: privacy.RequestIdentityUnverified, ReceivedAt: now, DueAt: answer.DueAt, VerifyNonce: h.nonce(), VerifySentAt: now}
	// The source's limit first: a call refused there spends nobody's
	// budget. The person's recent requests (a read: it spends nothing)
	// are fetched meanwhile, for a join.
	var recent []privacy.RightsRequest
	var spent limit.Spent
	var recentErr, spentErr error
	var wg sync.WaitGroup
	optOut := privacy.OwnOptOut(f.Type, f.Relationship)
	if req.Own() && !optOut {
		wg.Go(func() { recent, recentErr = h.Store.SubjectRequests(ctx, subject, now.AddDate(0, 0, -30)) })
	}
	wg.Go(func() { spent, spentErr = h.spentBefore(ctx, f, now) })
	ex, err := limit.Apply(ctx, h.Store, now, limit.Check{Rule: h.PerIP, Key: limit.IPKey(h.Hasher, fl.From.SourceIP)})
	wg.Wait()
	if err = errors.Join(err, recentErr, spentErr); err != nil {
		return Filed{}, fmt.Errorf("rights request: %w", err)
	}
	if ex != nil {
		h.Log.WarnContext(ctx, "rights request over its limit", "limit", ex.Rule.Name)
		return Filed{}, &RateLimited{RetryAfter: ex.RetryAfter}
	}
	if optOut {
		held, err := h.held(ctx, f, now, spent)
		if err != nil {
			return Filed{}, fmt.Errorf("rights request: %w", err)
		}
		return h.optOut(ctx, fl, subject, held, now)
	}
	if req.Own() {
		if prev, ok := joinable(recent, req); ok {
			if err := h.join(ctx, f, prev, now, spent); err != nil {
				return Filed{}, fmt.Errorf("rights request: %w", err)
			}
			return answer, nil
		}
	}
	held, err := h.held(ctx, f, now, spent)
	if err != nil {
		return Filed{}, fmt.Errorf("rights request: %w", err)
	}
	// The acknowledgement is due whatever the limits say: the team's
	// notice goes with it; the mailer leaves out what is held (and a later
	// filing within the limit sends the link at once: nothing went out).
	req.MailHeld, req.MailDue = held, privacy.Due(privacy.MailReceived, req.VerifyNonce)
	if req.Held(req.AnswerRole()) {
		req.VerifySentAt = time.Time{}
	}
	// The request is stored alone: its request_received entry is the
	// mailer's, from the request's stream record
	// (privacy.RequestReceived: those it names as hashes, no address; the
	// filer's network address and browser are not kept), written before
	// anything that holds its emails back.
	req.ReceivedPolicyVersion = fl.PolicyVersion
	if err := h.Store.CreateRequest(ctx, req, privacy.Event{}); err != nil {
		return Filed{}, fmt.Errorf("rights request: %w", err)
	}
	h.Log.InfoContext(ctx, "rights request received", "rights_request_id", req.ID, "type", f.Type, "relationship", f.Relationship,
		"mail_held", strings.Join(held, ","))
	return answer, nil
}

// join makes a filing f that repeats the person's own open request prev
// part of it: no second clock. Only the owner's inbox learns of it: a
// fresh verification link while it is unverified, a short notice once it
// is verified, at most one of either per cooldown; only a join that would
// mail counts against the mailbox's budget (identical filings within the
// cooldown spend nothing), and none is sent past it.
func (h *Handlers) join(ctx context.Context, f privacy.RightsRequestForm, prev privacy.RightsRequest, now time.Time, spent limit.Spent) error {
	unverified := prev.Status == privacy.RequestIdentityUnverified
	if unverified && prev.VerifySentAt.After(now.Add(-ResendCooldown)) {
		h.Log.InfoContext(ctx, "rights request joined an open one", "rights_request_id", prev.ID, "owner_emailed", false)
		return nil
	}
	held, err := h.held(ctx, f, now, spent)
	if err != nil {
		return err
	}
	var sent bool
	switch {
	case slices.Contains(held, privacy.RoleRequester):
	case unverified:
		sent, err = h.Store.ResendVerification(ctx, prev.ID, h.nonce(), now, ResendCooldown)
	default:
		sent, err = h.Store.NoteJoined(ctx, prev.ID, privacy.OpenStatuses(), now, ResendCooldown)
	}
	if err != nil {
		return err
	}
	h.Log.InfoContext(ctx, "rights request joined an open one", "rights_request_id", prev.ID, "owner_emailed", sent)
	return nil
}

// held counts every address f will mail against its mailbox's daily
// budget (PerAddress, whatever the role: a mailbox gets at most that much
// of this mail a day) and, for an address a filer named (a parent, an
// agent, a recipient, a new address), first against a share of it, half,
// kept apart: a filing past that share is held without spending the
// mailbox's budget, so strangers who name someone spend at most half of
// that person's budget, and the rest is left for the person's own
// filings. It returns the roles past either: nothing is mailed to them
// for this filing. (One round trip for the person's own filing; two when
// it names someone; spent is what the day before spent, read ahead.)
func (h *Handlers) held(ctx context.Context, f privacy.RightsRequestForm, now time.Time, spent limit.Spent) ([]string, error) {
	whole, named := MailboxBudgets(h.PerAddress)
	var held []string
	hold := func(role string, ex *limit.Exceeded) {
		if ex != nil && !slices.Contains(held, role) {
			held = append(held, role)
			h.Log.WarnContext(ctx, "rights request past a per-address limit; its mail to that address is held", "limit", ex.Rule.Name,
				"role", role)
		}
	}
	var shares []limit.Check
	var sharers []privacy.MailedAddress
	for _, m := range f.Mailed() {
		if m.Role != privacy.RoleRequester {
			shares, sharers = append(shares, limit.Check{Rule: named, Key: h.Hasher.MailboxKey(m.Address)}), append(sharers, m)
		}
	}
	over, err := limit.EachSpent(ctx, h.Store, now, spent, shares...)
	if err != nil {
		return nil, err
	}
	for i, ex := range over {
		hold(sharers[i].Role, ex)
	}
	var checks []limit.Check
	var roles []string
	for _, m := range f.Mailed() {
		if !slices.Contains(held, m.Role) {
			checks, roles = append(checks, limit.Check{Rule: whole, Key: h.Hasher.MailboxKey(m.Address)}), append(roles, m.Role)
		}
	}
	if over, err = limit.EachSpent(ctx, h.Store, now, spent, checks...); err != nil {
		return nil, err
	}
	for i, ex := range over {
		hold(roles[i], ex)
	}
	return held, nil
}

// MailboxBudgets are the rules of a mailbox's daily rights mail, from the
// per-address limit: the whole budget, and the half-share the addresses a
// filer names may spend. Both roll (limit.Rule.Rolling): no 24 hours hold
// more than the budget, not twice it across midnight.
func MailboxBudgets(perAddress limit.Rule) (whole, named limit.Rule) {
	whole = perAddress
	whole.Rolling = true
	named = whole
	named.Name += "_named"
	if named.Max > 0 { // (0 is off)
		named.Max = max(1, named.Max/2)
	}
	return whole, named
}

// spentBefore reads what the day before spent of every budget a filing
// may spend (limit.Previous): a read, made beside the source's limit.
func (h *Handlers) spentBefore(ctx context.Context, f privacy.RightsRequestForm, now time.Time) (limit.Spent, error) {
	whole, named := MailboxBudgets(h.PerAddress)
	var checks []limit.Check
	for _, m := range f.Mailed() {
		key := h.Hasher.MailboxKey(m.Address)
		checks = append(checks, limit.Check{Rule: whole, Key: key})
		if m.Role != privacy.RoleRequester {
			checks = append(checks, limit.Check{Rule: named, Key: key})
		}
	}
	return limit.Previous(ctx, h.Store, now, checks...)
}

// optOut takes the person's own opt-out of the sale and sharing of their
// personal data (CCPA): answered at once, since the company sells and
// shares nothing and the law lets an opt-out need no proof of identity (it
// can only protect). The person's record is marked (as a Global Privacy
// Control signal marks it) and the address is sent the confirmation; the
// answer says completed. An agent's opt-out waits, like every request an
// agent files, for the person to confirm it.
func (h *Handlers) optOut(ctx context.Context, fl Filing, subject privacy.SubjectID, held []string, now time.Time) (Filed, error) {
	f := fl.Form
	req := privacy.RightsRequest{Lang: fl.Lang, ID: h.NewID(), Subject: subject, Email: f.Email, Name: f.Name, Type: f.Type,
		Relationship: f.Relationship, Regulation: f.Regulation, Status: privacy.RequestCompleted,
		ReceivedAt: now, DueAt: now, CompletedAt: now, MailHeld: held}
	if !req.Held(privacy.RoleRequester) {
		req.MailDue = privacy.Due(privacy.MailOptedOut, h.nonce())
	}
	e := privacy.Event{Subject: subject, Name: "opt_out_of_sale_recorded", At: now, Ref: req.ID,
		LegalBasis: privacy.BasisLegalObligation, PolicyVersion: fl.PolicyVersion}
	if err := h.Store.RecordSaleOptOut(ctx, subject, "request", e); err != nil {
		return Filed{}, fmt.Errorf("rights request: %w", err)
	}
	// Its request_received is written with it (not from its stream
	// record: privacy.OwnOptOut).
	e.Name = privacy.EventRequestReceived
	if err := h.Store.CreateRequest(ctx, req, e); err != nil {
		return Filed{}, fmt.Errorf("rights request: %w", err)
	}
	h.Log.InfoContext(ctx, "opt-out of sale recorded", "rights_request_id", req.ID)
	return Filed{ID: req.ID, Status: privacy.RequestCompleted, DueAt: now}, nil
}

// fresh is the answer to a filing f: the same for a new request, a joined
// one, one over a per-address limit and a honeypot. A parent's request is
// due sooner (privacy.ParentDays).
func (h *Handlers) fresh(f privacy.RightsRequestForm, now time.Time) Filed {
	due := privacy.SiteDueAt(f.Regulation, f.Type, now)
	if f.Relationship == privacy.RelationshipParent {
		due = now.AddDate(0, 0, privacy.ParentDays)
	}
	return Filed{ID: h.NewID(), Status: privacy.RequestIdentityUnverified, DueAt: due}
}

// joinable finds, among a subject's recent requests, the person's own open
// request that req repeats identically: both the person's own (no parent,
// agent, recipient or correction on either: a stranger's filing never
// swallows the person's, nor the person's a stranger's), of the same type,
// scope and regulation, in the same language, with the same name and
// details. A join exists for the same form sent twice: anything else is a
// request of its own (a stranger's filing under the person's address
// cannot set the terms, or the deadline, of the person's). A
// rectification is never joined, nor a controller's OpenDSR request (the
// controller's, not the person's).
func joinable(recent []privacy.RightsRequest, req privacy.RightsRequest) (privacy.RightsRequest, bool) {
	if !req.Own() || req.Type == privacy.RightRectification {
		return privacy.RightsRequest{}, false
	}
	for _, prev := range recent {
		if prev.Source == "" && prev.Own() && prev.Type == req.Type && prev.Scope == req.Scope &&
			prev.Regulation == req.Regulation && prev.Lang == req.Lang && prev.Name == req.Name && prev.Details == req.Details &&
			slices.Contains(privacy.OpenStatuses(), prev.Status) {
			return prev, true
		}
	}
	return privacy.RightsRequest{}, false
}

// excessive reports whether verifying request id makes more than max
// verified site requests of the subject in the 30 days before now. A
// parent's request counts for nothing: the parent verified their own
// address, not the person's.
func excessive(recent []privacy.RightsRequest, id string, max int) bool {
	n := 1
	for _, r := range recent {
		if r.ID != id && r.Source == "" && !r.VerifiedAt.IsZero() && r.Relationship != privacy.RelationshipParent {
			n++
		}
	}
	return n > max
}

// nonce makes a verification link single-use (the token is signed
// anyway); short, so that "id:nonce" fits a token's reference.
func (h *Handlers) nonce() string { return strings.ReplaceAll(h.NewID(), "-", "")[:16] }

// ErrInvalidLink is a link whose token is not good for what it asks (or
// for the request it names); ErrNoRequest a link of a request there is no
// longer.
var (
	ErrInvalidLink = errors.New("invalid link")
	ErrNoRequest   = errors.New("no such request")
)

// Link is a link of a request's email: the request its path names, and
// its token.
type Link struct{ ID, Token string }

// check verifies a link's token for purpose p and the request it names.
func (h *Handlers) check(l Link, p token.Purpose) (token.Claims, string, error) {
	c, err := h.Tokens.Check(l.Token, p, h.Now())
	if err != nil || !strings.HasPrefix(c.Ref, l.ID+":") && c.Ref != l.ID {
		return c, l.ID, ErrInvalidLink
	}
	return c, l.ID, nil
}

// ToVerify is the request a verification link confirms, for its page to
// show plainly what the person confirms; none (the zero request) when
// there is no such request. It changes nothing.
func (h *Handlers) ToVerify(ctx context.Context, l Link) (privacy.RightsRequest, error) {
	c, id, err := h.check(l, token.VerifyRequest)
	if err != nil {
		return privacy.RightsRequest{}, err
	}
	req, err := h.Store.Request(ctx, id)
	if errors.Is(err, privacy.ErrNotFound) {
		return privacy.RightsRequest{}, nil
	}
	if err != nil {
		return privacy.RightsRequest{}, fmt.Errorf("verify page: %w", err)
	}
	if req.Subject != c.Subject {
		return privacy.RightsRequest{}, ErrInvalidLink
	}
	return req, nil
}

// Verify verifies the requester's identity by the single-use link l,
// clicked from from under policyVersion, and returns the request's status
// now (fulfilled, or held for the team).
func (h *Handlers) Verify(ctx context.Context, l Link, from privacy.RequestMeta, policyVersion string) (privacy.Status, error) {
	c, id, err := h.check(l, token.VerifyRequest)
	if err != nil {
		return "", err
	}
	nonce, now := strings.TrimPrefix(c.Ref, id+":"), h.Now().UTC()
	req, err := h.Store.Request(ctx, id)
	if errors.Is(err, privacy.ErrNotFound) || err == nil && req.Subject != c.Subject {
		// (A link minted before the person's address moved acts on nothing
		// under the new key.)
		return "", ErrInvalidLink
	}
	if err != nil {
		return "", fmt.Errorf("verify: %w", err)
	}
	recent, err := h.Store.SubjectRequests(ctx, c.Subject, now.AddDate(0, 0, -30))
	if err != nil {
		return "", fmt.Errorf("verify: %w", err)
	}
	review := privacy.ReviewNone
	switch {
	case req.Status != privacy.RequestIdentityUnverified && req.Status != privacy.RequestPending:
		// Verified before (this link again): nothing changes, the answer
		// is the request's status.
	case req.Relationship == privacy.RelationshipParent:
		// The parent confirmed their own address: the team now asks for
		// and weighs the proof that they are the parent.
		review = privacy.ReviewProof
	case req.Excessive || (req.Status == privacy.RequestIdentityUnverified && excessive(recent, id, h.ExcessPerMonth)):
		review = privacy.ReviewExcessive
	}
	err = h.Store.VerifyRequest(ctx, id, nonce, review, privacy.Event{Subject: c.Subject, Name: "request_verified", At: now,
		Ref: id, LegalBasis: privacy.BasisLegalObligation, PolicyVersion: policyVersion,
		Detail: map[string]string{"source_ip": from.SourceIP, "user_agent": from.UserAgent}})
	if errors.Is(err, privacy.ErrStale) {
		return "", ErrInvalidLink
	}
	if err != nil {
		return "", fmt.Errorf("verify: %w", err)
	}
	switch {
	case review == privacy.ReviewProof:
		h.Log.InfoContext(ctx, "parent's address confirmed; the team asks for proof", "rights_request_id", id)
		return privacy.RequestAwaitingReview, nil
	case review == privacy.ReviewExcessive:
		// Possibly excessive (policy §8): the team decides (privacyctl
		// approve or deny); the clock runs meanwhile.
		h.Log.InfoContext(ctx, "verified request held for the team", "rights_request_id", id)
		return privacy.RequestPending, nil
	case req.Status == privacy.RequestIdentityUnverified || req.Status == privacy.RequestPending:
		// Pending also when a verification was retried after a failed
		// fulfilment: every step is idempotent, so this finishes the job.
		return h.Fulfiller.Fulfil(ctx, req, nonce, now)
	}
	return req.Status, nil
}

// Status is the request a status link is for.
func (h *Handlers) Status(ctx context.Context, l Link) (privacy.RightsRequest, error) {
	c, id, err := h.check(l, token.RequestStatus)
	if err != nil {
		return privacy.RightsRequest{}, err
	}
	req, err := h.Store.Request(ctx, id)
	if errors.Is(err, privacy.ErrNotFound) {
		return privacy.RightsRequest{}, ErrNoRequest
	}
	if err != nil {
		return privacy.RightsRequest{}, fmt.Errorf("status: %w", err)
	}
	if c.Subject != req.Subject {
		// Minted for the person before their address moved: it shows
		// nothing (not even a results link) of the new key's.
		return privacy.RightsRequest{}, ErrInvalidLink
	}
	return req, nil
}

// ResultsURL is the export link of a completed access or portability
// request while it works (7 days after completion).
func (h *Handlers) ResultsURL(req privacy.RightsRequest) (string, bool) {
	return links.Builder{Base: h.BaseURL, Tokens: h.Tokens}.Export(req, h.Now())
}
