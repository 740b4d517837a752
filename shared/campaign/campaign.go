// Package campaign sends a marketing email to the confirmed subscribers of
// one topic. Every message carries the RFC 8058 one-click headers; no
// suppressed subject is ever sent one; a re-run of the same campaign sends
// nothing twice.
package campaign

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/links"
	"github.com/privacykeeper/privacykeeper/shared/mailer"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// Store is what a campaign reads and marks.
type Store interface {
	mailer.Markers
	Subscribers(ctx context.Context) ([]privacy.Subscription, error)
	Suppressions(ctx context.Context, subject privacy.SubjectID) ([]string, error)
	mailer.Restrictions
}

// Sender sends campaigns.
type Sender struct {
	Store  Store
	Mail   mailer.Sender
	Tokens *token.Signer
	Config notify.Config
	// Policy, when set, is the policy version in force: its "last
	// updated" day goes in every footer.
	Policy privacy.PolicyInForce
	Log    *slog.Logger
	Now    func() time.Time
}

// Result counts what a run did.
type Result struct {
	Sent              int `json:"sent"`
	SkippedSuppressed int `json:"skipped_suppressed"`
	SkippedTopic      int `json:"skipped_topic"`
	SkippedRestricted int `json:"skipped_restricted"`
	AlreadySent       int `json:"already_sent"`
	// Rejected counts messages SES refused for good: never retried.
	Rejected int `json:"rejected"`
	// Failed counts sends that failed, or that another run held: a rerun
	// retries them.
	Failed int `json:"failed"`
}

// Send sends c to every confirmed subscriber of its topic.
func (s *Sender) Send(ctx context.Context, c notify.Campaign) (Result, error) {
	var res Result
	if c.ID == "" || c.Subject == "" || c.Body == "" {
		return res, errors.New("a campaign needs campaign_id, subject and body")
	}
	subs, err := s.Store.Subscribers(ctx)
	if err != nil {
		return res, err
	}
	log := s.Log.With("campaign_id", c.ID)
	cfg := s.Config
	if s.Policy != nil {
		cfg.PolicyUpdated = s.Policy(ctx).LastUpdated()
	}
	for _, sub := range subs {
		if !sub.HasTopic(c.Topic) {
			res.SkippedTopic++
			continue
		}
		reasons, err := s.Store.Suppressions(ctx, sub.Subject)
		if err != nil {
			return res, err
		}
		if len(reasons) > 0 {
			res.SkippedSuppressed++
			continue
		}
		if by, err := s.Store.Restriction(ctx, sub.Subject); err != nil {
			return res, err
		} else if by != "" {
			res.SkippedRestricted++
			continue
		}
		switch sent, err := s.sendOne(ctx, log, cfg, c, sub); {
		case err != nil:
			res.Failed++
			log.WarnContext(ctx, "campaign send failed", "error", err.Error())
		case sent == mailer.SentBefore:
			res.AlreadySent++
		case sent == mailer.Rejected:
			res.Rejected++
		default:
			res.Sent++
		}
	}
	log.InfoContext(ctx, "campaign run", "sent", res.Sent, "suppressed", res.SkippedSuppressed, "restricted", res.SkippedRestricted,
		"already_sent", res.AlreadySent, "rejected", res.Rejected, "failed", res.Failed)
	if res.Failed > 0 {
		return res, fmt.Errorf("%d sends failed; run the campaign again to retry them", res.Failed)
	}
	return res, nil
}

// sendLease is how long a claimed send is protected from another run.
const sendLease = 2 * time.Minute

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
	return mailer.SendOnce(ctx, s.Store, s.Mail, log, SendKey(c.ID, sub.Subject), msg, now, sendLease)
}

// SendKey is the sent-marker of one campaign's email to one subject:
// hashed, so the marker names no one.
func SendKey(campaignID string, subject privacy.SubjectID) string {
	h := sha256.Sum256([]byte("campaign\x00" + campaignID + "\x00" + string(subject)))
	return hex.EncodeToString(h[:])
}
