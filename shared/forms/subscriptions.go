package forms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/limit"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// Limits are the abuse limits of the forms. The signup's are silent (the
// answer is 202 and nothing is sent): telling would let anyone probe an
// address. The contact form tells a source IP over its limit (429 with
// Retry-After) and is silent about an address over its own. The
// per-address budgets roll (limit.Rule.Rolling): no 24 hours send one
// mailbox more than the budget, not twice it across midnight.
type Limits struct {
	SignupPerIP, SignupPerAddress   limit.Rule
	ContactPerIP, ContactPerAddress limit.Rule
	// Cooldown is the least time between two confirmation emails to one
	// address; repeated signups inside it send nothing more.
	Cooldown time.Duration
}

// DefaultLimits are used when the configuration names none.
func DefaultLimits() Limits {
	return Limits{
		SignupPerIP:       limit.Rule{Name: "signup_ip", Max: 20, Window: time.Hour},
		SignupPerAddress:  limit.Rule{Name: "signup_addr", Max: 3, Window: 24 * time.Hour, Rolling: true},
		ContactPerIP:      limit.Rule{Name: "contact_ip", Max: 10, Window: time.Hour},
		ContactPerAddress: limit.Rule{Name: "contact_addr", Max: 5, Window: 24 * time.Hour, Rolling: true},
		Cooldown:          10 * time.Minute,
	}
}

// SubmitSignup starts a newsletter signup's double opt-in. Its outcome is
// not told (the answer is the same whatever the address's history, so it
// reveals nothing): the error is a *privacy.ValidationError or a failure.
func (f *Forms) SubmitSignup(ctx context.Context, v Visit, in privacy.Input) error {
	if in.Honeypot() {
		f.Log.InfoContext(ctx, "honeypot filled; dropped")
		return nil
	}
	s, err := privacy.ParseSignup(in)
	if err != nil {
		return err
	}
	// A Global Privacy Control signal is recorded; it never blocks the
	// newsletter the person asks for.
	if err := f.gpc(ctx, v, f.Hasher.Subject(s.Email), privacy.SourceSignupForm, f.Now()); err != nil {
		return fmt.Errorf("signup: %w", err)
	}
	plan, err := f.planSignup(ctx, v, s, privacy.SourceSignupForm)
	if err != nil {
		return err
	}
	if plan != nil {
		due, err := f.Store.RequestSubscription(ctx, *plan)
		if err != nil {
			return fmt.Errorf("signup: %w", err)
		}
		f.Log.InfoContext(ctx, "signup", "confirmation_due", due, "signup_id", plan.ID)
	}
	return nil
}

// planSignup decides whether a double opt-in may start (the abuse limits,
// a restriction of processing) and returns its write, or nil when nothing
// is to start; the caller writes it (alone, or with the inquiry whose box
// asked for it). source is the form: its own sentence is the one recorded.
func (f *Forms) planSignup(ctx context.Context, v Visit, s privacy.Signup, source string) (*privacy.PendingSignup, error) {
	// The form's language: the sentence agreed to, and every later email.
	s.Lang = v.Lang
	now := f.Now()
	subject := f.Hasher.Subject(s.Email)
	// The limits and the restriction are read together: one round trip.
	var (
		ex                 *limit.Exceeded
		by                 []string
		recs               []privacy.Suppression
		limErr, rErr, sErr error
		wg                 sync.WaitGroup
	)
	wg.Go(func() {
		// The source first: a call refused there spends no mailbox's budget.
		ex, limErr = limit.SourceThen(ctx, f.Store, now, limit.Check{Rule: f.Limits.SignupPerIP, Key: limit.IPKey(f.Hasher, v.Meta.SourceIP)},
			limit.Check{Rule: f.Limits.SignupPerAddress, Key: f.Hasher.MailboxKey(s.Email)})
	})
	wg.Go(func() { by, rErr = f.Store.Restriction(ctx, subject) })
	wg.Go(func() { recs, sErr = f.Store.SuppressionRecords(ctx, subject) })
	wg.Wait()
	if err := errors.Join(limErr, rErr, sErr); err != nil {
		return nil, fmt.Errorf("signup: %w", err)
	}
	if ex != nil {
		f.Log.WarnContext(ctx, "signup over its limit; nothing sent", "limit", ex.Rule.Name)
		return nil, nil
	}
	// An address that bounced for good or whose owner reported our email
	// as spam is sent no confirmation the month after its subscription
	// ended, and one a month at most (privacy.SuppressedSignup): the
	// answer is the same.
	var ended time.Time
	if _, held := privacy.SuppressedSignup(recs, time.Time{}, now); held > 0 { // a bounce or a complaint in force
		sub, err := f.Store.Subscription(ctx, subject)
		if err != nil && !errors.Is(err, privacy.ErrNotFound) {
			return nil, fmt.Errorf("signup: %w", err)
		}
		if err == nil && sub.Status == privacy.StatusUnsubscribed {
			ended = sub.UnsubscribedAt
		}
	}
	mail, cooldown := privacy.SuppressedSignup(recs, ended, now)
	if !mail {
		f.Log.InfoContext(ctx, "signup held: a bounce or a complaint in force; nothing sent")
		return nil, nil
	}
	// Under a restriction of processing nothing new starts for marketing:
	// the visitor is answered as usual, the ledger says why nothing
	// happened, and a signup after the restriction is lifted works.
	if len(by) > 0 {
		f.Log.InfoContext(ctx, "signup held: processing restricted", "restricted_by", strings.Join(by, ","))
		return nil, f.Store.RecordEvent(ctx, privacy.Event{Subject: subject, Name: "signup_held_restricted", At: now, Ref: by[0],
			Purpose: privacy.PurposeMarketing, LegalBasis: privacy.BasisLegalObligation, PolicyVersion: v.PolicyVersion,
			Detail: map[string]string{"source": source}})
	}
	signupID := f.NewID()
	version, _ := privacy.Consent(source, s.Lang)
	return &privacy.PendingSignup{Sub: s, Subject: subject, ID: signupID, Cooldown: max(f.Limits.Cooldown, cooldown), Event: privacy.Event{
		Subject: subject, Name: "subscribe_requested", At: now, Ref: signupID,
		Purpose: privacy.PurposeMarketing, LegalBasis: v.Bases.Of(privacy.PurposeMarketing), PolicyVersion: v.PolicyVersion,
		Detail: map[string]string{"consent_text_version": version, "topics": strings.Join(s.Topics, ","),
			"age_confirmed": "true", "source": source, "source_ip": v.Meta.SourceIP, "user_agent": v.Meta.UserAgent},
	}}, nil
}

