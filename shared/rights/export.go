package rights

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// Reader is what an export reads: everything held under one subject, each
// by its key (no scan).
type Reader interface {
	// SubjectData is the subject's records as plain values, without what
	// only describes storage; SubjectLedger their ledger entries.
	SubjectData(ctx context.Context, subject privacy.SubjectID) ([]map[string]any, error)
	SubjectLedger(ctx context.Context, subject privacy.SubjectID) ([]privacy.Event, error)
	Suppressions(ctx context.Context, subject privacy.SubjectID) ([]string, error)
	SubjectRequests(ctx context.Context, subject privacy.SubjectID, since time.Time) ([]privacy.RightsRequest, error)
	// ProcessorsToTell are the processors registered to be told of
	// erasures: recipients the copy names (Art. 15(1)(c)).
	ProcessorsToTell(ctx context.Context) ([]privacy.Processor, error)
}

// Export is the machine-readable copy (policy §8, portability).
type Export struct {
	Format      string                 `json:"format"`
	GeneratedAt string                 `json:"generated_at"`
	RequestID   string                 `json:"request_id"`
	Controller  string                 `json:"controller"`
	Records     []map[string]any       `json:"records"`
	Consent     []map[string]any       `json:"consent_and_processing_events"`
	Suppression []string               `json:"marketing_suppression_reasons"`
	Requests    []map[string]any       `json:"rights_requests"`
	Processing  []processingInfo       `json:"how_we_process"`
	Purposes    []privacy.PurposeBasis `json:"purposes_and_legal_bases"`
	Recipients  []string               `json:"recipients"`
}

type processingInfo struct {
	Record    string `json:"record"`
	Retention string `json:"retention"`
	Why       string `json:"why"`
}

// ExportFor builds the export of the subject of a request; bases are the
// legal bases the policy in force states.
func ExportFor(ctx context.Context, rd Reader, company string, req privacy.RightsRequest, bases privacy.Bases, now time.Time) (Export, error) {
	subject := req.Subject
	ex := Export{Format: "privacykeeper-export/1", GeneratedAt: now.UTC().Format(time.RFC3339), RequestID: req.ID,
		Controller: company, Recipients: privacy.Recipients(), Purposes: privacy.Purposes(bases)}
	var err error
	var records []map[string]any
	var ledger []privacy.Event
	records, err = rd.SubjectData(ctx, subject)
	if err == nil {
		ledger, err = rd.SubjectLedger(ctx, subject)
	}
	if err == nil {
		ex.Suppression, err = rd.Suppressions(ctx, subject)
	}
	var reqs []privacy.RightsRequest
	if err == nil {
		reqs, err = rd.SubjectRequests(ctx, subject, time.Time{})
	}
	var procs []privacy.Processor
	if err == nil {
		procs, err = rd.ProcessorsToTell(ctx)
	}
	for _, p := range procs {
		ex.Recipients = append(ex.Recipients, p.Name+" (a processor, told of erasures)")
	}
	if err != nil {
		return Export{}, fmt.Errorf("export: %w", err)
	}
	plain := make([]map[string]any, len(ledger))
	for i, e := range ledger {
		plain[i] = plainEvent(e)
	}
	ex.Records, ex.Consent = PersonsOwn(records, plain, reqs)
	for _, r := range reqs {
		entry := map[string]any{"id": r.ID, "type": r.Type, "status": r.Status,
			"received_at": rfc3339(r.ReceivedAt, time.RFC3339Nano), "due_at": rfc3339(r.DueAt, time.RFC3339),
			"completed_at": rfc3339(r.CompletedAt, time.RFC3339Nano)}
		if told := r.RecipientsTold(); len(told) > 0 {
			entry["recipients_told"] = told
		}
		ex.Requests = append(ex.Requests, entry)
	}
	for _, c := range privacy.RetentionClasses() {
		period := fmt.Sprintf("%d days", c.Days)
		if c.Clock == privacy.ClockExpiry {
			period = "until it expires"
		}
		ex.Processing = append(ex.Processing, processingInfo{Record: c.Name, Retention: period + " from " + c.Clock, Why: c.Why})
	}
	return ex, nil
}

// plainEvent is a ledger entry as the export writes it: the entry's own
// attributes, by their stored names (privacy.Event's JSON), none of the
// seal's or the index's.
func plainEvent(e privacy.Event) map[string]any {
	m := map[string]any{"event": string(e.Name), "at": e.At.UTC().Format(time.RFC3339Nano)}
	for k, v := range map[string]string{"ref": e.Ref, "purpose": e.Purpose, "legal_basis": e.LegalBasis, "policy_version": e.PolicyVersion} {
		if v != "" {
			m[k] = v
		}
	}
	if len(e.Detail) > 0 {
		d := make(map[string]any, len(e.Detail))
		for k, v := range e.Detail {
			d[k] = v
		}
		m["detail"] = d
	}
	return m
}

