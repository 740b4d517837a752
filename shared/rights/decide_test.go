package rights

import (
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The pure decisions of the intake, without a table.
func TestJoinable(t *testing.T) {
	site := func(id, typ, status string) privacy.RightsRequest {
		return privacy.RightsRequest{ID: id, Type: typ, Status: status}
	}
	objection := func(id, scope string) privacy.RightsRequest {
		r := site(id, privacy.RightObjection, privacy.RequestPending)
		r.Scope = scope
		return r
	}
	odsr := site("o", privacy.RightAccess, privacy.RequestPending)
	odsr.Source = privacy.SourceOpenDSR
	tests := []struct {
		name   string
		recent []privacy.RightsRequest
		typ    string
		want   string // "" = none
		scope  string
	}{
		{"nothing recent", nil, privacy.RightAccess, "", ""},
		{"open, same type", []privacy.RightsRequest{site("a", privacy.RightAccess, privacy.RequestInProgress)}, privacy.RightAccess, "a", ""},
		{"unverified, same type", []privacy.RightsRequest{site("a", privacy.RightAccess, privacy.RequestIdentityUnverified)}, privacy.RightAccess, "a", ""},
		{"open, other type", []privacy.RightsRequest{site("a", privacy.RightErasure, privacy.RequestPending)}, privacy.RightAccess, "", ""},
		{"finished, same type", []privacy.RightsRequest{site("a", privacy.RightAccess, privacy.RequestCompleted)}, privacy.RightAccess, "", ""},
		{"expired, same type", []privacy.RightsRequest{site("a", privacy.RightAccess, privacy.RequestExpired)}, privacy.RightAccess, "", ""},
		{"a controller's, same type", []privacy.RightsRequest{odsr}, privacy.RightAccess, "", ""},
		{"a controller's first, then the site's", []privacy.RightsRequest{odsr, site("b", privacy.RightAccess, privacy.RequestPending)}, privacy.RightAccess, "b", ""},
		{"an objection of the other scope", []privacy.RightsRequest{objection("m", privacy.ScopeMarketing)}, privacy.RightObjection, "", privacy.ScopeAll},
		{"an objection of the same scope", []privacy.RightsRequest{objection("m", privacy.ScopeAll)}, privacy.RightObjection, "m", privacy.ScopeAll},
	}
	for _, tt := range tests {
		got, ok := joinable(tt.recent, tt.typ, tt.scope)
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
	req := func(typ, status string, mod func(*privacy.RightsRequest)) privacy.RightsRequest {
		r := privacy.RightsRequest{ID: "r", Type: typ, Status: status}
		if mod != nil {
			mod(&r)
		}
		return r
	}
	for _, tc := range []struct {
		name         string
		req          privacy.RightsRequest
		restrictedBy string
		want         string
	}{
		{"unverified", req(privacy.RightErasure, privacy.RequestIdentityUnverified, nil), "", "extend,deny"},
		{"held as excessive", req(privacy.RightAccess, privacy.RequestPending, func(r *privacy.RightsRequest) { r.Excessive = true }), "", "approve,extend,deny"},
		{"a correction to review", req(privacy.RightRectification, privacy.RequestAwaitingReview, func(r *privacy.RightsRequest) {
			r.Correction = privacy.Correction{Field: "name", Value: "Ann"}
		}), "", "approve,complete,extend,deny"},
		{"a free-text rectification", req(privacy.RightRectification, privacy.RequestAwaitingReview, nil), "", "complete,extend,deny"},
		{"an objection to all", req(privacy.RightObjection, privacy.RequestAwaitingReview, func(r *privacy.RightsRequest) { r.Scope = privacy.ScopeAll }),
			"r", "complete,uphold,extend,deny"},
		{"a restriction in force", req(privacy.RightRestriction, privacy.RequestCompleted, nil), "r", "lift"},
		{"a restriction lifted", req(privacy.RightRestriction, privacy.RequestCompleted, nil), "", ""},
		{"denied", req(privacy.RightAccess, privacy.RequestDenied, nil), "", ""},
		{"a parent's claim", req(privacy.RightErasure, privacy.RequestAwaitingReview, func(r *privacy.RightsRequest) {
			r.Relationship = privacy.RelationshipParent
		}), "", "approve,complete,extend,deny"},
	} {
		if got := strings.Join(Actions(tc.req, tc.restrictedBy), ","); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
