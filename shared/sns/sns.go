// Package sns reads Amazon SNS messages and verifies their signatures, as
// delivered to Lambda (a Records batch) or to an HTTPS endpoint (one message
// as the body). A message is trusted only when its signing certificate comes
// from an SNS host over HTTPS at a path of the shape SNS uses, was valid
// when the message was signed, and the signature (version 1: SHA1withRSA,
// version 2: SHA256withRSA) matches the canonical string of its fields. A
// genuine signature says only that SNS sent it: which topic it came from
// is the caller's to check (anyone can own a topic), and so is its age
// (Fresh): a message posted to a public HTTPS route may be a replay, while
// one Lambda delivers came from SNS itself, however late its retry.
package sns

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Message is an SNS message with the fields its signature covers. The
// timestamp stays a string: re-formatting it would break the signature.
type Message struct {
	Type             string `json:"Type"`
	MessageID        string `json:"MessageId"`
	Token            string `json:"Token,omitempty"`
	TopicArn         string `json:"TopicArn"`
	Subject          string `json:"Subject,omitempty"`
	Message          string `json:"Message"`
	Timestamp        string `json:"Timestamp"`
	SignatureVersion string `json:"SignatureVersion"`
	Signature        string `json:"Signature"`
	SigningCertURL   string `json:"SigningCertURL"`
	SubscribeURL     string `json:"SubscribeURL,omitempty"`
	UnsubscribeURL   string `json:"UnsubscribeURL,omitempty"`
}

// LambdaEvent is the event Lambda delivers for an SNS subscription. Lambda
// spells two fields differently from the HTTPS form.
type LambdaEvent struct {
	Records []struct {
		EventSource string        `json:"EventSource"`
		SNS         lambdaMessage `json:"Sns"`
	} `json:"Records"`
}

type lambdaMessage struct {
	Message
	SigningCertURLLambda string `json:"SigningCertUrl"`
	UnsubscribeURLLambda string `json:"UnsubscribeUrl"`
}

// Messages returns the batch's messages in the HTTPS form.
func (e LambdaEvent) Messages() []Message {
	out := make([]Message, 0, len(e.Records))
	for _, r := range e.Records {
		m := r.SNS.Message
		if m.SigningCertURL == "" {
			m.SigningCertURL = r.SNS.SigningCertURLLambda
		}
		if m.UnsubscribeURL == "" {
			m.UnsubscribeURL = r.SNS.UnsubscribeURLLambda
		}
		out = append(out, m)
	}
	return out
}

// ErrUntrusted is returned for a message whose origin cannot be proved.
var ErrUntrusted = errors.New("untrusted SNS message")

// region is the shape of an AWS region: letters and a number in dashes
// (us-east-1, us-gov-west-1, cn-northwest-1).
var region = regexp.MustCompile(`^[a-z]{2}(?:-[a-z]+)+-[0-9]+$`)

// snsHost reports a host SNS signs from and sends confirmation links on:
// a regional endpoint, sns.<region>.amazonaws.com, or in the China regions
// sns.cn-<...>.amazonaws.com.cn (the SNS endpoints of the AWS General
// Reference). No other service's host under amazonaws.com passes:
// sns.s3.amazonaws.com is a bucket anyone can name and fill.
func snsHost(host string) bool {
	rest, ok := strings.CutPrefix(host, "sns.")
	if !ok {
		return false
	}
	if r, ok := strings.CutSuffix(rest, ".amazonaws.com.cn"); ok {
		return strings.HasPrefix(r, "cn-") && region.MatchString(r)
	}
	r, ok := strings.CutSuffix(rest, ".amazonaws.com")
	return ok && !strings.HasPrefix(r, "cn-") && region.MatchString(r)
}

// certPath is the path of every SNS signing certificate.
var certPath = regexp.MustCompile(`^/SimpleNotificationService-[0-9a-f]{32}\.pem$`)

// TrustedURL reports whether u is an https URL on an SNS host.
func TrustedURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Scheme == "https" && p.User == nil && p.Port() == "" && snsHost(p.Hostname())
}

// CertURL returns the signing certificate URL of a message as it is
// fetched and cached: on an SNS host, at a path of SNS's shape, without
// query or fragment (so a changed query string neither fetches again nor
// fills the cache). ok is false for any other URL, which is never fetched.
func CertURL(u string) (string, bool) {
	p, err := url.Parse(u)
	if err != nil || !TrustedURL(u) || !certPath.MatchString(p.Path) {
		return "", false
	}
	return "https://" + p.Host + p.Path, true
}

// MaxAge is how old a message posted to an HTTPS endpoint may be: SNS
// signs when it sends, so an older one is a replay.
const MaxAge = time.Hour

// maxSkew allows a sender's clock slightly ahead of ours.
const maxSkew = 5 * time.Minute

