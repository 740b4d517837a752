package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/links"
	"github.com/privacykeeper/privacykeeper/shared/mailer"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// SendStore is what a sender reads and marks.
type SendStore interface {
	mailer.Markers
	Campaign(ctx context.Context, id string) (privacy.CampaignPlan, bool, error)
	// Audience reads each subject's subscription and whether their
	// processing is restricted.
	Audience(ctx context.Context, subjects []privacy.SubjectID) (map[privacy.SubjectID]privacy.Subscription, map[privacy.SubjectID]bool, error)
	Suppressions(ctx context.Context, subject privacy.SubjectID) ([]string, error)
	SaveCampaignBatch(ctx context.Context, campaign, seq string, t privacy.CampaignTally, at time.Time) error
}

// Sender mails queued batches. One Sender serves every invocation of a
// warm function, so its Pacer holds the process's share of the send rate
// across batches.
type Sender struct {
	Store  SendStore
	Mail   mailer.Sender
	Tokens *token.Signer
	Config notify.Config
	// Policy, when set, is the policy version in force: its "last
	// updated" day goes in every footer.
	Policy privacy.PolicyInForce
	Pace   *Pacer
	// Lease is how long a claimed send is protected from another try
	// (default 2 minutes).
	Lease time.Duration
	// InFlight is how many sends may wait on SES at once (default 4); they
	// start no faster than Pace lets them.
	InFlight int
	// Margin is the time before the invocation's deadline at which no
	// new batch is started (default 10 s): the rest are handed back.
	Margin time.Duration
	Log    *slog.Logger
	Now    func() time.Time

	mu        sync.Mutex
	campaigns map[string]notify.Campaign
}

// Handle mails an SQS event's batches and answers which failed, so only
// those come back (ReportBatchItemFailures). A batch fails when one of
// its sends failed for a reason that passes; its sent emails are not sent
// again when it comes back.
func (s *Sender) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	log := s.Log.With("invocation_id", lambdalog.InvocationID(ctx))
	margin := s.Margin
	if margin == 0 {
		margin = 10 * time.Second
	}
	for _, m := range ev.Records {
		fail := func() {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < margin {
			fail()
			continue
		}
		var b privacy.CampaignBatch
		if err := json.Unmarshal([]byte(m.Body), &b); err != nil || b.Campaign == "" || b.Seq == "" {
			// Never sendable: it goes to the dead-letter queue after its
			// receives, where the team can read it.
			log.ErrorContext(ctx, "campaign message not understood", "message_id", m.MessageId)
			fail()
			continue
		}
		t, err := s.SendBatch(ctx, b)
		if err != nil || t.Failed > 0 {
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			log.WarnContext(ctx, "campaign batch failed; it comes back", "campaign_id", b.Campaign, "batch", b.Seq,
				"failed", t.Failed, "error", msg)
			fail()
		}
	}
	return resp, nil
}

// SendBatch mails one batch and records what became of each subject.
func (s *Sender) SendBatch(ctx context.Context, b privacy.CampaignBatch) (privacy.CampaignTally, error) {
	var t privacy.CampaignTally
	c, err := s.campaign(ctx, b.Campaign)
	if err != nil {
		return t, err
	}
	subs, restricted, err := s.Store.Audience(ctx, b.Subjects)
	if err != nil {
		return t, err
	}
	cfg := s.Config
	if s.Policy != nil {
		cfg.PolicyUpdated = s.Policy(ctx).LastUpdated()
	}
	log := s.Log.With("invocation_id", lambdalog.InvocationID(ctx), "campaign_id", c.ID, "batch", b.Seq)
	inFlight := s.InFlight
	if inFlight <= 0 {
		inFlight = 4
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		slot = make(chan struct{}, inFlight)
	)
	count := func(f func()) { mu.Lock(); f(); mu.Unlock() }
	for _, subject := range b.Subjects {
		sub, ok := subs[subject]
		// Read now, not when planned: one who left the topic, or the
		// list, since is not mailed.
		if !ok || sub.Status != privacy.StatusConfirmed || !sub.HasTopic(c.Topic) {
			t.NotOnTopic++
			continue
		}
		if restricted[subject] {
			t.Restricted++
			continue
		}
		reasons, err := s.Store.Suppressions(ctx, subject)
		if err != nil {
			wg.Wait()
			return t, err
		}
		if len(reasons) > 0 {
			t.Suppressed++
			continue
		}
		if err := s.Pace.Wait(ctx); err != nil {
			count(func() { t.Failed++ })
			continue
		}
		slot <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slot; wg.Done() }()
			sent, err := s.sendOne(ctx, log, cfg, c, sub)
			count(func() {
				switch {
				case err != nil:
					t.Failed++
					log.WarnContext(ctx, "campaign send failed", "error", err.Error())
				case sent == mailer.Rejected:
					t.Rejected++
				default: // now, or by an earlier try of this batch
					t.Sent++
				}
			})
		}()
	}
	wg.Wait()
	// Recorded even when the invocation is ending: what was sent was sent.
	save, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.Store.SaveCampaignBatch(save, b.Campaign, b.Seq, t, s.Now()); err != nil {
		return t, err
	}
	return t, nil
}

