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
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/limit"
	"github.com/privacykeeper/privacykeeper/shared/links"
	"github.com/privacykeeper/privacykeeper/shared/pages"
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
	NoteJoined(ctx context.Context, id string, open []string, now time.Time, cooldown time.Duration) (bool, error)
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

// Routes registers the handlers under the template's route keys; rd reads
// what exports contain.
func (h *Handlers) Routes(rt *httpapi.Router, rd Reader, company string) {
	rt.Handle("GET /v1/rights-requests/{id}/export", h.ExportHandler(rd, company))
	rt.Handle("POST /v1/rights-requests", h.File)
	rt.Handle("GET /v1/rights-requests/{id}", h.Status)
	rt.Handle("GET /v1/rights-requests/{id}/verify", h.VerifyPage)
	rt.Handle("POST /v1/rights-requests/{id}/verify", h.Verify)
	rt.Handle("GET /v1/rights-requests/{id}/address", h.AddressPage)
	rt.Handle("POST /v1/rights-requests/{id}/address", h.Address)
	rt.Handle("GET /v1/rights-requests/{id}/stop", h.StopPage)
	rt.Handle("POST /v1/rights-requests/{id}/stop", h.Stop)
	rt.Handle("GET /v1/rights-requests/{id}/answer", h.AnswerPage)
	rt.Handle("POST /v1/rights-requests/{id}/answer", h.Answer)
}

type filed struct {
	ID      string `json:"id,omitempty"`
	Status  string `json:"status"`
	DueAt   string `json:"due_at,omitempty"`
	Message string `json:"message,omitempty"`
	due     time.Time
}

