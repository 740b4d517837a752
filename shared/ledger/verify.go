package ledger

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/receipt"
)

// What a finding is.
const (
	Changed      = "changed"       // an entry's content or hash is not what was sealed
	Inserted     = "inserted"      // an entry no seal knows, on a sealed day, or with no hash
	Deleted      = "deleted"       // a sealed entry gone before its expiry
	BadSignature = "bad signature" // a day's root does not verify against the published keys
	BadLeaves    = "bad leaves"    // a day's kept leaves do not make its signed root
	Unsealed     = "unsealed"      // a day between two sealed ones has no root
	BadRedaction = "bad redaction" // a detail removed with no erasure or move in the ledger that names it
	Misdated     = "misdated"      // an entry filed on another day than its time's, and no move's copy or late inquiry
)

// Finding is one thing Verify found wrong.
type Finding struct {
	Kind   string
	Day    string
	PK, SK string // "" for a day's finding
	Why    string
}

func (f Finding) String() string {
	if f.PK == "" {
		return fmt.Sprintf("%s: day %s: %s", f.Kind, f.Day, f.Why)
	}
	return fmt.Sprintf("%s: day %s entry %s %s: %s", f.Kind, f.Day, f.PK, f.SK, f.Why)
}

// Report is what Verify read and found.
type Report struct {
	Entries, Days, Sealed int
	Findings              []Finding
}

// EventMoved is the event of the entry a correction of an address leaves
// in the person's old partition, its ref the correction's request id: like
// an erasure's "erased" entry, it accepts the redactions naming that
// request of the entries before it in the same partition.
const EventMoved = "moved"

// redacting are the events (typed, as Entry.Attrs holds them) whose entry
// may name a redaction.
func redacting() []string { return []string{"S:erased", "S:" + EventMoved} }

// Verify recomputes every entry's hash and every sealed day's root from
// day from on (every day when ""), at now, and names each entry changed,
// inserted or deleted, each root whose signature fails against keys
// (the published receipt keys), each day missing between two sealed
// ones, and each redaction no erasure or move names. The days after the last
// sealed one are checked entry by entry (their seal is still to come).
func Verify(entries []Entry, sealed []Sealed, keys []receipt.JWK, from string, now time.Time) Report {
	var r Report
	byDay := map[string][]Entry{}
	// The entries that may redact: an erasure's, and a correction's move
	// of the address (its history copied to the new key, the old redacted).
	erasures := map[[2]string]string{} // pk, request id -> the erasure's or move's time
	for _, e := range entries {
		if slices.Contains(redacting(), e.Attrs["event"]) {
			erasures[[2]string{e.PK, e.Attrs["ref"]}] = e.Attrs["at"]
		}
	}
	copied := movedOriginals(entries)
	for _, e := range entries {
		if e.Day < from {
			continue
		}
		if why := misdated(e, copied); why != "" {
			r.Findings = append(r.Findings, Finding{Kind: Misdated, Day: e.Day, PK: e.PK, SK: e.SK, Why: why})
		}
		r.Entries++
		byDay[e.Day] = append(byDay[e.Day], e)
		if why := Check(e); why != "" && e.Hash != "" {
			r.Findings = append(r.Findings, Finding{Kind: Changed, Day: e.Day, PK: e.PK, SK: e.SK, Why: why})
		}
		if e.RedactedBy != "" {
			at, ok := erasures[[2]string{e.PK, "S:" + e.RedactedBy}]
			if !ok || at < e.Attrs["at"] {
				r.Findings = append(r.Findings, Finding{Kind: BadRedaction, Day: e.Day, PK: e.PK, SK: e.SK,
					Why: "redacted by " + e.RedactedBy + ", which erased or moved nothing of this person after it"})
			}
		}
	}
	sealedDays := map[string]bool{}
	var lastSealed string
	for _, s := range sealed {
		sealedDays[s.Day] = true
		lastSealed = max(lastSealed, s.Day)
		if s.Day < from {
			continue
		}
		r.Sealed++
		r.Findings = append(r.Findings, checkDay(s, byDay[s.Day], keys, now)...)
	}
	var firstSealed string
	if len(sealed) > 0 {
		firstSealed = slices.MinFunc(sealed, func(a, b Sealed) int { return strings.Compare(a.Day, b.Day) }).Day
		for d := max(firstSealed, from); d < lastSealed; d = next(d) {
			if !sealedDays[d] {
				r.Findings = append(r.Findings, Finding{Kind: Unsealed, Day: d, Why: "no root, between sealed days"})
			}
		}
	}
	for day, es := range byDay {
		r.Days++
		if sealedDays[day] || firstSealed == "" || day < firstSealed {
			continue // a sealed day's were checked against its leaves; older ones predate the seal
		}
		for _, e := range es {
			if e.Hash == "" {
				r.Findings = append(r.Findings, Finding{Kind: Inserted, Day: day, PK: e.PK, SK: e.SK, Why: "no hash, since the ledger is sealed"})
			}
		}
	}
	slices.SortFunc(r.Findings, func(a, b Finding) int {
		return cmp.Or(strings.Compare(a.Day, b.Day), strings.Compare(a.PK, b.PK), strings.Compare(a.SK, b.SK), strings.Compare(a.Kind, b.Kind))
	})
	return r
}

