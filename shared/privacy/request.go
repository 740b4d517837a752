package privacy

import (
	"slices"
	"time"
)

// RightsRequest is a rights request: one a person made on the Sites (the
// company is the controller) or one a controller sent through OpenDSR (the
// company is its processor).
type RightsRequest struct {
	ID string
	// Subject is, for an OpenDSR request, the key of its set of identities
	// at its controller (requests with the same identities share it).
	Subject      SubjectID
	Email        string
	Name         string
	Type         Right
	Details      string
	Relationship Relationship
	Regulation   string
	// Scope is an objection's (ScopeMarketing, ScopeAll).
	Scope string
	// RecipientEmail is the third party a portability request's export
	// goes to; it goes with the request's address.
	RecipientEmail string
	// Correction is a rectification's field and new value; the value goes
	// with the request's address.
	Correction Correction
	// ParentEmail is the address of the parent or guardian who asked for
	// a child's data; every answer goes there (AnswerTo).
	ParentEmail string
	// AgentEmail is the address of the authorised agent who filed the
	// request: told how it stands, never sent the person's data, and only
	// once AgentConfirmedAt (the agent confirmed the address by its link).
	AgentEmail       string
	AgentConfirmedAt time.Time
	// NewAddressConfirmedAt is when the new address of a correction of the
	// address confirmed it by its own link: the team may apply the
	// correction only after.
	NewAddressConfirmedAt time.Time
	// MailHeld are the roles (RoleRequester, RoleAgent, ...) whose address
	// was past its per-address limit when the request was filed: the
	// request is kept, its clock runs, and nothing is mailed to them for it.
	MailHeld   []string
	Status     Status
	ReceivedAt time.Time
	DueAt      time.Time
	// OriginalDueAt is the first deadline, once an extension moved DueAt.
	OriginalDueAt time.Time
	// ExtendedUntil is the deadline an extension set (zero: never extended).
	ExtendedUntil time.Time
	CompletedAt   time.Time
	VerifyNonce   string
	VerifySentAt  time.Time
	VerifiedAt    time.Time
	Excessive     bool
	Withheld      bool
	// Reason is why a request was denied, as the requester is told.
	Reason string
	// ExtensionReason is why the deadline was extended.
	ExtensionReason string
	// DecidedBy names the operator of the last decision (an IAM ARN).
	DecidedBy string
	MailDue   MailDue
	// Source is SourceOpenDSR for a request a controller sent machine to
	// machine: the controller, not this system, talks to the person.
	Source string
	// Channel is how a request the team entered reached it (ChannelEmail,
	// ChannelPhone, ChannelPost, ChannelInPerson); "" for the site's forms.
	Channel      string
	Controller   string
	CallbackURLs []string
	// IdentityKeys are an OpenDSR request's identities as keys at its
	// controller (Hasher.IdentityKey), sorted: a record carrying any of
	// them is the request's.
	IdentityKeys []string
	// GroupID relates a controller's requests (mParticle's DSR API v3).
	GroupID string
	// OpenDSRVersion is the protocol generation the controller used (1 or
	// 2): its callbacks carry that generation's headers.
	OpenDSRVersion int
	// FulfilAfter ends an OpenDSR request's cancel window: until then it is
	// pending and the controller may cancel it.
	FulfilAfter time.Time
	// AttemptedAt is when fulfilment last started (in_progress): a worker
	// that died leaves it behind, and after a lease another finishes.
	AttemptedAt time.Time
	// BodyDigest is the SHA-256 of the create request's bytes, so a
	// controller's retry of the same request is answered as the first was.
	BodyDigest string
	// ResultsCount is how many records fulfilment found (access) or
	// deleted (erasure).
	ResultsCount *int
	// Recipients are the processors told of this request (Art. 19), by
	// processor id, with where each stands.
	Recipients map[string]Recipient
	// MailPending is an email held until every recipient has been tried,
	// so it can say where each one stands.
	MailPending MailDue
	// PolicyVersion is the policy in force when the request was answered
	// (its outcome): a receipt carries it.
	PolicyVersion string
	// ReceivedPolicyVersion is the policy in force when the site's form
	// filed the request: its request_received entry, written from the
	// request's stream record (RequestReceived), names it.
	ReceivedPolicyVersion string
	// Lang is the language the request was filed in: its emails follow it.
	Lang string
	// Question is the team's question to the requester (Desk.Ask), asked
	// at AskedAt while the request was in AskedFrom, to which the answer
	// returns it; AskNonce makes its link answer that question only.
	// Answer is the requester's, at AnsweredAt. Question and answer go
	// with the request's address; only the team is shown the answer.
	Question   string
	AskedAt    time.Time
	AskedFrom  Status
	AskNonce   string
	Answer     string
	AnsweredAt time.Time
}

