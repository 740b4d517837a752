package rights

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Fulfiller carries out a verified request: what needs no person is done
// at once (access, portability, erasure, objection, consent withdrawal,
// restriction); a rectification goes to the team for review. Both the
// verification link and the team's approval of a flagged request end here,
// so there is one implementation of each right.
type Fulfiller struct {
	Store         FulfilStore
	PolicyVersion string
	Log           *slog.Logger
}

// FulfilStore is what fulfilment writes.
type FulfilStore interface {
	Erase(ctx context.Context, subject privacy.SubjectID, requestID string, e dynamo.Event) (withheld bool, deleted int, err error)
	SetOutcome(ctx context.Context, id, status, mailDue string, withheld bool, e dynamo.Event) error
	Unsubscribe(ctx context.Context, subject privacy.SubjectID, e dynamo.Event) error
	Suppress(ctx context.Context, subject privacy.SubjectID, reason string, e dynamo.Event) error
	Restrict(ctx context.Context, subject privacy.SubjectID, requestID string, e dynamo.Event) error
}

// Fulfil carries out req. once names this fulfilment (the verification
// link's nonce, or the approval's id) so that the email it makes due is
// sent once. Every step is idempotent: running Fulfil again after a
// failure finishes the job. It returns the request's new status.
func (f *Fulfiller) Fulfil(ctx context.Context, req dynamo.RightsRequest, once string, at time.Time) (string, error) {
	subject := privacy.SubjectID(req.Subject)
	e := func(name string) dynamo.Event {
		return dynamo.Event{Subject: subject, Name: name, At: at, Ref: req.ID,
			LegalBasis: privacy.BasisLegalObligation, PolicyVersion: f.PolicyVersion}
	}
	outcome := func(status, due string, withheld bool, event string) (string, error) {
		if err := f.Store.SetOutcome(ctx, req.ID, status, due+once, withheld, e(event)); err != nil {
			return "", fmt.Errorf("%s: %w", req.Type, err)
		}
		return status, nil
	}
	switch req.Type {
	case privacy.RightAccess, privacy.RightPortability:
		// The export is built when its link is opened: nothing to store.
		return outcome(privacy.RequestCompleted, dynamo.MailDueReady, false, req.Type+"_done")
	case privacy.RightErasure:
		// Everything under the subject goes now, unless a legal hold
		// withholds it (the email then says so).
		withheld, n, err := f.Store.Erase(ctx, subject, req.ID, e("erased"))
		if err != nil {
			return "", fmt.Errorf("erase: %w", err)
		}
		f.Log.InfoContext(ctx, "erasure done", "request_id", req.ID, "items_deleted", n, "withheld", withheld)
		return outcome(privacy.RequestCompleted, dynamo.MailDueErased, withheld, "erased")
	case privacy.RightObjection, privacy.RightWithdrawConsent:
		// All marketing off at once, and suppressed for marketing.
		reason := privacy.SuppressObjected
		if req.Type == privacy.RightWithdrawConsent {
			reason = privacy.SuppressUnsubscribed
		}
		err := f.Store.Unsubscribe(ctx, subject, e("unsubscribed"))
		if err == nil {
			err = f.Store.Suppress(ctx, subject, reason, e(req.Type+"_done"))
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", req.Type, err)
		}
		return outcome(privacy.RequestCompleted, dynamo.MailDueDone, false, req.Type+"_done")
	case privacy.RightRestriction:
		// Kept, but out of every processing path until the team lifts it.
		if err := f.Store.Restrict(ctx, subject, req.ID, e("restricted")); err != nil {
			return "", err
		}
		return outcome(privacy.RequestCompleted, dynamo.MailDueRestricted, false, "restriction_in_place")
	case privacy.RightRectification:
		return outcome(privacy.RequestAwaitingReview, dynamo.MailDueReview, false, "review_requested")
	}
	return "", fmt.Errorf("request %s: unknown type %q", req.ID, req.Type)
}
