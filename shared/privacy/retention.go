package privacy

import "time"

// Period is how long one class of record is kept.
type Period struct {
	Days int
	// Why names the policy sentence the period serves.
	Why string
}

// From returns the end of the period that starts at t.
func (p Period) From(t time.Time) time.Time {
	return t.AddDate(0, 0, p.Days).UTC()
}

// Retention is the retention policy as data: every write sets its TTL from
// here, so DynamoDB TTL and the scheduled sweep never disagree.
var Retention = struct {
	Inquiry     Period
	RequestMeta Period
	MailMarker  Period
	Ledger      Period
	// PendingSignup: a signup never confirmed is deleted.
	PendingSignup Period
	// Unsubscribed: the subscriber record after unsubscribing (the
	// suppression hash stays).
	Unsubscribed Period
	// RateCounter: abuse counters (they hold a keyed hash, no address).
	RateCounter Period
}{
	Inquiry: Period{Days: 730,
		Why: "§7: kept only as long as needed to answer and follow up an inquiry (24 months after last activity)"},
	RequestMeta: Period{Days: 90,
		Why: "§3: pseudonymous data (IP address, browser, referrer) kept for a shorter time than the record it came with"},
	MailMarker: Period{Days: 7,
		Why: "operational: a sent-marker must outlive stream retries (24 h), nothing more"},
	PendingSignup: Period{Days: 30,
		Why: "§7: a signup that is never confirmed gives us no reason to keep the address"},
	Unsubscribed: Period{Days: 30,
		Why: "§4 and §7: after an opt-out we keep only what stops us mailing again (the suppression hash)"},
	RateCounter: Period{Days: 2,
		Why: "operational: abuse counters live one day plus slack"},
	Ledger: Period{Days: 3 * 365,
		Why: "§7 and accountability: evidence of consent and processing kept 3 years, with no address"},
}