// original is an entry a move may have copied: where it is, what it
// records and when, and the first day a copy of it may be filed on (its
// partition's first move).
type original struct {
	pk, event, at, from string
}

// movedOriginals are, by sort key, the entries of every partition a
// correction moved away from (one holding a "moved" entry): a move
// copies each entry of the old partition (movedLedgerCopy), redacted by
// itself or, before, by an erasure, under the same sort key, time and
// event.
func movedOriginals(entries []Entry) map[string][]original {
	moved := map[string]string{} // pk -> the day of its first move
	for _, e := range entries {
		if e.Attrs["event"] == "S:"+EventMoved {
			day := Day(strings.TrimPrefix(e.Attrs["at"], "S:"))
			if d, ok := moved[e.PK]; !ok || day < d {
				moved[e.PK] = day
			}
		}
	}
	out := map[string][]original{}
	for _, e := range entries {
		if day, ok := moved[e.PK]; ok && e.Attrs["event"] != "S:"+EventMoved {
			out[e.SK] = append(out[e.SK], original{pk: e.PK, event: e.Attrs["event"], at: e.Attrs["at"], from: day})
		}
	}
	return out
}

// StreamEvents are the events the mailer writes from a stream record, on
// the day it writes them (a record retried, or replayed, after its day):
// an inquiry's and a site rights request's receipt, and a change of the
// processors' registry it saw.
func StreamEvents() []string {
	return []string{"inquiry_received", "request_received", "processor_change_observed"}
}

// StreamLateDays is how many days after its time a StreamEvents entry
// may be filed: the stream keeps a record 24 hours and a replay must
// read it there, so a day's record is written by the next day's end.
const StreamLateDays = 2

// misdated says why e is filed on a day it may not be, "" when it is not:
// an entry is filed on the day of its time (so one backdated into a day
// already sealed is inserted there, and one backdated onto today's day
// shows here), but for
//   - a move's copy: filed on or after its old partition's move, under
//     the sort key, time and event of an entry of that partition;
//   - a StreamEvents entry, which the mailer writes from a stream record
//     on the day it writes it: at most StreamLateDays after its time, or
//     later when an erasure or a move redacted it (they write the ones
//     they find missing, then redact them: recordMissingEntries); never
//     before its time.
//
// Entries written before the seal carry no day.
func misdated(e Entry, originals map[string][]original) string {
	at := Day(strings.TrimPrefix(e.Attrs["at"], "S:"))
	switch {
	case e.Day == "" || e.Hash == "" || at == "" || e.Day == at:
		return ""
	case e.Day > at && slices.Contains(StreamEvents(), strings.TrimPrefix(e.Attrs["event"], "S:")) &&
		(e.RedactedBy != "" || e.Day <= addDays(at, StreamLateDays)):
		return ""
	}
	for _, o := range originals[e.SK] {
		if o.pk != e.PK && o.event == e.Attrs["event"] && o.at == e.Attrs["at"] && e.Day >= o.from {
			return ""
		}
	}
	return "filed on day " + e.Day + ", its time is of " + at + ": no move copied it there"
}

// addDays is day n days on ("" for a day that cannot be read).
func addDays(day string, n int) string {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return ""
	}
	return t.AddDate(0, 0, n).Format(time.DateOnly)
}

// checkDay checks one sealed day: its signature, its kept leaves
// against the signed root, and the day's entries against the leaves.
func checkDay(s Sealed, entries []Entry, keys []receipt.JWK, now time.Time) []Finding {
	var out []Finding
	payload, _, err := receipt.VerifyPayload(s.JWS, JWSType, keys)
	var st Statement
	if err == nil {
		err = json.Unmarshal(payload, &st)
	}
	switch {
	case err != nil:
		return append(out, Finding{Kind: BadSignature, Day: s.Day, Why: err.Error()})
	case st.Day != s.Day:
		return append(out, Finding{Kind: BadSignature, Day: s.Day, Why: "the signed root is of day " + st.Day})
	case st.Root != Root(s.Leaves) || st.Leaves != len(s.Leaves):
		// The leaves kept beside the root were changed: the entries can
		// only be checked against the signed root, not one by one.
		return append(out, Finding{Kind: BadLeaves, Day: s.Day,
			Why: fmt.Sprintf("the kept %d leaves do not make the signed root of %d", len(s.Leaves), st.Leaves)})
	}
	held := map[[2]string]Entry{}
	for _, e := range entries {
		held[[2]string{e.PK, e.SK}] = e
	}
	for _, l := range s.Leaves {
		e, ok := held[[2]string{l.PK, l.SK}]
		delete(held, [2]string{l.PK, l.SK})
		switch {
		case !ok && l.ExpiresAt > now.Unix():
			out = append(out, Finding{Kind: Deleted, Day: s.Day, PK: l.PK, SK: l.SK, Why: "sealed, and gone before its expiry"})
		case ok && e.Hash != l.Hash:
			out = append(out, Finding{Kind: Changed, Day: s.Day, PK: l.PK, SK: l.SK, Why: "its hash is not the sealed one"})
		}
	}
	for k := range held {
		out = append(out, Finding{Kind: Inserted, Day: s.Day, PK: k[0], SK: k[1], Why: "not among the day's sealed entries"})
	}
	return out
}

func next(day string) string {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return "9999-12-31"
	}
	return t.AddDate(0, 0, 1).Format(time.DateOnly)
}