// PersonsOwn is what of a person's records and ledger entries is theirs
// to see. Left out: the forward a move left under the address (the
// mover's), the team's views of their data, who decided (staff
// identities), the digests of the others a request named, and every
// network address and browser (source_ip, user_agent, referrer, the
// records' meta) but those of what the person did through a link mailed
// to them (a confirmation, a verification of their own request, an
// unsubscription): anyone can type an address into a form, so what a
// form recorded may be a stranger's, a parent's or an agent's. The ledger
// keeps all of it for the team and the regulator.
func PersonsOwn(records, ledger []map[string]any, reqs []privacy.RightsRequest) ([]map[string]any, []map[string]any) {
	parents := map[string]bool{} // a parent's verification is the parent's
	for _, r := range reqs {
		if r.Relationship == privacy.RelationshipParent {
			parents[r.ID] = true
		}
	}
	outRecords := make([]map[string]any, 0, len(records))
	for _, rec := range records {
		if rec["kind"] == privacy.KindMovedForward {
			// The forward a move left under an address is the mover's,
			// not whoever asks for that address's data now.
			continue
		}
		rec = maps.Clone(rec)
		delete(rec, "meta")
		maps.DeleteFunc(rec, func(k string, _ any) bool { return networkKey(k) })
		outRecords = append(outRecords, rec)
	}
	outLedger := make([]map[string]any, 0, len(ledger))
	for _, e := range ledger {
		name, _ := e["event"].(string)
		if strings.HasSuffix(name, "_viewed") {
			continue
		}
		ref, _ := e["ref"].(string)
		byLink := viaLink(name) && !(name == "request_verified" && parents[ref])
		e = maps.Clone(e)
		if detail, ok := e["detail"].(map[string]any); ok {
			kept := map[string]any{}
			for k, v := range detail {
				if !notThePersons(k) && (byLink || !networkKey(k)) {
					kept[k] = v
				}
			}
			if len(kept) == 0 {
				delete(e, "detail")
			} else {
				e["detail"] = kept
			}
		}
		outLedger = append(outLedger, e)
	}
	return outRecords, outLedger
}

// networkKey reports whether a record's or an entry's key is what a
// request's network told: where from, with what.
func networkKey(k string) bool {
	switch k {
	case "source_ip", "user_agent", "referrer", "accept_language":
		return true
	}
	return false
}

// viaLink reports whether a ledger event is made through a link mailed
// to the person (whose network data is theirs).
func viaLink(event string) bool {
	switch event {
	case "subscription_confirmed", "request_verified", "unsubscribed", "preferences_changed", "topic_added":
		return true
	}
	return false
}

// notThePersons reports whether a ledger entry's detail key describes
// someone other than the person: a member of the team (by), those a
// request named.
func notThePersons(key string) bool {
	switch key {
	case "by", "decided_by", "agent_hash", "parent_hash", "recipient_hash":
		return true
	}
	return false
}

// Found is how many records the export holds that were there before the
// request requestID: its own ledger entries and its own record are not
// something that was found.
func (ex Export) Found(requestID string) int {
	n := len(ex.Records) + len(ex.Suppression)
	for _, c := range ex.Consent {
		if c["ref"] != requestID {
			n++
		}
	}
	for _, r := range ex.Requests {
		if r["id"] != requestID {
			n++
		}
	}
	return n
}

// rfc3339 is t in UTC in layout, "" for the zero time: the times of the
// export as the API's bodies show them (httpapi.Time, and httpapi.Deadline
// to the second), without linking the HTTP adapter.
func rfc3339(t time.Time, layout string) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(layout)
}

// Why an export link reads nothing: ErrLinkExpired is one past its 7
// days, or of a person who moved since (a corrected address).
var ErrLinkExpired = errors.New("export link expired")

// Exportable is the completed access or portability request an export
// link l is for, while the link works. It changes nothing.
func (h *Handlers) Exportable(ctx context.Context, l Link) (privacy.RightsRequest, error) {
	c, id, err := h.check(l, token.Export)
	if err != nil {
		if _, terr := h.Tokens.Check(l.Token, token.Export, h.Now()); errors.Is(terr, token.ErrExpired) {
			return privacy.RightsRequest{}, ErrLinkExpired
		}
		return privacy.RightsRequest{}, err
	}
	req, err := h.Store.Request(ctx, id)
	if errors.Is(err, privacy.ErrNotFound) {
		return privacy.RightsRequest{}, ErrNoRequest
	}
	if err != nil {
		return privacy.RightsRequest{}, err
	}
	if req.Status != privacy.RequestCompleted || (req.Type != privacy.RightAccess && req.Type != privacy.RightPortability) {
		return privacy.RightsRequest{}, ErrNoRequest
	}
	if c.Subject != req.Subject {
		// The request's person moved (a corrected address): a link
		// minted before reads nothing under the new key.
		return privacy.RightsRequest{}, ErrLinkExpired
	}
	return req, nil
}
