package privacy

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Controller is a client of the Platform (the company is its processor):
// the credential it calls the OpenDSR API with (an id and a keyed hash of
// its secret, never the secret), the retention it set for the records it
// hands over, and when it was terminated.
type Controller struct {
	ID         string
	SecretHash string
	Name       string
	CreatedAt  time.Time
	Revoked    bool
	// RetentionDays is how long the controller's records are kept after
	// their last write (0: until the controller erases them).
	RetentionDays int
	// TerminatedAt starts the 12-month clock for everything the
	// controller handed over (ControllerDue).
	TerminatedAt time.Time
	// Region is where the controller chose its data kept; "" for a
	// controller registered before regions whose region the team has not
	// recorded yet (no stack serves it until then).
	Region Region
}

// Region is where a controller's records and requests are kept (policy
// §7: "in the United States and the European Economic Area"). One stack
// serves one region, with tables of its own, and refuses the calls of a
// controller of another.
type Region string

// The regions.
const (
	RegionUS Region = "us"
	RegionEU Region = "eu"
)

// Regions returns every region.
func Regions() []Region { return []Region{RegionUS, RegionEU} }

// ParseRegion returns s as a region; ok is false (and the region "")
// for anything else.
func ParseRegion(s string) (Region, bool) {
	if r := Region(s); slices.Contains(Regions(), r) {
		return r, true
	}
	return "", false
}

// ControllerID is the id of a controller registered in region r: the
// region, a hyphen and a unique part. A stack of another region knows
// from the id alone where to send its calls, without a table of the
// other region's controllers.
func ControllerID(r Region, unique string) string { return string(r) + "-" + unique }

// IDRegion returns the region a controller id names; ok is false for an
// id issued before regions (a bare UUID, which never starts with a
// region and a hyphen: "u" is no hex digit).
func IDRegion(id string) (Region, bool) {
	prefix, _, found := strings.Cut(id, "-")
	if !found {
		return "", false
	}
	return ParseRegion(prefix)
}

