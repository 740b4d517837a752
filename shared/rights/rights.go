// Package rights takes data-subject requests (API.md "Rights requests"):
// intake with its deadline, duplicate and excess handling, identity
// verification by an emailed single-use link, and the requester's status
// view. Fulfilment after verification is the next step (see the README).
package rights

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// Store is what the handlers need.
type Store interface {
	SubjectRequests(ctx context.Context, subject privacy.SubjectID, since time.Time) ([]dynamo.RightsRequest, error)
	CreateRequest(ctx context.Context, r dynamo.RightsRequest, e dynamo.Event) error
	Request(ctx context.Context, id string) (dynamo.RightsRequest, error)
	VerifyRequest(ctx context.Context, id, nonce string, fulfilNow bool, e dynamo.Event) error
	Erase(ctx context.Context, subject privacy.SubjectID, requestID string, e dynamo.Event) (withheld bool, deleted int, err error)
	SetOutcome(ctx context.Context, id, status, mailDue string, withheld bool, e dynamo.Event) error
	Unsubscribe(ctx context.Context, subject privacy.SubjectID, e dynamo.Event) error
	Suppress(ctx context.Context, subject privacy.SubjectID, reason string, e dynamo.Event) error
}

// Handlers holds the dependencies.
type Handlers struct {
	Store         Store
	Hasher        *privacy.Hasher
	Tokens        *token.Signer
	PolicyVersion string
	Now           func() time.Time
	NewID         func() string
	Log           *slog.Logger
	// BaseURL is the API's public base URL, for results links.
	BaseURL string
	// ExcessPerMonth is how many requests per subject in 30 days are
	// answered without a second look; more are flagged "possibly
	// excessive" for the team (policy §8), never dropped.
	ExcessPerMonth int
}

// Routes registers the handlers under the template's route keys; rd reads
// what exports contain.
func (h *Handlers) Routes(rt *httpapi.Router, rd Reader, company string) {
	rt.Handle("GET /v1/rights-requests/{id}/export", h.ExportHandler(rd, company))
	rt.Handle("POST /v1/rights-requests", h.File)
	rt.Handle("GET /v1/rights-requests/{id}", h.Status)
	rt.Handle("GET /v1/rights-requests/{id}/verify", h.VerifyPage)
	rt.Handle("POST /v1/rights-requests/{id}/verify", h.Verify)
}

type filed struct {
	ID      string `json:"id,omitempty"`
	Status  string `json:"status"`
	DueAt   string `json:"due_at,omitempty"`
	Message string `json:"message,omitempty"`
}

func open(status string) bool {
	switch status {
	case privacy.RequestIdentityUnverified, privacy.RequestPending, privacy.RequestInProgress, privacy.RequestAwaitingReview:
		return true
	}
	return false
}

