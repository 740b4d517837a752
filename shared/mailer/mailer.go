// Package mailer turns table changes into emails. The table stream is the
// outbox: a handler writes the item that makes an email due (it carries a
// mail_due attribute), the stream delivers the change here, and the mailer
// renders and sends it. A sent-marker claimed with a condition keeps a
// redelivered record from sending twice; a failed send is reported by its
// sequence number so the stream retries from there and nothing is lost.
package mailer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/metric"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/recipients"
	"github.com/privacykeeper/privacykeeper/shared/rights"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// Markers claims and settles sent-markers.
type Markers interface {
	ClaimMail(ctx context.Context, key string, now time.Time, lease time.Duration) (dynamo.Claim, error)
	MailSent(ctx context.Context, key, messageID string) error
	ReleaseMail(ctx context.Context, key string) error
}

// Requests strips a completed erasure request's address once its email
// has gone.
type Requests interface {
	StripRequestAddress(ctx context.Context, id string) error
}

// Restrictions tells whether a subject's processing is restricted (GDPR
// Art. 18): the id of the request that restricted it, or "".
type Restrictions interface {
	Restriction(ctx context.Context, subject privacy.SubjectID) (string, error)
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
	Sender       Sender
	Config       notify.Config
	Tokens       *token.Signer
	Log          *slog.Logger
	Now          func() time.Time
	// Lease is how long a claim protects a send in progress. It must be
	// longer than one send takes and shorter than the stream's retry span.
	Lease time.Duration
	// Retries, when set, keeps the changes whose sends failed for a reason
	// that passes, retried by Retry after RetryBackoff (doubled after each
	// failure up to RetryMaxBackoff) until GiveUp; without it such a
	// record fails and the stream retries it.
	Retries                               RetryQueue
	RetryBackoff, RetryMaxBackoff, GiveUp time.Duration
}

// RetryQueue keeps the changes whose emails are to be tried again.
type RetryQueue interface {
	QueueMail(ctx context.Context, r dynamo.MailRetry) error
	DueMail(ctx context.Context, now time.Time) ([]dynamo.MailRetry, error)
	LeaseMail(ctx context.Context, r dynamo.MailRetry, until time.Time) error
	RetryMailLater(ctx context.Context, r dynamo.MailRetry) error
	MailDone(ctx context.Context, r dynamo.MailRetry) error
	ChangedItem(ctx context.Context, r dynamo.MailRetry) (map[string]types.AttributeValue, error)
}

// ConfirmLinkValidity is how long a confirmation link works.
const ConfirmLinkValidity = 7 * 24 * time.Hour

// errBusy marks a record whose email another mailer is sending right now.
var errBusy = errors.New("another mailer holds the send lease")

// Handle processes one batch and reports the records that failed, by
// sequence number, so that the stream retries from the first of them.
// Records that can never succeed (an item the mailer cannot read) are logged
// and skipped rather than blocking the shard.
func (m *Mailer) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	base := m.Log.With("invocation_id", lambdaenv.InvocationID(ctx))
	for _, rec := range ev.Records {
		seq := rec.Change.SequenceNumber
		log := base.With("seq", seq, "event", rec.EventName)
		err := m.process(ctx, log, rec)
		var se *sendError
		switch {
		case err == nil:
			continue
		case errors.As(err, &se) && m.Retries != nil:
			// A send that failed for a reason that passes is retried from
			// the queue, with backoff: the shard moves on.
			now := m.Now().UTC()
			r := dynamo.MailRetry{Source: rec.EventSourceArn, Table: tableOf(rec.EventSourceArn), Due: se.due,
				PK: dynamo.StringAttr(rec.Change.Keys, "pk"), SK: dynamo.StringAttr(rec.Change.Keys, "sk"),
				Attempts: 1, First: now, Next: now.Add(m.RetryBackoff), LastError: se.Error()}
			if qerr := m.Retries.QueueMail(ctx, r); qerr == nil {
				log.WarnContext(ctx, "send failed; queued for retry", "error", se.Error(), "retry_in_s", m.RetryBackoff.Seconds())
				continue
			} else {
				err = qerr
			}
		}
		log.WarnContext(ctx, "record failed; the stream retries it", "error", err.Error())
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: seq})
	}
	return resp, nil
}

