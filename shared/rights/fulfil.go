package rights

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/recipients"
)

// Fulfiller carries out a verified request: what needs no person is done
// at once (access, portability, erasure, objection, consent withdrawal,
// restriction); a rectification goes to the team for review. Both the
// verification link and the team's approval of a flagged request end here,
// so there is one implementation of each right.
type Fulfiller struct {
	Store FulfilStore
	// Policy is the version in force, which every record carries.
	Policy privacy.PolicyInForce
	Log    *slog.Logger
}

// FulfilStore is what fulfilment reads (to count what an export holds)
// and writes.
type FulfilStore interface {
	Reader
	Erase(ctx context.Context, subject privacy.SubjectID, requestID string, e privacy.Event) (withheld bool, deleted int, err error)
	SetOutcome(ctx context.Context, id string, o privacy.Outcome, e privacy.Event) error
	Unsubscribe(ctx context.Context, subject privacy.SubjectID, e privacy.Event) error
	Suppress(ctx context.Context, subject privacy.SubjectID, reason string, e privacy.Event) error
	Restrict(ctx context.Context, subject privacy.SubjectID, requestID string, e privacy.Event) error
	RecordSaleOptOut(ctx context.Context, subject privacy.SubjectID, source string, e privacy.Event) error
	// ProcessorsToTell are the recipients an erasure is told to (Art.
	// 19), without their credentials: the deliverer reads those.
	ProcessorsToTell(ctx context.Context) ([]privacy.Processor, error)
}

// Fulfil carries out req. once names this fulfilment (the verification
// link's nonce, or the approval's id) so that the email it makes due is
// sent once. Every step is idempotent: running Fulfil again after a
// failure finishes the job. It returns the request's new status.
func (f *Fulfiller) Fulfil(ctx context.Context, req privacy.RightsRequest, once string, at time.Time) (privacy.Status, error) {
	subject := req.Subject
	e := func(name privacy.EventName) privacy.Event {
		return privacy.Event{Subject: subject, Name: name, At: at, Ref: req.ID,
			LegalBasis: privacy.BasisLegalObligation, PolicyVersion: f.Policy(ctx).Version}
	}
	outcome := func(o privacy.Outcome, event privacy.EventName) (privacy.Status, error) {
		if !o.MailDue.IsZero() {
			o.MailDue.Ref = once
		}
		// Denied, cancelled or expired while it ran: that stands.
		if err := changedMeanwhile(req.ID, f.Store.SetOutcome(ctx, req.ID, o, e(event))); err != nil {
			return "", fmt.Errorf("%s: %w", req.Type, err)
		}
		return o.Status, nil
	}
	switch req.Type {
	case privacy.RightAccess, privacy.RightPortability:
		// The export is built when its link is opened: nothing to store
		// but how many records it holds now.
		ex, err := ExportFor(ctx, f.Store, "", req, nil, at)
		if err != nil {
			return "", fmt.Errorf("%s: %w", req.Type, err)
		}
		n := ex.Found(req.ID)
		return outcome(privacy.Outcome{Status: privacy.RequestCompleted, MailDue: privacy.Due(privacy.MailReady, ""), Results: &n}, privacy.Done(req.Type))
	case privacy.RightErasure:
		o, err := f.erase(ctx, req, at, e("erased"))
		if err != nil {
			return "", err
		}
		o.MailDue = privacy.Due(privacy.MailErased, "")
		return outcome(o, "erased")
	case privacy.RightObjection, privacy.RightWithdrawConsent:
		// All marketing off at once, and suppressed for marketing: an
		// objection to direct marketing is absolute (Art. 21(3)).
		reason := privacy.SuppressObjected
		if req.Type == privacy.RightWithdrawConsent {
			reason = privacy.SuppressUnsubscribed
		}
		err := f.Store.Unsubscribe(ctx, subject, e("unsubscribed"))
		if err == nil {
			err = f.Store.Suppress(ctx, subject, reason, e(privacy.Done(req.Type)))
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", req.Type, err)
		}
		if req.Scope == privacy.ScopeAll {
			// The processing on legitimate interest stops while the team
			// weighs it (Art. 18(1)(d)): restricted now, reviewed, then
			// upheld or overridden by compelling grounds.
			if err := f.Store.Restrict(ctx, subject, req.ID, e("restricted")); err != nil {
				return "", err
			}
			return outcome(privacy.Outcome{Status: privacy.RequestAwaitingReview, MailDue: privacy.Due(privacy.MailReview, ""),
				Restricts: true}, "objection_review_requested")
		}
		return outcome(privacy.Outcome{Status: privacy.RequestCompleted, MailDue: privacy.Due(privacy.MailDone, "")}, privacy.Done(req.Type))
	case privacy.RightRestriction:
		// Kept, but out of every processing path until the team lifts it.
		if err := f.Store.Restrict(ctx, subject, req.ID, e("restricted")); err != nil {
			return "", err
		}
		// Each processor that takes it is told (Art. 19): by email, as
		// OpenDSR has no request type for a restriction.
		ds, err := f.toTell(ctx, req, at)
		if err != nil {
			return "", fmt.Errorf("%s: %w", req.Type, err)
		}
		return outcome(privacy.Outcome{Status: privacy.RequestCompleted, MailDue: privacy.Due(privacy.MailRestricted, ""), Restricts: true,
			Deliveries: ds}, "restriction_in_place")
	case privacy.RightKnowCategories:
		// The categories are the system's, not the person's data: the
		// answer lists them, generated from the retention and purpose tables.
		return outcome(privacy.Outcome{Status: privacy.RequestCompleted, MailDue: privacy.Due(privacy.MailCategories, "")},
			"know_categories_done")
	case privacy.RightRectification:
		// A new address confirms by its own link before the team may move
		// anything to it; the team's review is due once it has.
		if req.ChangesAddress() {
			return outcome(privacy.Outcome{Status: privacy.RequestAwaitingReview, MailDue: privacy.Due(privacy.MailConfirmAddress, "")},
				"new_address_asked")
		}
		return outcome(privacy.Outcome{Status: privacy.RequestAwaitingReview, MailDue: privacy.Due(privacy.MailReview, "")}, "review_requested")
	case privacy.RightOptOutOfSale:
		// An agent's opt-out, now that the person confirmed it (their own
		// is recorded at intake).
		if err := f.Store.RecordSaleOptOut(ctx, subject, "request", e("opt_out_of_sale_recorded")); err != nil {
			return "", fmt.Errorf("%s: %w", req.Type, err)
		}
		return outcome(privacy.Outcome{Status: privacy.RequestCompleted, MailDue: privacy.Due(privacy.MailOptedOut, "")}, "opt_out_of_sale_done")
	}
	return "", fmt.Errorf("request %s: unknown type %q", req.ID, req.Type)
}

