// Package forms serves the website's forms: the contact form now, the
// newsletter signup next. Each handler validates, stores what the person
// gave with its purpose, legal basis, policy version and request metadata,
// and leaves the emails to the mailer (the stored item makes them due).
package forms

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/limit"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
	"github.com/privacykeeper/privacykeeper/shared/web"
)

// Store is what the forms need from the database.
type Store interface {
	SaveInquiryWithSignup(ctx context.Context, i privacy.Inquiry, optIn *privacy.PendingSignup) (bool, error)
	Ping(ctx context.Context) error
	Allow(ctx context.Context, key string, limit int, now time.Time) (bool, error)
	RequestSubscription(ctx context.Context, p privacy.PendingSignup) (bool, error)
	// ConfirmSubscription reports whether this call confirmed the signup
	// (false: it was confirmed before).
	ConfirmSubscription(ctx context.Context, subject privacy.SubjectID, signupID string, e privacy.Event) (bool, error)
	// Restriction names the request that restricted a subject's
	// processing (GDPR Art. 18), or "".
	Restriction(ctx context.Context, subject privacy.SubjectID) ([]string, error)
	RecordEvent(ctx context.Context, e privacy.Event) error
	// RecordSaleOptOut marks a subject opted out of sale and sharing.
	RecordSaleOptOut(ctx context.Context, subject privacy.SubjectID, source string, e privacy.Event) error
	Suppressions(ctx context.Context, subject privacy.SubjectID) ([]string, error)
	LiftSuppressions(ctx context.Context, subject privacy.SubjectID, reasons []string, e privacy.Event) error
}

// Forms holds the handlers' dependencies.
type Forms struct {
	Store  Store
	Hasher *privacy.Hasher
	Tokens *token.Signer
	Limits Limits
	// Every record carries the policy version in force (the router puts
	// it on each request: Request.Site).
	Now   func() time.Time
	NewID func() string
	Log   *slog.Logger
}

// Routes registers the handlers under the route keys template.yaml declares.
func (f *Forms) Routes(rt *httpapi.Router) {
	rt.Handle("POST /v1/contact", f.Contact)
	rt.Handle("GET /v1/health", f.Health)
	rt.Handle("POST /v1/subscriptions", f.Subscribe)
	rt.Handle("GET /v1/subscriptions/confirm", f.ConfirmPage)
	rt.Handle("POST /v1/subscriptions/confirm", f.Confirm)
	rt.Handle("GET /privacy", f.Center)
	rt.Handle("GET /privacy/assets/{name}", Asset)
}

// Center handles GET /privacy: the privacy center, its three forms empty.
func (f *Forms) Center(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	c := web.NewCenter(pages.Lang(r).Code)
	c.GPC = httpapi.GPC(r)
	return pages.Center(r, http.StatusOK, c), nil
}

