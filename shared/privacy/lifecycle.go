package privacy

import (
	"slices"
	"time"
)

// Status is where a rights request stands, as stored in its "status"
// (docs/api.md).
type Status string

// Request statuses.
const (
	RequestIdentityUnverified Status = "identity_unverified"
	RequestRedirected         Status = "redirected"
	RequestPending            Status = "pending"
	RequestInProgress         Status = "in_progress"
	RequestAwaitingReview     Status = "awaiting_review"
	// RequestWaitingForInformation: the team asked the requester for more
	// (policy §8, "we may contact you for further information"); the
	// answer, by its link, returns the request to the status it was asked
	// in. Under the GDPR the clock does not stop meanwhile: the due date
	// stays (Art. 12(3) counts "one month of receipt of the request" and
	// provides for no pause; text at gdprhub.eu, Article_12_GDPR).
	RequestWaitingForInformation Status = "waiting_for_information"
	RequestCompleted             Status = "completed"
	RequestDenied                Status = "denied"
	RequestCancelled             Status = "cancelled"
	RequestExpired               Status = "expired"
)

// Statuses lists every status, open ones first.
func Statuses() []Status {
	return append(OpenStatuses(), RequestCompleted, RequestDenied, RequestCancelled, RequestExpired, RequestRedirected)
}

// The groups of request statuses, each defined once: the desk, the
// deadline watch, the console, the report and the policy notices all read
// these.

// TeamStatuses are the open requests the team is to act on: verified,
// and not waiting on the requester.
func TeamStatuses() []Status {
	return []Status{RequestPending, RequestInProgress, RequestAwaitingReview}
}

// WaitingStatuses are the open requests waiting on the requester: to
// verify the address, or to answer the team's question.
func WaitingStatuses() []Status {
	return []Status{RequestIdentityUnverified, RequestWaitingForInformation}
}

// OpenStatuses are the requests still to be answered: the team's and
// those waiting on the requester.
func OpenStatuses() []Status { return append(TeamStatuses(), WaitingStatuses()...) }

// VerifiedOpenStatuses are the open requests whose address is proven:
// the only ones whose requester may be told anything the team or the
// policy writes (an unverified request's address may be a stranger's),
// and the only ones whose deadline can be missed (Overdue).
func VerifiedOpenStatuses() []Status {
	return append(TeamStatuses(), RequestWaitingForInformation)
}

// Open reports whether a request in s is still to be answered.
func (s Status) Open() bool { return slices.Contains(OpenStatuses(), s) }

// Waiting reports whether a request in s waits on its requester.
func (s Status) Waiting() bool { return slices.Contains(WaitingStatuses(), s) }

// Overdue reports whether r has missed its deadline at now: open, its
// address proven, and past its due date. A request waiting on the team's
// question is overdue past its date (the GDPR's clock runs meanwhile); one
// whose requester has not verified the address is not: the policy answers
// "legitimate requests" (§8), nobody can act on it before, and it expires
// unverified after 14 days (retention class unverified_rights_request). A
// parent's request (due in ParentDays) is the one such request that can
// pass its date unverified.
func Overdue(r RightsRequest, now time.Time) bool {
	return !r.DueAt.IsZero() && slices.Contains(VerifiedOpenStatuses(), r.Status) && now.After(r.DueAt)
}

// Step is a change of a request's status, as the desk, the requester's
// links, the fulfilment, the controllers and the sweep make it.
type Step string

// The steps of the lifecycle (Steps says from where each goes where).
const (
	StepVerify   Step = "verify"   // the requester's link proves the address
	StepClaim    Step = "claim"    // fulfilment starts (a worker, the team's approval of a correction or an upheld objection)
	StepFulfil   Step = "fulfil"   // fulfilment's outcome (Outcome)
	StepComplete Step = "complete" // the team closes what it carried out
	StepDeny     Step = "deny"     // the team refuses an open request
	StepExtend   Step = "extend"   // the team moves the deadline
	StepAsk      Step = "ask"      // the team asks the requester for more
	StepAnswer   Step = "answer"   // the requester's answer returns the request to where it was asked
	StepStop     Step = "stop"     // the old address stops a correction of the address
	StepCancel   Step = "cancel"   // a controller cancels its OpenDSR request in its window
	StepLift     Step = "lift"     // the team lifts a restriction the request put in place
	StepExpire   Step = "expire"   // the sweep ends an unverified request
)

