package privacy

import (
	"slices"
	"strings"
	"time"
)

// The retention policy as data. Reviewed with the privacy team: every class
// of record, how long it is kept, from which moment (its clock), and what
// happens then (delete it, or strip named attributes). Writes set each
// item's TTL attribute from here, and the scheduled sweep enforces the same
// table on time, so TTL and sweep never disagree.

// Action is what happens to a record when its period ends.
type Action string

// Actions.
const (
	Delete Action = "delete"
	Strip  Action = "strip"
	// EndSubscription ends the newsletter subscription a suppression
	// leaves without a purpose (class SuppressedSubscription): the
	// suppression itself is kept (it is what keeps the address unmailed)
	// and marked checked (AttrSubscriptionChecked).
	EndSubscription Action = "end_subscription"
)

// Table names a table of the template by role.
type Table string

// Tables.
const (
	TableSubjects Table = "subjects"
	TableLedger   Table = "ledger"
	TableRequests Table = "requests"
	// TablePlatformRequests holds the Platform's (OpenDSR) requests.
	TablePlatformRequests Table = "platform_requests"
	TableOps              Table = "ops"
	// TableSuppression holds the suppressions (pk the subject's, sk the
	// reason): swept only to end the subscriptions they leave without a
	// purpose, never deleted by the sweep.
	TableSuppression Table = "suppression"
)

// ClockExpiry as a class's clock means the item's own expires_at (epoch
// seconds) is the end of its period; Days then only says how far ahead a
// writer sets it.
const ClockExpiry = "expires_at"

// Class is one class of record.
type Class struct {
	Name  string
	Table Table
	// Kind and Status select the items of the class ("" matches any).
	// Kind is the item's "kind" attribute; for the ledger and ops tables,
	// whose items have none, the class selects by Has.
	Kind, Status string
	// SortKeys, when set, selects only items whose sort key is one of
	// them (a suppression's reason: its items have no kind).
	SortKeys []string
	// KeyPrefix, when set, is the prefix the partition key of every item
	// of the class has (a suppression's S#<subject>): an item otherwise of
	// the class under another key is not acted on but Unreadable (counted,
	// looked at again a day later).
	KeyPrefix string
	// Stamped: the Clock is the sweep's own stamp, never written by
	// anyone else. An item of the class without it is due at once (the
	// sweep's first sight of it), and the action stamps it with the
	// sweep's now and files it due From(that): the period runs from a time
	// no other writer of the table can set back.
	Stamped bool
	// Has, when set, selects only items that carry this attribute (a
	// path "a.b" reaches into a map); Unless, when set, skips items that
	// carry that one. A class that strips must no longer apply to what it
	// leaves, or the sweep would strip it on every run.
	Has, Unless string
	// Clock is the attribute that starts the period: an RFC 3339 time, or
	// epoch seconds (for expires_at).
	Clock  string
	Days   int
	Action Action
	// Remove lists the attributes a Strip action removes (paths like
	// "detail.source_ip" reach into a map).
	Remove []string
	// Set names attributes a Strip action sets, with their values (a
	// request that expires becomes status "expired").
	Set map[string]string
	// Why quotes the promise of the privacy policy the class keeps.
	Why string
	// TTLOnly leaves the class to DynamoDB TTL alone: items written on
	// every submission or email that hold no address (abuse counters, sent
	// markers, the ledger's entries once without request metadata), whose
	// deletion within TTL's lag (typically days) keeps every promise. They
	// are not filed in the retention index (a write each, on the busiest
	// paths), so the sweep does not see them; TTL deletes them.
	TTLOnly bool
}

// From returns the end of the period that starts at t.
func (c Class) From(t time.Time) time.Time {
	return t.AddDate(0, 0, c.Days).UTC()
}

// End is when the class's period for item ends, and false when the class
// does not apply to it (another table, kind or status; the attribute it
// strips or requires absent, the one it excludes present; no clock).
func (c Class) End(table Table, item Item) (time.Time, bool) {
	if !c.applies(table, item) {
		return time.Time{}, false
	}
	if c.Stamped && !item.Has(c.Clock) {
		return time.Unix(0, 0).UTC(), true // first sight: due at once, to be stamped
	}
	clock, ok := item.Time(c.Clock)
	if !ok {
		return time.Time{}, false
	}
	if c.Clock == ClockExpiry {
		return clock, true
	}
	return c.From(clock), true
}

// applies reports whether item is of the class, its clock aside.
func (c Class) applies(table Table, item Item) bool {
	return c.selects(table, item) && c.keyed(item)
}

