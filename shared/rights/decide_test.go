package rights

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The pure decisions of the intake, without a table.
func TestJoinable(t *testing.T) {
	site := func(id string, typ privacy.Right, status privacy.Status) privacy.RightsRequest {
		return privacy.RightsRequest{ID: id, Type: typ, Status: status}
	}
	objection := func(id, scope string) privacy.RightsRequest {
		r := site(id, privacy.RightObjection, privacy.RequestPending)
		r.Scope = scope
		return r
	}
	odsr := site("o", privacy.RightAccess, privacy.RequestPending)
	odsr.Source = privacy.SourceOpenDSR
	with := func(r privacy.RightsRequest, mod func(*privacy.RightsRequest)) privacy.RightsRequest {
		mod(&r)
		return r
	}
	agent := func(r *privacy.RightsRequest) {
		r.Relationship, r.AgentEmail = privacy.RelationshipAgent, "agent@example.net"
	}
	recipient := func(r *privacy.RightsRequest) {
		r.Type, r.RecipientEmail = privacy.RightPortability, "rcpt@example.net"
	}
	parent := func(r *privacy.RightsRequest) {
		r.Relationship, r.ParentEmail = privacy.RelationshipParent, "parent@example.net"
	}
	correction := func(r *privacy.RightsRequest) {
		r.Type, r.Correction = privacy.RightRectification, privacy.Correction{Field: privacy.FieldEmail, Value: "x@example.net"}
	}
	tests := []struct {
		name   string
		recent []privacy.RightsRequest
		typ    privacy.Right
		want   string // "" = none
		scope  string
		filing func(*privacy.RightsRequest) // how the new filing differs from the person's own
	}{
		{"nothing recent", nil, privacy.RightAccess, "", "", nil},
		{"open, same type", []privacy.RightsRequest{site("a", privacy.RightAccess, privacy.RequestInProgress)}, privacy.RightAccess, "a", "", nil},
		{"unverified, same type", []privacy.RightsRequest{site("a", privacy.RightAccess, privacy.RequestIdentityUnverified)}, privacy.RightAccess, "a", "", nil},
		{"open, other type", []privacy.RightsRequest{site("a", privacy.RightErasure, privacy.RequestPending)}, privacy.RightAccess, "", "", nil},
		{"finished, same type", []privacy.RightsRequest{site("a", privacy.RightAccess, privacy.RequestCompleted)}, privacy.RightAccess, "", "", nil},
		{"expired, same type", []privacy.RightsRequest{site("a", privacy.RightAccess, privacy.RequestExpired)}, privacy.RightAccess, "", "", nil},
		{"a controller's, same type", []privacy.RightsRequest{odsr}, privacy.RightAccess, "", "", nil},
		{"a controller's first, then the site's", []privacy.RightsRequest{odsr, site("b", privacy.RightAccess, privacy.RequestPending)}, privacy.RightAccess, "b", "", nil},
		{"an objection of the other scope", []privacy.RightsRequest{objection("m", privacy.ScopeMarketing)}, privacy.RightObjection, "", privacy.ScopeAll, nil},
		{"an objection of the same scope", []privacy.RightsRequest{objection("m", privacy.ScopeAll)}, privacy.RightObjection, "m", privacy.ScopeAll, nil},
		// Only the person's own filings join: a stranger's open request
		// naming them never swallows the person's own, nor the other way.
		{"an agent's open request", []privacy.RightsRequest{with(site("a", privacy.RightAccess, privacy.RequestIdentityUnverified), agent)},
			privacy.RightAccess, "", "", nil},
		{"a parent's open request", []privacy.RightsRequest{with(site("a", privacy.RightErasure, privacy.RequestAwaitingReview), parent)},
			privacy.RightErasure, "", "", nil},
		{"a third party's copy", []privacy.RightsRequest{with(site("a", privacy.RightPortability, privacy.RequestPending), recipient)},
			privacy.RightPortability, "", "", nil},
		{"an agent's filing on the person's own", []privacy.RightsRequest{site("a", privacy.RightAccess, privacy.RequestPending)},
			privacy.RightAccess, "", "", agent},
		{"a correction, again", []privacy.RightsRequest{with(site("a", privacy.RightRectification, privacy.RequestIdentityUnverified), correction)},
			privacy.RightRectification, "", "", correction},
		{"a free-text rectification, again", []privacy.RightsRequest{site("a", privacy.RightRectification, privacy.RequestIdentityUnverified)},
			privacy.RightRectification, "", "", nil},
		// Only the same form sent twice joins: a stranger's filing under the
		// person's address cannot set the terms or the deadline of theirs.
		{"another regulation", []privacy.RightsRequest{site("a", privacy.RightAccess, privacy.RequestIdentityUnverified)},
			privacy.RightAccess, "", "", func(r *privacy.RightsRequest) { r.Regulation = privacy.RegulationCCPA }},
		{"another language", []privacy.RightsRequest{site("a", privacy.RightAccess, privacy.RequestIdentityUnverified)},
			privacy.RightAccess, "", "", func(r *privacy.RightsRequest) { r.Lang = "de" }},
		{"other details", []privacy.RightsRequest{site("a", privacy.RightAccess, privacy.RequestIdentityUnverified)},
			privacy.RightAccess, "", "", func(r *privacy.RightsRequest) { r.Details = "all of it, please" }},
		{"another name", []privacy.RightsRequest{site("a", privacy.RightAccess, privacy.RequestIdentityUnverified)},
			privacy.RightAccess, "", "", func(r *privacy.RightsRequest) { r.Name = "Mallory" }},
	}
	for _, tt := range tests {
		filing := privacy.RightsRequest{ID: "new", Type: tt.typ, Scope: tt.scope}
		if tt.filing != nil {
			tt.filing(&filing)
		}
		got, ok := joinable(tt.recent, filing)
		if (tt.want == "") == ok || (ok && got.ID != tt.want) {
			t.Errorf("%s: joined %q (%v), want %q", tt.name, got.ID, ok, tt.want)
		}
	}
}

