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
	Log    *slog.Logger
	Now    func() time.Time
}

// LinkValidity is how long the unsubscribe and preferences links in a
// marketing email work. Long: an old email's unsubscribe link must still work.
const LinkValidity = 400 * 24 * time.Hour

// Result counts what a run did.
type Result struct {
	Sent              int `json:"sent"`
	SkippedSuppressed int `json:"skipped_suppressed"`
	SkippedTopic      int `json:"skipped_topic"`
	SkippedRestricted int `json:"skipped_restricted"`
	AlreadySent       int `json:"already_sent"`
	Failed            int `json:"failed"`
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
		switch err := s.sendOne(ctx, c, sub); {
		case errors.Is(err, errAlreadySent):
			res.AlreadySent++
		case err != nil:
			res.Failed++
			log.WarnContext(ctx, "campaign send failed", "error", err.Error())
		default:
			res.Sent++
		}
	}
	log.InfoContext(ctx, "campaign run", "sent", res.Sent, "suppressed", res.SkippedSuppressed, "restricted", res.SkippedRestricted,
		"already_sent", res.AlreadySent, "failed", res.Failed)
	if res.Failed > 0 {
		return res, fmt.Errorf("%d sends failed; run the campaign again to retry them", res.Failed)
	}
	return res, nil
}

var errAlreadySent = errors.New("already sent")

func (s *Sender) sendOne(ctx context.Context, c notify.Campaign, sub privacy.Subscription) error {
	now := s.Now()
	link := func(p token.Purpose, path string) (string, error) {
		tok, err := s.Tokens.Sign(token.Claims{Purpose: p, Subject: sub.Subject, Expires: now.Add(LinkValidity)})
		return s.Config.BaseURL + path + "?token=" + tok, err
	}
	unsub, err := link(token.Unsubscribe, "/v1/unsubscribe")
	if err != nil {
		return err
	}
	prefs, err := link(token.Preferences, "/v1/preferences")
	if err != nil {
		return err
	}
	msg, err := notify.Marketing(s.Config, c, sub.Email, unsub, prefs)
	if err != nil {
		return err
	}
	h := sha256.Sum256([]byte("campaign\x00" + c.ID + "\x00" + string(sub.Subject)))
	key := hex.EncodeToString(h[:])
	claim, err := s.Store.ClaimMail(ctx, key, now, 2*time.Minute)
	if err != nil {
		return err
	}
	if claim != privacy.Claimed {
		return errAlreadySent
	}
	id, err := s.Mail.Send(ctx, msg)
	if err != nil {
		_ = s.Store.ReleaseMail(ctx, key)
		return err
	}
	return s.Store.MailSent(ctx, key, id)
}
