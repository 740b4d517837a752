// Package mailer turns table changes into emails. The table stream is the
// outbox: a handler writes the item that makes an email due (it carries a
// mail_due attribute), the stream delivers the change here, and the mailer
// renders and sends it. A sent-marker claimed with a condition keeps a
// redelivered record from sending twice; a failed send is reported by its
// sequence number so the stream retries from there and nothing is lost.
package mailer

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/links"
	"github.com/privacykeeper/privacykeeper/shared/metric"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/receipt"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// Markers claims and settles sent-markers.
type Markers interface {
	ClaimMail(ctx context.Context, key string, now time.Time, lease time.Duration) (privacy.Claim, error)
	MailSent(ctx context.Context, key, messageID string) error
	ReleaseMail(ctx context.Context, key string) error
}

// Requests strips a completed erasure request's address once its email
// has gone.
type Requests interface {
	StripRequestAddress(ctx context.Context, id string) error
	// DeliveryRefused makes a processor's delivery the team's at once
	// when the email telling it was refused for good.
	DeliveryRefused(ctx context.Context, requestID, processorID, why string, at time.Time) error
	// DeliveryMailed removes the person's address from a delivery once
	// its email has gone.
	DeliveryMailed(ctx context.Context, requestID, processorID string) error
}

// Restrictions tells whether a subject's processing is restricted (GDPR
// Art. 18): the ids of the requests whose restriction is in force, none
// when it is not.
type Restrictions interface {
	Restriction(ctx context.Context, subject privacy.SubjectID) ([]string, error)
}

// Suppressions tells why no marketing goes to a subject: the suppression
// reasons in force (unsubscribed, complained, bounced, erased), none when
// nothing holds it back.
type Suppressions interface {
	Suppressions(ctx context.Context, subject privacy.SubjectID) ([]string, error)
}

// Ledger writes the ledger entries whose change the mailer is the retried
// path of: an inquiry's inquiry_received and a site rights request's
// request_received, from the item's stream record (the form stores each
// alone, without a transaction).
type Ledger interface {
	// RecordInquiry writes the inquiry's entry, sealed with now's day; an
	// entry already there is done.
	RecordInquiry(ctx context.Context, i privacy.Inquiry, now time.Time) error
	// RecordEntry writes e's entry, sealed with now's day; an entry
	// already there is done.
	RecordEntry(ctx context.Context, e privacy.Event, now time.Time) error
}

// Sender sends one email and returns its provider message id.
type Sender interface {
	Send(ctx context.Context, m notify.Message) (string, error)
}

// Mailer handles stream batches.
type Mailer struct {
	Markers  Markers
	Requests Requests
	// Restrictions, when set, holds back marketing and sales emails of a
	// restricted subject.
	Restrictions Restrictions
	// Suppressions, when set, holds back a policy notice (and its offers)
	// to a subject marketing may not reach: like marketing, it goes only
	// to those who take mail from us.
	Suppressions Suppressions
	Sender       Sender
	// Ledger, when set (the function sets it), writes an inquiry's and a
	// site rights request's ledger entry from its record (RecordChange).
	Ledger Ledger
	// Hasher keys the addresses a rights request names (recipient, agent,
	// parent) in its request_received entry (privacy.RequestReceived).
	Hasher *privacy.Hasher
	Config notify.Config
	Tokens *token.Signer
	// Receipts signs the receipts a confirmation, a withdrawal of consent
	// and a completed erasure carry.
	Receipts *receipt.Issuer
	// Policy, when set, is the policy version in force, whose "Last
	// updated" day every email shows.
	Policy privacy.PolicyInForce
	Log    *slog.Logger
	Now    func() time.Time
	// Lease is how long a claim protects a send in progress. It must be
	// longer than one send takes and shorter than the stream's retry span.
	Lease time.Duration
	// Retries, when set, keeps the changes whose sends failed for a reason
	// that passes, retried by Retry after RetryBackoff (doubled after each
	// failure up to RetryMaxBackoff) until GiveUp; without it such a
	// record fails and the stream retries it.
	Retries                               RetryQueue
	RetryBackoff, RetryMaxBackoff, GiveUp time.Duration
	// AddressChangeWait is how long the old address may stop a correction
	// of the address after the new one confirmed it (the desk's).
	AddressChangeWait time.Duration
	// Mailboxes, when set, keep each processor told by email to one
	// email every ProcessorEvery: a request past it waits for the next
	// period's digest (Digests), so that a flood of filings cannot flood
	// the processor's privacy inbox.
	Mailboxes      Mailboxes
	ProcessorEvery time.Duration
	// Contacts, when set, gives a processor's privacy contact address as
	// registered when its email is sent: the team may change it (privacyctl
	// processor contact), and what waits for the processor (its mailbox's
	// digest, a retry, a lift) goes to the new address. What was queued
	// for a processor before its removal still goes: to the address the
	// team last set for it, else (never changed) the one its delivery
	// kept.
	Contacts Contacts
}

// Contacts give a processor's privacy contact address now.
type Contacts interface {
	// ProcessorContact is the address registered, or for a processor
	// removed the one the team last set for it; "" when it has none, or
	// was removed without its address ever changed.
	ProcessorContact(ctx context.Context, processorID string) (string, error)
}