// Record is one record a controller handed this system to process on its
// behalf (the processor role). It carries the person's identities only as
// their keys at that controller (Hasher.IdentityKey), never a raw value
// and never the site's subject, so nothing joins it to the site's data or
// to another controller's.
type Record struct {
	Controller string
	ID         string
	// Identities are the type and format of each identity the record was
	// handed with, in order (never the value).
	Identities []IdentityRef
	// Keys are the lookup keys of its identities, each at most once.
	Keys       []string
	Attributes json.RawMessage
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// IdentityRef names an identity's type and format (OpenDSR), not its value.
type IdentityRef struct {
	Type   string `json:"identity_type"`
	Format string `json:"identity_format"`
}

// CallbackCursor is the delivery state of one OpenDSR request's status
// callbacks to one URL: the statuses not yet delivered, in order, and those
// delivered.
type CallbackCursor struct {
	Key       string
	RequestID string
	URL       string
	Queue     []string // statuses to deliver, oldest first
	Sent      []string
	Attempts  int
	// FirstFailedAt is when the failures in a row began (epoch seconds).
	FirstFailedAt int64
}

// DueCallback is a callback cursor due for delivery, with the controller
// whose request it reports on: deliveries are shared fairly among
// controllers ("" for a cursor that predates the controller in its key).
type DueCallback struct {
	Key, Controller string
}

// Processor is a downstream processor of the site's data (a recipient,
// GDPR Art. 19): an OpenDSR endpoint the company, as controller, tells of
// every erasure it carries out. Only the operator registers one; its
// credentials are kept sealed, never in the clear.
type Processor struct {
	ID   string
	Name string
	// URL is the base of its OpenDSR v2 API (…/opendsr/v2): requests are
	// posted to URL+"/requests".
	URL string
	// Credentials are its HTTP Basic credentials, sealed.
	Credentials string
	// Certificate is the PEM certificate whose key signs its responses.
	Certificate string
	// IdentityFormat is how the person is named to it: "sha256" of the
	// normalised address, or "raw" when that is all it takes.
	IdentityFormat string
	Types          []string
	CreatedAt      time.Time
	// Contact is the privacy contact address of a processor that has no
	// OpenDSR API (URL empty): it is told of each request by email, with a
	// link to confirm it done.
	Contact string
}

// ByEmail reports whether p is told by email rather than through an
// OpenDSR API.
func (p Processor) ByEmail() bool { return p.URL == "" && p.Contact != "" }

// ConfirmWithin is how long a processor told by email has to confirm a
// request done before it is overdue (on the deadline board and in the
// digest): the policy's removal promise of 30 days (§7).
const ConfirmWithin = 30 * 24 * time.Hour

// Recipient states: where telling one processor of one request stands.
const (
	RecipientQueued    = "queued"    // not tried yet
	RecipientRetrying  = "retrying"  // could not be told yet; retried with backoff
	RecipientSent      = "sent"      // it accepted the request (signed); its progress is polled
	RecipientCompleted = "completed" // it says it is done (signed)
	RecipientFailed    = "failed"    // refused, cancelled by it, or not reachable for GiveUp: the team's
	// RecipientEmailed: a processor without an API was emailed the request
	// and has not confirmed it done yet (confirmed, it is completed).
	RecipientEmailed = "emailed"
)

// Statuses of deliveries on the deadline index: the open ones are due at
// their Due; the failed ones wait for the team (the deadline digest lists
// both); the closed ones are done.
const (
	DeliveryOpen   = "recipient_open"
	DeliveryFailed = "recipient_failed"
	DeliveryClosed = "recipient_closed"
)

// Recipient is a request's summary of one delivery: what the completion
// email, the status page and the export show.
type Recipient struct {
	Name  string
	State string
	At    time.Time
}

// Delivery is telling one processor of one request. Identity is the
// person as the processor is told (IdentityFormat: sha256 or raw); it is
// removed once the processor has accepted the request, or it failed.
type Delivery struct {
	RequestID        string
	ProcessorID      string
	ProcessorName    string
	SubjectRequestID string
	Type             string
	Regulation       string
	IdentityFormat   string
	Identity         string
	State            string
	Attempts         int
	// SubmittedAt is the request's submitted_time: every attempt sends
	// the same bytes, so a processor's retry detection sees one request.
	SubmittedAt time.Time
	// Due is when the delivery is next worked on.
	Due time.Time
	// LastError says why the last attempt failed (an HTTP status, or
	// "unreachable", or "bad signature"): no one's data.
	LastError string
	// Status is its deadline-index bucket (DeliveryOpen, …).
	Status string
	// Contact is where a processor without an API is emailed the request
	// (Processor.Contact); "" for an OpenDSR delivery. It is the
	// processor's address, not the person's: it stays once the processor
	// confirmed (Identity goes).
	Contact string
	// Lifted is a restriction's delivery whose lift the processor is told
	// (Art. 19): its email says processing may resume, and asks nothing.
	Lifted bool
}

// ByEmail reports whether d goes to its processor by email.
func (d Delivery) ByEmail() bool { return d.Contact != "" }

// Told is one processor told of a request, as the requester reads it (the
// completion email, the status page, the export): its name and where it
// stands.
type Told struct {
	Name   string `json:"name"`
	Status string `json:"status"`
}

// RecipientsTold lists the processors told of r and where each stands, by
// name.
func (r RightsRequest) RecipientsTold() []Told {
	out := make([]Told, 0, len(r.Recipients))
	for _, rc := range r.Recipients {
		out = append(out, Told{Name: rc.Name, Status: describeRecipient(rc.State, r.Type)})
	}
	slices.SortFunc(out, func(a, b Told) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func describeRecipient(state string, typ Right) string {
	if state == RecipientCompleted && typ != RightErasure {
		// A restriction or a rectification, told by email.
		return "asked; they have confirmed it done"
	}
	switch state {
	case RecipientQueued:
		return "being asked"
	case RecipientRetrying:
		return "not reachable yet; we keep asking"
	case RecipientSent:
		return "asked; their erasure is under way"
	case RecipientCompleted:
		return "asked; they have confirmed the erasure"
	case RecipientEmailed:
		return "asked by email; waiting for their confirmation"
	}
	return "could not be asked; our privacy team is following up"
}