// Fresh returns nil for a message signed within MaxAge of now (and not
// more than a few minutes ahead of it). It is for messages anyone can
// post (an HTTPS subscription's route); a message Lambda delivers, SNS
// delivered, and a late retry or a redrive from a dead-letter queue of a
// genuine one must still count.
func Fresh(m Message, now time.Time) error {
	signed, err := time.Parse(time.RFC3339, m.Timestamp)
	switch {
	case err != nil:
		return fmt.Errorf("%w: timestamp %q", ErrUntrusted, m.Timestamp)
	case now.Sub(signed) > MaxAge:
		return fmt.Errorf("%w: signed more than %s ago", ErrUntrusted, MaxAge)
	case signed.Sub(now) > maxSkew:
		return fmt.Errorf("%w: signed in the future", ErrUntrusted)
	}
	return nil
}

// Local points fetches from SNS hosts at a local endpoint (development
// only: the local gateway's SNS_ENDPOINT), keeping the path and query.
// An empty endpoint leaves u as it is.
func Local(endpoint, u string) string {
	if endpoint == "" {
		return u
	}
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return strings.TrimRight(endpoint, "/") + p.RequestURI()
}

// CertSource returns the PEM certificate at an (already trusted) URL.
type CertSource interface {
	Cert(ctx context.Context, url string) ([]byte, error)
}

// HTTPCerts fetches certificates over HTTPS and keeps at most MaxCached
// of them (SNS uses one or two per region at a time).
type HTTPCerts struct {
	Client *http.Client
	// Endpoint, in development only, is where SNS hosts are fetched from
	// instead (see Local).
	Endpoint string
	mu       sync.Mutex
	cache    map[string][]byte
}

// MaxCached bounds the certificate cache.
const MaxCached = 16

// Cert fetches (once) the certificate at url, a URL CertURL returned.
func (h *HTTPCerts) Cert(ctx context.Context, u string) ([]byte, error) {
	h.mu.Lock()
	if b, ok := h.cache[u]; ok {
		h.mu.Unlock()
		return b, nil
	}
	h.mu.Unlock()
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, Local(h.Endpoint, u), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, errors.New("fetch signing certificate: the request failed") // the error names the URL: not needed in logs
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch signing certificate: status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.cache == nil || len(h.cache) >= MaxCached {
		h.cache = map[string][]byte{} // a full cache starts over: a flood of URLs cannot grow it
	}
	h.cache[u] = b
	h.mu.Unlock()
	return b, nil
}

// Cached reports how many certificates are kept.
func (h *HTTPCerts) Cached() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.cache)
}

// Verifier checks message signatures.
type Verifier struct {
	Certs CertSource
}

// StringToSign is the canonical form SNS signs.
func StringToSign(m Message) (string, error) {
	var keys []string
	switch m.Type {
	case "Notification":
		keys = []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		keys = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	default:
		return "", fmt.Errorf("%w: unknown type %q", ErrUntrusted, m.Type)
	}
	vals := map[string]string{"Message": m.Message, "MessageId": m.MessageID, "Subject": m.Subject,
		"Timestamp": m.Timestamp, "TopicArn": m.TopicArn, "Type": m.Type, "SubscribeURL": m.SubscribeURL, "Token": m.Token}
	var b strings.Builder
	for _, k := range keys {
		if k == "Subject" && m.Subject == "" {
			continue // Subject is signed only when present
		}
		b.WriteString(k + "\n" + vals[k] + "\n")
	}
	return b.String(), nil
}

// Verify returns nil only for a message SNS signed, whenever it was
// signed (Fresh checks the age).
func (v *Verifier) Verify(ctx context.Context, m Message) error {
	certURL, ok := CertURL(m.SigningCertURL)
	if !ok {
		return fmt.Errorf("%w: certificate URL is not an SNS certificate", ErrUntrusted)
	}
	signed, err := time.Parse(time.RFC3339, m.Timestamp)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q", ErrUntrusted, m.Timestamp)
	}
	var hash crypto.Hash
	switch m.SignatureVersion {
	case "1":
		hash = crypto.SHA1
	case "2":
		hash = crypto.SHA256
	default:
		return fmt.Errorf("%w: signature version %q", ErrUntrusted, m.SignatureVersion)
	}
	sts, err := StringToSign(m)
	if err != nil {
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return fmt.Errorf("%w: signature is not base64", ErrUntrusted)
	}
	pemBytes, err := v.Certs.Cert(ctx, certURL)
	if err != nil {
		return err // transient: the certificate could not be fetched
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return fmt.Errorf("%w: certificate is not PEM", ErrUntrusted)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("%w: certificate: %v", ErrUntrusted, err)
	}
	// Valid when it signed (the timestamp is signed too): a late retry
	// of a genuine message is not refused for a certificate that has
	// expired since.
	if signed.Before(cert.NotBefore) || signed.After(cert.NotAfter) {
		return fmt.Errorf("%w: certificate not valid when the message was signed", ErrUntrusted)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: certificate key is not RSA", ErrUntrusted)
	}
	var digest []byte
	if hash == crypto.SHA1 {
		d := sha1.Sum([]byte(sts))
		digest = d[:]
	} else {
		d := sha256.Sum256([]byte(sts))
		digest = d[:]
	}
	if err := rsa.VerifyPKCS1v15(pub, hash, digest, sig); err != nil {
		return fmt.Errorf("%w: signature does not match", ErrUntrusted)
	}
	return nil
}
