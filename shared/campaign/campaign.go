// Package campaign sends a marketing email to the confirmed subscribers of
// one topic, at any number of subscribers: a planner pages through them
// (never holding them all) and queues batches of subject ids; senders on
// the queue mail each batch at the account's send rate. Every message
// carries the RFC 8058 one-click headers; no suppressed or restricted
// subject is ever sent one; a killed or rerun campaign sends nothing
// twice (each email has a sent-marker), and its progress is recorded per
// batch.
package campaign

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// PlanStore is what the planner reads and records.
type PlanStore interface {
	StatusStore
	StartCampaign(ctx context.Context, p privacy.CampaignPlan) (privacy.CampaignPlan, error)
	SaveCampaignPlan(ctx context.Context, p privacy.CampaignPlan) error
	SubscribersPage(ctx context.Context, cursor string, limit int) ([]privacy.Subscription, string, error)
}

// Queue takes batches to send.
type Queue interface {
	Enqueue(ctx context.Context, batches []privacy.CampaignBatch) error
}

// ErrInvalid is a campaign the team must correct: nothing was queued.
var ErrInvalid = errors.New("invalid campaign")

// errPaused stops planning at its deadline; the next run resumes.
var errPaused = errors.New("planning paused at the deadline; invoke the campaign again to resume")

// Planner queues a campaign's subscribers, a page at a time, saving where
// it got after each page: a planner killed midway and run again resumes
// there (a page queued twice is harmless: its batches have the same names,
// and each email its sent-marker).
type Planner struct {
	Store PlanStore
	Queue Queue
	// Page is how many subscribers it reads at a time (default 500).
	Page int
	// Pace, when its Rate is set, holds the plan to what the queue keeps
	// until its turn (Window): the rest is planned by a later run.
	Pace Pace
	Now  func() time.Time
	Log  *slog.Logger
}

// Plan queues c's subscribers until all are queued or the deadline
// passes. A campaign already planned queues nothing; one whose id was used
// for another email is refused.
func (p *Planner) Plan(ctx context.Context, c notify.Campaign, deadline time.Time) (privacy.CampaignPlan, error) {
	now := p.Now()
	want := privacy.CampaignPlan{ID: c.ID, Topic: c.Topic, Subject: c.Subject, Body: c.Body, Translations: c.Translations,
		State: privacy.CampaignPlanning, Created: now, Updated: now}
	if err := privacy.ValidCampaign(want); err != nil {
		return want, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	plan, err := p.Store.StartCampaign(ctx, want)
	if err != nil {
		return want, err
	}
	if !plan.SameContent(want) {
		return plan, fmt.Errorf("%w: campaign_id %s was used for another email; choose a new id", ErrInvalid, c.ID)
	}
	log := p.Log.With("campaign_id", c.ID)
	size := p.Page
	if size <= 0 {
		size = 500
	}
	// No more queued than will be sent before the queue deletes it: the
	// window counts from this run's start, behind what earlier runs
	// queued.
	window := math.MaxInt
	if p.Pace.Rate != 0 && plan.State == privacy.CampaignPlanning {
		if window, err = p.Pace.Window(plan.Created, p.Now(), plan.Planned); err != nil {
			return plan, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	for plan.State == privacy.CampaignPlanning {
		if !p.Now().Before(deadline) || ctx.Err() != nil {
			log.InfoContext(ctx, "campaign planning paused", "pages", plan.Pages, "planned", plan.Planned)
			return plan, errPaused
		}
		// A subscriber read counts against the window whether on the
		// topic or not.
		limit := min(size, window-plan.Planned)
		if limit < 1 {
			split := &Split{Planned: plan.Planned, Rate: p.Pace.Rate, Retention: p.Pace.Retention,
				Resume: p.Pace.resumeAt(plan.Created, plan.Planned)}
			log.InfoContext(ctx, "campaign planning split at the queue's retention", "pages", plan.Pages, "planned", plan.Planned,
				"resume_after", split.Resume)
			return plan, split
		}
		subs, next, err := p.Store.SubscribersPage(ctx, plan.Cursor, limit)
		if err != nil {
			return plan, err
		}
		var batches []privacy.CampaignBatch
		var cur *privacy.CampaignBatch
		for _, s := range subs {
			if !s.HasTopic(c.Topic) {
				plan.NotOnTopic++
				continue
			}
			if cur == nil || len(cur.Subjects) == privacy.CampaignBatchSize {
				batches = append(batches, privacy.CampaignBatch{Campaign: c.ID, Seq: fmt.Sprintf("%06d-%03d", plan.Pages, len(batches))})
				cur = &batches[len(batches)-1]
			}
			cur.Subjects = append(cur.Subjects, s.Subject)
			plan.Planned++
		}
		if len(batches) > 0 {
			if err := p.Queue.Enqueue(ctx, batches); err != nil {
				return plan, err
			}
		}
		plan.Pages++
		plan.Batches += len(batches)
		plan.Cursor = next
		if next == "" {
			plan.State = privacy.CampaignPlanned
		}
		plan.Updated = p.Now()
		if err := p.Store.SaveCampaignPlan(ctx, plan); err != nil {
			return plan, err
		}
	}
	log.InfoContext(ctx, "campaign planned", "planned", plan.Planned, "batches", plan.Batches, "not_on_topic", plan.NotOnTopic)
	return plan, nil
}

// SendKey is the sent-marker of one campaign's email to one subject:
// hashed, so the marker names no one.
func SendKey(campaignID string, subject privacy.SubjectID) string {
	h := sha256.Sum256([]byte("campaign\x00" + campaignID + "\x00" + string(subject)))
	return hex.EncodeToString(h[:])
}