// File handles POST /v1/rights-requests.
func (h *Handlers) File(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	in, err := httpapi.DecodeInput(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	now := h.Now().UTC()
	if in.Honeypot() {
		return h.answer(r, h.fresh(privacy.RightsRequestForm{Regulation: privacy.RegulationGDPR,
			Type: in.String(privacy.FieldErrors{}, "type")}, now)), nil
	}
	f, err := privacy.ParseRightsRequest(in)
	if v, ok := privacy.AsValidation(err); ok {
		return httpapi.Response{}, httpapi.Validation(v)
	}
	if f.Relationship == privacy.RelationshipPlatformEndUser {
		// The company only processes this data for its client: the client
		// answers. Nothing is stored.
		return h.answer(r, filed{Status: privacy.RequestRedirected, Message: pages.Lang(r).T("rights.redirected.body")}), nil
	}
	// The answer is the same whether this request is new, joins an open
	// one, or goes over a per-address limit: status identity_unverified, a
	// deadline counted from now, a new id. Anything else would tell whoever
	// typed an address that its owner has a request, how far it has got,
	// or that it is being flooded.
	answer := h.fresh(f, now)
	subject := h.Hasher.Subject(f.Email)
	meta := httpapi.Meta(r, now)
	req := privacy.RightsRequest{Lang: pages.Lang(r).Code, ID: answer.ID, Subject: subject, Email: f.Email, Name: f.Name,
		Type: f.Type, Details: f.Details, Relationship: f.Relationship, Regulation: f.Regulation, Scope: f.Scope,
		RecipientEmail: f.RecipientEmail, Correction: f.Correction, AgentEmail: f.AgentEmail, ParentEmail: f.ParentEmail,
		Status: privacy.RequestIdentityUnverified, ReceivedAt: now, DueAt: answer.due, VerifyNonce: h.nonce(), VerifySentAt: now}
	// The source's limit first: a call refused there spends nobody's
	// budget. The person's recent requests (a read: it spends nothing)
	// are fetched meanwhile, for a join.
	var recent []privacy.RightsRequest
	var spent limit.Spent
	var recentErr, spentErr error
	var wg sync.WaitGroup
	optOut := f.Type == privacy.RightOptOutOfSale && f.Relationship != privacy.RelationshipAgent
	if req.Own() && !optOut {
		wg.Go(func() { recent, recentErr = h.Store.SubjectRequests(ctx, subject, now.AddDate(0, 0, -30)) })
	}
	wg.Go(func() { spent, spentErr = h.spentBefore(ctx, f, now) })
	ex, err := limit.Apply(ctx, h.Store, now, limit.Check{Rule: h.PerIP, Key: limit.IPKey(h.Hasher, r.RequestContext.HTTP.SourceIP)})
	wg.Wait()
	if err = errors.Join(err, recentErr, spentErr); err != nil {
		return httpapi.Response{}, fmt.Errorf("rights request: %w", err)
	}
	if ex != nil {
		h.Log.WarnContext(ctx, "rights request over its limit", "limit", ex.Rule.Name)
		return httpapi.Response{}, httpapi.RateLimited(ex.RetryAfter)
	}
	if optOut {
		held, err := h.held(ctx, f, now, spent)
		if err != nil {
			return httpapi.Response{}, fmt.Errorf("rights request: %w", err)
		}
		return h.optOut(ctx, r, f, subject, held, now)
	}
	if req.Own() {
		if prev, ok := joinable(recent, req); ok {
			if err := h.join(ctx, f, prev, now, spent); err != nil {
				return httpapi.Response{}, fmt.Errorf("rights request: %w", err)
			}
			return h.answer(r, answer), nil
		}
	}
	held, err := h.held(ctx, f, now, spent)
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("rights request: %w", err)
	}
	// The acknowledgement is due whatever the limits say: the team's
	// notice goes with it; the mailer leaves out what is held (and a later
	// filing within the limit sends the link at once: nothing went out).
	req.MailHeld, req.MailDue = held, privacy.Due(privacy.MailReceived, req.VerifyNonce)
	if req.Held(req.AnswerRole()) {
		req.VerifySentAt = time.Time{}
	}
	// Those the request names are in the ledger as hashes: it names no one.
	detail := map[string]string{"type": f.Type, "regulation": f.Regulation, "source_ip": meta.SourceIP, "user_agent": meta.UserAgent}
	for k, addr := range map[string]string{"recipient_hash": f.RecipientEmail, "agent_hash": f.AgentEmail, "parent_hash": f.ParentEmail} {
		if addr != "" {
			detail[k] = string(h.Hasher.Subject(addr))
		}
	}
	if f.Relationship != "" {
		detail["relationship"] = f.Relationship
	}
	err = h.Store.CreateRequest(ctx, req, privacy.Event{Subject: subject, Name: "request_received", At: now, Ref: req.ID,
		LegalBasis: privacy.BasisLegalObligation, PolicyVersion: r.Site.PolicyVersion, Detail: detail})
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("rights request: %w", err)
	}
	h.Log.InfoContext(ctx, "rights request received", "rights_request_id", req.ID, "type", f.Type, "relationship", f.Relationship,
		"mail_held", strings.Join(held, ","))
	return h.answer(r, answer), nil
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
func (h *Handlers) optOut(ctx context.Context, r httpapi.Request, f privacy.RightsRequestForm, subject privacy.SubjectID,
	held []string, now time.Time) (httpapi.Response, error) {
	req := privacy.RightsRequest{Lang: pages.Lang(r).Code, ID: h.NewID(), Subject: subject, Email: f.Email, Name: f.Name, Type: f.Type,
		Relationship: f.Relationship, Regulation: f.Regulation, Status: privacy.RequestCompleted,
		ReceivedAt: now, DueAt: now, CompletedAt: now, MailHeld: held}
	if !req.Held(privacy.RoleRequester) {
		req.MailDue = privacy.Due(privacy.MailOptedOut, h.nonce())
	}
	e := privacy.Event{Subject: subject, Name: "opt_out_of_sale_recorded", At: now, Ref: req.ID,
		LegalBasis: privacy.BasisLegalObligation, PolicyVersion: r.Site.PolicyVersion}
	if err := h.Store.RecordSaleOptOut(ctx, subject, "request", e); err != nil {
		return httpapi.Response{}, fmt.Errorf("rights request: %w", err)
	}
	e.Name = "request_received"
	if err := h.Store.CreateRequest(ctx, req, e); err != nil {
		return httpapi.Response{}, fmt.Errorf("rights request: %w", err)
	}
	h.Log.InfoContext(ctx, "opt-out of sale recorded", "rights_request_id", req.ID)
	return h.answer(r, filed{ID: req.ID, Status: privacy.RequestCompleted, DueAt: httpapi.Deadline(now), due: now}), nil
}

