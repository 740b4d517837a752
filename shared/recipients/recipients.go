// Package recipients keeps GDPR Art. 19 for the site, where the company is
// the controller: every processor it shares the site's data with (policy
// §5, registered with privacyctl processor add) is told of each erasure it
// carries out, as an OpenDSR request. Fulfilment queues one delivery per
// processor with the request's outcome (For); the Deliverer, on a schedule,
// posts each one, verifies every answer against the processor's
// certificate, retries with backoff while it cannot be told, polls its
// progress until it completes, and records where each stands on the
// request. The completion email is held until every processor has been
// tried, so it can say so.
package recipients

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Types returns the request types a processor may be told of. Erasure is
// what Art. 19 requires; the others are not sent yet (their results would
// have to join the site's export).
func Types() []string { return []string{string(privacy.RightErasure)} }

// EmailTypes returns the request types a processor told by email is told
// of: Art. 19 names erasure, rectification and restriction, and an email
// can carry the two OpenDSR has no request type for.
func EmailTypes() []string {
	return []string{string(privacy.RightErasure), string(privacy.RightRectification), string(privacy.RightRestriction)}
}

// For returns the deliveries that telling procs of req needs: one per
// processor told of req's type (how), naming the person as that
// processor takes it. Its subject_request_id is derived from the request
// and the processor, so a rerun of fulfilment queues the same delivery.
func For(req privacy.RightsRequest, procs []privacy.Processor, at time.Time) ([]privacy.Delivery, error) {
	var out []privacy.Delivery
	for _, p := range procs {
		ch := how(p, string(req.Type))
		if ch == untold {
			continue
		}
		d := privacy.Delivery{RequestID: req.ID, ProcessorID: p.ID, ProcessorName: p.Name,
			SubjectRequestID: requestID(req.ID, p.ID), Type: string(req.Type), Regulation: req.Regulation,
			IdentityFormat: p.IdentityFormat, SubmittedAt: at.UTC().Truncate(time.Second),
			State: privacy.RecipientQueued, Status: privacy.DeliveryOpen, Due: at.UTC()}
		if ch == notInformed {
			// Nobody to tell: the team's at once (the deadline board
			// and digest list failed deliveries), naming no one.
			d.State, d.Status, d.LastError = privacy.RecipientFailed, privacy.DeliveryFailed, NotInformed(d.Type)
			out = append(out, d)
			continue
		}
		email := privacy.NormalizeEmail(req.Email)
		if !privacy.ValidEmail(email) {
			return nil, fmt.Errorf("request %s: no address to name the person to %s", req.ID, p.ID)
		}
		d.Identity = privacy.EmailDigest("sha256", email)
		if p.IdentityFormat == "raw" {
			d.Identity = email
		}
		if ch == byEmail {
			// Emailed at once (the mailer, from the delivery's mail_due,
			// through the processor's mailbox), by the address the
			// processor holds and finds the person by; due again, as
			// overdue, when ConfirmWithin has passed.
			d.IdentityFormat, d.Identity, d.Contact = "raw", email, p.Contact
			d.State, d.Due = privacy.RecipientEmailed, at.UTC().Add(privacy.ConfirmWithin)
		}
		out = append(out, d)
	}
	return out, nil
}

// channel is how a processor is told of a request.
type channel int

const (
	untold      channel = iota // not a type it is told of
	byAPI                      // an OpenDSR request
	byEmail                    // an email to its privacy contact address
	notInformed                // Art. 19 asks it be told, and nothing can tell it: the team's
)

// how says how p is told of a request of type typ. A processor without
// an API is emailed the types it was registered for. An OpenDSR
// processor is sent the types its discovery takes (erasure); of a
// rectification or a restriction, which OpenDSR has no request type for,
// it is told at its privacy contact address when it has one, and
// otherwise the team is told that it was not informed.
func how(p privacy.Processor, typ string) channel {
	switch {
	case p.ByEmail():
		if slices.Contains(p.Types, typ) {
			return byEmail
		}
		return untold
	case slices.Contains(p.Types, typ) && slices.Contains(Types(), typ):
		return byAPI
	case !slices.Contains(EmailTypes(), typ) || slices.Contains(Types(), typ):
		return untold
	case p.Contact != "":
		return byEmail
	}
	return notInformed
}

