package privacy

import (
	"testing"
	"time"
)

func TestInForce(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	at := func(s string) time.Time { d, _ := time.Parse(time.RFC3339, s); return d }
	initial := InitialPolicy("2018-07-10")
	if initial.LastUpdated() != "2018-07-10" || InitialPolicy("v1").LastUpdated() != "" {
		t.Fatalf("initial versions: %+v", initial)
	}
	history := []PolicyVersion{
		{Version: "2026-11", Effective: day("2026-11-01"), PublishedAt: at("2026-10-20T10:00:00Z")},
		{Version: "2027-01", Effective: day("2027-01-01"), PublishedAt: at("2026-12-01T10:00:00Z")},  // announced ahead
		{Version: "2026-11b", Effective: day("2026-11-01"), PublishedAt: at("2026-10-21T10:00:00Z")}, // same day, later
	}
	for _, c := range []struct {
		now     string
		history []PolicyVersion
		want    string
	}{
		{"2026-12-02T00:00:00Z", nil, "2018-07-10"},
		{"2026-10-31T23:59:59Z", history, "2018-07-10"},
		{"2026-11-01T00:00:00Z", history, "2026-11b"},
		{"2026-12-31T23:59:59Z", history, "2026-11b"},
		{"2027-01-01T00:00:00Z", history, "2027-01"},
	} {
		if got := InForce(c.history, at(c.now), initial); got.Version != c.want {
			t.Errorf("at %s: %s, want %s", c.now, got.Version, c.want)
		}
	}
}

func TestAudiences(t *testing.T) {
	for _, c := range []struct {
		v    PolicyVersion
		want []string
	}{
		{PolicyVersion{}, nil},
		{PolicyVersion{Material: true}, []string{NoticeSubscribers, NoticeRequesters, NoticeInquirers}},
		{PolicyVersion{NewPurposes: []string{"events"}}, []string{NoticeSubscribers}},
		{PolicyVersion{Material: true, NewPurposes: []string{"events"}}, []string{NoticeSubscribers, NoticeRequesters, NoticeInquirers}},
	} {
		got := c.v.Audiences()
		if len(got) != len(c.want) || (len(got) > 0 && got[len(got)-1] != c.want[len(c.want)-1]) || c.v.Notifies() != (len(c.want) > 0) {
			t.Errorf("%+v: %v, want %v", c.v, got, c.want)
		}
	}
}
