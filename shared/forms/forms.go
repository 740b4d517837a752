// Package forms serves the website's forms: the contact form now, the
// newsletter signup next. Each handler validates, stores what the person
// gave with its purpose, legal basis, policy version and request metadata,
// and leaves the emails to the mailer (the stored item makes them due).
package forms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/limit"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
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
	// SuppressionRecords are a subject's suppressions with their since.
	SuppressionRecords(ctx context.Context, subject privacy.SubjectID) ([]privacy.Suppression, error)
	Subscription(ctx context.Context, subject privacy.SubjectID) (privacy.Subscription, error)
	LiftSuppressions(ctx context.Context, subject privacy.SubjectID, reasons []string, e privacy.Event) error
}

// Forms holds the handlers' dependencies.
type Forms struct {
	Store  Store
	Hasher *privacy.Hasher
	Tokens *token.Signer
	Limits Limits
	// Every record carries the policy version in force (Visit).
	Now   func() time.Time
	NewID func() string
	Log   *slog.Logger
}

// Visit is what the forms need of one request, taken from it once by the
// HTTP adapter (http.go): its id, the form's language, the Global Privacy
// Control signal, the pseudonymous metadata (ReceivedAt is set by the
// service's clock), and the policy version in force with its bases.
type Visit struct {
	RequestID     string
	Lang          string
	GPC           bool
	Meta          privacy.RequestMeta
	PolicyVersion string
	Bases         privacy.Bases
}

// TooMany is the answer to a source over the contact form's limit: try
// again after RetryAfter.
type TooMany struct{ RetryAfter time.Duration }

func (e *TooMany) Error() string { return fmt.Sprintf("over the limit; retry after %v", e.RetryAfter) }

// The errors of a confirmation link.
var (
	// ErrBadLink: the link's token is forged, expired or of another purpose.
	ErrBadLink = errors.New("forms: invalid link")
	// ErrRestricted: the person restricted their processing; nothing new starts.
	ErrRestricted = errors.New("forms: processing restricted")
)

// SubmitContact stores a contact form's inquiry (and the double opt-in its
// newsletter box asks for) and returns its id. A filled honeypot is
// answered as a person is, and stores nothing. Errors: a
// *privacy.ValidationError, *TooMany, or a failure.
func (f *Forms) SubmitContact(ctx context.Context, v Visit, in privacy.Input) (string, error) {
	id := f.NewID()
	if in.Honeypot() {
		// Answer exactly as for a person, so the bot learns nothing.
		f.Log.InfoContext(ctx, "honeypot filled; dropped")
		return id, nil
	}
	form, err := privacy.ParseContact(in)
	if err != nil {
		return "", err
	}
	now := f.Now()
	v.Meta.ReceivedAt = now
	subject := f.Hasher.Subject(form.Email)
	// The source first: a call refused here spends nobody's budget.
	ex, err := limit.SourceThen(ctx, f.Store, now, limit.Check{Rule: f.Limits.ContactPerIP, Key: limit.IPKey(f.Hasher, v.Meta.SourceIP)},
		limit.Check{Rule: f.Limits.ContactPerAddress, Key: f.Hasher.MailboxKey(form.Email)})
	if err != nil {
		return "", fmt.Errorf("contact: %w", err)
	}
	if ex != nil && ex.Rule == f.Limits.ContactPerIP {
		f.Log.WarnContext(ctx, "contact over its limit", "limit", ex.Rule.Name)
		return "", &TooMany{RetryAfter: ex.RetryAfter}
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
		if optIn, err = f.planSignup(ctx, v, s, privacy.SourceContactForm); err != nil {
			return "", fmt.Errorf("contact %s: %w", id, err)
		}
	}
	if err := f.gpc(ctx, v, subject, privacy.SourceContactForm, now); err != nil {
		return "", fmt.Errorf("contact %s: %w", id, err)
	}
	inq := privacy.NewInquiry(id, subject, form, v.PolicyVersion, v.Meta)
	inq.LegalBasis = v.Bases.Of(privacy.PurposeRespondToInquiry)
	inq.Lang = v.Lang // the person's emails follow the form's language
	inq.AckHeld = ackHeld
	due, err := f.Store.SaveInquiryWithSignup(ctx, inq, optIn)
	if err != nil {
		return "", fmt.Errorf("contact %s: %w", id, err)
	}
	f.Log.InfoContext(ctx, "inquiry stored", "inquiry_id", id, "topic", form.Topic,
		"confirmation_due", due)
	return id, nil
}

// Ping reports whether the table can be reached.
func (f *Forms) Ping(ctx context.Context) error {
	if err := f.Store.Ping(ctx); err != nil {
		return fmt.Errorf("health: %w", err)
	}
	return nil
}

// gpc records a Global Privacy Control signal (Sec-GPC: 1) sent with a
// form: the ledger's gpc_signal, and the person's record marked opted out
// of sale and sharing. It is written before the form's own write and is
// idempotent, so a retried form records it once.
func (f *Forms) gpc(ctx context.Context, v Visit, subject privacy.SubjectID, source string, now time.Time) error {
	if !v.GPC {
		return nil
	}
	return f.Store.RecordSaleOptOut(ctx, subject, "gpc", privacy.Event{Subject: subject, Name: "gpc_signal", At: now,
		Ref: v.RequestID, LegalBasis: privacy.BasisLegalObligation, PolicyVersion: v.PolicyVersion,
		Detail: map[string]string{"source": source}})
}