// AnswerTo is where the requester is answered: a parent's own address for
// a request made for a child, else the request's.
func (r RightsRequest) AnswerTo() string {
	if r.ParentEmail != "" {
		return r.ParentEmail
	}
	return r.Email
}

// Own reports whether the request is the person's own and names nobody
// else: no parent, agent or recipient, no correction. Only such requests
// are joined: a stranger's filing naming the person never swallows the
// person's own.
func (r RightsRequest) Own() bool {
	return r.ParentEmail == "" && r.AgentEmail == "" && r.RecipientEmail == "" &&
		r.Relationship != RelationshipParent && r.Relationship != RelationshipAgent && r.Correction == Correction{}
}

// ChangesAddress reports whether the request corrects the person's
// address: their data moves to another key, so the new address confirms
// by its own link first and the old one is told.
func (r RightsRequest) ChangesAddress() bool {
	return r.Type == RightRectification && r.Correction.Field == FieldEmail
}

// AgentTold reports whether the request's agent may be told how it
// stands: an agent named it, and confirmed that address.
func (r RightsRequest) AgentTold() bool { return r.AgentEmail != "" && !r.AgentConfirmedAt.IsZero() }

// Held reports whether mail to the address of role is held for the
// request (MailHeld).
func (r RightsRequest) Held(role string) bool { return slices.Contains(r.MailHeld, role) }

// AnswerRole is the role of the address a request's answers go to
// (AnswerTo): the parent's on a parent's request, else the requester's.
func (r RightsRequest) AnswerRole() string {
	if r.ParentEmail != "" {
		return RoleParent
	}
	return RoleRequester
}

// SourceOpenDSR marks requests sent by a controller through OpenDSR.
const SourceOpenDSR = "opendsr"

// Channels a request reaches the team by other than the site's forms
// (policy: "contact privacy@"): the team enters it (rights.Desk.Enter).
const (
	ChannelEmail    = "email"
	ChannelPhone    = "phone"
	ChannelPost     = "post"
	ChannelInPerson = "in_person"
)

// Channels lists them.
func Channels() []string { return []string{ChannelEmail, ChannelPhone, ChannelPost, ChannelInPerson} }

// Transition is a decision on a request: Step (of Steps) from one of the
// statuses in From (the step's, or fewer) to Status, making an email due. Reason is the denial's, as the requester
// reads it; Extend moves the deadline (the first deadline is kept in
// OriginalDueAt) with ExtensionReason.
type Transition struct {
	Step            Step
	From            []Status
	Status          Status  // "" keeps the status
	MailDue         MailDue // zero makes no email due
	Reason          string
	Extend          time.Time
	ExtensionReason string
	By              string // who decided (an IAM ARN, or "requester")
	// Forget removes what the requester gave (address, name, details,
	// the other parties' addresses) with the step: a denial of a request
	// whose address nobody proved tells no one and keeps nothing of it.
	Forget bool
	// Lifted records that the restriction the request put in place is
	// lifted (lifted_at), which starts its address's last 30 days.
	Lifted bool
	// Ask records the team's question (asked_at, asked_from, ask_nonce).
	Ask Question
	// Answer records the requester's answer to the question whose nonce it
	// names: the transition happens only while that question is the one
	// asked.
	Answer Answer
}

// Question is the team's question to a requester: its text, the status
// the request was in (the answer returns it there) and the nonce its link
// carries.
type Question struct {
	Text  string
	From  Status
	Nonce string
}

// Answer is a requester's answer to the question of Nonce.
type Answer struct {
	Text, Nonce string
}

// Outcome is what fulfilment led to: the request's new status (completed,
// or awaiting_review), the email that says so, whether a legal hold
// withheld data, and, when counted, how many records were found (OpenDSR's
// results_count).
type Outcome struct {
	Status   Status
	MailDue  MailDue
	Withheld bool
	Results  *int
	// Restricts marks a restriction put in place: the request keeps its
	// address until the restriction is lifted.
	Restricts bool
	// Deliveries are the recipients to tell of it (Art. 19), queued with
	// the outcome; while there are any, MailDue is held (MailPending)
	// until each has been tried.
	Deliveries []Delivery
}

// Event is one ledger entry: what happened to a subject, when, why, and
// where the request came from. It never holds an address.
// Its JSON names are the ledger's stored attributes (privacyctl show); the
// subject is the partition it is kept in, not part of what it says.
type Event struct {
	Subject       SubjectID         `json:"-"`
	Name          EventName         `json:"event"`
	At            time.Time         `json:"at"`
	Ref           string            `json:"ref,omitempty"`
	Purpose       string            `json:"purpose,omitempty"`
	LegalBasis    string            `json:"legal_basis,omitempty"`
	PolicyVersion string            `json:"policy_version,omitempty"`
	Detail        map[string]string `json:"detail,omitempty"` // e.g. consent text version, topics, source ip, user agent
}

