package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// WorkerEvery is how often the template's schedule runs the Worker
// (OpenDSRWorkerFunction: rate(5 minutes)); expected_completion_time is
// one period after the cancel window.
const WorkerEvery = 5 * time.Minute

// WorkerStore is what the Worker reads and writes: the requests, and the
// requesting controller's records. Nothing of the site's.
type WorkerStore interface {
	RequestsByStatus(ctx context.Context, status privacy.Status, dueBefore time.Time) ([]privacy.RightsRequest, error)
	ClaimFulfilment(ctx context.Context, id string, now, stale time.Time) error
	SetOutcome(ctx context.Context, id string, o privacy.Outcome, e privacy.Event) error
	KeyedRecords(ctx context.Context, controller string, keys []string) ([]privacy.Record, error)
	EraseKeyedRecords(ctx context.Context, controller string, keys []string) (int, error)
}

// Worker fulfils OpenDSR requests, on a schedule: each pending request
// whose cancel window is over is claimed (in_progress) and carried out on
// the requesting controller's records of the person, and on nothing else.
// A request whose attempt failed or whose worker died stays in_progress
// and is claimed again once its lease is over; fulfilment is idempotent,
// so the second attempt finishes the job. Each status change reaches the
// controller through the callbacks.
type Worker struct {
	Store WorkerStore
	// Lease is how long an attempt is left alone before it is retried.
	Lease time.Duration
	Now   func() time.Time
	Log   *slog.Logger
}

// fulfil carries out r: access and portability count the controller's
// records that carry any of the request's identities, each once (the
// controller fetches them from results_url); erasure deletes exactly those. No suppression is written, no ledger
// entry: the site's lists are the company's, not the controller's.
func (w *Worker) fulfil(ctx context.Context, r privacy.RightsRequest, now time.Time) error {
	n := 0
	switch r.Type {
	case privacy.RightAccess, privacy.RightPortability:
		recs, err := w.Store.KeyedRecords(ctx, r.Controller, r.IdentityKeys)
		if err != nil {
			return fmt.Errorf("%s: %w", r.Type, err)
		}
		n = len(recs)
	case privacy.RightErasure:
		var err error
		if n, err = w.Store.EraseKeyedRecords(ctx, r.Controller, r.IdentityKeys); err != nil {
			return fmt.Errorf("erasure: %w", err)
		}
	default:
		return fmt.Errorf("request %s: type %q is not an OpenDSR request type", r.ID, r.Type)
	}
	return w.Store.SetOutcome(ctx, r.ID, privacy.Outcome{Status: privacy.RequestCompleted, Results: &n}, noLedger(now))
}

// WorkReport says what one run did.
type WorkReport struct {
	Fulfilled int `json:"fulfilled"`
	Retried   int `json:"retried"`
	Failed    int `json:"failed"`
}

// Run fulfils every request that is due. It returns an error when one
// failed (after trying the others), so the failure shows in the function's
// error metric; the failed request is retried by a later run.
func (w *Worker) Run(ctx context.Context) (WorkReport, error) {
	var rep WorkReport
	now := w.Now().UTC()
	var failed error
	for _, status := range []privacy.Status{privacy.RequestPending, privacy.RequestInProgress} {
		reqs, err := w.Store.RequestsByStatus(ctx, status, time.Time{})
		if err != nil {
			return rep, fmt.Errorf("worker: %w", err)
		}
		for _, r := range reqs {
			if !w.due(r, now) {
				continue
			}
			err := w.Store.ClaimFulfilment(ctx, r.ID, now, now.Add(-w.Lease))
			if errors.Is(err, privacy.ErrStale) {
				continue // cancelled, or claimed by another run
			}
			if err == nil {
				err = w.fulfil(ctx, r, now)
			}
			if errors.Is(err, privacy.ErrStale) {
				continue // ended by someone else while it ran (a denial): that stands
			}
			switch {
			case err != nil:
				rep.Failed++
				failed = err
				w.Log.ErrorContext(ctx, "opendsr fulfilment failed; retried after the lease", "subject_request_id", r.ID, "error", err.Error())
			case r.Status == privacy.RequestInProgress:
				rep.Retried++
			default:
				rep.Fulfilled++
			}
		}
	}
	w.Log.InfoContext(ctx, "opendsr worker run", "fulfilled", rep.Fulfilled, "retried", rep.Retried, "failed", rep.Failed)
	if failed != nil {
		return rep, fmt.Errorf("worker: %d requests failed, the last: %w", rep.Failed, failed)
	}
	return rep, nil
}

// due reports whether r is the Worker's to start now: an OpenDSR request,
// pending past its cancel window, or in progress past its lease.
func (w *Worker) due(r privacy.RightsRequest, now time.Time) bool {
	if r.Source != privacy.SourceOpenDSR {
		return false // a site request held for the team's approval
	}
	at := r.FulfilAfter
	if r.Status == privacy.RequestInProgress {
		at = r.AttemptedAt
		now = now.Add(-w.Lease)
	}
	return !at.IsZero() && !at.After(now)
}