// keyed reports whether item's partition key is the class's kind of key.
func (c Class) keyed(item Item) bool {
	return c.KeyPrefix == "" || (strings.HasPrefix(item.String("pk"), c.KeyPrefix) && len(item.String("pk")) > len(c.KeyPrefix))
}

// selects reports whether item is of the class, its clock and its key
// aside.
func (c Class) selects(table Table, item Item) bool {
	return c.Table == table && (c.Kind == "" || item.String("kind") == c.Kind) &&
		(len(c.SortKeys) == 0 || slices.Contains(c.SortKeys, item.String("sk"))) &&
		(c.Status == "" || item.String("status") == c.Status) &&
		(c.Has == "" || item.Has(c.Has)) && (c.Unless == "" || !item.Has(c.Unless))
}

// Unreadable reports whether item is of the class but carries a clock
// that cannot be read (a corrupt or unknown time format): the class can
// neither be judged nor forgotten. An item the class selects under a key
// not of its kind (KeyPrefix) is unreadable too: it is not acted on,
// whatever it says.
func (c Class) Unreadable(table Table, item Item) bool {
	if c.selects(table, item) && !c.keyed(item) {
		return true
	}
	if !c.applies(table, item) || !item.Has(c.Clock) {
		return false
	}
	_, ok := item.Time(c.Clock)
	return !ok
}

// NextDue is the earliest end of a period among classes for item: when a
// sweep has something to do with it next (its due time in the retention
// index). False when no class the sweep enforces (none but TTLOnly ones)
// applies to it.
func NextDue(classes []Class, table Table, item Item) (time.Time, bool) {
	var next time.Time
	found := false
	for _, c := range classes {
		if end, ok := c.End(table, item); ok && !c.TTLOnly && (!found || end.Before(next)) {
			next, found = end, true
		}
	}
	return next, found
}

// NamedClasses names the retention classes the code writes by.
type NamedClasses struct {
	Inquiry, RequestMeta, LedgerRequestMeta, PendingSignup, Unsubscribed, Ledger,
	UnverifiedRequest, ExpiredRequest, FinishedRequestAddress, LiftedRestrictionAddress, CompletedRequest, CompletedPlatformRequest, RecipientDelivery, ClientTermination, MailMarker, RateCounter, CallbackCursor,
	PolicyNotice, CampaignRecord, MovedForward, ConsentProof, SuppressedSubscription Class
}

// Retention returns the classes the code writes by.
func Retention() NamedClasses { return retention }