// campaign returns a campaign's content, read once per process.
func (s *Sender) campaign(ctx context.Context, id string) (notify.Campaign, error) {
	s.mu.Lock()
	c, ok := s.campaigns[id]
	s.mu.Unlock()
	if ok {
		return c, nil
	}
	p, found, err := s.Store.Campaign(ctx, id)
	if err != nil {
		return c, err
	}
	if !found {
		return c, fmt.Errorf("campaign %s has no record", id)
	}
	c = notify.Campaign{ID: p.ID, Topic: p.Topic, Subject: p.Subject, Body: p.Body}
	s.mu.Lock()
	if s.campaigns == nil {
		s.campaigns = map[string]notify.Campaign{}
	}
	s.campaigns[id] = c
	s.mu.Unlock()
	return c, nil
}

func (s *Sender) sendOne(ctx context.Context, log *slog.Logger, cfg notify.Config, c notify.Campaign, sub privacy.Subscription) (mailer.Sent, error) {
	now := s.Now()
	l := links.Builder{Base: cfg.BaseURL, Tokens: s.Tokens}
	unsub, err := l.Unsubscribe(sub.Subject, now)
	if err != nil {
		return 0, err
	}
	prefs, err := l.Preferences(sub.Subject, now.Add(links.MarketingValidity))
	if err != nil {
		return 0, err
	}
	msg, err := notify.Marketing(cfg, c, sub.Email, unsub, prefs)
	if err != nil {
		return 0, err
	}
	lease := s.Lease
	if lease == 0 {
		lease = 2 * time.Minute
	}
	return mailer.SendOnce(ctx, s.Store, s.Mail, log, SendKey(c.ID, sub.Subject), msg, now, lease)
}

// Pacer starts sends at most Rate a second: a token bucket that holds one
// token, so a pause is never made up by a burst. Safe for concurrent use.
type Pacer struct {
	interval time.Duration
	mu       sync.Mutex
	next     time.Time
	now      func() time.Time
}

// NewPacer paces at rate a second (at least one send an hour).
func NewPacer(rate float64, now func() time.Time) *Pacer {
	iv := time.Hour
	if rate > 0 {
		iv = min(time.Hour, time.Duration(float64(time.Second)/rate))
	}
	return &Pacer{interval: iv, now: now}
}

// Reserve takes the next start and returns how long to wait for it.
func (p *Pacer) Reserve() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.interval)
	return at.Sub(now)
}

// Wait waits for the next start, or for ctx to end.
func (p *Pacer) Wait(ctx context.Context) error {
	d := p.Reserve()
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ErrNoRate is a send rate that cannot be used.
var ErrNoRate = errors.New("the campaign send rate must be above 0")

// Share is one sender's part of the account's rate for campaigns: total
// (messages a second) split among senders (the queue's maximum
// concurrency).
func Share(total float64, senders int) (float64, error) {
	if total <= 0 || senders < 1 {
		return 0, ErrNoRate
	}
	return total / float64(senders), nil
}
