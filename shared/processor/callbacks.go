package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	neturl "net/url"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/metric"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// CallbackStore is the callbacks' outbox (dynamo's callback cursors) and
// the requests they describe.
type CallbackStore interface {
	EnqueueCallback(ctx context.Context, controller, requestID, url, status string, now time.Time) error
	LeaseCallback(ctx context.Context, key string, now time.Time, lease time.Duration) (privacy.CallbackCursor, bool, error)
	CallbackSent(ctx context.Context, key, status string) error
	CallbackFailed(ctx context.Context, key string, now, next time.Time, abandon bool) error
	ReleaseCallback(ctx context.Context, key string) (more bool, err error)
	DueCallbacks(ctx context.Context, now time.Time) ([]privacy.DueCallback, error)
	Request(ctx context.Context, id string) (privacy.RightsRequest, error)
}

// Notifier posts the status callbacks of OpenDSR requests. The requests
// table's stream brings each change of status; Handle only queues it in
// the request's cursor for every URL in status_callback_urls (durably,
// once), so no receiver ever holds the shard. Retry, on a schedule,
// delivers what is due within the invocation's time, several cursors at
// once, fairly among controllers (in turn, and never more than
// PerControllerInFlight of one controller's at once); a receiver that
// fails keeps its statuses queued, in order, and is retried with backoff
// for GiveUp; one controller's dead endpoints, however many, never hold
// back another's callbacks, and nothing is lost when the stream's 24 hours
// have passed.
type Notifier struct {
	Store   CallbackStore
	Signer  *opendsr.Signer
	BaseURL string
	Client  *http.Client
	Log     *slog.Logger
	Now     func() time.Time
	// Lease bounds one delivery run (longer than Client's timeout times
	// the statuses a cursor can hold).
	Lease time.Duration
	// Backoff is the wait after the first failure, doubled after each
	// next one up to MaxBackoff; after GiveUp of failures in a row the
	// cursor is abandoned (the status route still answers).
	Backoff, MaxBackoff, GiveUp time.Duration
}

// MetricAbandonedCallbacks counts callbacks given up on (template alarm
// AbandonedCallbacksAlarm).
const MetricAbandonedCallbacks = "AbandonedCallbacks"

// Callback retry defaults.
const (
	DefaultBackoff    = 30 * time.Second
	DefaultMaxBackoff = time.Hour
	DefaultGiveUp     = 7 * 24 * time.Hour
)