// Move is one row of the lifecycle: a step goes from any of From to any
// of To; a step with no To keeps the status.
type Move struct {
	Step Step
	From []Status
	To   []Status
}

// Steps is the lifecycle as one table: every change of status the system
// makes. The request store refuses a transition it does not hold, and
// writes each with a condition on the statuses it starts from; the desk
// offers an action only from where its step starts. A request is created
// identity_unverified (the site's forms), pending (a controller's, or one
// the team entered), completed (an opt-out of sale, recorded at once) or
// redirected (a platform end user's, never stored).
func Steps() []Move {
	team := TeamStatuses()
	return []Move{
		{StepVerify, []Status{RequestIdentityUnverified}, []Status{RequestPending, RequestAwaitingReview}},
		{StepClaim, team, []Status{RequestInProgress}},
		{StepFulfil, team, []Status{RequestCompleted, RequestAwaitingReview}},
		{StepComplete, []Status{RequestInProgress, RequestAwaitingReview}, []Status{RequestCompleted}},
		{StepDeny, OpenStatuses(), []Status{RequestDenied}},
		// An extension is emailed to the requester: never to an address
		// nobody proved (an unverified request is on no clock: Overdue).
		{StepExtend, VerifiedOpenStatuses(), nil},
		{StepAsk, team, []Status{RequestWaitingForInformation}},
		{StepAnswer, []Status{RequestWaitingForInformation}, team},
		{StepStop, []Status{RequestAwaitingReview, RequestWaitingForInformation}, []Status{RequestCancelled}},
		{StepCancel, []Status{RequestPending}, []Status{RequestCancelled}},
		{StepLift, []Status{RequestCompleted}, nil},
		{StepExpire, []Status{RequestIdentityUnverified}, []Status{RequestExpired}},
	}
}

// move is step's row of Steps (zero for an unknown step).
func (s Step) move() Move {
	for _, m := range Steps() {
		if m.Step == s {
			return m
		}
	}
	return Move{}
}

// From are the statuses step starts from (none for an unknown step).
func (s Step) From() []Status { return s.move().From }

// Allowed reports whether step goes from one status to another; to ""
// keeps the status.
func (s Step) Allowed(from, to Status) bool {
	m := s.move()
	if !slices.Contains(m.From, from) {
		return false
	}
	if len(m.To) == 0 {
		return to == ""
	}
	return slices.Contains(m.To, to)
}

// Finishes reports whether a request that reaches s is answered for good
// (completed_at is set, and its address has its last 30 days).
func (s Status) Finishes() bool {
	return s == RequestCompleted || s == RequestDenied || s == RequestCancelled
}

// EventName names a ledger entry (Event), as stored in its "event".
type EventName string

// The ledger entries of a rights request's lifecycle. (Entries of
// subscriptions, forms and the team's other actions are named where they
// are written.)
const (
	EventRequestReceived         EventName = "request_received"
	EventRequestEntered          EventName = "request_entered"
	EventRequestVerified         EventName = "request_verified"
	EventReviewRequested         EventName = "review_requested"
	EventRequestDenied           EventName = "request_denied"
	EventDeadlineExtended        EventName = "deadline_extended"
	EventInformationRequested    EventName = "information_requested"
	EventInformationProvided     EventName = "information_provided"
	EventRectificationApproved   EventName = "rectification_approved"
	EventRectificationApplied    EventName = "rectification_applied"
	EventRectificationDone       EventName = "rectification_done"
	EventNewAddressConfirmed     EventName = "new_address_confirmed"
	EventCorrectionStopped       EventName = "correction_stopped"
	EventRestricted              EventName = "restricted"
	EventRestrictionLifted       EventName = "restriction_lifted"
	EventRestrictionLiftNotified EventName = "restriction_lift_notified"
	EventObjectionUpheld         EventName = "objection_upheld"
	EventObjectionUpheldErased   EventName = "objection_upheld_erased"
	EventErased                  EventName = "erased"
	EventRequestCancelled        EventName = "request_cancelled"
)

// Done names the entry of a request of type r carried out
// ("access_done", ...).
func Done(r Right) EventName { return EventName(string(r) + "_done") }
