package rights

import (
	"testing"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The pure decisions of the intake, without a table.
func TestJoinable(t *testing.T) {
	site := func(id, typ, status string) dynamo.RightsRequest {
		return dynamo.RightsRequest{ID: id, Type: typ, Status: status}
	}
	odsr := site("o", privacy.RightAccess, privacy.RequestPending)
	odsr.Source = dynamo.SourceOpenDSR
	tests := []struct {
		name   string
		recent []dynamo.RightsRequest
		typ    string
		want   string // "" = none
	}{
		{"nothing recent", nil, privacy.RightAccess, ""},
		{"open, same type", []dynamo.RightsRequest{site("a", privacy.RightAccess, privacy.RequestInProgress)}, privacy.RightAccess, "a"},
		{"unverified, same type", []dynamo.RightsRequest{site("a", privacy.RightAccess, privacy.RequestIdentityUnverified)}, privacy.RightAccess, "a"},
		{"open, other type", []dynamo.RightsRequest{site("a", privacy.RightErasure, privacy.RequestPending)}, privacy.RightAccess, ""},
		{"finished, same type", []dynamo.RightsRequest{site("a", privacy.RightAccess, privacy.RequestCompleted)}, privacy.RightAccess, ""},
		{"expired, same type", []dynamo.RightsRequest{site("a", privacy.RightAccess, privacy.RequestExpired)}, privacy.RightAccess, ""},
		{"a controller's, same type", []dynamo.RightsRequest{odsr}, privacy.RightAccess, ""},
		{"a controller's first, then the site's", []dynamo.RightsRequest{odsr, site("b", privacy.RightAccess, privacy.RequestPending)}, privacy.RightAccess, "b"},
	}
	for _, tt := range tests {
		got, ok := joinable(tt.recent, tt.typ)
		if (tt.want == "") == ok || (ok && got.ID != tt.want) {
			t.Errorf("%s: joined %q (%v), want %q", tt.name, got.ID, ok, tt.want)
		}
	}
}

func TestExcessive(t *testing.T) {
	verified := func(id string) dynamo.RightsRequest {
		return dynamo.RightsRequest{ID: id, VerifiedAt: "2027-01-01T00:00:00Z"}
	}
	unverified := dynamo.RightsRequest{ID: "u"}
	odsr := verified("o")
	odsr.Source = dynamo.SourceOpenDSR
	tests := []struct {
		name   string
		recent []dynamo.RightsRequest
		want   bool
	}{
		{"first", nil, false},
		{"three verified before: the fourth", []dynamo.RightsRequest{verified("a"), verified("b"), verified("c")}, true},
		{"two verified before: the third", []dynamo.RightsRequest{verified("a"), verified("b")}, false},
		{"junk never verified counts for nothing", []dynamo.RightsRequest{verified("a"), verified("b"), unverified, unverified, unverified}, false},
		{"a controller's requests count for nothing", []dynamo.RightsRequest{verified("a"), verified("b"), odsr, odsr}, false},
		{"the request itself is not counted twice", []dynamo.RightsRequest{verified("a"), verified("b"), verified("self")}, false},
	}
	for _, tt := range tests {
		if got := excessive(tt.recent, "self", 3); got != tt.want {
			t.Errorf("%s: excessive %v, want %v", tt.name, got, tt.want)
		}
	}
}