var retention = NamedClasses{
	Inquiry: Class{Name: "contact_inquiry", Table: TableSubjects, Kind: "inquiry", Clock: "last_activity_at",
		Days: 730, Action: Delete,
		Why: "§7 'we will only retain your personal data for as long as necessary to fulfil the purposes we collected it for': an inquiry is kept 24 months after its last activity"},
	RequestMeta: Class{Name: "request_metadata", Table: TableSubjects, Kind: "inquiry", Has: "meta", Clock: "created_at",
		Days: 90, Action: Strip, Remove: []string{"meta", "meta_expires_at"},
		Why: "§3 IP address, browser and referrer are pseudonymous personal data: stripped after 90 days, long before the record they came with"},
	LedgerRequestMeta: Class{Name: "ledger_request_metadata", Table: TableLedger, Has: "detail.source_ip", Clock: "at",
		Days: 90, Action: Strip, Remove: []string{"detail.source_ip", "detail.user_agent"},
		Why: "§3 as above: the proof of consent keeps its time and versions; the IP and user agent go after 90 days"},
	PendingSignup: Class{Name: "unconfirmed_signup", Table: TableSubjects, Kind: "subscription", Status: "pending",
		Clock: "confirm_requested_at", Days: 30, Action: Delete,
		Why: "§7: an address that never confirmed a signup gives us no purpose to keep it"},
	Unsubscribed: Class{Name: "unsubscribed_subscriber", Table: TableSubjects, Kind: "subscription", Status: "unsubscribed",
		Clock: "unsubscribed_at", Days: 30, Action: Delete,
		Why: "§4 opt-out and §7: 30 days after unsubscribing the record goes; only the suppression hash stays"},
	UnverifiedRequest: Class{Name: "unverified_rights_request", Table: TableRequests, Status: string(RequestIdentityUnverified),
		Clock: "received_at", Days: 14, Action: Strip, Remove: []string{"email", "name", "details", "recipient_email", "correction_value", "parent_email", "agent_email", "question", "answer", "verify_nonce", "mail_due"},
		Set: map[string]string{"status": string(RequestExpired)},
		Why: "§8 identity checks: a request never verified in 14 days expires (status expired) and its address is deleted"},
	ExpiredRequest: Class{Name: "expired_rights_request", Table: TableRequests, Status: string(RequestExpired),
		Clock: "received_at", Days: 365, Action: Delete,
		Why: "accountability: an expired request, already without its address, is kept a year to show it was received"},
	FinishedRequestAddress: Class{Name: "finished_rights_request_address", Table: TableRequests, Has: "email",
		Unless: AttrRestricts, Clock: "completed_at", Days: 30, Action: Strip, Remove: []string{"email", "name", "details", "recipient_email", "correction_value", "parent_email", "agent_email", "question", "answer"},
		Why: "§7 and §8: a finished request keeps no address once its last email has gone (the mailer strips it then); this catches one whose email never went, 30 days after completion"},
	LiftedRestrictionAddress: Class{Name: "lifted_restriction_address", Table: TableRequests, Has: "email",
		Clock: "lifted_at", Days: 30, Action: Strip, Remove: []string{"email", "name", "details", "recipient_email", "correction_value", "parent_email", "agent_email", "question", "answer"},
		Why: "§8 restriction: the requester's address is kept while the restriction is in force (the lift must be announced to them), and goes 30 days after the lift at the latest"},
	CompletedRequest: Class{Name: "completed_rights_request", Table: TableRequests, Has: "completed_at",
		Clock: "completed_at", Days: 3 * 365, Action: Delete,
		Why: "accountability: a completed request is kept 3 years, without its address, to show it was answered"},
	// A Platform request is written by the same code as a rights request
	// (and filed by CompletedRequest's clock), in a table of its own.
	CompletedPlatformRequest: Class{Name: "completed_platform_request", Table: TablePlatformRequests, Has: "completed_at",
		Clock: "completed_at", Days: 3 * 365, Action: Delete,
		Why: "accountability: a client's request (OpenDSR), once completed or cancelled, is kept 3 years, with its identities as keys only, to show it was answered"},
	RecipientDelivery: Class{Name: "recipient_delivery", Table: TableRequests, Kind: "recipient_delivery",
		Clock: "updated_at", Days: 3 * 365, Action: Delete,
		Why: "accountability (GDPR Art. 19): the record that a processor was told of an erasure, and its answer, is kept 3 years like the request; it names the person only until the processor has accepted it"},
	ClientTermination: Class{Name: "client_termination", Table: TableSubjects, Has: "client_terminated_at",
		Clock: "client_terminated_at", Days: 365, Action: Delete,
		Why: "§7 'client data ... deleted within 12 months of termination upon written request': the clock is set by the operator command"},
	ConsentProof: Class{Name: "consent_proof", Table: TableSubjects, Kind: KindConsentProof, Clock: "withdrawn_at",
		Days: ConsentProofDays, Action: Delete,
		Why: "GDPR Art. 7(1) (the controller must be able to demonstrate that the person consented) and §7: the proof of a newsletter consent " +
			"(the sentence shown, on which form and in which language, when, and its confirmation; no address, no IP) is kept as long as " +
			"the consent is relied on, and 3 years after it is withdrawn, to answer a claim about mail sent under it; the period runs from the withdrawal"},
	// A hard bounce (or soft bounces past the limit) or a complaint
	// suppresses the address at once; the subscription it leaves without
	// a purpose (never mailed again) is ended by the sweep after a short
	// grace (SuppressedSubscriptionGraceDays), then goes as an
	// unsubscribed one (Unsubscribed). The grace runs from the sweep's own
	// first sight of the suppression (AttrGraceFrom, Stamped), never from
	// its since, which the function the internet reaches writes. Only a
	// suppression under its subject's key (S#<subject>, KeyPrefix) is
	// acted on. The suppression stays (it keeps the address unmailed),
	// marked checked: Unless.
	SuppressedSubscription: Class{Name: "suppressed_subscription", Table: TableSuppression,
		SortKeys: []string{SuppressBounced, SuppressComplained}, KeyPrefix: "S#", Unless: AttrSubscriptionChecked,
		Clock: AttrGraceFrom, Stamped: true, Days: SuppressedSubscriptionGraceDays, Action: EndSubscription,
		Why: "§7: an address that bounces for good or whose owner reported our email as spam is never mailed again; " +
			"its newsletter subscription, left without a purpose, is ended a week after (the team may lift a mistaken suppression " +
			"meanwhile) and deleted 30 days later as an unsubscribed one; only the suppression hash stays"},
	Ledger: Class{Name: "ledger_entry", Table: TableLedger, Clock: "at", Days: 3 * 365, Action: Delete, TTLOnly: true,
		Why: "accountability: evidence of consent and processing is kept 3 years, with no address"},
	MailMarker: Class{Name: "sent_marker", Table: TableOps, Has: "state", Clock: ClockExpiry, Days: 7, Action: Delete, TTLOnly: true,
		Why: "operational: a sent-marker must outlive stream retries (24 h), nothing more"},
	RateCounter: Class{Name: "rate_counter", Table: TableOps, Has: "uses", Clock: ClockExpiry, Days: 2, Action: Delete, TTLOnly: true,
		Why: "operational: abuse counters live one day plus slack"},
	PolicyNotice: Class{Name: "policy_notice", Table: TableSubjects, Kind: "policy_notice", Clock: "created_at", Days: 30, Action: Delete,
		Why: "§9: a policy change's notice to one person (their address and the version) is kept 30 days after it is made, long enough to send it"},
	CampaignRecord: Class{Name: "campaign_record", Table: TableOps, Has: "campaign", Clock: ClockExpiry, Days: 30, Action: Delete,
		Why: "operational: a campaign's content, progress and each batch's counts (no one's data), kept 30 days for its status and so a rerun queues nothing"},
	MovedForward: Class{Name: "moved_address_forward", Table: TableSubjects, Kind: KindMovedForward, Clock: "moved_at", Days: 400, Action: Delete,
		Why: "§4 'an opt-out in every email': the links of emails sent before a person's address was corrected (unsubscribe and preferences, valid 400 days) reach their data at its new key through this pointer (two keyed hashes, no address), kept as long as those links work"},
	CallbackCursor: Class{Name: "callback_delivery", Table: TableOps, Has: "callback_url", Clock: ClockExpiry, Days: 30, Action: Delete,
		Why: "operational: an OpenDSR callback's delivery state (a request id and the controller's URL, no one's data), kept 30 days after its last status"},
}

