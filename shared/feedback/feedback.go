package feedback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/sns"
)

// Store is what the handler writes.
type Store interface {
	Suppress(ctx context.Context, subject privacy.SubjectID, reason string, e privacy.Event) error
	// CountOnce counts member under key once in ttl: a member counted
	// before adds nothing (counted false).
	CountOnce(ctx context.Context, key, member string, now time.Time, ttl time.Duration) (n int, counted bool, err error)
}

// Handler processes SNS deliveries of SES notifications.
type Handler struct {
	Store    Store
	Verifier *sns.Verifier
	Hasher   *privacy.Hasher
	// Topics are the ARNs of the topics feedback may come from: the
	// stack's own FeedbackTopic and any the operator names. A message or a
	// subscription confirmation from any other topic, however well signed
	// (anyone can own a topic and subscribe this route), is ignored.
	Topics []string
	// Confirm fetches a SubscribeURL to confirm an HTTPS subscription.
	Confirm func(ctx context.Context, url string) error
	// SoftBounceLimit is how many soft bounces within SoftBounceWindow
	// suppress an address.
	SoftBounceLimit  int
	SoftBounceWindow time.Duration
	Policy           privacy.PolicyInForce
	Now              func() time.Time
	Log              *slog.Logger
}

// Outcome says what became of one message.
type Outcome string

// Outcomes.
const (
	Rejected  Outcome = "rejected" // signature or origin not proved: ignored
	Confirmed Outcome = "subscription_confirmed"
	Applied   Outcome = "applied"
	Ignored   Outcome = "ignored"
)

// Message handles one SNS message as Lambda delivers it. An error means
// try again later (a certificate or the database could not be reached);
// an untrusted message is not an error: it is dropped, and logged. Its age
// does not count: SNS itself invoked the function (no one else may), and
// a bounce retried hours later, or redriven from the dead-letter queue
// days later, is still a bounce.
func (h *Handler) Message(ctx context.Context, m sns.Message) (Outcome, error) {
	return h.message(ctx, m, false)
}

// message handles m; posted says it came to the public HTTPS route, where
// anyone may post a captured message again: one signed more than
// sns.MaxAge ago is refused there.
func (h *Handler) message(ctx context.Context, m sns.Message, posted bool) (Outcome, error) {
	log := h.Log.With("sns_message_id", m.MessageID, "sns_type", m.Type)
	if !slices.Contains(h.Topics, m.TopicArn) {
		// Checked before the signature, so a foreign topic costs no fetch.
		log.WarnContext(ctx, "SNS message rejected: not from a configured feedback topic", "topic", m.TopicArn)
		return Rejected, nil
	}
	if posted {
		if err := sns.Fresh(m, h.Now()); err != nil {
			log.WarnContext(ctx, "SNS message rejected: too old or ahead of time for the HTTPS route", "error", err.Error())
			return Rejected, nil
		}
	}
	if err := h.Verifier.Verify(ctx, m); err != nil {
		if errors.Is(err, sns.ErrUntrusted) {
			log.WarnContext(ctx, "SNS message rejected", "error", err.Error())
			return Rejected, nil
		}
		return "", err
	}
	switch m.Type {
	case "SubscriptionConfirmation":
		if !sns.TrustedURL(m.SubscribeURL) {
			log.WarnContext(ctx, "subscribe URL is not an SNS host; not confirmed")
			return Rejected, nil
		}
		if err := h.Confirm(ctx, m.SubscribeURL); err != nil {
			return "", fmt.Errorf("confirm subscription: %w", err)
		}
		log.InfoContext(ctx, "SNS subscription confirmed", "topic", m.TopicArn)
		return Confirmed, nil
	case "Notification":
	default:
		return Ignored, nil
	}
	f, err := Parse([]byte(m.Message))
	if err != nil {
		log.WarnContext(ctx, "unreadable SES notification; ignored", "error", err.Error())
		return Ignored, nil
	}
	if f.Kind == Other {
		return Ignored, nil
	}
	now := h.Now()
	for _, addr := range f.Recipients {
		subject := h.Hasher.Subject(addr)
		reason := map[string]string{HardBounce: privacy.SuppressBounced, SoftBounce: privacy.SuppressBounced,
			Complaint: privacy.SuppressComplained}[f.Kind]
		if f.Kind == SoftBounce {
			// One bounce of one email counts once, however often it is
			// delivered (SNS delivers at least once; a captured message
			// may be posted again within the hour).
			n, counted, err := h.Store.CountOnce(ctx, "softbounce#"+string(subject), f.MessageID, now, h.SoftBounceWindow)
			if err != nil {
				return "", err
			}
			if !counted {
				log.InfoContext(ctx, "soft bounce counted before; ignored", "ses_message_id", f.MessageID)
				continue
			}
			if n < h.SoftBounceLimit {
				log.InfoContext(ctx, "soft bounce counted", "count", n, "ses_message_id", f.MessageID)
				continue
			}
		}
		err := h.Store.Suppress(ctx, subject, reason, privacy.Event{Subject: subject, Name: privacy.EventName("suppressed_" + reason),
			At: now, Ref: f.MessageID, Purpose: privacy.PurposeMarketing, LegalBasis: privacy.BasisLegitimateInterest,
			PolicyVersion: h.Policy(ctx).Version, Detail: map[string]string{"feedback": f.Kind, "sub_type": f.SubType}})
		if err != nil {
			return "", err
		}
		log.InfoContext(ctx, "address suppressed", "reason", reason, "feedback", f.Kind, "ses_message_id", f.MessageID)
	}
	return Applied, nil
}

// Lambda handles an SNS subscription's event. A failed message fails the
// invocation, so Lambda retries it and, after that, sends it to the
// dead-letter queue: feedback is not lost.
func (h *Handler) Lambda(ctx context.Context, ev sns.LambdaEvent) error {
	var errs []error
	for _, m := range ev.Messages() {
		if _, err := h.Message(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Topics reads a comma-separated list of topic ARNs (FEEDBACK_TOPIC_ARNS),
// dropping empty entries.
func Topics(list string) []string {
	var out []string
	for _, t := range strings.Split(list, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// ConfirmByGet confirms an SNS subscription by fetching its SubscribeURL,
// following no redirects; endpoint, in development only, is where SNS
// hosts are reached instead (sns.Local).
func ConfirmByGet(client *http.Client, endpoint string) func(ctx context.Context, url string) error {
	return func(ctx context.Context, url string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, sns.Local(endpoint, url), nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
}