// Asset handles GET /privacy/assets/{name}: the embedded stylesheet and
// script, cacheable for a day.
func Asset(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	b, ct, ok := web.Asset(r.PathParameters["name"])
	if !ok {
		return httpapi.Response{}, httpapi.ErrNotFound
	}
	return httpapi.Response{StatusCode: http.StatusOK, Body: string(b), Headers: map[string]string{
		"Content-Type": ct, "Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}}, nil
}

type accepted struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// Contact handles POST /v1/contact.
func (f *Forms) Contact(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	in, err := httpapi.DecodeInput(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	id := f.NewID()
	if in.Honeypot() {
		// Answer exactly as for a person, so the bot learns nothing.
		f.Log.InfoContext(ctx, "honeypot filled; dropped")
		return received(r, id), nil
	}
	form, err := privacy.ParseContact(in)
	if v, ok := privacy.AsValidation(err); ok {
		return httpapi.Response{}, httpapi.Validation(v)
	}
	now := f.Now()
	subject := f.Hasher.Subject(form.Email)
	// The source first: a call refused here spends nobody's budget.
	ex, err := limit.SourceThen(ctx, f.Store, now, limit.Check{Rule: f.Limits.ContactPerIP, Key: limit.IPKey(f.Hasher, r.RequestContext.HTTP.SourceIP)},
		limit.Check{Rule: f.Limits.ContactPerAddress, Key: f.Hasher.MailboxKey(form.Email)})
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("contact: %w", err)
	}
	if ex != nil && ex.Rule == f.Limits.ContactPerIP {
		f.Log.WarnContext(ctx, "contact over its limit", "limit", ex.Rule.Name)
		return httpapi.Response{}, httpapi.RateLimited(ex.RetryAfter)
	}
	// Past the sender's mailbox limit the inquiry is kept and the team told
	// (a stranger writing as the person must not silence the person's own
	// message), with the same answer, but no acknowledgement goes out, so
	// the form cannot flood an inbox.
	ackHeld := ex != nil
	if ackHeld {
		f.Log.WarnContext(ctx, "contact over its mailbox limit; no acknowledgement", "limit", ex.Rule.Name)
	}
	var optIn *privacy.PendingSignup
	if form.MarketingOptIn && !ackHeld {
		// The box on the contact form starts the same double opt-in as the
		// signup form (nothing is sent until the person confirms), written
		// with the inquiry in one transaction: both or neither.
		s := privacy.Signup{Email: form.Email, Name: form.Name, Topics: []string{"newsletter"}}
		if optIn, err = f.planSignup(ctx, r, s, privacy.SourceContactForm); err != nil {
			return httpapi.Response{}, fmt.Errorf("contact %s: %w", id, err)
		}
	}
	if err := f.gpc(ctx, r, subject, privacy.SourceContactForm, now); err != nil {
		return httpapi.Response{}, fmt.Errorf("contact %s: %w", id, err)
	}
	inq := privacy.NewInquiry(id, subject, form, r.Site.PolicyVersion, httpapi.Meta(r, now))
	inq.LegalBasis = r.Site.Bases.Of(privacy.PurposeRespondToInquiry)
	inq.Lang = pages.Lang(r).Code // the person's emails follow the form's language
	inq.AckHeld = ackHeld
	due, err := f.Store.SaveInquiryWithSignup(ctx, inq, optIn)
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("contact %s: %w", id, err)
	}
	f.Log.InfoContext(ctx, "inquiry stored", "inquiry_id", id, "topic", form.Topic,
		"confirmation_due", due)
	return received(r, id), nil
}

func received(r httpapi.Request, id string) httpapi.Response {
	if httpapi.WantsHTML(r) {
		return pages.Message(r, http.StatusAccepted, "contact.received", id)
	}
	return httpapi.JSON(http.StatusAccepted, accepted{ID: id, Status: "received"})
}

// Health handles GET /v1/health: 200 when the table can be reached.
func (f *Forms) Health(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	if err := f.Store.Ping(ctx); err != nil {
		return httpapi.Response{}, fmt.Errorf("health: %w", err)
	}
	return httpapi.JSON(http.StatusOK, map[string]string{"status": "ok"}), nil
}

// gpc records a Global Privacy Control signal (Sec-GPC: 1) sent with a
// form: the ledger's gpc_signal, and the person's record marked opted out
// of sale and sharing. It is written before the form's own write and is
// idempotent, so a retried form records it once.
func (f *Forms) gpc(ctx context.Context, r httpapi.Request, subject privacy.SubjectID, source string, now time.Time) error {
	if !httpapi.GPC(r) {
		return nil
	}
	return f.Store.RecordSaleOptOut(ctx, subject, "gpc", privacy.Event{Subject: subject, Name: "gpc_signal", At: now,
		Ref: r.RequestContext.RequestID, LegalBasis: privacy.BasisLegalObligation, PolicyVersion: r.Site.PolicyVersion,
		Detail: map[string]string{"source": source}})
}