// RetentionClasses lists every retention class, in the order the sweep
// applies them: strips before deletes of the same table, so an item due for
// both is deleted.
func RetentionClasses() []Class {
	r := retention
	return []Class{r.RequestMeta, r.LedgerRequestMeta, r.Inquiry, r.PendingSignup, r.Unsubscribed,
		r.ClientTermination, r.UnverifiedRequest, r.ExpiredRequest, r.FinishedRequestAddress, r.LiftedRestrictionAddress,
		r.CompletedRequest, r.CompletedPlatformRequest, r.RecipientDelivery, r.Ledger, r.MailMarker, r.RateCounter,
		r.CallbackCursor, r.PolicyNotice, r.CampaignRecord, r.MovedForward, r.ConsentProof, r.SuppressedSubscription}
}

// SuppressedSubscriptionGraceDays is how long a subscription a bounce or
// a complaint suppressed is kept before the sweep ends it: the address is
// mailed no more from the first moment, and a week lets the team lift a
// suppression made in error (a bounce misreported as permanent: the
// person asks why the newsletter stopped) or approve a correction of the
// dead address pending its review (the subscription then moves to the
// new address, and the old one's bounce ends nothing), either of which,
// once the subscription ended, only a new signup undoes.
const SuppressedSubscriptionGraceDays = 7

// AttrGraceFrom is the sweep's own stamp on a bounce or a complaint: when
// it first read the suppression, and so when the grace before the
// subscription's end began. Only the sweep writes it (no internet-facing
// function's grant names it).
const AttrGraceFrom = "grace_from"

// AttrSubscriptionChecked marks a suppression whose subscription the
// sweep has ended (or found none to end): the suppression is kept, and
// out of the class SuppressedSubscription.
const AttrSubscriptionChecked = "subscription_checked_at"

// SubscriptionEnding is what the sweep does with a suppression of the
// class SuppressedSubscription, due.
type SubscriptionEnding int

// Endings.
const (
	// EndingNone: nothing to end (no confirmed subscription under the
	// suppression's key, or a suppression that ends none); the suppression
	// is marked checked.
	EndingNone SubscriptionEnding = iota
	// EndingEnd: the confirmed subscription is ended, as an unsubscribe
	// ends it but with no receipt, and the suppression marked checked.
	EndingEnd
	// EndingStamped: the sweep's first sight of the suppression: stamped
	// (AttrGraceFrom) and filed due when the grace from the stamp ends.
	EndingStamped
	// EndingKept: the subscription was confirmed after the suppression's
	// since: a consent given after the bounce or the complaint (whose
	// double opt-in proves the address takes mail) is not withdrawn on
	// it. The suppression is marked checked and stays in force (the
	// address is still not mailed) for the team to lift.
	EndingKept
)