// CheckLink checks a confirmation link's token (ErrBadLink); it changes
// nothing, since mail scanners follow links.
//
// It returns the consent sentence the confirmation will record: the one
// the signup stored, which may be another form's or language's than the
// person saw when they signed up themselves (a stranger's pending signup
// of their address is never replaced), so the page shows what pressing
// its button agrees to. "" when the link's signup is no longer pending
// (the confirmation will say so).
func (f *Forms) CheckLink(ctx context.Context, tok string) (string, error) {
	c, err := f.Tokens.Check(tok, token.ConfirmSubscription, f.Now())
	if err != nil {
		return "", ErrBadLink
	}
	sub, err := f.Store.Subscription(ctx, c.Subject)
	switch {
	case errors.Is(err, privacy.ErrNotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("confirm page: %w", err)
	case sub.SignupID != c.Ref || sub.Status != privacy.StatusPending:
		return "", nil
	}
	return privacy.ConsentTexts()[sub.ConsentVersion], nil
}

// ConfirmSignup confirms the signup a link's token names, records the
// proof (time, IP, user agent) and is idempotent. Errors: ErrBadLink (also
// for a replaced or expired signup), ErrRestricted, or a failure.
func (f *Forms) ConfirmSignup(ctx context.Context, v Visit, tok string) error {
	now := f.Now()
	c, err := f.Tokens.Check(tok, token.ConfirmSubscription, now)
	if err != nil {
		return ErrBadLink
	}
	var (
		suppressed, by []string
		sErr, rErr     error
		wg             sync.WaitGroup
	)
	wg.Go(func() { suppressed, sErr = f.Store.Suppressions(ctx, c.Subject) })
	wg.Go(func() { by, rErr = f.Store.Restriction(ctx, c.Subject) })
	wg.Wait()
	if err := errors.Join(sErr, rErr); err != nil {
		return fmt.Errorf("confirm: %w", err)
	}
	// A signup made before the person restricted their processing is not
	// confirmed while the restriction is in force (GDPR Art. 18): nothing
	// new starts; the ledger says why.
	if len(by) > 0 {
		f.Log.InfoContext(ctx, "confirmation held: processing restricted", "restricted_by", strings.Join(by, ","))
		if err := f.Store.RecordEvent(ctx, privacy.Event{Subject: c.Subject, Name: "confirmation_held_restricted", At: now,
			Ref: by[0], Purpose: privacy.PurposeMarketing, LegalBasis: privacy.BasisLegalObligation,
			PolicyVersion: v.PolicyVersion, Detail: map[string]string{"signup_id": c.Ref}}); err != nil {
			return fmt.Errorf("confirm: %w", err)
		}
		return ErrRestricted
	}
	// The sentence agreed to is the signup's: the store records the
	// version the signup stored, whatever this page's language or the
	// sentences of today.
	confirmed, err := f.Store.ConfirmSubscription(ctx, c.Subject, c.Ref, privacy.Event{
		Subject: c.Subject, Name: "subscription_confirmed", At: now, Ref: c.Ref,
		Purpose: privacy.PurposeMarketing, LegalBasis: v.Bases.Of(privacy.PurposeMarketing), PolicyVersion: v.PolicyVersion,
		Detail: map[string]string{"source_ip": v.Meta.SourceIP, "user_agent": v.Meta.UserAgent},
	})
	if errors.Is(err, privacy.ErrStale) {
		return ErrBadLink
	}
	if err != nil {
		return fmt.Errorf("confirm: %w", err)
	}
	// The person asks anew: what held marketing back is lifted, and the
	// confirmation is the proof (a hard bounce: it proves delivery). Only a
	// confirmation that happened now is a new consent: an old link posted
	// again lifts nothing (a complaint since stays).
	var lifted []string
	for _, reason := range suppressed {
		if confirmed && slices.Contains(privacy.LiftedByConfirmation(), reason) {
			lifted = append(lifted, reason)
		}
	}
	if len(lifted) > 0 {
		if err := f.Store.LiftSuppressions(ctx, c.Subject, lifted, privacy.Event{Subject: c.Subject, Name: "suppression_lifted",
			At: now, Ref: c.Ref, Purpose: privacy.PurposeMarketing, LegalBasis: v.Bases.Of(privacy.PurposeMarketing), PolicyVersion: v.PolicyVersion,
			Detail: map[string]string{"reasons": strings.Join(lifted, ","), "by": "confirmed_signup"}}); err != nil {
			return fmt.Errorf("confirm: %w", err)
		}
	}
	f.Log.InfoContext(ctx, "subscription confirmed", "signup_id", c.Ref,
		"suppressions_lifted", len(lifted))
	return nil
}