// contact is the address processor id's email goes to now: the one
// registered (or last set, once removed), else kept, the one its
// delivery kept (an address the team never replaced).
func (m *Mailer) contact(ctx context.Context, id, kept string) (string, error) {
	if m.Contacts == nil {
		return kept, nil
	}
	addr, err := m.Contacts.ProcessorContact(ctx, id)
	if err != nil {
		return "", fmt.Errorf("processor contact: %w", err)
	}
	return cmp.Or(addr, kept), nil
}

// Mailboxes keep a processor's mailbox to one email a period.
type Mailboxes interface {
	// ClaimMailbox opens the processor's next period when the last has
	// ended: true when one email may go now.
	ClaimMailbox(ctx context.Context, processorID string, now time.Time, every time.Duration) (bool, error)
	// HoldForMailbox keeps a request's email for the next digest.
	HoldForMailbox(ctx context.Context, processorID, requestID string, now time.Time) error
	// MailboxesDue lists the processors whose held requests wait for a
	// period that has ended.
	MailboxesDue(ctx context.Context, now time.Time) ([]string, error)
	// MailboxHeld lists a processor's held requests, and a mark for
	// MailboxSent of when the last was held.
	MailboxHeld(ctx context.Context, processorID string) ([]string, string, error)
	// MailboxSent ends the wait of the requests a digest told.
	MailboxSent(ctx context.Context, processorID string, requestIDs []string, heldAt string) error
	// Delivery reads a request's delivery to a processor.
	Delivery(ctx context.Context, requestID, processorID string) (privacy.Delivery, error)
}

// RetryQueue keeps the changes whose emails are to be tried again.
type RetryQueue interface {
	QueueMail(ctx context.Context, r privacy.MailRetry) error
	DueMail(ctx context.Context, now time.Time) ([]privacy.MailRetry, error)
	LeaseMail(ctx context.Context, r privacy.MailRetry, until time.Time) error
	RetryMailLater(ctx context.Context, r privacy.MailRetry) error
	MailDone(ctx context.Context, r privacy.MailRetry) error
	ChangedItem(ctx context.Context, r privacy.MailRetry) (privacy.Change, bool, error)
}