// fresh is the answer to a filing f: the same for a new request, a joined
// one, one over a per-address limit and a honeypot. A parent's request is
// due sooner (privacy.ParentDays).
func (h *Handlers) fresh(f privacy.RightsRequestForm, now time.Time) filed {
	due := privacy.SiteDueAt(f.Regulation, f.Type, now)
	if f.Relationship == privacy.RelationshipParent {
		due = now.AddDate(0, 0, privacy.ParentDays)
	}
	return filed{ID: h.NewID(), Status: privacy.RequestIdentityUnverified, DueAt: httpapi.Deadline(due), due: due}
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

func (h *Handlers) answer(r httpapi.Request, f filed) httpapi.Response {
	if httpapi.WantsHTML(r) {
		switch f.Status {
		case privacy.RequestCompleted:
			return pages.Message(r, http.StatusAccepted, "rights.opted_out", f.ID)
		case privacy.RequestRedirected:
			return pages.Message(r, http.StatusAccepted, "rights.redirected")
		}
		return pages.Message(r, http.StatusAccepted, "rights.received", f.ID, f.DueAt[:10])
	}
	return httpapi.JSON(http.StatusAccepted, f)
}

// check verifies a link token for the request named in the path.
func (h *Handlers) check(r httpapi.Request, p token.Purpose) (token.Claims, string, error) {
	id := r.PathParameters["id"]
	c, err := h.Tokens.Check(httpapi.Query(r, "token"), p, h.Now())
	if err != nil || !strings.HasPrefix(c.Ref, id+":") && c.Ref != id {
		return c, id, httpapi.ErrInvalidToken
	}
	return c, id, nil
}

// VerifyPage handles GET …/verify: one button, nothing changes.
func (h *Handlers) VerifyPage(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	c, id, err := h.check(r, token.VerifyRequest)
	if err != nil {
		return httpapi.Response{}, err
	}
	a := pages.Action{Key: "verify", URL: r.RawPath + "?token=" + httpapi.Query(r, "token")}
	req, err := h.Store.Request(ctx, id)
	if err != nil && !errors.Is(err, privacy.ErrNotFound) {
		return httpapi.Response{}, fmt.Errorf("verify page: %w", err)
	}
	if err == nil && req.Subject != c.Subject {
		return httpapi.Response{}, httpapi.ErrInvalidToken
	}
	// The person sees, plainly, what they confirm: the change a correction
	// asks for, the agent who filed, who receives a copy of their data.
	switch {
	case req.Correction.Field == privacy.FieldEmail:
		a.Key, a.Args = "verify.correction", []any{pages.Lang(r).T("correction.field." + req.Correction.Field), req.Correction.Value}
	case req.Correction.Field != "":
		// A new name, company or phone is the filer's text: the field
		// alone, until the person verified.
		a.Key, a.Args = "verify.correction_field", []any{pages.Lang(r).T("correction.field." + req.Correction.Field)}
	case req.AgentEmail != "":
		a.Key, a.Args = "verify.agent", []any{req.AgentEmail}
	case req.RecipientEmail != "":
		a.Key, a.Args = "verify.third_party", []any{req.RecipientEmail}
	}
	return pages.ActionPage(r, a), nil
}

// Verify handles POST …/verify: the single-use link verifies the identity.
func (h *Handlers) Verify(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	c, id, err := h.check(r, token.VerifyRequest)
	if err != nil {
		return httpapi.Response{}, err
	}
	nonce := strings.TrimPrefix(c.Ref, id+":")
	meta := httpapi.Meta(r, h.Now())
	req, err := h.Store.Request(ctx, id)
	if errors.Is(err, privacy.ErrNotFound) || err == nil && req.Subject != c.Subject {
		// (A link minted before the person's address moved acts on nothing
		// under the new key.)
		return httpapi.Response{}, httpapi.ErrInvalidToken
	}
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("verify: %w", err)
	}
	recent, err := h.Store.SubjectRequests(ctx, c.Subject, meta.ReceivedAt.AddDate(0, 0, -30))
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("verify: %w", err)
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
	err = h.Store.VerifyRequest(ctx, id, nonce, review, privacy.Event{Subject: c.Subject, Name: "request_verified", At: meta.ReceivedAt,
		Ref: id, LegalBasis: privacy.BasisLegalObligation, PolicyVersion: r.Site.PolicyVersion,
		Detail: map[string]string{"source_ip": meta.SourceIP, "user_agent": meta.UserAgent}})
	if errors.Is(err, privacy.ErrStale) {
		return httpapi.Response{}, httpapi.ErrInvalidToken
	}
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("verify: %w", err)
	}
	status := privacy.RequestPending
	switch {
	case review == privacy.ReviewProof:
		status = privacy.RequestAwaitingReview
		h.Log.InfoContext(ctx, "parent's address confirmed; the team asks for proof", "rights_request_id", id)
	case review == privacy.ReviewExcessive:
		// Possibly excessive (policy §8): the team decides (privacyctl
		// approve or deny); the clock runs meanwhile.
		h.Log.InfoContext(ctx, "verified request held for the team", "rights_request_id", id)
	case req.Status == privacy.RequestIdentityUnverified || req.Status == privacy.RequestPending:
		// Pending also when a verification was retried after a failed
		// fulfilment: every step is idempotent, so this finishes the job.
		if status, err = h.Fulfiller.Fulfil(ctx, req, nonce, meta.ReceivedAt); err != nil {
			return httpapi.Response{}, err
		}
	default:
		status = req.Status
	}
	if httpapi.WantsHTML(r) {
		return pages.Message(r, http.StatusOK, "verified"), nil
	}
	return httpapi.JSON(http.StatusOK, map[string]string{"id": id, "status": status}), nil
}