// File handles POST /v1/rights-requests.
func (h *Handlers) File(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	in, err := httpapi.DecodeInput(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	now := h.Now().UTC()
	if in.Honeypot() {
		return h.answer(r, filed{ID: h.NewID(), Status: privacy.RequestIdentityUnverified,
			DueAt: privacy.DueAt(privacy.RegulationGDPR, now).Format(time.RFC3339)}), nil
	}
	f, err := privacy.ParseRightsRequest(in)
	if v, ok := privacy.AsValidation(err); ok {
		return httpapi.Response{}, httpapi.Validation(v)
	}
	if f.Relationship == privacy.RelationshipPlatformEndUser {
		// The company only processes this data for its client: the client
		// answers. Nothing is stored.
		return h.answer(r, filed{Status: privacy.RequestRedirected, Message: "Your data in the platform belongs to the " +
			"company whose app or website you used: we process it only on its behalf. Please send your request to that " +
			"company; it can use the platform to answer you, and we help it to."}), nil
	}
	subject := h.Hasher.Subject(f.Email)
	recent, err := h.Store.SubjectRequests(ctx, subject, now.AddDate(0, 0, -30))
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("rights request: %w", err)
	}
	for _, prev := range recent {
		if prev.Type == f.Type && open(prev.Status) {
			// The same request again joins the first: no second clock.
			h.Log.InfoContext(ctx, "rights request joined an open one", "request_id", prev.ID)
			return h.answer(r, filed{ID: prev.ID, Status: prev.Status, DueAt: prev.DueAt}), nil
		}
	}
	id := h.NewID()
	meta := httpapi.Meta(r, now)
	req := dynamo.RightsRequest{ID: id, Kind: dynamo.KindRequest, Subject: string(subject), Email: f.Email, Name: f.Name,
		Type: f.Type, Details: f.Details, Relationship: f.Relationship, Regulation: f.Regulation,
		Status: privacy.RequestIdentityUnverified, ReceivedAt: now.Format(time.RFC3339Nano),
		DueAt: privacy.DueAt(f.Regulation, now).Format(time.RFC3339),
		// The nonce makes the link single-use (the token is signed anyway);
		// short, so that "id:nonce" fits a token's reference.
		VerifyNonce: strings.ReplaceAll(h.NewID(), "-", "")[:16],
		Excessive:   len(recent)+1 > h.ExcessPerMonth}
	req.MailDue = dynamo.MailDueReceived + req.VerifyNonce
	err = h.Store.CreateRequest(ctx, req, dynamo.Event{Subject: subject, Name: "request_received", At: now, Ref: id,
		LegalBasis: privacy.BasisLegalObligation, PolicyVersion: h.PolicyVersion,
		Detail: map[string]string{"type": f.Type, "regulation": f.Regulation, "source_ip": meta.SourceIP,
			"user_agent": meta.UserAgent}})
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("rights request: %w", err)
	}
	h.Log.InfoContext(ctx, "rights request received", "request_id", id, "type", f.Type, "possibly_excessive", req.Excessive)
	return h.answer(r, filed{ID: id, Status: req.Status, DueAt: req.DueAt}), nil
}

func (h *Handlers) answer(r httpapi.Request, f filed) httpapi.Response {
	if httpapi.WantsHTML(r) {
		msg := f.Message
		if msg == "" {
			msg = "We sent you an email with a link to confirm it is you. Your reference is " + f.ID +
				"; we will answer by " + f.DueAt[:10] + "."
		}
		return httpapi.Page(http.StatusAccepted, "Request received", msg)
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
	if _, _, err := h.check(r, token.VerifyRequest); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.ActionPage(httpapi.Action{Title: "Confirm your request",
		Message: "Press the button to confirm that you made this request. We then start working on it.",
		URL:     r.RawPath + "?token=" + httpapi.Query(r, "token"), Button: "Yes, this is my request"}), nil
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
	if errors.Is(err, dynamo.ErrNotFound) {
		return httpapi.Response{}, httpapi.ErrInvalidToken
	}
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("verify: %w", err)
	}
	fulfil := req.Type == privacy.RightAccess || req.Type == privacy.RightPortability
	err = h.Store.VerifyRequest(ctx, id, nonce, fulfil, dynamo.Event{Subject: c.Subject, Name: "request_verified", At: meta.ReceivedAt,
		Ref: id, LegalBasis: privacy.BasisLegalObligation, PolicyVersion: h.PolicyVersion,
		Detail: map[string]string{"source_ip": meta.SourceIP, "user_agent": meta.UserAgent}})
	if errors.Is(err, dynamo.ErrStale) {
		return httpapi.Response{}, httpapi.ErrInvalidToken
	}
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("verify: %w", err)
	}
	status := privacy.RequestPending
	if fulfil {
		status = privacy.RequestCompleted
	}
	if st, err := h.fulfil(ctx, req, c.Subject, nonce, meta.ReceivedAt); err != nil {
		return httpapi.Response{}, err
	} else if st != "" {
		status = st
	}
	if httpapi.WantsHTML(r) {
		return httpapi.Page(http.StatusOK, "Thank you", "Your request is confirmed. We will email you when it is done."), nil
	}
	return httpapi.JSON(http.StatusOK, map[string]string{"id": id, "status": status}), nil
}