// Scheduled is the handler of the schedule's event,
// {"retry_callbacks": true} (Retry); the stream's batches go to Handle
// (batch.StreamOr tells them apart).
func (n *Notifier) Scheduled(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev struct {
		RetryCallbacks bool `json:"retry_callbacks"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	if !ev.RetryCallbacks {
		return nil, errors.New("neither a stream batch nor a retry event")
	}
	return nil, n.Retry(ctx)
}

// Handle processes one stream batch: it queues every status change. Only
// a failure to queue (DynamoDB) fails a change, which the stream retries
// from there (the answer: its sequence number); a failed delivery is the
// outbox's to retry.
func (n *Notifier) Handle(ctx context.Context, changes []privacy.Change) (failed []string) {
	for _, ch := range changes {
		if err := n.enqueue(ctx, ch); err != nil {
			n.Log.WarnContext(ctx, "callback not queued; the record will be retried", "seq", ch.Seq, "error", err.Error())
			return []string{ch.Seq}
		}
	}
	return nil
}

// DeliveryConcurrency bounds the cursors delivered at once: one receiver
// that hangs until the client's timeout holds one of them, not the others.
const DeliveryConcurrency = 8

// PerControllerInFlight bounds one controller's cursors delivered at once:
// a controller whose callback URLs never answer (by mistake, or to hold
// the workers) holds at most this many of DeliveryConcurrency, and the
// other controllers' callbacks go out beside them.
const PerControllerInFlight = 2

// deliveryMargin is what a run keeps of its deadline: no delivery starts
// when less than one post's timeout is left.
const deliveryMargin = 12 * time.Second

// deliverAll delivers the due cursors, several at once and fairly among
// controllers (fairQueue), starting none once the invocation's deadline
// is near (what is left stays due for the next retry run); it returns how
// many emptied their queue.
func (n *Notifier) deliverAll(ctx context.Context, log *slog.Logger, due []privacy.DueCallback) int {
	type result struct {
		controller string
		emptied    bool
	}
	q := newFairQueue(due, PerControllerInFlight)
	done := make(chan result)
	running, delivered := 0, 0
	for {
		for running < DeliveryConcurrency && !deadlineNear(ctx) {
			c, ok := q.take()
			if !ok {
				break
			}
			running++
			go func() { done <- result{c.Controller, n.deliver(ctx, log, c.Key)} }()
		}
		if running == 0 {
			break
		}
		r := <-done
		running--
		q.finished(r.controller)
		if r.emptied {
			delivered++
		}
	}
	if left := q.left(); left > 0 {
		log.InfoContext(ctx, "callbacks left for the next run: the invocation's deadline is near", "left", left)
	}
	return delivered
}

func deadlineNear(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < deliveryMargin
}

// fairQueue hands out due cursors one controller at a time, in turn (each
// controller's own the longest due first), and none of a controller that
// has perController in flight.
type fairQueue struct {
	turn          []string // the controllers, in turn
	queued        map[string][]privacy.DueCallback
	inFlight      map[string]int
	next          int // whose turn it is, in turn
	perController int
}

func newFairQueue(due []privacy.DueCallback, perController int) *fairQueue {
	q := &fairQueue{queued: map[string][]privacy.DueCallback{}, inFlight: map[string]int{}, perController: perController}
	for _, d := range due {
		if _, seen := q.queued[d.Controller]; !seen {
			q.turn = append(q.turn, d.Controller)
		}
		q.queued[d.Controller] = append(q.queued[d.Controller], d)
	}
	return q
}

// take returns the next cursor to deliver; ok is false when none may start
// now (every controller with cursors left has its share in flight) or
// none is left.
func (q *fairQueue) take() (c privacy.DueCallback, ok bool) {
	for range q.turn {
		ctrl := q.turn[q.next%len(q.turn)]
		q.next++
		if len(q.queued[ctrl]) == 0 || q.inFlight[ctrl] >= q.perController {
			continue
		}
		c, q.queued[ctrl] = q.queued[ctrl][0], q.queued[ctrl][1:]
		q.inFlight[ctrl]++
		return c, true
	}
	return c, false
}

// finished records that a cursor of controller is no longer in flight.
func (q *fairQueue) finished(controller string) { q.inFlight[controller]-- }

// left is how many cursors were never handed out.
func (q *fairQueue) left() int {
	n := 0
	for _, cs := range q.queued {
		n += len(cs)
	}
	return n
}

// enqueue queues a record's change of status (or, replayed, its status)
// for each of its request's callback URLs; a status queued or sent
// before is not queued again.
func (n *Notifier) enqueue(ctx context.Context, ch privacy.Change) error {
	if ch.Removed || ch.Status == "" || (ch.Status == ch.OldStatus && !ch.Replayed) {
		return nil // not a change of status
	}
	req := ch.Request
	if req == nil || ch.Err != nil || req.Source != privacy.SourceOpenDSR {
		return nil // not an OpenDSR request: nothing to call
	}
	for _, url := range req.CallbackURLs {
		if err := n.Store.EnqueueCallback(ctx, req.Controller, req.ID, url, RequestStatus(privacy.Status(ch.Status)), n.Now()); err != nil {
			return err
		}
	}
	return nil
}

// Retry delivers every cursor that is due, new statuses and backed-off
// ones alike; it is run on a schedule (every minute).
func (n *Notifier) Retry(ctx context.Context) error {
	due, err := n.Store.DueCallbacks(ctx, n.Now())
	if err != nil {
		return err
	}
	delivered := n.deliverAll(ctx, n.Log, due)
	n.Log.InfoContext(ctx, "callback retry run", "due", len(due), "delivered", delivered)
	return nil
}

// deliver posts a cursor's queued statuses in order, under its lease, and
// reports whether it emptied the queue. A failure backs the cursor off.
func (n *Notifier) deliver(ctx context.Context, log *slog.Logger, key string) bool {
	for round := 0; round < 3; round++ { // statuses queued while we held the lease
		now := n.Now()
		cur, ok, err := n.Store.LeaseCallback(ctx, key, now, n.Lease)
		if err != nil || !ok {
			if err != nil {
				log.WarnContext(ctx, "callback cursor not leased", "error", err.Error())
			}
			return false // the next retry run takes it
		}
		req, err := n.Store.Request(ctx, cur.RequestID)
		for _, status := range cur.Queue {
			if err == nil {
				err = n.post(ctx, req, status, cur.URL)
			}
			if err == nil {
				err = n.Store.CallbackSent(ctx, key, status)
			}
			if err != nil {
				break
			}
			log.InfoContext(ctx, "callback delivered", "subject_request_id", req.ID, "status", status)
		}
		if err != nil {
			next, abandon := n.backoff(cur, now)
			if ferr := n.Store.CallbackFailed(ctx, key, now, next, abandon); ferr != nil {
				log.WarnContext(ctx, "callback failure not recorded; its lease will run out", "error", ferr.Error())
			}
			level, msg := slog.LevelWarn, "callback not delivered; retried later"
			attrs := []slog.Attr{slog.String("subject_request_id", cur.RequestID), slog.Int("attempts", cur.Attempts+1),
				slog.String("next_at", next.UTC().Format(time.RFC3339)), slog.String("error", err.Error())}
			if abandon {
				level, msg = slog.LevelError, "callback abandoned after failing for the give-up period"
				attrs = append(attrs, metric.Count(MetricAbandonedCallbacks, now)...) // the alarm's metric
			}
			log.LogAttrs(ctx, level, msg, attrs...)
			return false
		}
		more, err := n.Store.ReleaseCallback(ctx, key)
		if err != nil {
			log.WarnContext(ctx, "callback lease not released; it will run out", "error", err.Error())
			return true
		}
		if !more {
			return true
		}
	}
	return false
}

// backoff is when to try again after a failure of cur at now, and whether
// to give up instead.
func (n *Notifier) backoff(cur privacy.CallbackCursor, now time.Time) (time.Time, bool) {
	if cur.FirstFailedAt > 0 && now.Sub(time.Unix(cur.FirstFailedAt, 0)) >= n.GiveUp {
		return now, true
	}
	wait := n.Backoff
	for i := 0; i < cur.Attempts && wait < n.MaxBackoff; i++ {
		wait *= 2
	}
	return now.Add(min(wait, n.MaxBackoff)), false
}

var errDelivery = errors.New("callback receiver did not accept")

// post sends the specification's callback (§8.6) of status to url.
func (n *Notifier) post(ctx context.Context, req privacy.RightsRequest, status, url string) error {
	if n.Signer == nil {
		return errors.New("no OpenDSR signing key is configured")
	}
	v := opendsr.Version(req.OpenDSRVersion)
	b := StatusBody(v, n.BaseURL, n.Signer.Domain, req, status, n.Now())
	b["status_callback_url"] = url
	body, err := json.Marshal(b)
	if err != nil {
		return err
	}
	headers, err := n.Signer.Headers(v, body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, val := range headers {
		r.Header.Set(k, val)
	}
	resp, err := n.Client.Do(r)
	if err != nil {
		// Not the URL (the client's error names it): a controller may put a
		// credential in its callback URL's query, and this goes to the log.
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%w: %v", errDelivery, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: status %d", errDelivery, resp.StatusCode)
	}
	return nil
}
