package processor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/mailer"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// Notifier posts the status callbacks of OpenDSR requests. The requests
// table's stream is its outbox: each change of an OpenDSR request's status
// arrives in order, and every URL in its status_callback_urls gets one
// signed POST per change. A delivery marker (the mailer's sent-markers)
// keeps a retried batch from posting a delivered callback twice; a failed
// post fails its record, so the stream retries from there, with backoff,
// and later changes wait: every receiver sees the changes in order.
type Notifier struct {
	Markers mailer.Markers
	Signer  *opendsr.Signer
	Tokens  *token.Signer
	BaseURL string
	Client  *http.Client
	Log     *slog.Logger
	Now     func() time.Time
	Lease   time.Duration
}

// NewClient is the callbacks' HTTP client: a bounded wait, and redirects
// never followed (a 3xx is a failed delivery).
func NewClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Handle processes one stream batch.
func (n *Notifier) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	log := n.Log.With("invocation_id", lambdaenv.InvocationID(ctx))
	for _, rec := range ev.Records {
		if err := n.record(ctx, rec); err != nil {
			log.WarnContext(ctx, "callback not delivered; the record will be retried", "seq", rec.Change.SequenceNumber, "error", err.Error())
			// The stream retries from this record, the later ones with it:
			// no receiver sees a change before the one it missed.
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
			return resp, nil
		}
	}
	return resp, nil
}

func (n *Notifier) record(ctx context.Context, rec events.DynamoDBEventRecord) error {
	if rec.EventName == string(events.DynamoDBOperationTypeRemove) {
		return nil
	}
	status := dynamo.StringAttr(rec.Change.NewImage, "status")
	if status == "" || status == dynamo.StringAttr(rec.Change.OldImage, "status") {
		return nil // not a change of status
	}
	req, err := dynamo.DecodeRequest(dynamo.FromStreamImage(rec.Change.NewImage))
	if err != nil || req.Source != dynamo.SourceOpenDSR {
		return nil // not an OpenDSR request: nothing to call
	}
	for _, url := range req.CallbackURLs {
		if err := n.deliver(ctx, req, url); err != nil {
			return err
		}
	}
	return nil
}

var errDelivery = errors.New("callback receiver did not accept")

func (n *Notifier) deliver(ctx context.Context, req dynamo.RightsRequest, url string) error {
	status := RequestStatus(req.Status)
	h := sha256.Sum256([]byte("opendsr-callback\x00" + req.ID + "\x00" + status + "\x00" + url))
	key := hex.EncodeToString(h[:])
	claim, err := n.Markers.ClaimMail(ctx, key, n.Now(), n.Lease)
	if err != nil {
		return err
	}
	switch claim {
	case dynamo.AlreadySent:
		return nil
	case dynamo.Busy:
		return errors.New("another delivery of this callback is in progress")
	}
	v := opendsr.Version(req.OpenDSRVersion)
	// The specification's callback (§8.6).
	b := map[string]any{"controller_id": req.Controller, "status_callback_url": url, "subject_request_id": req.ID,
		"request_status": status, "expected_completion_time": expected(req), "api_version": version(v)}
	results(b, v, n.Tokens, n.BaseURL, req, n.Now())
	body, err := json.Marshal(b)
	if err == nil {
		err = n.post(ctx, v, url, body)
	}
	if err != nil {
		if rerr := n.Markers.ReleaseMail(ctx, key); rerr != nil {
			n.Log.WarnContext(ctx, "callback marker not released; its lease will run out", "error", rerr.Error())
		}
		return err
	}
	n.Log.InfoContext(ctx, "callback delivered", "request_id", req.ID, "status", status)
	if err := n.Markers.MailSent(ctx, key, "delivered"); err != nil {
		n.Log.WarnContext(ctx, "callback delivered but not marked", "error", err.Error())
	}
	return nil
}

func (n *Notifier) post(ctx context.Context, v opendsr.Version, url string, body []byte) error {
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
		return fmt.Errorf("%w: %v", errDelivery, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: status %d", errDelivery, resp.StatusCode)
	}
	return nil
}