// NotInformed is why a processor with neither an OpenDSR request type
// for typ nor a privacy contact address was not told of a request of
// typ (the deadline board and digest show it): no one's data.
func NotInformed(typ string) string {
	return "not informed of the " + typ + ": it has no privacy contact address, and OpenDSR has no " + typ + " request"
}

var confirmDays = fmt.Sprint(int(privacy.ConfirmWithin.Hours() / 24))

// requestID is a UUID v4 in form (OpenDSR requires one), derived from
// the request and the processor.
func requestID(requestID, processorID string) string {
	b := sha256.Sum256([]byte(requestID + "\x00" + processorID))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Store is what the Deliverer reads and writes.
type Store interface {
	Deliveries(ctx context.Context, status string, until time.Time) ([]privacy.Delivery, error)
	ClaimDelivery(ctx context.Context, d privacy.Delivery, until time.Time) error
	SaveDelivery(ctx context.Context, d privacy.Delivery, at time.Time) error
	ReleaseHeldMail(ctx context.Context, requestID string) (bool, error)
	Processors(ctx context.Context) ([]privacy.Processor, error)
}

// Defaults of the template.
const (
	DefaultBackoff    = time.Minute
	DefaultMaxBackoff = 6 * time.Hour
	DefaultGiveUp     = 7 * 24 * time.Hour
	DefaultPollEvery  = time.Hour
)

// Deliverer tells the processors, on a schedule.
type Deliverer struct {
	Store  Store
	Client *http.Client
	// Key opens the processors' sealed credentials.
	Key []byte
	// Backoff is the wait after a first failure, doubled after each next
	// one up to MaxBackoff; after GiveUp of not being told a delivery is
	// failed (the team's, through the deadline digest).
	Backoff, MaxBackoff, GiveUp time.Duration
	// PollEvery is how often a processor that accepted is asked again.
	PollEvery time.Duration
	// Lease bounds one attempt (longer than the client's timeout).
	Lease time.Duration
	Now   func() time.Time
	Log   *slog.Logger
}

// Report says what one run did.
type Report struct {
	Tried     int `json:"tried"`
	Sent      int `json:"sent"`
	Completed int `json:"completed"`
	Retrying  int `json:"retrying"`
	Failed    int `json:"failed"`
	Released  int `json:"emails_released"`
	// Overdue counts the processors told by email whose confirmation
	// became overdue in this run.
	Overdue int `json:"overdue_confirmations"`
}

// Run works on every delivery that is due. A delivery another run holds
// is skipped. Errors of the store stop the run (the schedule runs it
// again); a processor's failure is a delivery's state, not an error.
func (d *Deliverer) Run(ctx context.Context) (Report, error) {
	var rep Report
	now := d.Now().UTC()
	due, err := d.Store.Deliveries(ctx, privacy.DeliveryOpen, now)
	if err != nil {
		return rep, fmt.Errorf("recipients: %w", err)
	}
	if len(due) == 0 {
		return rep, nil
	}
	procs, err := d.Store.Processors(ctx)
	if err != nil {
		return rep, fmt.Errorf("recipients: %w", err)
	}
	byID := map[string]privacy.Processor{}
	for _, p := range procs {
		byID[p.ID] = p
	}
	for _, del := range due {
		if ctx.Err() != nil {
			break
		}
		if err := d.Store.ClaimDelivery(ctx, del, now.Add(d.Lease)); errors.Is(err, privacy.ErrStale) {
			continue
		} else if err != nil {
			return rep, fmt.Errorf("recipients: %w", err)
		}
		rep.Tried++
		p, ok := byID[del.ProcessorID]
		switch {
		case del.ByEmail():
			// Due only when its confirmation is overdue: the team's
			// (the digest and the deadline board list it), still
			// confirmable by its link.
			// A refused email (the mailer made it due at once) says why.
			why := "not confirmed within " + confirmDays + " days"
			if del.LastError != "" {
				why = del.LastError
			}
			del.Status, del.LastError = privacy.DeliveryFailed, why
		case ok && !slices.Contains(Types(), del.Type):
			// Never posted: OpenDSR has no request of its type (For
			// queues none; this keeps one stored otherwise from going).
			del = d.failed(del, NotInformed(del.Type))
		case ok:
			del = d.step(ctx, del, p)
		default:
			del.State, del.Status, del.LastError = privacy.RecipientFailed, privacy.DeliveryFailed, "processor no longer registered"
		}
		at := d.Now().UTC()
		if err := d.Store.SaveDelivery(ctx, del, at); err != nil {
			return rep, fmt.Errorf("recipients: %w", err)
		}
		switch del.State {
		case privacy.RecipientSent:
			rep.Sent++
		case privacy.RecipientCompleted:
			rep.Completed++
		case privacy.RecipientRetrying:
			rep.Retrying++
		case privacy.RecipientFailed:
			rep.Failed++
		case privacy.RecipientEmailed:
			rep.Overdue++
		}
		d.Log.InfoContext(ctx, "recipient delivery", "rights_request_id", del.RequestID, "processor_id", del.ProcessorID,
			"state", del.State, "attempts", del.Attempts, "last_error", del.LastError)
		released, err := d.Store.ReleaseHeldMail(ctx, del.RequestID)
		if err != nil {
			return rep, fmt.Errorf("recipients: %w", err)
		}
		if released {
			rep.Released++
		}
	}
	d.Log.InfoContext(ctx, "recipients run", "tried", rep.Tried, "sent", rep.Sent, "completed", rep.Completed,
		"retrying", rep.Retrying, "failed", rep.Failed, "emails_released", rep.Released)
	return rep, nil
}

// answer is a processor's reply, its signature checked.
type answer struct {
	code     int
	verified bool
	body     map[string]any
}

// step makes one attempt at del and returns it with its new state.
func (d *Deliverer) step(ctx context.Context, del privacy.Delivery, p privacy.Processor) privacy.Delivery {
	now := d.Now().UTC()
	pub, err := CertificateKey(p.Certificate)
	if err != nil {
		return d.failed(del, "processor certificate unusable")
	}
	creds, err := Open(d.Key, p.ID, p.Credentials)
	if err != nil {
		return d.failed(del, "processor credentials do not open")
	}
	base := strings.TrimRight(p.URL, "/")
	if del.State == privacy.RecipientSent {
		a, err := d.call(ctx, http.MethodGet, base+"/requests/"+del.SubjectRequestID, nil, creds, pub)
		switch {
		case err != nil || a.code >= 500 || a.code == http.StatusTooManyRequests || !a.verified:
			del.LastError = reason(err, a)
		case a.code == http.StatusOK && a.body["request_status"] == opendsr.StatusDone:
			del.State, del.Status, del.LastError = privacy.RecipientCompleted, privacy.DeliveryClosed, ""
			return del
		case a.code == http.StatusOK && a.body["request_status"] == opendsr.StatusCanceled:
			return d.failed(del, "cancelled by the processor")
		case a.code == http.StatusOK:
			del.LastError = ""
		default:
			return d.failed(del, fmt.Sprintf("status refused: HTTP %d", a.code))
		}
		del.Due = now.Add(d.PollEvery)
		return del
	}
	body, _ := json.Marshal(opendsr.Request{Regulation: del.Regulation, SubjectRequestID: del.SubjectRequestID, Type: del.Type,
		SubmittedTime: del.SubmittedAt.UTC().Format(time.RFC3339), APIVersion: "2.0",
		Identities: []opendsr.Identity{{Type: "email", Format: del.IdentityFormat, Value: del.Identity}}})
	del.Attempts++
	a, err := d.call(ctx, http.MethodPost, base+"/requests", body, creds, pub)
	switch {
	case err == nil && a.verified && (a.code == http.StatusCreated || a.code == http.StatusOK) && a.body["subject_request_id"] == del.SubjectRequestID,
		err == nil && a.verified && a.code == http.StatusConflict:
		// Accepted, or accepted by an earlier attempt whose answer was lost.
		del.State, del.LastError, del.Due = privacy.RecipientSent, "", now.Add(d.PollEvery)
		return del
	case err == nil && a.verified && a.code >= 400 && a.code < 500 && a.code != http.StatusTooManyRequests:
		return d.failed(del, fmt.Sprintf("refused: HTTP %d", a.code))
	}
	// Not told: unreachable, a server error, throttled, or an answer whose
	// signature does not verify (never taken for the processor's).
	del.LastError = reason(err, a)
	if now.Sub(del.SubmittedAt) >= d.GiveUp {
		return d.failed(del, "not reachable for "+d.GiveUp.String()+": "+del.LastError)
	}
	del.State = privacy.RecipientRetrying
	del.Due = now.Add(min(d.Backoff<<min(del.Attempts-1, 20), d.MaxBackoff))
	return del
}

func (d *Deliverer) failed(del privacy.Delivery, why string) privacy.Delivery {
	del.State, del.Status, del.LastError = privacy.RecipientFailed, privacy.DeliveryFailed, why
	return del
}

func reason(err error, a answer) string {
	switch {
	case err != nil:
		return "unreachable"
	case a.code >= 500 || a.code == http.StatusTooManyRequests:
		return fmt.Sprintf("HTTP %d", a.code)
	case !a.verified:
		return "answer signature does not verify"
	}
	return fmt.Sprintf("HTTP %d", a.code)
}

// call sends one request and reads the answer, checking its signature
// against the processor's key (X-OpenDSR-Signature, or v1's header).
func (d *Deliverer) call(ctx context.Context, method, url string, body []byte, creds string, pub *rsa.PublicKey) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	user, pass, _ := strings.Cut(creds, ":")
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.Client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return answer{}, err
	}
	sig := resp.Header.Get("X-OpenDSR-Signature")
	if sig == "" {
		sig = resp.Header.Get("X-OpenGDPR-Signature")
	}
	a := answer{code: resp.StatusCode, verified: sig != "" && opendsr.Verify(pub, raw, sig) == nil}
	if a.verified {
		_ = json.Unmarshal(raw, &a.body)
	}
	return a, nil
}