type statusBody struct {
	ID            string `json:"id"`
	Type          string `json:"type"`
	Scope         string `json:"scope,omitempty"`
	Status        string `json:"status"`
	ReceivedAt    string `json:"received_at"`
	DueAt         string `json:"due_at"`
	ExtendedUntil string `json:"extended_until,omitempty"`
	CompletedAt   string `json:"completed_at,omitempty"`
	Reason        string `json:"reason,omitempty"`
	ResultsURL    string `json:"results_url,omitempty"`
	// RecipientsTold are the processors told of the request (Art. 19).
	RecipientsTold []privacy.Told `json:"recipients_told,omitempty"`
}

// Status handles GET /v1/rights-requests/{id}?token=S.
func (h *Handlers) Status(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	c, id, err := h.check(r, token.RequestStatus)
	if err != nil {
		return httpapi.Response{}, err
	}
	req, err := h.Store.Request(ctx, id)
	if errors.Is(err, privacy.ErrNotFound) {
		return httpapi.Response{}, httpapi.ErrNotFound
	}
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("status: %w", err)
	}
	if c.Subject != req.Subject {
		// Minted for the person before their address moved: it shows
		// nothing (not even a results link) of the new key's.
		return httpapi.Response{}, httpapi.ErrInvalidToken
	}
	body := statusBody{ID: req.ID, Type: req.Type, Scope: req.Scope, Status: req.Status, ReceivedAt: httpapi.Time(req.ReceivedAt),
		DueAt: httpapi.Deadline(req.DueAt), ExtendedUntil: httpapi.Deadline(req.ExtendedUntil),
		CompletedAt: httpapi.Time(req.CompletedAt), Reason: req.Reason, RecipientsTold: req.RecipientsTold()}
	if !req.OriginalDueAt.IsZero() {
		body.DueAt = httpapi.Deadline(req.OriginalDueAt) // the first deadline; extended_until is the current one
	}
	if url, ok := h.ResultsURL(req); ok {
		body.ResultsURL = url
	}
	if httpapi.WantsHTML(r) {
		statusKey := "status." + req.Status
		if req.Status == privacy.RequestCompleted {
			statusKey = "status.completed_value"
		}
		day := func(ts string) string { return strings.SplitN(ts, "T", 2)[0] }
		return pages.View(r, http.StatusOK, pages.Lang(r).T("status.title", req.ID), "status", struct {
			Type, StatusKey, Received, Due, Extended, Completed, Reason, ResultsURL string
			Told                                                                    []privacy.Told
		}{req.Type, statusKey, day(body.ReceivedAt), day(body.DueAt), day(body.ExtendedUntil), day(body.CompletedAt),
			body.Reason, body.ResultsURL, body.RecipientsTold}), nil
	}
	return httpapi.JSON(http.StatusOK, body), nil
}

// ResultsURL is the export link of a completed access or portability
// request while it works (7 days after completion).
func (h *Handlers) ResultsURL(req privacy.RightsRequest) (string, bool) {
	return links.Builder{Base: h.BaseURL, Tokens: h.Tokens}.Export(req, h.Now())
}
