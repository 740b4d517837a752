package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

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
	// InFlight is how many sends of the process may be under way at once
	// (default 8); they start no faster than Pace lets them.
	InFlight int
	// Margin is the time before the invocation's deadline after which no
	// send starts (default 10 s): batches not finished come back.
	Margin time.Duration
	Log    *slog.Logger
	Now    func() time.Time

	mu        sync.Mutex
	campaigns map[string]notify.Campaign
	slots     chan struct{}
}

// Message is one message of the send queue: its id and its body, a JSON
// privacy.CampaignBatch. (The same type as batch.Message, the queue's
// adapter, which this package does not import.)
type Message = struct{ ID, Body string }

// Handle mails a queue's batches, together (their sends share the pacer
// and the in-flight slots), and answers the ids of the messages that
// failed, so only those come back (ReportBatchItemFailures). A batch fails when one of its sends
// failed for a reason that passes, or could not start before the
// invocation's deadline less Margin; its sent emails are not sent again
// when it comes back.
func (s *Sender) Handle(ctx context.Context, msgs []Message) (failedIDs []string) {
	margin := s.Margin
	if margin == 0 {
		margin = 10 * time.Second
	}
	work := ctx
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		work, cancel = context.WithDeadline(ctx, d.Add(-margin))
		defer cancel()
	}
	failed := make([]bool, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		var b privacy.CampaignBatch
		if err := json.Unmarshal([]byte(m.Body), &b); err != nil || b.Campaign == "" || b.Seq == "" {
			// Never sendable: it goes to the dead-letter queue after its
			// receives, where the team can read it.
			s.Log.ErrorContext(ctx, "campaign message not understood", "message_id", m.ID)
			failed[i] = true
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t, err := s.SendBatch(work, b)
			if err != nil || t.Failed > 0 {
				msg := ""
				if err != nil {
					msg = err.Error()
				}
				s.Log.WarnContext(ctx, "campaign batch failed; it comes back", "campaign_id", b.Campaign, "batch", b.Seq,
					"failed", t.Failed, "error", msg)
				failed[i] = true
			}
		}()
	}
	wg.Wait()
	for i, m := range msgs {
		if failed[i] {
			failedIDs = append(failedIDs, m.ID)
		}
	}
	return failedIDs
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
	// Read now, not when planned: one who left the topic, or the list,
	// since is not mailed; nor one restricted or suppressed since.
	var candidates []privacy.Subscription
	for _, subject := range b.Subjects {
		switch sub, ok := subs[subject]; {
		case !ok || sub.Status != privacy.StatusConfirmed || !sub.HasTopic(c.Topic):
			t.NotOnTopic++
		case restricted[subject]:
			t.Restricted++
		default:
			candidates = append(candidates, sub)
		}
	}
	cfg := s.Config
	if s.Policy != nil {
		cfg.PolicyUpdated = s.Policy(ctx).LastUpdated()
	}
	log := s.Log.With("campaign_id", c.ID, "batch", b.Seq)
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	slots := s.slotPool()
	for _, sub := range candidates {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			reasons, err := s.Store.Suppressions(ctx, sub.Subject)
			var sent mailer.Sent
			if err == nil && len(reasons) == 0 {
				sent, err = s.sendOne(ctx, log, cfg, c, sub)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil: // a read or a send that failed: the batch comes back
				t.Failed++
				log.WarnContext(ctx, "campaign send failed", "error", err.Error())
			case len(reasons) > 0:
				t.Suppressed++
			case sent == mailer.Rejected:
				t.Rejected++
			default: // now, or by an earlier try of this batch
				t.Sent++
			}
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

// slotPool is the process's in-flight sends: InFlight (default 8) across
// every batch it is sending, so no claimed send waits on the pacer long.
func (s *Sender) slotPool() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.slots == nil {
		n := s.InFlight
		if n <= 0 {
			n = inFlightDefault
		}
		s.slots = make(chan struct{}, n)
	}
	return s.slots
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
	c = notify.Campaign{ID: p.ID, Topic: p.Topic, Subject: p.Subject, Body: p.Body, Translations: p.Translations}
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
	cfg.Lang = sub.Lang // the footer, and the campaign's text when translated
	l := links.Builder{Base: cfg.BaseURL, Tokens: s.Tokens, MailDomain: cfg.UnsubscribeMailDomain}
	unsub, err := l.Unsubscribe(sub.Subject, now)
	if err != nil {
		return 0, err
	}
	unsubMail, err := l.UnsubscribeMail(sub.Subject, now)
	if err != nil {
		return 0, err
	}
	prefs, err := l.Preferences(sub.Subject, now.Add(links.MarketingValidity))
	if err != nil {
		return 0, err
	}
	msg, err := notify.Marketing(cfg, c, sub.Email, unsub, unsubMail, prefs)
	if err != nil {
		return 0, err
	}
	lease := s.Lease
	if lease == 0 {
		lease = 2 * time.Minute
	}
	return mailer.SendOnce(ctx, s.Store, s.Mail, log, SendKey(c.ID, sub.Subject), msg, now, lease, s.Pace.Wait)
}