// CertificateKey is the RSA key of a processor's PEM certificate.
func CertificateKey(certPEM string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil {
		return nil, errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("certificate key is %T, not RSA", cert.PublicKey)
	}
	return pub, nil
}

// Discover reads a processor's discovery document (its base URL +
// "/discovery"), checks the answer's signature against pub, and returns
// the identity format to name people to it in (sha256 when it takes it,
// else raw) and the request types both sides support.
func Discover(ctx context.Context, client *http.Client, base string, pub *rsa.PublicKey) (format string, types []string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/discovery", nil)
	if err != nil {
		return "", nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("discovery: HTTP %d", resp.StatusCode)
	}
	if err := opendsr.Verify(pub, raw, resp.Header.Get("X-OpenDSR-Signature")); err != nil {
		return "", nil, fmt.Errorf("discovery: the answer's signature does not verify with the certificate: %w", err)
	}
	var disc struct {
		Identities []struct {
			Type   string `json:"identity_type"`
			Format string `json:"identity_format"`
		} `json:"supported_identities"`
		Types []string `json:"supported_subject_request_types"`
	}
	if err := json.Unmarshal(raw, &disc); err != nil {
		return "", nil, fmt.Errorf("discovery: %w", err)
	}
	for _, f := range []string{"sha256", "raw"} {
		for _, id := range disc.Identities {
			if id.Type == "email" && id.Format == f && format == "" {
				format = f
			}
		}
	}
	if format == "" {
		return "", nil, errors.New("discovery: the processor takes no email identity (sha256 or raw)")
	}
	for _, t := range Types() {
		if slices.Contains(disc.Types, t) {
			types = append(types, t)
		}
	}
	if len(types) == 0 {
		return "", nil, errors.New("discovery: the processor takes no erasure requests")
	}
	return format, types, nil
}