// PendingSignup is a double opt-in to record: the signup, its subject, the
// address's digest keys, its id, the least time between two confirmation
// emails, and its ledger entry.
type PendingSignup struct {
	Sub      Signup
	Subject  SubjectID
	ID       string
	Cooldown time.Duration
	Event    Event
}

// Hold is a legal hold on a subject's data (HoldLegal): while in force, an
// erasure withholds everything and the sweep deletes nothing of the
// subject. Until, when set, ends it on its own. Reason is the team's, and
// is never told to the requester.
type Hold struct {
	Subject  SubjectID
	Reason   string
	PlacedBy string
	PlacedAt time.Time
	Until    time.Time
}

// InForce reports whether the hold still protects the data at now.
func (h Hold) InForce(now time.Time) bool { return h.Until.IsZero() || now.Before(h.Until) }

// AddressChangeWait is how long after a correction's new address confirmed
// it (and the old address was told, with the link that stops it) the team
// may apply it, by default: the old address's holder has that long to
// read the notice.
const AddressChangeWait = 72 * time.Hour

// Review is why a verified request waits for the team instead of being
// carried out at once.
type Review string

// Reviews of a verified request.
const (
	// ReviewNone: fulfilment follows verification.
	ReviewNone Review = ""
	// ReviewExcessive: possibly excessive (policy §8); pending, flagged,
	// until the team approves or denies it.
	ReviewExcessive Review = "excessive"
	// ReviewProof: a parent's or guardian's request, whose address is now
	// confirmed; awaiting_review until the team accepts the proof that
	// they are the parent (approve) or denies it. Nothing of the child's
	// changes before.
	ReviewProof Review = "proof"
)

// TeamSubject is the ledger partition of the privacy team's actions that
// concern no one person (a controller's credentials issued, a processor
// registered): who took each, when, on what. No person's subject is a
// word (they are hex digests), so it is nobody's partition.
const TeamSubject SubjectID = "team"

// OwnOptOut reports whether a filing of type t by relationship rel is the
// person's own opt-out of the sale and sharing of their data: answered at
// once, and its request_received entry written with its opt-out (an
// agent's waits for the person, as every request an agent files).
func OwnOptOut(t Right, rel Relationship) bool {
	return t == RightOptOutOfSale && rel != RelationshipAgent
}

// ReceivedFromStream reports whether r's request_received ledger entry is
// written from r's stream record (the mailer, RequestReceived) and not
// with r: a request the site's form filed with a subject. A controller's
// (OpenDSR) request has no entry, one the team entered has its
// request_entered, and the person's own opt-out of sale has its entry
// written with its opt-out (OwnOptOut).
func (r RightsRequest) ReceivedFromStream() bool {
	return r.Source == "" && r.Channel == "" && r.Subject != "" && !OwnOptOut(r.Type, r.Relationship)
}

// RequestReceived is the request_received ledger event of r, a request
// the site's form filed (ReceivedFromStream), rebuilt from the request as
// stored: its time, id, legal basis (a legal obligation) and the policy
// version it was filed under; a detail of its type and regulation, its
// relationship, and those it names (recipient, agent, parent) as keyed
// hashes (h), never an address. The filer's network address and browser
// are not in it: the request item does not carry them.
//
// A request that no longer carries its address (the expiry of an
// unverified request, the strip after its last email, or an erasure took
// it before its entry was written: a replayed record) gives an entry
// without a detail: nothing those removed, nor anything of what an
// erasure redacts from the person's entries, is written back.
func RequestReceived(r RightsRequest, h *Hasher) Event {
	e := Event{Subject: r.Subject, Name: EventRequestReceived, At: r.ReceivedAt, Ref: r.ID,
		LegalBasis: BasisLegalObligation, PolicyVersion: r.ReceivedPolicyVersion}
	if r.Email == "" {
		return e
	}
	e.Detail = map[string]string{"type": string(r.Type), "regulation": r.Regulation}
	for k, addr := range map[string]string{"recipient_hash": r.RecipientEmail, "agent_hash": r.AgentEmail, "parent_hash": r.ParentEmail} {
		if addr != "" {
			e.Detail[k] = string(h.Subject(addr))
		}
	}
	if r.Relationship != "" {
		e.Detail["relationship"] = string(r.Relationship)
	}
	return e
}