func TestExcessive(t *testing.T) {
	verified := func(id string) privacy.RightsRequest {
		return privacy.RightsRequest{ID: id, VerifiedAt: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	}
	unverified := privacy.RightsRequest{ID: "u"}
	odsr := verified("o")
	odsr.Source = privacy.SourceOpenDSR
	parentOf := verified("p")
	parentOf.Relationship, parentOf.ParentEmail = privacy.RelationshipParent, "parent@example.net"
	tests := []struct {
		name   string
		recent []privacy.RightsRequest
		want   bool
	}{
		{"first", nil, false},
		{"three verified before: the fourth", []privacy.RightsRequest{verified("a"), verified("b"), verified("c")}, true},
		{"two verified before: the third", []privacy.RightsRequest{verified("a"), verified("b")}, false},
		{"junk never verified counts for nothing", []privacy.RightsRequest{verified("a"), verified("b"), unverified, unverified, unverified}, false},
		{"a controller's requests count for nothing", []privacy.RightsRequest{verified("a"), verified("b"), odsr, odsr}, false},
		{"the request itself is not counted twice", []privacy.RightsRequest{verified("a"), verified("b"), verified("self")}, false},
		{"a parent's requests count for nothing", []privacy.RightsRequest{verified("a"), verified("b"), parentOf, parentOf}, false},
	}
	for _, tt := range tests {
		if got := excessive(tt.recent, "self", 3); got != tt.want {
			t.Errorf("%s: excessive %v, want %v", tt.name, got, tt.want)
		}
	}
}

// The decisions a request's page offers are those the desk accepts in its
// state.
func TestActions(t *testing.T) {
	req := func(typ privacy.Right, status privacy.Status, mod func(*privacy.RightsRequest)) privacy.RightsRequest {
		r := privacy.RightsRequest{ID: "r", Type: typ, Status: status}
		if mod != nil {
			mod(&r)
		}
		return r
	}
	for _, tc := range []struct {
		name         string
		req          privacy.RightsRequest
		restrictedBy []string
		want         string
	}{
		{"unverified", req(privacy.RightErasure, privacy.RequestIdentityUnverified, nil), nil, "deny"},
		{"held as excessive", req(privacy.RightAccess, privacy.RequestPending, func(r *privacy.RightsRequest) { r.Excessive = true }), nil, "approve,ask,extend,deny"},
		{"a correction to review", req(privacy.RightRectification, privacy.RequestAwaitingReview, func(r *privacy.RightsRequest) {
			r.Correction = privacy.Correction{Field: "name", Value: "Ann"}
		}), nil, "approve,complete,ask,extend,deny"},
		{"an address change the new address has not confirmed", req(privacy.RightRectification, privacy.RequestAwaitingReview, func(r *privacy.RightsRequest) {
			r.Correction = privacy.Correction{Field: privacy.FieldEmail, Value: "new@example.com"}
		}), nil, "complete,ask,extend,deny"},
		{"an address change the new address confirmed", req(privacy.RightRectification, privacy.RequestAwaitingReview, func(r *privacy.RightsRequest) {
			r.Correction = privacy.Correction{Field: privacy.FieldEmail, Value: "new@example.com"}
			r.NewAddressConfirmedAt = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
		}), nil, "approve,complete,ask,extend,deny"},
		{"a free-text rectification", req(privacy.RightRectification, privacy.RequestAwaitingReview, nil), nil, "complete,ask,extend,deny"},
		{"an objection to all", req(privacy.RightObjection, privacy.RequestAwaitingReview, func(r *privacy.RightsRequest) { r.Scope = privacy.ScopeAll }),
			[]string{"r"}, "complete,uphold,ask,extend,deny"},
		{"a restriction in force", req(privacy.RightRestriction, privacy.RequestCompleted, nil), []string{"r"}, "lift"},
		{"a restriction lifted", req(privacy.RightRestriction, privacy.RequestCompleted, nil), nil, ""},
		{"another request's restriction in force", req(privacy.RightRestriction, privacy.RequestCompleted, nil), []string{"other"}, ""},
		{"denied", req(privacy.RightAccess, privacy.RequestDenied, nil), nil, ""},
		{"a parent's claim", req(privacy.RightErasure, privacy.RequestAwaitingReview, func(r *privacy.RightsRequest) {
			r.Relationship = privacy.RelationshipParent
		}), nil, "approve,complete,ask,extend,deny"},
		// Asking for more: only a verified request of the site's; while
		// the requester is asked, the team may still extend or deny it.
		{"waiting for the requester's answer", req(privacy.RightAccess, privacy.RequestWaitingForInformation, nil), nil, "extend,deny"},
		{"a controller's request", req(privacy.RightAccess, privacy.RequestPending, func(r *privacy.RightsRequest) {
			r.Source = privacy.SourceOpenDSR
		}), nil, "approve,extend,deny"},
	} {
		if got := strings.Join(Actions(tc.req, tc.restrictedBy), ","); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A person's export holds their own records and ledger entries and
// nobody else's: neither the team's views, nor who decided, nor a form's
// network data (anyone can type an address), nor a parent's, nor the
// digests of those a request named. What the person did through a link
// mailed to them keeps its network data.
func TestPersonsOwn(t *testing.T) {
	records := []map[string]any{
		{"kind": "inquiry", "message": "hi", "meta": map[string]any{"source_ip": "198.51.100.7", "user_agent": "Form/1"}},
		{"kind": "subscription", "source_ip": "198.51.100.8", "topics": []any{"news"}},
	}
	ledger := []map[string]any{
		{"event": "subscribe_requested", "detail": map[string]any{"source_ip": "198.51.100.8", "topics": "news"}},
		{"event": "subscription_confirmed", "detail": map[string]any{"source_ip": "203.0.113.1", "user_agent": "Mine/1"}},
		{"event": "request_received", "ref": "r1", "detail": map[string]any{"type": "erasure", "source_ip": "198.51.100.9",
			"user_agent": "Stranger/1", "parent_hash": "h1", "relationship": "parent_or_guardian"}},
		{"event": "request_verified", "ref": "r1", "detail": map[string]any{"source_ip": "198.51.100.9", "user_agent": "Stranger/1"}},
		{"event": "request_verified", "ref": "r3", "detail": map[string]any{"source_ip": "203.0.113.1", "user_agent": "Mine/1"}},
		{"event": "request_viewed", "ref": "r1", "detail": map[string]any{"by": "arn:aws:iam::1:user/dpo"}},
		{"event": "person_viewed", "detail": map[string]any{"by": "arn:aws:iam::1:user/dpo"}},
		{"event": "request_denied", "ref": "r1", "detail": map[string]any{"by": "arn:aws:iam::1:user/dpo"}},
		{"event": "agent_address_confirmed", "ref": "r2", "detail": map[string]any{"source_ip": "192.0.2.4"}},
		{"event": "request_received", "ref": "r2", "detail": map[string]any{"agent_hash": "h2", "recipient_hash": "h3"}},
		{"event": "erased"},
	}
	reqs := []privacy.RightsRequest{{ID: "r1", Relationship: privacy.RelationshipParent}, {ID: "r2", Relationship: privacy.RelationshipAgent}, {ID: "r3"}}
	gotRecords, gotLedger := PersonsOwn(records, ledger, reqs)
	wantRecords := []map[string]any{{"kind": "inquiry", "message": "hi"}, {"kind": "subscription", "topics": []any{"news"}}}
	wantLedger := []map[string]any{
		{"event": "subscribe_requested", "detail": map[string]any{"topics": "news"}},
		{"event": "subscription_confirmed", "detail": map[string]any{"source_ip": "203.0.113.1", "user_agent": "Mine/1"}},
		{"event": "request_received", "ref": "r1", "detail": map[string]any{"type": "erasure", "relationship": "parent_or_guardian"}},
		{"event": "request_verified", "ref": "r1"},
		{"event": "request_verified", "ref": "r3", "detail": map[string]any{"source_ip": "203.0.113.1", "user_agent": "Mine/1"}},
		{"event": "request_denied", "ref": "r1"},
		{"event": "agent_address_confirmed", "ref": "r2"},
		{"event": "request_received", "ref": "r2"},
		{"event": "erased"},
	}
	if fmt.Sprint(gotRecords) != fmt.Sprint(wantRecords) {
		t.Errorf("records:\n got  %v\nwant %v", gotRecords, wantRecords)
	}
	if fmt.Sprint(gotLedger) != fmt.Sprint(wantLedger) {
		t.Errorf("ledger:\n got  %v\nwant %v", gotLedger, wantLedger)
	}
	if records[0]["meta"] == nil || ledger[2]["detail"].(map[string]any)["source_ip"] == nil {
		t.Fatal("the records and entries given were changed")
	}
}
