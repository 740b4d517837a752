// Package links builds every link the system emails or shows: each a
// signed token for one purpose, one subject and one reference, valid for
// its time, under the public base URL. Nothing else concatenates them.
package links

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// How long each link works.
const (
	// ConfirmValidity: a double opt-in confirmation link.
	ConfirmValidity = 7 * 24 * time.Hour
	// VerifyValidity: a rights request's verification link.
	VerifyValidity = 72 * time.Hour
	// StatusValidity: the status link in request emails.
	StatusValidity = 400 * 24 * time.Hour
	// ExportValidity: an export link, counted from the request's
	// completion; after it the link answers 410.
	ExportValidity = 7 * 24 * time.Hour
	// MarketingValidity: the unsubscribe and preferences links of a
	// marketing email. Long: an old email's unsubscribe link must still work.
	MarketingValidity = 400 * 24 * time.Hour
	// OfferValidity: a policy notice's link that adds a new topic.
	OfferValidity = 30 * 24 * time.Hour
	// AddressValidity: the link that confirms an address a request names
	// besides the person's (an agent's, a correction's new address).
	AddressValidity = 72 * time.Hour
	// StopValidity: the old address's link that stops a correction of the
	// address before the team applies it.
	StopValidity = 30 * 24 * time.Hour
	// AnswerValidity: the link that answers the team's question on a
	// request; it answers only that question, once.
	AnswerValidity = 14 * 24 * time.Hour
	// ProcessorValidity: the link a processor told by email confirms a
	// request done with: past its 30 days to confirm (overdue, the team
	// follows up), a late confirmation still counts.
	ProcessorValidity = 90 * 24 * time.Hour
)

// The addresses a request names besides the person's, as Address names
// them (the reference after the request id).
const (
	AddressAgent = "agent"
	AddressNew   = "new"
)

// Builder mints links under Base (the public base URL, no trailing
// slash), and unsubscribe addresses at MailDomain ("": none).
type Builder struct {
	Base   string
	Tokens *token.Signer
	// MailDomain is the domain whose mail SES receives for the stack
	// (the template's UnsubscribeMailDomain).
	MailDomain string
}

func (b Builder) link(path string, c token.Claims) (string, error) {
	tok, err := b.Tokens.Sign(c)
	if err != nil {
		return "", err
	}
	return b.Base + path + "?token=" + tok, nil
}

// Confirm is the link that confirms a subject's signup.
func (b Builder) Confirm(subject privacy.SubjectID, signupID string, now time.Time) (string, error) {
	return b.link("/v1/subscriptions/confirm", token.Claims{Purpose: token.ConfirmSubscription, Subject: subject,
		Ref: signupID, Expires: now.Add(ConfirmValidity)})
}

// Verify is the link that verifies a request's requester, once (nonce).
func (b Builder) Verify(req privacy.RightsRequest, nonce string, now time.Time) (string, error) {
	return b.link("/v1/rights-requests/"+req.ID+"/verify", token.Claims{Purpose: token.VerifyRequest, Subject: req.Subject,
		Ref: req.ID + ":" + nonce, Expires: now.Add(VerifyValidity)})
}

// Address is the link that confirms the address of a request's agent
// (which AddressAgent) or its correction's new address (AddressNew).
func (b Builder) Address(req privacy.RightsRequest, which string, now time.Time) (string, error) {
	return b.link("/v1/rights-requests/"+req.ID+"/address", token.Claims{Purpose: token.ConfirmAddress, Subject: req.Subject,
		Ref: req.ID + ":" + which, Expires: now.Add(AddressValidity)})
}

// Stop is the old address's link that stops a correction of the address.
func (b Builder) Stop(req privacy.RightsRequest, now time.Time) (string, error) {
	return b.link("/v1/rights-requests/"+req.ID+"/stop", token.Claims{Purpose: token.StopChange, Subject: req.Subject,
		Ref: req.ID, Expires: now.Add(StopValidity)})
}

// Answer is the link that answers the team's question of nonce on a
// request.
func (b Builder) Answer(req privacy.RightsRequest, nonce string, now time.Time) (string, error) {
	return b.link("/v1/rights-requests/"+req.ID+"/answer", token.Claims{Purpose: token.AnswerQuestion, Subject: req.Subject,
		Ref: req.ID + ":" + nonce, Expires: now.Add(AnswerValidity)})
}

// Status is the link to a request's status page.
func (b Builder) Status(req privacy.RightsRequest, now time.Time) (string, error) {
	return b.link("/v1/rights-requests/"+req.ID, token.Claims{Purpose: token.RequestStatus, Subject: req.Subject,
		Ref: req.ID, Expires: now.Add(StatusValidity)})
}