// sendError is a send that failed for a reason that passes (SES
// throttled or unreachable, another mailer holding the send): the change
// is retried.
type sendError struct {
	due string
	err error
}

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// process sends the emails one change makes due, each once. A send that
// failed is a *sendError; any other error (DynamoDB) fails the record.
// Records that can never succeed (an item the mailer cannot read) are
// logged and skipped.
func (m *Mailer) process(ctx context.Context, log *slog.Logger, rec events.DynamoDBEventRecord) error {
	msgs, due, err := m.due(rec)
	if err != nil {
		log.ErrorContext(ctx, "record skipped: cannot build its emails", "error", err.Error())
		return nil
	}
	if msgs, err = m.restrict(ctx, rec, msgs); err != nil {
		return fmt.Errorf("restriction check: %w", err)
	}
	for _, msg := range msgs {
		if err := m.sendOnce(ctx, log, key(rec, due, msg.Kind), msg); err != nil {
			return &sendError{due: due, err: fmt.Errorf("%s: %w", msg.Kind, err)}
		}
	}
	if len(msgs) > 0 && dynamo.StringAttr(rec.Change.NewImage, "kind") == dynamo.KindRequest && lastMail(due) {
		// The request's last email has gone: it keeps no address, name
		// or details for its remaining years of record.
		if err := m.Requests.StripRequestAddress(ctx, dynamo.StringAttr(rec.Change.NewImage, "id")); err != nil {
			return fmt.Errorf("strip the address: %w", err)
		}
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
	log := m.Log.With("invocation_id", lambdaenv.InvocationID(ctx))
	now := m.Now().UTC()
	due, err := m.Retries.DueMail(ctx, now)
	if err != nil {
		return rep, fmt.Errorf("mail retry: %w", err)
	}
	for _, r := range due {
		if ctx.Err() != nil {
			break
		}
		if err := m.Retries.LeaseMail(ctx, r, now.Add(m.Lease)); errors.Is(err, dynamo.ErrStale) {
			continue
		} else if err != nil {
			return rep, fmt.Errorf("mail retry: %w", err)
		}
		rep.Tried++
		item, err := m.Retries.ChangedItem(ctx, r)
		if err == nil && (item == nil || dynamo.StringAttr(dynamo.ToStreamImage(item), dynamo.AttrMailDue) != r.Due) {
			rep.Dropped++
			if err := m.Retries.MailDone(ctx, r); err != nil {
				return rep, fmt.Errorf("mail retry: %w", err)
			}
			continue
		}
		if err == nil {
			img := dynamo.ToStreamImage(item)
			err = m.process(ctx, log, events.DynamoDBEventRecord{EventName: string(events.DynamoDBOperationTypeModify),
				EventSourceArn: r.Source, Change: events.DynamoDBStreamRecord{NewImage: img,
					Keys: map[string]events.DynamoDBAttributeValue{"pk": img["pk"], "sk": img["sk"]}}})
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
			log.LogAttrs(ctx, slog.LevelError, "email abandoned after repeated failures", attrs...)
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
		log.InfoContext(ctx, "mail retry run", "tried", rep.Tried, "sent", rep.Sent, "dropped", rep.Dropped, "again", rep.Again,
			"abandoned", rep.Abandoned)
	}
	return rep, nil
}

// restrict applies a restriction of processing to a subject's emails: no
// confirmation of a marketing signup, and the team gets a notice naming the
// inquiry instead of the inquiry itself (no sales follow-up). The sender's
// acknowledgement and every rights-request email still go.
func (m *Mailer) restrict(ctx context.Context, rec events.DynamoDBEventRecord, msgs []notify.Message) ([]notify.Message, error) {
	subject := dynamo.StringAttr(rec.Change.NewImage, "subject")
	kind := dynamo.StringAttr(rec.Change.NewImage, "kind")
	if len(msgs) == 0 || m.Restrictions == nil || subject == "" || (kind != dynamo.KindInquiry && kind != dynamo.KindSubscription) {
		return msgs, nil
	}
	by, err := m.Restrictions.Restriction(ctx, privacy.SubjectID(subject))
	if err != nil || by == "" {
		return msgs, err
	}
	var out []notify.Message
	for _, msg := range msgs {
		switch msg.Kind {
		case notify.KindConfirm:
			continue
		case notify.KindInquiryTeam:
			notice, err := notify.InquiryRestricted(m.Config, dynamo.StringAttr(rec.Change.NewImage, "id"), by)
			if err != nil {
				return nil, err
			}
			msg = notice
		}
		out = append(out, msg)
	}
	m.Log.InfoContext(ctx, "processing restricted: emails held back", "kind", kind, "request_id", by,
		"held", len(msgs)-len(out))
	return out, nil
}

// due returns the emails a record makes due, and the mail_due value.
func (m *Mailer) due(rec events.DynamoDBEventRecord) ([]notify.Message, string, error) {
	if rec.EventName == string(events.DynamoDBOperationTypeRemove) || isTTL(rec) {
		return nil, "", nil
	}
	due := dynamo.StringAttr(rec.Change.NewImage, dynamo.AttrMailDue)
	if due == "" || due == dynamo.StringAttr(rec.Change.OldImage, dynamo.AttrMailDue) {
		return nil, "", nil
	}
	item := dynamo.FromStreamImage(rec.Change.NewImage)
	switch kind := dynamo.StringAttr(rec.Change.NewImage, "kind"); kind {
	case dynamo.KindInquiry:
		inq, err := dynamo.DecodeInquiry(item)
		if err != nil {
			return nil, "", err
		}
		msgs, err := notify.InquiryReceived(m.Config, inq)
		return msgs, due, err
	case dynamo.KindSubscription:
		sub, err := dynamo.DecodeSubscription(item)
		if err != nil {
			return nil, "", err
		}
		signupID, ok := strings.CutPrefix(due, dynamo.MailDueConfirmPrefix)
		if !ok || signupID != sub.SignupID {
			return nil, "", fmt.Errorf("subscription mail_due %q does not match its signup", due)
		}
		tok, err := m.Tokens.Sign(token.Claims{Purpose: token.ConfirmSubscription, Subject: sub.Subject,
			Ref: signupID, Expires: m.Now().Add(ConfirmLinkValidity)})
		if err != nil {
			return nil, "", err
		}
		msg, err := notify.SubscriptionConfirm(m.Config, sub, m.Config.BaseURL+"/v1/subscriptions/confirm?token="+tok)
		return []notify.Message{msg}, due, err
	case dynamo.KindRequest:
		req, err := dynamo.DecodeRequest(item)
		if err != nil {
			return nil, "", err
		}
		if req.Source == dynamo.SourceOpenDSR {
			return nil, "", nil // the controller tells the person, not us
		}
		if nonce, ok := strings.CutPrefix(due, dynamo.MailDueReceived); ok {
			msgs, err := m.requestReceived(req, nonce)
			return msgs, due, err
		}
		if strings.HasPrefix(due, dynamo.MailDueReady) {
			link, ok := rights.ExportLink(m.Tokens, m.Config.BaseURL, req, m.Now())
			if !ok {
				return nil, "", fmt.Errorf("request %s: no export link to send", req.ID)
			}
			msg, err := notify.ExportReady(m.Config, req.Email, req.ID, link)
			return []notify.Message{msg}, due, err
		}
		if strings.HasPrefix(due, dynamo.MailDueErased) {
			msg, err := notify.ErasureDone(m.Config, req.Email, req.ID, req.Withheld, recipients.Told(req))
			return []notify.Message{msg}, due, err
		}
		if strings.HasPrefix(due, dynamo.MailDueDone) {
			msg, err := notify.RequestDone(m.Config, req.Email, req.ID, req.Type)
			return []notify.Message{msg}, due, err
		}
		if strings.HasPrefix(due, dynamo.MailDueReview) {
			d, _ := time.Parse(time.RFC3339, req.DueAt)
			msg, err := notify.ReviewNeeded(m.Config, notify.RequestInfo{ID: req.ID, Type: req.Type, Regulation: req.Regulation,
				Name: req.Name, Email: req.Email, Details: req.Details, Due: d,
				Excessive: req.Excessive && req.Status == privacy.RequestPending}) // not yet approved
			return []notify.Message{msg}, due, err
		}
		if strings.HasPrefix(due, dynamo.MailDueJoined) {
			status, err := m.statusLink(req)
			if err != nil {
				return nil, "", err
			}
			msg, err := notify.RequestJoined(m.Config, req.Email, req.ID, req.Type, status)
			return []notify.Message{msg}, due, err
		}
		for prefix, kind := range decisionEmails {
			if strings.HasPrefix(due, prefix) {
				msg, err := m.decision(req, kind)
				return []notify.Message{msg}, due, err
			}
		}
		return nil, "", fmt.Errorf("request mail_due %q unknown", due)
	default:
		return nil, "", fmt.Errorf("no emails known for item kind %q (mail_due %q)", kind, due)
	}
}

func (m *Mailer) sendOnce(ctx context.Context, log *slog.Logger, key string, msg notify.Message) error {
	claim, err := m.Markers.ClaimMail(ctx, key, m.Now(), m.Lease)
	if err != nil {
		return err
	}
	switch claim {
	case dynamo.AlreadySent:
		log.InfoContext(ctx, "already sent; skipped", "kind", msg.Kind)
		return nil
	case dynamo.Busy:
		return errBusy
	}
	id, err := m.Sender.Send(ctx, msg)
	if errors.Is(err, notify.ErrRejected) {
		// Retrying cannot help (SES refused this message for good): record
		// it as settled so the shard moves on, and say so in the log.
		log.ErrorContext(ctx, "email rejected; not retried", "kind", msg.Kind, "error", err.Error())
		if merr := m.Markers.MailSent(ctx, key, "rejected"); merr != nil {
			log.WarnContext(ctx, "rejected but not marked", "kind", msg.Kind, "error", merr.Error())
		}
		return nil
	}
	if err != nil {
		if rerr := m.Markers.ReleaseMail(ctx, key); rerr != nil {
			log.WarnContext(ctx, "release failed; the lease will run out", "error", rerr.Error())
		}
		return err
	}
	log.InfoContext(ctx, "sent", "kind", msg.Kind, "message_id", id)
	if err := m.Markers.MailSent(ctx, key, id); err != nil {
		// The email went out; the lease still blocks a resend until it runs
		// out, so this is logged, not retried.
		log.WarnContext(ctx, "sent but not marked", "kind", msg.Kind, "error", err.Error())
	}
	return nil
}

// isTTL reports whether DynamoDB itself deleted the item on expiry.
func isTTL(rec events.DynamoDBEventRecord) bool {
	return rec.UserIdentity != nil && rec.UserIdentity.Type == "Service" &&
		rec.UserIdentity.PrincipalID == "dynamodb.amazonaws.com"
}

// key identifies one email of one change: the source item's key, the
// mail_due value and the email kind, hashed so the marker names no one.
func key(rec events.DynamoDBEventRecord, due, kind string) string {
	h := sha256.New()
	for _, part := range []string{rec.EventSourceArn, dynamo.StringAttr(rec.Change.Keys, "pk"),
		dynamo.StringAttr(rec.Change.Keys, "sk"), due, kind} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyLinkValidity is how long a rights request's verification link works.
const VerifyLinkValidity = 72 * time.Hour

// StatusLinkValidity is how long the status link in request emails works.
const StatusLinkValidity = 400 * 24 * time.Hour

func (m *Mailer) requestReceived(req dynamo.RightsRequest, nonce string) ([]notify.Message, error) {
	now := m.Now()
	subject := privacy.SubjectID(req.Subject)
	verify, err := m.Tokens.Sign(token.Claims{Purpose: token.VerifyRequest, Subject: subject, Ref: req.ID + ":" + nonce,
		Expires: now.Add(VerifyLinkValidity)})
	if err != nil {
		return nil, err
	}
	status, err := m.statusLink(req)
	if err != nil {
		return nil, err
	}
	due, _ := time.Parse(time.RFC3339, req.DueAt)
	return notify.RequestReceived(m.Config, notify.RequestInfo{ID: req.ID, Type: req.Type, Regulation: req.Regulation,
		Name: req.Name, Email: req.Email, Details: req.Details, Due: due},
		m.Config.BaseURL+"/v1/rights-requests/"+req.ID+"/verify?token="+verify, status)
}

// lastMail reports whether an email ends what a request has to say to
// its requester: a finished request (completed, denied, a lifted
// restriction) keeps no address after it. A restriction in place is not
// one: its lift must still be told.
func lastMail(due string) bool {
	for _, p := range []string{dynamo.MailDueErased, dynamo.MailDueReady, dynamo.MailDueDone, dynamo.MailDueCorrected,
		dynamo.MailDueDenied, dynamo.MailDueLifted} {
		if strings.HasPrefix(due, p) {
			return true
		}
	}
	return false
}

// decisionEmails maps the mail_due prefixes of decisions to their emails.
var decisionEmails = map[string]string{
	dynamo.MailDueRestricted: notify.KindRequestRestricted,
	dynamo.MailDueLifted:     notify.KindRestrictionLifted,
	dynamo.MailDueDenied:     notify.KindRequestDenied,
	dynamo.MailDueExtended:   notify.KindRequestExtended,
	dynamo.MailDueCorrected:  notify.KindRectificationDone,
}

func (m *Mailer) statusLink(req dynamo.RightsRequest) (string, error) {
	tok, err := m.Tokens.Sign(token.Claims{Purpose: token.RequestStatus, Subject: privacy.SubjectID(req.Subject),
		Ref: req.ID, Expires: m.Now().Add(StatusLinkValidity)})
	return m.Config.BaseURL + "/v1/rights-requests/" + req.ID + "?token=" + tok, err
}

func (m *Mailer) decision(req dynamo.RightsRequest, kind string) (notify.Message, error) {
	if req.Email == "" {
		return notify.Message{}, fmt.Errorf("request %s keeps no address to tell of its %s", req.ID, kind)
	}
	status, err := m.statusLink(req)
	if err != nil {
		return notify.Message{}, err
	}
	until, _ := time.Parse(time.RFC3339, req.Extended)
	return notify.RequestDecision(m.Config, notify.Decision{Kind: kind, To: req.Email, ID: req.ID,
		Reason: req.Reason, Until: until, StatusURL: status})
}
