package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/rights"
)

// WorkerEvery is how often the template's schedule runs the Worker
// (OpenDSRWorkerFunction: rate(5 minutes)); expected_completion_time is
// one period after the cancel window.
const WorkerEvery = 5 * time.Minute

// WorkerStore is what the Worker reads and writes besides fulfilment.
type WorkerStore interface {
	RequestsByStatus(ctx context.Context, status string, dueBefore time.Time) ([]dynamo.RightsRequest, error)
	ClaimFulfilment(ctx context.Context, id string, now, stale time.Time) error
	SetOutcome(ctx context.Context, id string, o dynamo.Outcome, e dynamo.Event) error
}

// Worker fulfils OpenDSR requests, on a schedule: each pending request
// whose cancel window is over is claimed (in_progress) and carried out by
// the Fulfiller the site's requests use. A request whose attempt failed or
// whose worker died stays in_progress and is claimed again once its lease
// is over; fulfilment is idempotent, so the second attempt finishes the
// job. Each status change reaches the controller through the callbacks.
type Worker struct {
	Store     WorkerStore
	Fulfiller *rights.Fulfiller
	// Lease is how long an attempt is left alone before it is retried.
	Lease time.Duration
	Now   func() time.Time
	Log   *slog.Logger
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
	log := w.Log.With("invocation_id", lambdaenv.InvocationID(ctx))
	var failed error
	for _, status := range []string{privacy.RequestPending, privacy.RequestInProgress} {
		reqs, err := w.Store.RequestsByStatus(ctx, status, time.Time{})
		if err != nil {
			return rep, fmt.Errorf("worker: %w", err)
		}
		for _, r := range reqs {
			if !w.due(r, now) {
				continue
			}
			err := w.Store.ClaimFulfilment(ctx, r.ID, now, now.Add(-w.Lease))
			if errors.Is(err, dynamo.ErrStale) {
				continue // cancelled, or claimed by another run
			}
			if err == nil {
				_, err = w.Fulfiller.Fulfil(ctx, r, "opendsr", now)
			}
			switch {
			case err != nil:
				rep.Failed++
				failed = err
				log.ErrorContext(ctx, "opendsr fulfilment failed; retried after the lease", "request_id", r.ID, "error", err.Error())
			case r.Status == privacy.RequestInProgress:
				rep.Retried++
			default:
				rep.Fulfilled++
			}
		}
	}
	log.InfoContext(ctx, "opendsr worker run", "fulfilled", rep.Fulfilled, "retried", rep.Retried, "failed", rep.Failed)
	if failed != nil {
		return rep, fmt.Errorf("worker: %d requests failed, the last: %w", rep.Failed, failed)
	}
	return rep, nil
}

// due reports whether r is the Worker's to start now: an OpenDSR request,
// pending past its cancel window, or in progress past its lease.
func (w *Worker) due(r dynamo.RightsRequest, now time.Time) bool {
	if r.Source != dynamo.SourceOpenDSR {
		return false // a site request held for the team's approval
	}
	at := r.FulfilAfter
	if r.Status == privacy.RequestInProgress {
		at = r.AttemptedAt
		now = now.Add(-w.Lease)
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	return err == nil && !t.After(now)
}