// EndingOf decides what a due suppression (its reason, whether it was
// lifted, its since) does to the subscription held under the same key
// (its status, "" for none, and when it was confirmed, zero if unknown):
// only a bounce or a complaint in force ends one, only one confirmed, and
// only one confirmed no later than the suppression. A subscription that
// moved to a corrected address is no longer under the bounced address's
// key, so a bounce of the old address never reaches it.
func EndingOf(reason string, lifted bool, status string, confirmedAt, since time.Time) SubscriptionEnding {
	if lifted || (reason != SuppressBounced && reason != SuppressComplained) || status != StatusConfirmed {
		return EndingNone
	}
	if confirmedAt.After(since) {
		return EndingKept
	}
	return EndingEnd
}

// KindConsentProof is the item, in a subject's partition, that proves one
// confirmed consent (its sort key names the signup); it outlives the
// ledger's 3 years while the consent lasts (ConsentProof).
const KindConsentProof = "consent_proof"

// ConsentProofDays is how long the proof of a consent is kept after its
// withdrawal.
const ConsentProofDays = 3 * 365

// KindMovedForward is the item a correction of an address leaves under the
// person's old key: the key their data moved to ("to").
const KindMovedForward = "moved"

// AttrRestricts marks a restriction request whose restriction was put in
// place: it keeps the requester's address until the restriction is lifted
// (lifted_at) and the requester told.
const AttrRestricts = "restricts"

// Holds. An item with sort key HoldLegal or HoldRestriction in a subject's
// partition of the subjects table protects the subject's data: the sweep
// deletes none of it, an erasure is withheld under a legal hold. Hold items
// carry list_pk HoldsList, which puts them in the sparse by-list index, so
// they can be loaded with one query.
const (
	HoldPrefix      = "HOLD#"
	HoldLegal       = HoldPrefix + "LEGAL"
	HoldRestriction = HoldPrefix + "RESTRICTION"
	HoldsList       = "holds"
)

// Protector is the subject whose legal hold or restriction protects item
// of table t from the sweep: the subject whose data it is, outside the ops
// table (whose items are the system's: counters, markers, cursors).
func Protector(t Table, item Item) (SubjectID, bool) {
	if t == TableOps {
		return "", false
	}
	return item.Subject()
}

// ControllerTerminationDays is how long the records a controller handed
// this system (the processor role) outlive the controller's termination:
// §7 "delete Client's information within 12 months of termination".
const ControllerTerminationDays = 365

// ControllerRetention is when a controller's records are due for
// deletion: those last written before Before, or, once All, every one.
// The controller decides its retention (retention_days, 0 for none set:
// kept until the controller erases them or is terminated); termination
// starts the 12-month clock for everything it handed over.
type ControllerRetention struct {
	Before time.Time
	All    bool
}

// ControllerDue returns a controller's retention at now.
func ControllerDue(retentionDays int, terminatedAt, now time.Time) ControllerRetention {
	if !terminatedAt.IsZero() && !now.Before(terminatedAt.AddDate(0, 0, ControllerTerminationDays)) {
		return ControllerRetention{All: true}
	}
	if retentionDays > 0 {
		return ControllerRetention{Before: now.AddDate(0, 0, -retentionDays)}
	}
	return ControllerRetention{}
}

// Item is a stored item as the retention policy judges it: by its kind,
// status, the attributes it carries and its clocks.
type Item interface {
	// String is a string attribute, or "".
	String(name string) string
	// Has reports whether the item carries the attribute.
	Has(name string) bool
	// Time reads a clock: an RFC 3339 string or epoch seconds.
	Time(name string) (time.Time, bool)
	// Subject is the subject whose data the item is, when it is one's.
	Subject() (SubjectID, bool)
}

// SweepRun is the evidence of one retention sweep, kept in the ledger:
// what it deleted, stripped and found protected, by class.
type SweepRun struct {
	RunID    string
	At       time.Time
	Counts   map[string]map[string]int
	Complete bool
	Resumed  bool
	// Scanned counts the items read, IndexEntries the retention index
	// entries they were found by.
	Scanned, IndexEntries int
	Duration              time.Duration
}
