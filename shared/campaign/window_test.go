package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/campaign"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// How many emails may be queued by a time: none that would expire in the
// queue before its turn at the send rate.
func TestPaceWindow(t *testing.T) {
	created := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	const fourDays = 4 * 24 * time.Hour // the template's MessageRetentionPeriod
	tests := []struct {
		name    string
		pace    campaign.Pace
		since   time.Duration // from created to now
		planned int
		want    int
		wantErr bool
	}{
		// (4 days - 12 hours) at 100 a second: a million fits 30 times.
		{"a million at 100 a second", campaign.Pace{Rate: 100, Retention: fourDays}, 0, 0, 30_240_000, false},
		// At the sandbox's 0.8 a second, 3.5 days of sends.
		{"slow: the first part", campaign.Pace{Rate: 0.8, Retention: fourDays}, 0, 0, 241_920, false},
		// Two days on, those queued first are sent: two more days' worth.
		{"slow: two days on", campaign.Pace{Rate: 0.8, Retention: fourDays}, 48 * time.Hour, 241_920, 380_160, false},
		// Ten days on, the queue ran dry long ago: a whole window again,
		// counted from now, not from the campaign's start.
		{"slow: the queue ran dry", campaign.Pace{Rate: 0.8, Retention: fourDays}, 240 * time.Hour, 241_920, 483_840, false},
		{"a margin of its own", campaign.Pace{Rate: 2, Retention: time.Hour, Margin: 30 * time.Minute}, 0, 0, 3600, false},
		{"retention not above the margin", campaign.Pace{Rate: 100, Retention: 12 * time.Hour}, 0, 0, 0, true},
		{"no rate", campaign.Pace{Rate: 0, Retention: fourDays}, 0, 0, 0, true},
		// An hour at one email in 10,000 seconds.
		{"not one email in time", campaign.Pace{Rate: 0.0001, Retention: 13 * time.Hour}, 0, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.pace.Window(created, created.Add(tt.since), tt.planned)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("Window = %d, %v; want %d (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// A plan that would outlast the queue's retention is split: each run
// queues only what will be sent before it expires, says why it stopped
// and when to plan again, and the runs together queue every subscriber
// once.
func TestPlannerSplitsAtRetention(t *testing.T) {
	const n = 1000
	store := &planStore{}
	for i := range n {
		store.subs = append(store.subs, privacy.Subscription{Subject: privacy.SubjectID(fmt.Sprintf("s%04d", i)),
			Status: privacy.StatusConfirmed, Topics: []string{"events"}})
	}
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	now := start
	q := &memQueue{}
	// One a second, and five minutes of the queue's retention to use:
	// 300 at first, then one more a second.
	pace := campaign.Pace{Rate: 1, Retention: 12*time.Hour + 5*time.Minute, Margin: 12 * time.Hour}
	p := &campaign.Planner{Store: store, Queue: q, Page: 128, Pace: pace, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Now: func() time.Time { return now }}
	c := notify.Campaign{ID: "big", Topic: "events", Subject: "S", Body: "B"}
	runs := []struct {
		at          time.Duration // after start
		wantPlanned int
		wantSplit   bool
	}{
		{0, 300, true},
		{200 * time.Second, 500, true}, // 500 s of sends since the start
		{2 * time.Hour, 800, true},     // the queue ran dry: 300 more from now
		{3 * time.Hour, n, false},
	}
	for _, r := range runs {
		now = start.Add(r.at)
		st, err := p.Handle(context.Background(), c, now.Add(time.Minute))
		if err != nil {
			t.Fatalf("at %v: %v", r.at, err)
		}
		if st.Planned != r.wantPlanned || (st.Split != "") != r.wantSplit || (st.State == campaign.StatePlanning) != r.wantSplit {
			t.Fatalf("at %v: planned %d, state %s, split %q; want %d planned, split %v", r.at, st.Planned, st.State, st.Split,
				r.wantPlanned, r.wantSplit)
		}
		if queued := queuedSubjects(t, q); queued != r.wantPlanned {
			t.Fatalf("at %v: %d subjects queued, want %d", r.at, queued, r.wantPlanned)
		}
	}
	// Planned directly, the split is an error that says so.
	_, err := (&campaign.Planner{Store: &planStore{subs: store.subs}, Queue: &memQueue{}, Page: 128, Pace: pace,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: func() time.Time { return start }}).Plan(context.Background(), c, start.Add(time.Minute))
	var split *campaign.Split
	if !errors.As(err, &split) || split.Planned != 300 || !split.Resume.After(start) {
		t.Fatalf("Plan: %v, want a split after 300 with a time to resume", err)
	}
	// A pace no email fits is refused before anything is queued.
	q2 := &memQueue{}
	_, err = (&campaign.Planner{Store: &planStore{subs: store.subs}, Queue: q2, Pace: campaign.Pace{Rate: 1, Retention: time.Hour},
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: func() time.Time { return start }}).Plan(context.Background(), c, start.Add(time.Minute))
	if !errors.Is(err, campaign.ErrInvalid) || len(q2.batches) != 0 {
		t.Fatalf("retention under the margin: %v, %d batches queued; want refused, none", err, len(q2.batches))
	}
}

// queuedSubjects counts the subjects queued, failing on one queued twice.
func queuedSubjects(t *testing.T, q *memQueue) int {
	t.Helper()
	seen := map[privacy.SubjectID]bool{}
	for _, b := range q.batches {
		for _, s := range b.Subjects {
			if seen[s] {
				t.Fatalf("%s queued twice", s)
			}
			seen[s] = true
		}
	}
	return len(seen)
}

// planStore is a PlanStore in memory: the subscribers in order, one plan.
type planStore struct {
	subs []privacy.Subscription
	plan *privacy.CampaignPlan
}

func (s *planStore) StartCampaign(_ context.Context, p privacy.CampaignPlan) (privacy.CampaignPlan, error) {
	if s.plan == nil {
		s.plan = &p
	}
	return *s.plan, nil
}

func (s *planStore) SaveCampaignPlan(_ context.Context, p privacy.CampaignPlan) error {
	s.plan = &p
	return nil
}

func (s *planStore) SubscribersPage(_ context.Context, cursor string, limit int) ([]privacy.Subscription, string, error) {
	from := 0
	if cursor != "" {
		from, _ = strconv.Atoi(cursor)
	}
	to := min(from+limit, len(s.subs))
	next := strconv.Itoa(to)
	if to == len(s.subs) {
		next = ""
	}
	return s.subs[from:to], next, nil
}

func (s *planStore) Campaign(context.Context, string) (privacy.CampaignPlan, bool, error) {
	if s.plan == nil {
		return privacy.CampaignPlan{}, false, nil
	}
	return *s.plan, true, nil
}

func (s *planStore) CampaignBatches(context.Context, string) (map[string]privacy.CampaignTally, error) {
	return nil, nil
}