// Scheduled is the handler of the schedule's event, {"retry_mail": true}
// (Retry, then the processors' digests that are due); the stream's batches go to Handle (batch.StreamOr tells them
// apart).
func (m *Mailer) Scheduled(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev struct {
		RetryMail bool `json:"retry_mail"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	if !ev.RetryMail {
		return nil, errors.New("neither a stream batch nor a retry event")
	}
	rep, err := m.Retry(ctx)
	if err == nil && m.Mailboxes != nil {
		rep.Digests, err = m.Digests(ctx)
	}
	return rep, err
}

// Handle processes one batch of a table's stream and answers the
// sequence numbers of the changes that failed, so that the stream
// retries from the first of them. Changes that can never succeed (an item
// the mailer cannot read) are logged and skipped rather than blocking the
// shard.
func (m *Mailer) Handle(ctx context.Context, changes []privacy.Change) (failed []string) {
	for _, ch := range changes {
		log := m.Log.With("seq", ch.Seq, "removed", ch.Removed)
		err := m.process(ctx, log, ch)
		var se *sendError
		switch {
		case err == nil:
			continue
		case errors.As(err, &se) && m.Retries != nil:
			// A send that failed for a reason that passes is retried from
			// the queue, with backoff: the shard moves on.
			now := m.Now().UTC()
			r := privacy.MailRetry{Source: ch.Source, Table: tableOf(ch.Source), Due: se.due, PK: ch.PK, SK: ch.SK,
				Attempts: 1, First: now, Next: now.Add(m.RetryBackoff), LastError: se.Error()}
			if qerr := m.Retries.QueueMail(ctx, r); qerr == nil {
				log.WarnContext(ctx, "send failed; queued for retry", "error", se.Error(), "retry_in_s", m.RetryBackoff.Seconds())
				continue
			} else {
				err = qerr
			}
		}
		log.WarnContext(ctx, "record failed; the stream retries it", "error", err.Error())
		failed = append(failed, ch.Seq)
	}
	return failed
}

// sendError is a send that failed for a reason that passes (SES
// throttled or unreachable, another mailer holding the send): the change
// is retried.
type sendError struct {
	due privacy.MailDue
	err error
}

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// process sends the emails one change makes due, each once. A send that
// failed is a *sendError; any other error (DynamoDB) fails the record.
// Records that can never succeed (an item the mailer cannot read) are
// logged and skipped.
func (m *Mailer) process(ctx context.Context, log *slog.Logger, ch privacy.Change) error {
	if err := m.RecordChange(ctx, ch); err != nil {
		return err
	}
	if d := ch.Delivery; d != nil && d.ByEmail() && d.Identity != "" && makesDue(ch) {
		// The address registered now (an error fails the record: retried).
		to, err := m.contact(ctx, d.ProcessorID, d.Contact)
		if err != nil {
			return err
		}
		dd := *d
		dd.Contact, ch.Delivery = to, &dd
	}
	msgs, err := m.due(ctx, ch)
	if err != nil {
		log.ErrorContext(ctx, "record skipped: cannot build its emails", "error", err.Error())
		return nil
	}
	if msgs, err = m.restrict(ctx, ch, msgs); err != nil {
		return fmt.Errorf("restriction check: %w", err)
	}
	if msgs, err = m.suppress(ctx, ch, msgs); err != nil {
		return fmt.Errorf("suppression check: %w", err)
	}
	for _, msg := range msgs {
		if d := ch.Delivery; d != nil && msg.Kind == notify.KindProcessorRequest && m.Mailboxes != nil {
			open, err := m.Mailboxes.ClaimMailbox(ctx, d.ProcessorID, m.Now(), m.ProcessorEvery)
			if err == nil && !open {
				// Written to this period already: the next digest tells it.
				err = m.Mailboxes.HoldForMailbox(ctx, d.ProcessorID, d.RequestID, m.Now())
				log.InfoContext(ctx, "processor email held for its mailbox's next digest", "processor_id", d.ProcessorID,
					"request_id", d.RequestID)
			}
			if err != nil {
				return fmt.Errorf("processor mailbox: %w", err)
			}
			if !open {
				continue
			}
		}
		sent, err := m.sendOnce(ctx, log, key(ch, msg.Kind), msg)
		if err != nil {
			return &sendError{due: ch.MailDue, err: fmt.Errorf("%s: %w", msg.Kind, err)}
		}
		if d := ch.Delivery; d != nil {
			switch sent {
			case Rejected:
				// The processor was never told: the team hears of it
				// now, not as "not confirmed" in 30 days.
				err = m.Requests.DeliveryRefused(ctx, d.RequestID, d.ProcessorID,
					"the email to its contact address was refused by the mail service (in the SES sandbox: an address not verified)", m.Now())
			default:
				// Told: the address was kept only to write the email.
				err = m.Requests.DeliveryMailed(ctx, d.RequestID, d.ProcessorID)
			}
			if err != nil {
				return fmt.Errorf("processor delivery: %w", err)
			}
		}
	}
	if len(msgs) > 0 && ch.Request != nil && ch.MailDue.Kind.Last() {
		// The request's last email has gone: it keeps no address, name
		// or details for its remaining years of record.
		if err := m.Requests.StripRequestAddress(ctx, ch.Request.ID); err != nil {
			return fmt.Errorf("strip the address: %w", err)
		}
	}
	return nil
}

// RecordChange writes the ledger entry ch is the evidence of, first of
// all that the mailer does with a change, so that nothing that holds an
// email back or skips it (an acknowledgement held, a restriction, a
// suppression, a send that fails) skips the entry: an inquiry's
// inquiry_received, and a rights request's request_received when the site's
// form filed it (privacy.RightsRequest.ReceivedFromStream: not a
// controller's, not one the team entered, not the person's own opt-out of
// sale, whose entries are written with them), when the item is first
// written (INSERT) or replayed (privacyctl replay marks it replayed_at). An
// error fails the record, which the stream retries, then gives to the
// failure queue that privacyctl replay feeds back: every such item stored
// gets its entry. A record delivered again finds the entry there (a
// conditional put).
func (m *Mailer) RecordChange(ctx context.Context, ch privacy.Change) error {
	if m.Ledger == nil || ch.Err != nil || ch.Removed || ch.Expired || !ch.Created && !ch.Replayed {
		return nil
	}
	var err error
	switch {
	case ch.Inquiry != nil:
		err = m.Ledger.RecordInquiry(ctx, *ch.Inquiry, m.Now())
	case ch.Request != nil && ch.Request.ReceivedFromStream():
		if m.Hasher == nil {
			return errors.New("ledger: no hasher for a request's entry")
		}
		err = m.Ledger.RecordEntry(ctx, privacy.RequestReceived(*ch.Request, m.Hasher), m.Now())
	}
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// tableOf is the table name in a stream ARN
// (arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>).
func tableOf(streamARN string) string {
	_, rest, _ := strings.Cut(streamARN, ":table/")
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// RetryReport says what one retry run did.
type RetryReport struct {
	Tried     int `json:"tried"`
	Sent      int `json:"sent"`
	Dropped   int `json:"dropped"` // the item is gone or its email superseded
	Again     int `json:"again"`
	Abandoned int `json:"abandoned"`
	// Digests are the processors' digests sent (Digests).
	Digests int `json:"processor_digests"`
}

// MetricAbandonedEmails counts emails given up after GiveUp of failures
// (an alarm watches it).
const MetricAbandonedEmails = "EmailsAbandoned"

// Retry tries every queued change that is due again (on a schedule): the
// item is read afresh, so one erased or whose email was superseded
// meanwhile sends nothing; what fails again waits longer (RetryBackoff
// doubled to RetryMaxBackoff), and after GiveUp is abandoned, logged as
// an error and counted.
func (m *Mailer) Retry(ctx context.Context) (RetryReport, error) {
	var rep RetryReport
	now := m.Now().UTC()
	due, err := m.Retries.DueMail(ctx, now)
	if err != nil {
		return rep, fmt.Errorf("mail retry: %w", err)
	}
	for _, r := range due {
		if ctx.Err() != nil {
			break
		}
		if err := m.Retries.LeaseMail(ctx, r, now.Add(m.Lease)); errors.Is(err, privacy.ErrStale) {
			continue
		} else if err != nil {
			return rep, fmt.Errorf("mail retry: %w", err)
		}
		rep.Tried++
		ch, found, err := m.Retries.ChangedItem(ctx, r)
		if err == nil && (!found || ch.MailDue != r.Due) {
			rep.Dropped++
			if err := m.Retries.MailDone(ctx, r); err != nil {
				return rep, fmt.Errorf("mail retry: %w", err)
			}
			continue
		}
		if err == nil {
			err = m.process(ctx, m.Log, ch)
		}
		if err == nil {
			rep.Sent++
			if err := m.Retries.MailDone(ctx, r); err != nil {
				return rep, fmt.Errorf("mail retry: %w", err)
			}
			continue
		}
		r.Attempts++
		r.LastError = err.Error()
		if now.Sub(r.First) >= m.GiveUp {
			rep.Abandoned++
			attrs := append([]slog.Attr{slog.Int("attempts", r.Attempts), slog.String("error", r.LastError)},
				metric.Count(MetricAbandonedEmails, now)...) // the alarm's metric
			m.Log.LogAttrs(ctx, slog.LevelError, "email abandoned after repeated failures", attrs...)
			if err := m.Retries.MailDone(ctx, r); err != nil {
				return rep, fmt.Errorf("mail retry: %w", err)
			}
			continue
		}
		rep.Again++
		r.Next = now.Add(min(m.RetryBackoff<<min(r.Attempts-1, 20), m.RetryMaxBackoff))
		if err := m.Retries.RetryMailLater(ctx, r); err != nil {
			return rep, fmt.Errorf("mail retry: %w", err)
		}
	}
	if rep.Tried > 0 {
		m.Log.InfoContext(ctx, "mail retry run", "tried", rep.Tried, "sent", rep.Sent, "dropped", rep.Dropped, "again", rep.Again,
			"abandoned", rep.Abandoned)
	}
	return rep, nil
}

// restrict applies a restriction of processing to a subject's emails: no
// confirmation of a marketing signup, no policy notice nor the topics it
// offers, and the team gets a notice naming the inquiry instead of the
// inquiry itself (no sales follow-up). The sender's acknowledgement and
// every rights-request email still go.
func (m *Mailer) restrict(ctx context.Context, ch privacy.Change, msgs []notify.Message) ([]notify.Message, error) {
	var subject privacy.SubjectID
	switch {
	case ch.Inquiry != nil:
		subject = ch.Inquiry.Subject
	case ch.Subscription != nil:
		subject = ch.Subscription.Subject
	case ch.Notice != nil:
		subject = ch.Notice.Subject
	}
	if len(msgs) == 0 || m.Restrictions == nil || subject == "" {
		return msgs, nil
	}
	by, err := m.Restrictions.Restriction(ctx, subject)
	if err != nil || len(by) == 0 {
		return msgs, err
	}
	var out []notify.Message
	for _, msg := range msgs {
		switch msg.Kind {
		case notify.KindConfirm, notify.KindPolicyNotice:
			continue
		case notify.KindInquiryTeam:
			notice, err := notify.InquiryRestricted(m.Config, ch.Inquiry.ID, by)
			if err != nil {
				return nil, err
			}
			msg = notice
		}
		out = append(out, msg)
	}
	m.Log.InfoContext(ctx, "processing restricted: emails held back", "kind", ch.Kind, "restricted_by", strings.Join(by, ","),
		"held", len(msgs)-len(out))
	return out, nil
}

// suppress holds back a policy notice to a subject with a suppression in
// force: the person unsubscribed (from a notice's one-click link too),
// complained, bounced or was erased.
func (m *Mailer) suppress(ctx context.Context, ch privacy.Change, msgs []notify.Message) ([]notify.Message, error) {
	if ch.Notice == nil || len(msgs) == 0 || m.Suppressions == nil {
		return msgs, nil
	}
	reasons, err := m.Suppressions.Suppressions(ctx, ch.Notice.Subject)
	if err != nil || len(reasons) == 0 {
		return msgs, err
	}
	m.Log.InfoContext(ctx, "policy notice not sent: the address is suppressed", "version", ch.Notice.Version.Version,
		"suppressed_because", strings.Join(reasons, ","))
	return nil, nil
}

// makesDue reports whether ch makes an email due: its mail_due changed to
// a new value, or the change replays the item.
func makesDue(ch privacy.Change) bool {
	return !ch.Removed && !ch.Expired && !ch.MailDue.IsZero() && (ch.MailDue != ch.OldMailDue || ch.Replayed)
}

// due returns the emails a change makes due: none unless its mail_due
// changed to a new value, or the change replays the item. An item that
// cannot be read is an error.
func (m *Mailer) due(ctx context.Context, ch privacy.Change) ([]notify.Message, error) {
	if !makesDue(ch) {
		return nil, nil
	}
	if ch.Err != nil {
		return nil, ch.Err
	}
	// The person's emails follow the language of their form.
	c := m.config(ctx)
	switch {
	case ch.Inquiry != nil:
		c.Lang = ch.Inquiry.Lang
		return notify.InquiryReceived(c, *ch.Inquiry)
	case ch.Subscription != nil:
		c.Lang = ch.Subscription.Lang
		return m.subscription(c, *ch.Subscription, ch.MailDue)
	case ch.Notice != nil:
		c.Lang = ch.Notice.Lang
		return m.notice(c, *ch.Notice)
	case ch.Delivery != nil:
		return m.processorRequest(c, *ch.Delivery, ch.MailDue)
	case ch.ContactNotice != nil:
		if ch.MailDue.Kind != privacy.MailContactChanged {
			return nil, fmt.Errorf("contact notice mail_due %q unknown", ch.MailDue)
		}
		return one(notify.ContactChanged(c, *ch.ContactNotice))
	case ch.Request != nil:
		req := *ch.Request
		c.Lang = req.Lang
		if req.Source == privacy.SourceOpenDSR {
			return nil, nil // the controller tells the person, not us
		}
		build, ok := requestEmails[ch.MailDue.Kind]
		if !ok {
			return nil, fmt.Errorf("request mail_due %q unknown", ch.MailDue)
		}
		msgs, err := build(m, c, req, ch.MailDue)
		if err == nil && req.AgentTold() && agentTold(ch.MailDue.Kind) {
			// The agent who filed it, once they confirmed their address, is
			// told how it stands, never the data.
			notice, nerr := notify.AgentNotice(c, notify.AgentUpdate{To: req.AgentEmail, ID: req.ID, Type: string(req.Type),
				Kind: string(ch.MailDue.Kind), Reason: req.Reason, Until: req.ExtendedUntil})
			msgs, err = append(msgs, notice), nerr
		}
		return msgs, err
	}
	return nil, fmt.Errorf("no emails known for item kind %q (mail_due %q)", ch.Kind, ch.MailDue)
}

// requestEmails builds, by kind, the emails a rights request makes due.
var requestEmails = map[privacy.MailKind]func(*Mailer, notify.Config, privacy.RightsRequest, privacy.MailDue) ([]notify.Message, error){
	privacy.MailReceived: func(m *Mailer, c notify.Config, req privacy.RightsRequest, due privacy.MailDue) ([]notify.Message, error) {
		return m.requestReceived(c, req, due.Ref)
	},
	privacy.MailReady: func(m *Mailer, c notify.Config, req privacy.RightsRequest, _ privacy.MailDue) ([]notify.Message, error) {
		link, ok := m.links().Export(req, m.Now())
		if !ok {
			return nil, fmt.Errorf("request %s: no export link to send", req.ID)
		}
		if req.RecipientEmail != "" && !req.Held(privacy.RoleRecipient) {
			return notify.ExportToThirdParty(c, req.Email, req.RecipientEmail, req.ID, link)
		}
		// (A recipient past the per-address limit at filing gets nothing:
		// the person gets the link instead.)
		return one(notify.ExportReady(c, req.AnswerTo(), req.ID, link))
	},
	privacy.MailErased: func(m *Mailer, c notify.Config, req privacy.RightsRequest, _ privacy.MailDue) ([]notify.Message, error) {
		var rcpt string
		if !req.Withheld {
			var err error
			if rcpt, err = m.Receipts.Erased(req); err != nil {
				return nil, err
			}
		}
		return one(notify.ErasureDone(c, req.AnswerTo(), req.ID, req.Withheld, req.RecipientsTold(), rcpt))
	},
	privacy.MailDone: func(m *Mailer, c notify.Config, req privacy.RightsRequest, _ privacy.MailDue) ([]notify.Message, error) {
		return one(notify.RequestDone(c, req.AnswerTo(), req.ID, string(req.Type)))
	},
	privacy.MailReview: func(m *Mailer, c notify.Config, req privacy.RightsRequest, _ privacy.MailDue) ([]notify.Message, error) {
		return one(notify.ReviewNeeded(c, reviewInfo(req)))
	},
	privacy.MailConfirmAddress: func(m *Mailer, c notify.Config, req privacy.RightsRequest, _ privacy.MailDue) ([]notify.Message, error) {
		if !req.ChangesAddress() {
			return nil, fmt.Errorf("request %s changes no address", req.ID)
		}
		if req.Held(privacy.RoleNewAddress) {
			return nil, nil // past the new address's limit at filing: the team sees it waiting
		}
		link, err := m.links().Address(req, links.AddressNew, m.Now())
		if err != nil {
			return nil, err
		}
		return one(notify.ConfirmAddress(c, notify.AddressRequest{To: req.Correction.Value, ID: req.ID, Role: links.AddressNew, Link: link}))
	},
	privacy.MailAddressConfirmed: func(m *Mailer, c notify.Config, req privacy.RightsRequest, _ privacy.MailDue) ([]notify.Message, error) {
		// The team may now decide; the old address is told what will
		// change, with the link that stops it.
		review, err := notify.ReviewNeeded(c, reviewInfo(req))
		if err != nil {
			return nil, err
		}
		stop, err := m.links().Stop(req, m.Now())
		if err != nil {
			return nil, err
		}
		told, err := notify.AddressChange(c, req.Email, req.ID, req.Correction.Value, stop,
			req.NewAddressConfirmedAt.Add(m.AddressChangeWait))
		return []notify.Message{review, told}, err
	},
	privacy.MailJoined: func(m *Mailer, c notify.Config, req privacy.RightsRequest, _ privacy.MailDue) ([]notify.Message, error) {
		status, err := m.statusLink(req)
		if err != nil {
			return nil, err
		}
		return one(notify.RequestJoined(c, req.Email, req.ID, string(req.Type), status))
	},
	privacy.MailOptedOut: func(m *Mailer, c notify.Config, req privacy.RightsRequest, _ privacy.MailDue) ([]notify.Message, error) {
		return one(notify.OptOutRecorded(c, req.AnswerTo(), req.ID))
	},
	privacy.MailCategories: func(m *Mailer, c notify.Config, req privacy.RightsRequest, _ privacy.MailDue) ([]notify.Message, error) {
		return one(notify.Categories(c, req.AnswerTo(), req.ID))
	},
	privacy.MailQuestion: func(m *Mailer, c notify.Config, req privacy.RightsRequest, due privacy.MailDue) ([]notify.Message, error) {
		if req.Status != privacy.RequestWaitingForInformation || req.AskNonce != due.Ref {
			return nil, nil // answered, replaced by a later question or decided before it went: nothing to ask
		}
		if req.AnswerTo() == "" {
			return nil, fmt.Errorf("request %s keeps no address to ask", req.ID)
		}
		link, err := m.links().Answer(req, due.Ref, m.Now())
		if err != nil {
			return nil, err
		}
		return one(notify.Question(c, notify.QuestionMail{To: req.AnswerTo(), ID: req.ID, Question: req.Question, Link: link,
			Due: req.DueAt, Regulation: req.Regulation}))
	},
	privacy.MailAnswered: func(m *Mailer, c notify.Config, req privacy.RightsRequest, _ privacy.MailDue) ([]notify.Message, error) {
		return one(notify.Answered(c, req.ID, string(req.Type), req.DueAt))
	},
	privacy.MailRestricted:   decision(notify.KindRequestRestricted),
	privacy.MailLifted:       decision(notify.KindRestrictionLifted),
	privacy.MailDenied:       decision(notify.KindRequestDenied),
	privacy.MailExtended:     decision(notify.KindRequestExtended),
	privacy.MailCorrected:    decision(notify.KindRectificationDone),
	privacy.MailUpheld:       decision(notify.KindObjectionUpheld),
	privacy.MailUpheldErased: decision(notify.KindObjectionErased),
	privacy.MailStopped:      decision(notify.KindRequestStopped),
}

// processorRequest is the email to a processor told by email of d: the
// request, the address it holds the person by, and the link that
// confirms it done. Once confirmed (the address removed), nothing.
func (m *Mailer) processorRequest(c notify.Config, d privacy.Delivery, due privacy.MailDue) ([]notify.Message, error) {
	if due.Kind != privacy.MailProcessor && due.Kind != privacy.MailProcessorLifted {
		return nil, fmt.Errorf("delivery mail_due %q unknown", due)
	}
	if !d.ByEmail() || d.Identity == "" {
		return nil, nil
	}
	p, err := m.toProcessor(d, m.Now())
	if err != nil {
		return nil, err
	}
	return one(notify.ProcessorRequestMail(c, p))
}

// toProcessor is what a processor told by email reads of delivery d: the
// request with its confirm link, or a restriction's lift (nothing to
// confirm).
func (m *Mailer) toProcessor(d privacy.Delivery, now time.Time) (notify.ProcessorRequest, error) {
	p := notify.ProcessorRequest{To: d.Contact, Processor: d.ProcessorName, Reference: d.SubjectRequestID, Type: d.Type,
		Regulation: d.Regulation, Identity: d.Identity, Submitted: d.SubmittedAt, ConfirmBy: d.Due}
	if d.Lifted {
		p.Type = notify.TypeRestrictionLifted
		return p, nil
	}
	var err error
	p.Confirm, err = m.links().ProcessorConfirm(d, now)
	return p, err
}

// reviewInfo is what the team's review email of req shows.
func reviewInfo(req privacy.RightsRequest) notify.RequestInfo {
	return notify.RequestInfo{ID: req.ID, Type: string(req.Type), Regulation: req.Regulation, Name: req.Name, Email: req.Email,
		Parent: req.ParentEmail, Details: req.Details, Due: req.DueAt, Correction: req.Correction,
		Excessive:           req.Excessive && req.Status == privacy.RequestPending, // not yet approved
		NewAddressConfirmed: !req.NewAddressConfirmedAt.IsZero()}
}

func one(msg notify.Message, err error) ([]notify.Message, error) { return []notify.Message{msg}, err }

// agentTold reports whether an authorised agent is told of an email of
// kind: the answers to the person (done, denied, extended, restricted,
// lifted), not the acknowledgement (which asks the agent to confirm their
// address), the team's review or the steps of a correction.
func agentTold(k privacy.MailKind) bool {
	switch k {
	case privacy.MailReady, privacy.MailErased, privacy.MailDone, privacy.MailDenied, privacy.MailExtended, privacy.MailRestricted,
		privacy.MailLifted, privacy.MailCorrected, privacy.MailUpheld, privacy.MailUpheldErased, privacy.MailOptedOut,
		privacy.MailCategories:
		return true
	}
	return false
}

// subscription is a subscription's email: the double opt-in link of a
// signup, the receipt of its confirmation (both name the signup in their
// mail_due), or the receipt of a withdrawal of consent, sent to those who
// had confirmed (a signup never confirmed gave no consent to withdraw).
func (m *Mailer) subscription(c notify.Config, sub privacy.Subscription, due privacy.MailDue) ([]notify.Message, error) {
	if (due.Kind == privacy.MailConfirm || due.Kind == privacy.MailConfirmed) && due.Ref != sub.SignupID {
		return nil, fmt.Errorf("subscription mail_due %q does not match its signup", due)
	}
	switch due.Kind {
	case privacy.MailConfirm:
		link, err := m.links().Confirm(sub.Subject, sub.SignupID, m.Now())
		if err != nil {
			return nil, err
		}
		return one(notify.SubscriptionConfirm(c, sub, link))
	case privacy.MailConfirmed:
		rcpt, err := m.Receipts.Confirmed(sub)
		if err != nil {
			return nil, err
		}
		unsub, err := m.links().Unsubscribe(sub.Subject, m.Now())
		if err != nil {
			return nil, err
		}
		return one(notify.SubscriptionConfirmed(c, sub, unsub, rcpt))
	case privacy.MailWithdrawn:
		if sub.ConfirmedAt.IsZero() {
			return nil, nil
		}
		rcpt, err := m.Receipts.Withdrawn(sub)
		if err != nil {
			return nil, err
		}
		return one(notify.ConsentWithdrawn(c, sub, rcpt))
	}
	return nil, fmt.Errorf("subscription mail_due %q unknown", due)
}

// config is the emails' configuration with the policy in force.
func (m *Mailer) config(ctx context.Context) notify.Config {
	c := m.Config
	if m.Policy != nil {
		v := m.Policy(ctx)
		c.PolicyUpdated, c.Bases = v.LastUpdated(), v.Bases
	}
	return c
}

// notice is a policy change's notice, with a double opt-in link for each
// new topic offered (a new purpose enrols nobody).
func (m *Mailer) notice(c notify.Config, n privacy.Notice) ([]notify.Message, error) {
	var offers []notify.Offer
	for _, t := range n.Offers {
		link, err := m.links().AddTopic(n.Subject, t, m.Now())
		if err != nil {
			return nil, err
		}
		offers = append(offers, notify.Offer{Topic: t, Link: link})
	}
	unsubscribe, err := m.links().Unsubscribe(n.Subject, m.Now())
	if err != nil {
		return nil, err
	}
	unsubscribeMail, err := m.links().UnsubscribeMail(n.Subject, m.Now())
	if err != nil {
		return nil, err
	}
	var prefs string
	if n.Audience == privacy.NoticeSubscribers {
		if prefs, err = m.links().Preferences(n.Subject, m.Now().Add(links.MarketingValidity)); err != nil {
			return nil, err
		}
	}
	return one(notify.PolicyNotice(c, n, offers, unsubscribe, unsubscribeMail, prefs))
}

func (m *Mailer) sendOnce(ctx context.Context, log *slog.Logger, key string, msg notify.Message) (Sent, error) {
	sent, err := SendOnce(ctx, m.Markers, m.Sender, log, key, msg, m.Now(), m.Lease, nil)
	if sent == SentBefore {
		log.InfoContext(ctx, "already sent; skipped", "kind", msg.Kind)
	}
	return sent, err
}

// Sent says what SendOnce did.
type Sent int

// What SendOnce did.
const (
	SentNow    Sent = iota + 1 // sent by this call
	SentBefore                 // sent before: nothing done
	// Rejected is a message the provider refused for good: settled (its
	// marker says so) and never retried, which cannot help.
	Rejected
)

// ErrBusy is a send another sender holds a live lease on: try it later.
var ErrBusy = errors.New("another sender holds the send lease")

// SendOnce sends msg once under key, the one send-once of the mailer and
// the campaign: it claims the key's sent-marker for lease (a sender that
// died mid-send leaves a lease that runs out, and the message is then
// claimed again, so none is lost), waits for ready when it is not nil (a
// send rate: only a send that will happen waits), sends, and marks it
// sent. A send that failed releases the claim and returns the error; one
// another sender holds returns ErrBusy. The one duplicate possible is a
// sender that dies after SES accepted the message and before the mark:
// SES takes no idempotency key, so the message goes again after the lease.
func SendOnce(ctx context.Context, markers Markers, sender Sender, log *slog.Logger, key string, msg notify.Message,
	now time.Time, lease time.Duration, ready func(context.Context) error) (Sent, error) {
	claim, err := markers.ClaimMail(ctx, key, now, lease)
	if err != nil {
		return 0, err
	}
	switch claim {
	case privacy.AlreadySent:
		return SentBefore, nil
	case privacy.Busy:
		return 0, ErrBusy
	case privacy.RejectedBefore:
		return Rejected, nil
	}
	if ready != nil {
		if err := ready(ctx); err != nil {
			if rerr := markers.ReleaseMail(context.WithoutCancel(ctx), key); rerr != nil {
				log.WarnContext(ctx, "release failed; the lease will run out", "error", rerr.Error())
			}
			return 0, err
		}
	}
	id, err := sender.Send(ctx, msg)
	if errors.Is(err, notify.ErrRejected) {
		log.ErrorContext(ctx, "email rejected; not retried", "kind", msg.Kind, "error", err.Error())
		if merr := markers.MailSent(ctx, key, privacy.RejectedMessageID); merr != nil {
			log.WarnContext(ctx, "rejected but not marked", "kind", msg.Kind, "error", merr.Error())
		}
		return Rejected, nil
	}
	if err != nil {
		if rerr := markers.ReleaseMail(ctx, key); rerr != nil {
			log.WarnContext(ctx, "release failed; the lease will run out", "error", rerr.Error())
		}
		return 0, err
	}
	log.InfoContext(ctx, "sent", "kind", msg.Kind, "message_id", id)
	if err := markers.MailSent(ctx, key, id); err != nil {
		// The email went out; the lease still blocks a resend until it runs
		// out, so this is logged, not retried.
		log.WarnContext(ctx, "sent but not marked", "kind", msg.Kind, "error", err.Error())
	}
	return SentNow, nil
}

// key identifies one email of one change: the source item's key, the
// mail_due value and the email kind, hashed so the marker names no one.
func key(ch privacy.Change, kind string) string {
	h := sha256.New()
	for _, part := range []string{ch.Source, ch.PK, ch.SK, ch.MailDue.String(), kind} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (m *Mailer) links() links.Builder {
	return links.Builder{Base: m.Config.BaseURL, Tokens: m.Tokens, MailDomain: m.Config.UnsubscribeMailDomain}
}

// requestReceived is a new request's acknowledgement with its
// verification link (a parent's request: to the parent), the team's
// notice, and, for an agent who has not confirmed their address yet, the
// link that confirms it.
func (m *Mailer) requestReceived(c notify.Config, req privacy.RightsRequest, nonce string) ([]notify.Message, error) {
	verify, err := m.links().Verify(req, nonce, m.Now())
	if err != nil {
		return nil, err
	}
	status, err := m.statusLink(req)
	if err != nil {
		return nil, err
	}
	var agent string
	if req.AgentEmail != "" && req.AgentConfirmedAt.IsZero() && !req.Held(privacy.RoleAgent) {
		if agent, err = m.links().Address(req, links.AddressAgent, m.Now()); err != nil {
			return nil, err
		}
	}
	return notify.RequestReceived(c, notify.RequestInfo{ID: req.ID, Type: string(req.Type), Regulation: req.Regulation,
		Name: req.Name, Email: req.Email, Parent: req.ParentEmail, Agent: req.AgentEmail, Recipient: req.RecipientEmail, Details: req.Details,
		Due: req.DueAt, Correction: req.Correction, AckHeld: req.Held(req.AnswerRole())}, verify, status, agent)
}

func (m *Mailer) statusLink(req privacy.RightsRequest) (string, error) {
	return m.links().Status(req, m.Now())
}

// decision is the email of a team's decision on a request, of kind.
func decision(kind string) func(*Mailer, notify.Config, privacy.RightsRequest, privacy.MailDue) ([]notify.Message, error) {
	return func(m *Mailer, c notify.Config, req privacy.RightsRequest, _ privacy.MailDue) ([]notify.Message, error) {
		if req.AnswerTo() == "" {
			return nil, fmt.Errorf("request %s keeps no address to tell of its %s", req.ID, kind)
		}
		status, err := m.statusLink(req)
		if err != nil {
			return nil, err
		}
		d := notify.Decision{Kind: kind, To: req.AnswerTo(), ID: req.ID, Reason: req.Reason, Until: req.ExtendedUntil, StatusURL: status}
		if kind == notify.KindRequestExtended {
			d.Reason = req.ExtensionReason // an extension keeps its own: a later decision's reason is another
			d.BeyondErasurePromise = req.Type == privacy.RightErasure &&
				req.ExtendedUntil.After(req.ReceivedAt.AddDate(0, 0, privacy.ErasureDays))
		}
		return one(notify.RequestDecision(c, d))
	}
}

// Digests sends each processor whose requests wait past their period one
// email listing them all (their references, the addresses it holds them
// by and each one's confirm link), and opens its next period. A delivery
// confirmed or stripped meanwhile is left out. It runs with the retry
// schedule; a digest whose send fails waits for the next period.
func (m *Mailer) Digests(ctx context.Context) (int, error) {
	now := m.Now().UTC()
	due, err := m.Mailboxes.MailboxesDue(ctx, now)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, p := range due {
		if open, err := m.Mailboxes.ClaimMailbox(ctx, p, now, m.ProcessorEvery); err != nil || !open {
			if err != nil {
				return sent, err
			}
			continue
		}
		held, heldAt, err := m.Mailboxes.MailboxHeld(ctx, p)
		if err != nil {
			return sent, err
		}
		var ds []privacy.Delivery
		for _, id := range held {
			d, err := m.Mailboxes.Delivery(ctx, id, p)
			if errors.Is(err, privacy.ErrNotFound) {
				continue
			}
			if err != nil {
				return sent, err
			}
			if d.ByEmail() && d.Identity != "" {
				ds = append(ds, d)
			}
		}
		log := m.Log.With("processor_id", p, "requests", len(ds))
		if len(ds) > 0 {
			if err := m.digest(ctx, log, p, ds, now); err != nil {
				log.WarnContext(ctx, "processor digest failed; it waits for the next period", "error", err.Error())
				continue
			}
			sent++
		}
		if err := m.Mailboxes.MailboxSent(ctx, p, held, heldAt); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// digest sends processor p one email of ds and settles each delivery as
// the single email would (DeliveryRefused or DeliveryMailed).
func (m *Mailer) digest(ctx context.Context, log *slog.Logger, p string, ds []privacy.Delivery, now time.Time) error {
	reqs := make([]notify.ProcessorRequest, 0, len(ds))
	for _, d := range ds {
		p, err := m.toProcessor(d, now)
		if err != nil {
			return err
		}
		reqs = append(reqs, p)
	}
	last := ds[len(ds)-1]
	// The address registered now, else the one the latest delivery kept.
	to, err := m.contact(ctx, p, last.Contact)
	if err != nil {
		return err
	}
	msg, err := notify.ProcessorDigestMail(m.config(ctx), notify.ProcessorDigest{To: to, Processor: last.ProcessorName,
		Every: every(m.ProcessorEvery), Requests: reqs})
	if err != nil {
		return err
	}
	h := sha256.Sum256([]byte("processor_digest\x00" + p + "\x00" + strconv.FormatInt(now.Unix(), 10)))
	sent, err := m.sendOnce(ctx, log, hex.EncodeToString(h[:]), msg)
	if err != nil {
		return err
	}
	for _, d := range ds {
		if sent == Rejected {
			err = m.Requests.DeliveryRefused(ctx, d.RequestID, d.ProcessorID,
				"the email to its contact address was refused by the mail service (in the SES sandbox: an address not verified)", now)
		} else {
			err = m.Requests.DeliveryMailed(ctx, d.RequestID, d.ProcessorID)
		}
		if err != nil {
			return fmt.Errorf("processor delivery: %w", err)
		}
	}
	return nil
}

// every says a period in words ("1 hour", "30 minutes").
func every(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	}
	return plural(int64(d/time.Second), "second")
}
