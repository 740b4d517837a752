package campaign

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// StatusStore reads a campaign's records.
type StatusStore interface {
	Campaign(ctx context.Context, id string) (privacy.CampaignPlan, bool, error)
	CampaignBatches(ctx context.Context, campaign string) (map[string]privacy.CampaignTally, error)
}

// Campaign states as the status reports them.
const (
	StatePlanning = "planning" // subscribers are still being queued
	StateSending  = "sending"  // every one queued; batches still to send, or to retry
	StateDone     = "done"     // every batch sent with no send left to retry
)

// Status is where a campaign stands: how many were planned, and what
// became of them (skipped_topic counts both those without the topic when
// it was planned and those who left it before their batch was sent).
type Status struct {
	ID      string `json:"campaign_id"`
	Topic   string `json:"topic"`
	State   string `json:"state"`
	Planned int    `json:"planned"`
	Batches int    `json:"batches"`
	// Reported counts the batches tried at least once.
	Reported int `json:"batches_reported"`
	privacy.CampaignTally
	// Split says why planning stopped before the end and when to plan
	// the campaign again (the queue's retention; see Pace).
	Split   string    `json:"split,omitempty"`
	Created time.Time `json:"created_at"`
	Updated time.Time `json:"updated_at"`
}

// ReadStatus reads campaign id's status; found is false when there is no
// such campaign.
func ReadStatus(ctx context.Context, store StatusStore, id string) (st Status, found bool, err error) {
	p, found, err := store.Campaign(ctx, id)
	if err != nil || !found {
		return st, found, err
	}
	batches, err := store.CampaignBatches(ctx, id)
	if err != nil {
		return st, true, err
	}
	st = Status{ID: p.ID, Topic: p.Topic, Planned: p.Planned, Batches: p.Batches, Reported: len(batches), Created: p.Created, Updated: p.Updated}
	st.NotOnTopic = p.NotOnTopic
	for _, t := range batches {
		st.Add(t)
	}
	switch {
	case p.State != privacy.CampaignPlanned:
		st.State = StatePlanning
	case st.Reported < st.Batches || st.Failed > 0:
		st.State = StateSending
	default:
		st.State = StateDone
	}
	return st, true, nil
}

// Invoke is the Lambda's handler: Handle until 20 seconds before the
// invocation's deadline (time to save where it stopped), or for 5 minutes
// without one.
func (p *Planner) Invoke(ctx context.Context, c notify.Campaign) (Status, error) {
	deadline := p.Now().Add(5 * time.Minute)
	if d, ok := ctx.Deadline(); ok {
		deadline = d.Add(-20 * time.Second)
	}
	return p.Handle(ctx, c, deadline)
}

// Handle is the campaign function: an event with content plans the
// campaign (resuming one paused) and answers its status; an event with
// only a campaign_id answers its status.
func (p *Planner) Handle(ctx context.Context, c notify.Campaign, deadline time.Time) (Status, error) {
	var split *Split
	if c.Topic != "" || c.Subject != "" || c.Body != "" {
		// A split plan is no failure (a retry queues nothing more): its
		// status says why and when to plan again.
		if _, err := p.Plan(ctx, c, deadline); err != nil && !errors.As(err, &split) {
			return Status{}, err
		}
	}
	st, found, err := ReadStatus(ctx, p.Store, c.ID)
	if err == nil && !found {
		err = fmt.Errorf("%w: no campaign %q", ErrInvalid, c.ID)
	}
	if split != nil {
		st.Split = split.Error()
	}
	return st, err
}