// erase deletes everything held under req's subject, unless a legal hold
// withholds it, and queues the processors the site's data went to (Art.
// 19; none when a hold kept everything: nothing was erased to tell of).
// The outcome is completed; the caller names its email.
func (f *Fulfiller) erase(ctx context.Context, req privacy.RightsRequest, at time.Time, e privacy.Event) (privacy.Outcome, error) {
	withheld, n, err := f.Store.Erase(ctx, req.Subject, req.ID, e)
	if err != nil {
		return privacy.Outcome{}, fmt.Errorf("erase: %w", err)
	}
	var deliveries []privacy.Delivery
	if !withheld {
		if deliveries, err = f.toTell(ctx, req, at); err != nil {
			return privacy.Outcome{}, fmt.Errorf("erase: %w", err)
		}
	}
	f.Log.InfoContext(ctx, "erasure done", "rights_request_id", req.ID, "items_deleted", n, "withheld", withheld,
		"recipients", len(deliveries))
	return privacy.Outcome{Status: privacy.RequestCompleted, Withheld: withheld, Results: &n, Deliveries: deliveries}, nil
}

// toTell are the deliveries that tell the registered processors of req
// (GDPR Art. 19): each that takes req's type (recipients.For).
func (f *Fulfiller) toTell(ctx context.Context, req privacy.RightsRequest, at time.Time) ([]privacy.Delivery, error) {
	procs, err := f.Store.ProcessorsToTell(ctx)
	if err == nil {
		var ds []privacy.Delivery
		if ds, err = recipients.For(req, procs, at); err == nil {
			return ds, nil
		}
	}
	return nil, fmt.Errorf("recipients: %w", err)
}
