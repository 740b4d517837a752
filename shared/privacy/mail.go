package privacy

import (
	"strings"
	"time"
)

// MailKind names an email that a stored change makes due. The outbox is
// the tables' streams: an item whose mail_due changes to a MailDue makes
// its email due, and the mailer sends it once.
type MailKind string

// Mail kinds. Those of a rights request's outcome (MailErased, MailReady,
// MailDone, MailCorrected, MailDenied, MailLifted, MailUpheldErased) are
// its last email (Last).
const (
	MailInquiry    MailKind = "inquiry_received" // acknowledgement and team notice of an inquiry
	MailConfirm    MailKind = "confirm"          // double opt-in confirmation; Ref is the signup id
	MailReceived   MailKind = "received"         // acknowledgement with the verification link; Ref is its nonce
	MailReady      MailKind = "ready"            // access or portability: the export is ready
	MailErased     MailKind = "erased"           // erasure done (or withheld)
	MailDone       MailKind = "done"             // objection or consent withdrawal done
	MailReview     MailKind = "review"           // the team is to review the request
	MailJoined     MailKind = "joined"           // a repeat request joined the open one
	MailRestricted MailKind = "restricted"       // restriction in place
	MailLifted     MailKind = "lifted"           // restriction lifted
	MailDenied     MailKind = "denied"           // denied, with the reason
	MailExtended   MailKind = "extended"         // deadline extended, with the reason
	MailCorrected  MailKind = "corrected"        // rectification carried out
	// MailUpheld: an objection to all processing upheld, the data kept
	// restricted; MailUpheldErased: upheld, what is not needed erased.
	MailUpheld       MailKind = "upheld"
	MailUpheldErased MailKind = "upheld_erased"
	// MailConfirmAddress asks a correction's new address to confirm it by
	// its own link; MailAddressConfirmed, once it has, asks the team to
	// review and tells the old address, with a link that stops the change;
	// MailStopped confirms to the old address that it stopped it.
	MailConfirmAddress   MailKind = "confirm_address"
	MailAddressConfirmed MailKind = "address_confirmed"
	MailStopped          MailKind = "stopped"
	// MailOptedOut confirms an opt-out of sale and sharing; MailCategories
	// answers a request to know the categories of data.
	MailOptedOut   MailKind = "opted_out"
	MailCategories MailKind = "categories"
	// MailQuestion asks the requester the team's question, with the link
	// that answers it (Ref: the question's nonce); MailAnswered tells the
	// team the requester answered.
	MailQuestion MailKind = "question"
	MailAnswered MailKind = "answered"
	// MailProcessor emails a processor without an API (a delivery's
	// contact) the request it is told of, with the link that confirms it
	// done. It is due on the delivery, not on the request.
	MailProcessor MailKind = "processor_asked"
	// MailProcessorLifted tells that processor the restriction it was
	// asked to apply is lifted (Ref: the lift's time).
	MailProcessorLifted MailKind = "processor_lifted"
)

// Mail kinds of a subject's items beyond the inquiry and the signup.
const (
	// MailConfirmed and MailWithdrawn carry the receipt of a confirmed
	// signup (Ref: the signup id) and of a withdrawal of consent (Ref: its
	// time).
	MailConfirmed MailKind = "confirmed"
	MailWithdrawn MailKind = "withdrawn"
	// MailPolicyNotice tells a person of a policy change (Ref: the version).
	MailPolicyNotice MailKind = "policy_notice"
)

// RequestMailKinds are the kinds a rights request's changes make due:
// the mailer has an email for each.
func RequestMailKinds() []MailKind {
	return []MailKind{MailReceived, MailReady, MailErased, MailDone, MailReview, MailJoined, MailRestricted, MailLifted,
		MailDenied, MailExtended, MailCorrected, MailUpheld, MailUpheldErased, MailOptedOut, MailCategories,
		MailConfirmAddress, MailAddressConfirmed, MailStopped, MailQuestion, MailAnswered}
}

// MailDue is an email a change makes due: its kind and a reference that
// makes each occurrence distinct (a nonce, a signup id), so the same kind
// due again is a new change and a redelivered one is not.
type MailDue struct {
	Kind MailKind
	Ref  string
}

// Due returns the MailDue of kind with ref.
func Due(kind MailKind, ref string) MailDue { return MailDue{Kind: kind, Ref: ref} }