// fulfil does, right after verification, what needs no person: erasure,
// objection and consent withdrawal are carried out; a rectification goes to
// the team for review. Each step is idempotent, so a retried verification
// finishes the job. It returns the new status, or "" when unchanged.
func (h *Handlers) fulfil(ctx context.Context, req dynamo.RightsRequest, subject privacy.SubjectID, nonce string, at time.Time) (string, error) {
	e := func(name string) dynamo.Event {
		return dynamo.Event{Subject: subject, Name: name, At: at, Ref: req.ID,
			LegalBasis: privacy.BasisLegalObligation, PolicyVersion: h.PolicyVersion}
	}
	switch req.Type {
	case privacy.RightErasure:
		// Everything under the subject goes now, unless a legal hold
		// withholds it (the email then says so).
		withheld, n, err := h.Store.Erase(ctx, subject, req.ID, e("erased"))
		if err == nil {
			err = h.Store.SetOutcome(ctx, req.ID, privacy.RequestCompleted, dynamo.MailDueErased+nonce, withheld, e("erased"))
		}
		if err != nil {
			return "", fmt.Errorf("erase: %w", err)
		}
		h.Log.InfoContext(ctx, "erasure done", "request_id", req.ID, "items_deleted", n, "withheld", withheld)
		return privacy.RequestCompleted, nil
	case privacy.RightObjection, privacy.RightWithdrawConsent:
		// All marketing off at once, and suppressed for marketing.
		reason := privacy.SuppressObjected
		if req.Type == privacy.RightWithdrawConsent {
			reason = privacy.SuppressUnsubscribed
		}
		err := h.Store.Unsubscribe(ctx, subject, e("unsubscribed"))
		if err == nil {
			err = h.Store.Suppress(ctx, subject, reason, e(req.Type+"_done"))
		}
		if err == nil {
			err = h.Store.SetOutcome(ctx, req.ID, privacy.RequestCompleted, dynamo.MailDueDone+nonce, false, e(req.Type+"_done"))
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", req.Type, err)
		}
		return privacy.RequestCompleted, nil
	case privacy.RightRectification:
		if err := h.Store.SetOutcome(ctx, req.ID, privacy.RequestAwaitingReview, dynamo.MailDueReview+nonce, false, e("review_requested")); err != nil {
			return "", fmt.Errorf("rectification: %w", err)
		}
		return privacy.RequestAwaitingReview, nil
	}
	return "", nil
}

type statusBody struct {
	ID            string `json:"id"`
	Type          string `json:"type"`
	Status        string `json:"status"`
	ReceivedAt    string `json:"received_at"`
	DueAt         string `json:"due_at"`
	ExtendedUntil string `json:"extended_until,omitempty"`
	CompletedAt   string `json:"completed_at,omitempty"`
	ResultsURL    string `json:"results_url,omitempty"`
}

// Status handles GET /v1/rights-requests/{id}?token=S.
func (h *Handlers) Status(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	_, id, err := h.check(r, token.RequestStatus)
	if err != nil {
		return httpapi.Response{}, err
	}
	req, err := h.Store.Request(ctx, id)
	if errors.Is(err, dynamo.ErrNotFound) {
		return httpapi.Response{}, httpapi.ErrNotFound
	}
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("status: %w", err)
	}
	body := statusBody{ID: req.ID, Type: req.Type, Status: req.Status, ReceivedAt: req.ReceivedAt,
		DueAt: req.DueAt, ExtendedUntil: req.Extended, CompletedAt: req.CompletedAt}
	if url, ok := h.ResultsURL(req); ok {
		body.ResultsURL = url
	}
	return httpapi.JSON(http.StatusOK, body), nil
}

// ResultsURL is the export link of a completed access or portability
// request while it works (7 days after completion).
func (h *Handlers) ResultsURL(req dynamo.RightsRequest) (string, bool) {
	return ExportLink(h.Tokens, h.BaseURL, req, h.Now())
}

// ExportLink mints the export link of a completed access or portability
// request, valid until 7 days after completion; false once that has passed.
func ExportLink(tokens *token.Signer, baseURL string, req dynamo.RightsRequest, now time.Time) (string, bool) {
	done, err := time.Parse(time.RFC3339Nano, req.CompletedAt)
	if err != nil || (req.Type != privacy.RightAccess && req.Type != privacy.RightPortability) ||
		!now.Before(done.Add(ExportValidity)) {
		return "", false
	}
	tok, err := tokens.Sign(token.Claims{Purpose: token.Export, Subject: privacy.SubjectID(req.Subject), Ref: req.ID,
		Expires: done.Add(ExportValidity)})
	if err != nil {
		return "", false
	}
	return baseURL + "/v1/rights-requests/" + req.ID + "/export?token=" + tok, true
}