// Pacer holds sends to rate a second on average and to a tenth above it
// at any moment: a token bucket for the rate that saves up to a second's
// sends while idle (between batches, during a slow read), spent no faster
// than the peak of 1.1 times the rate. Over a campaign the rate is what
// was configured; no second sees more than 10% above it. Safe for
// concurrent use.
type Pacer struct {
	interval, peak time.Duration
	saved          time.Duration // how far the rate's clock may lag now
	mu             sync.Mutex
	next, nextPeak time.Time
	now            func() time.Time
}

// NewPacer paces at rate a second (at least one send an hour).
func NewPacer(rate float64, now func() time.Time) *Pacer {
	iv := time.Hour
	if rate > 0 {
		iv = min(time.Hour, time.Duration(float64(time.Second)/rate))
	}
	p := &Pacer{interval: iv, peak: time.Duration(float64(iv) / 1.1), now: now}
	p.saved = max(0, time.Second-iv)
	p.next = now() // nothing saved at the start
	return p
}

// Reserve takes the next start and returns how long to wait for it.
func (p *Pacer) Reserve() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	at := p.next
	if floor := now.Add(-p.saved); at.Before(floor) {
		at = floor // saved up at most a second's sends
	}
	p.next = at.Add(p.interval)
	if at.Before(p.nextPeak) {
		at = p.nextPeak
	}
	if at.Before(now) {
		at = now
	}
	p.nextPeak = at.Add(p.peak)
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

// sesShare is the part of the account's SES rate campaigns take when no
// rate is configured, leaving the rest to the mailer.
const sesShare = 0.8

// SenderRate is one sender's send rate (messages a second): its Share of
// total across senders or, when total is 0, of sesShare of the account's
// SES maximum (accountMax), checked against the lease of a claimed send
// (CheckLease).
func SenderRate(ctx context.Context, total float64, senders int, lease time.Duration,
	accountMax func(context.Context) (float64, error)) (float64, error) {
	total, err := TotalRate(ctx, total, accountMax)
	if err != nil {
		return 0, err
	}
	rate, err := Share(total, senders)
	if err != nil {
		return 0, err
	}
	if err := CheckLease(rate, lease); err != nil {
		return 0, err
	}
	return rate, nil
}

// TotalRate is the campaign send rate across every sender: total when
// configured, else sesShare of the account's SES maximum (accountMax).
func TotalRate(ctx context.Context, total float64, accountMax func(context.Context) (float64, error)) (float64, error) {
	if total < 0 {
		return 0, ErrNoRate
	}
	if total == 0 {
		max, err := accountMax(ctx)
		if err != nil {
			return 0, err
		}
		total = max * sesShare
	}
	return total, nil
}

// inFlightDefault is the sends under way at once when InFlight is unset.
const inFlightDefault = 8

// CheckLease fails when a claimed send could wait on the pacer longer
// than its lease (another sender would then claim and send it too): the
// in-flight sends of a process wait at most inFlight/rate for their turn.
func CheckLease(rate float64, lease time.Duration) error {
	wait := time.Duration(float64(inFlightDefault) / rate * float64(time.Second))
	if need := 2*wait + 2*time.Second; lease < need {
		return fmt.Errorf("MAIL_LEASE_SECONDS %v is too short for a send rate of %.2f a second per sender (at least %v)",
			lease, rate, need)
	}
	return nil
}