// IsZero reports whether no email is due.
func (d MailDue) IsZero() bool { return d.Kind == "" }

// String is the stored form, "<kind>:<ref>" (an inquiry's is its kind
// alone); ParseMailDue reads it back.
func (d MailDue) String() string {
	if d.IsZero() {
		return ""
	}
	if d.Kind == MailInquiry && d.Ref == "" {
		return string(d.Kind)
	}
	return string(d.Kind) + ":" + d.Ref
}

// ParseMailDue reads a stored mail_due value ("" is the zero MailDue).
func ParseMailDue(s string) MailDue {
	kind, ref, _ := strings.Cut(s, ":")
	return MailDue{Kind: MailKind(kind), Ref: ref}
}

// Last reports whether the email ends what a request has to say to its
// requester: a finished request keeps no address after it. A restriction
// in place is not one: its lift must still be told.
func (k MailKind) Last() bool {
	switch k {
	case MailErased, MailReady, MailDone, MailCorrected, MailDenied, MailLifted, MailUpheldErased, MailOptedOut, MailCategories,
		MailStopped:
		return true
	}
	return false
}

// Claim is the outcome of claiming the right to send one email.
type Claim int

// Claim outcomes.
const (
	Claimed        Claim = iota // the caller may send now
	AlreadySent                 // sent before: do nothing
	Busy                        // another sender holds a live lease: try later
	RejectedBefore              // refused for good before: do nothing
)

// RejectedMessageID is the message id a sent-marker records for an email
// the provider refused for good.
const RejectedMessageID = "rejected"

// MailRetry is a change whose email could not be sent for a reason that
// passes (SES throttling or unreachable, another mailer holding the send):
// it is retried, with backoff, instead of holding the stream's shard, so an
// outage longer than the stream's own retries loses nothing. It names the
// changed item by its key and the stream it came on (its sent-markers'
// key); the retry reads the item again, so an item erased meanwhile sends
// nothing.
type MailRetry struct {
	Source   string // the stream ARN the change came on
	Table    string // the changed item's table
	PK, SK   string
	Due      MailDue
	Attempts int
	First    time.Time
	Next     time.Time
	// LastError is why the last try failed (no one's data).
	LastError string
}

// Change is one change of a stored item as a table's stream delivers it
// (the outbox), decoded: the item as it now is, when it is one the domain
// knows (at most one of Inquiry, Subscription and Request is set), and
// what changed of its email due and its status.
type Change struct {
	Seq    string // the stream record's sequence number
	Source string // the stream it came on
	// PK and SK are the item's key: with Source, what names one change's
	// emails (their sent-markers).
	PK, SK string
	// Kind is the item's kind, as stored (for logs).
	Kind string
	// Removed is a deletion; Expired one by the table's TTL.
	Removed, Expired bool
	// MailDue is the email due now, and OldMailDue the one before the
	// change: an email is due when the two differ.
	MailDue, OldMailDue MailDue
	// Status and OldStatus are the item's status after and before.
	Status, OldStatus string
	// Replayed is a change that marked the item replayed (privacyctl
	// replay of a stream batch given up on): what the item makes due now,
	// its email and its status, is due again, as if it had just changed
	// (the sent-markers and the callbacks' cursors keep each from going
	// twice).
	Replayed bool
	// Created is the item's first write (the stream's INSERT: no item
	// before it).
	Created      bool
	Inquiry      *Inquiry
	Subscription *Subscription
	Request      *RightsRequest
	Notice       *Notice
	// Delivery is a processor told by email (MailProcessor).
	Delivery *Delivery
	// ContactNotice tells a processor's former contact address of its
	// change (MailContactChanged).
	ContactNotice *ContactNotice
	// Processor is a change of the processors' registry (the ops table's
	// PROC# items), told whoever wrote it.
	Processor *ProcessorChange
	// At is when the stream recorded the change (its approximate
	// creation time); zero when the record does not say.
	At time.Time
	// Err is why the item could not be decoded.
	Err error
}

// MarshalText writes the stored form, so a MailDue reads as one string in
// JSON (the operator's view of a request).
func (d MailDue) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads the stored form.
func (d *MailDue) UnmarshalText(b []byte) error { *d = ParseMailDue(string(b)); return nil }