// Export is the export link of a completed access or portability request,
// valid until ExportValidity after completion; false when there is none
// (another type, not completed, or expired).
func (b Builder) Export(req privacy.RightsRequest, now time.Time) (string, bool) {
	done := req.CompletedAt
	if done.IsZero() || (req.Type != privacy.RightAccess && req.Type != privacy.RightPortability) ||
		!now.Before(done.Add(ExportValidity)) {
		return "", false
	}
	link, err := b.link("/v1/rights-requests/"+req.ID+"/export", token.Claims{Purpose: token.Export, Subject: req.Subject,
		Ref: req.ID, Expires: done.Add(ExportValidity)})
	return link, err == nil
}

// Unsubscribe is the one-click unsubscribe link of a marketing email.
func (b Builder) Unsubscribe(subject privacy.SubjectID, now time.Time) (string, error) {
	return b.link("/v1/unsubscribe", token.Claims{Purpose: token.Unsubscribe, Subject: subject, Expires: now.Add(MarketingValidity)})
}

// UnsubscribeMail is the mailto: alternative of Unsubscribe (RFC 2369's
// List-Unsubscribe names both): an address at MailDomain whose local part
// is a mailbox token (token.SignMailbox) for the subject, valid as long;
// mail to it unsubscribes the subject. "" when there is no MailDomain.
func (b Builder) UnsubscribeMail(subject privacy.SubjectID, now time.Time) (string, error) {
	if b.MailDomain == "" {
		return "", nil
	}
	local, err := b.Tokens.SignMailbox(token.Claims{Purpose: token.Unsubscribe, Subject: subject, Expires: now.Add(MarketingValidity)})
	if err != nil {
		return "", err
	}
	return "mailto:" + local + "@" + b.MailDomain, nil
}

// MarketingMintedBefore reports whether a marketing link (Unsubscribe, or
// a Preferences link valid as long, or one its page minted with the same
// end) was certainly minted before t: its end less MarketingValidity is
// when it was minted, to the second (a token keeps whole seconds), so a
// link minted in t's own second, on either side of t, counts as not
// before.
func MarketingMintedBefore(c token.Claims, t time.Time) bool {
	return c.Expires.Add(-MarketingValidity).Before(t.Truncate(time.Second))
}

// Preferences is the link to a subscriber's preferences, valid until
// expires.
func (b Builder) Preferences(subject privacy.SubjectID, expires time.Time) (string, error) {
	return b.link("/v1/preferences", token.Claims{Purpose: token.Preferences, Subject: subject, Expires: expires})
}

// AddTopic is the double opt-in link that adds one topic a policy change
// offers to a subscriber's subscription (it works as long as a
// confirmation link does).
func (b Builder) AddTopic(subject privacy.SubjectID, topic string, now time.Time) (string, error) {
	return b.link("/v1/preferences/add-topic", token.Claims{Purpose: token.AddTopic, Subject: subject, Ref: topic,
		Expires: now.Add(OfferValidity)})
}

// ProcessorConfirm is the link with which the processor of d, told by
// email, confirms d's request done. It confirms that request for that
// processor alone: the token names the request (Ref) and, in its subject,
// the pair of request and processor (ProcessorSubject).
func (b Builder) ProcessorConfirm(d privacy.Delivery, now time.Time) (string, error) {
	return b.link("/v1/rights-requests/"+d.RequestID+"/processors/"+d.ProcessorID+"/confirm", token.Claims{
		Purpose: token.ConfirmProcessor, Subject: ProcessorSubject(d.RequestID, d.ProcessorID), Ref: d.RequestID,
		Expires: now.Add(ProcessorValidity)})
}

// ProcessorMintedBefore reports whether a processor's confirmation link
// (ProcessorConfirm) may have been minted before t, when the processor's
// contact address changed: its end less ProcessorValidity is when it was
// minted, to the second (a token keeps whole seconds), so a link minted in
// t's own second, on either side of t, counts as before (it may have gone
// to the old address; refusing it leaves the delivery to the team).
func ProcessorMintedBefore(c token.Claims, t time.Time) bool {
	return !c.Expires.Add(-ProcessorValidity).After(t.Truncate(time.Second))
}

// ProcessorSubject is the subject of a processor's confirmation token:
// a digest of the request and the processor (it names no person; the
// token's signature is what cannot be forged).
func ProcessorSubject(requestID, processorID string) privacy.SubjectID {
	sum := sha256.Sum256([]byte(requestID + "\x00" + processorID))
	return privacy.SubjectID(hex.EncodeToString(sum[:]))
}
