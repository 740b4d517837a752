package rights

import (
	"encoding/csv"
	"slices"
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

func sampleExport() Export {
	return Export{Controller: "Example", RequestID: "r-1", GeneratedAt: "2026-12-07T00:00:00Z",
		Records: []map[string]any{
			{"kind": "inquiry", "purpose": privacy.PurposeRespondToInquiry, "message": "=HYPERLINK(\"http://x\")", "name": "Ann"},
			{"kind": "subscription", "purpose": privacy.PurposeMarketing, "topics": []any{"newsletter", "events"},
				"consent": map[string]any{"text_version": "v2", "at": "2026-11-01T00:00:00Z"}},
			{"kind": "inquiry", "purpose": privacy.PurposeRespondToInquiry, "message": "-1+1", "name": "Ann"},
			{"kind": "moved", "to": "S#x"},
		},
		Consent: []map[string]any{{"at": "2026-11-01T00:00:00Z", "event": "subscription_confirmed", "purpose": privacy.PurposeMarketing,
			"legal_basis": "consent", "policy_version": "v1"}},
		Suppression: []string{"bounced"},
		Purposes:    privacy.Purposes(privacy.Bases{privacy.PurposeMarketing: privacy.BasisConsent}),
		Requests: []map[string]any{{"id": "r-1", "type": "access", "status": "completed",
			"recipients_told": []privacy.Told{{Name: "Mailer Inc", Status: "confirmed"}}}},
	}
}

// The page groups what is held by purpose (a record without one by its
// kind), each record's values flattened in name order; events and
// requests are rows.
func TestReadable(t *testing.T) {
	c := Readable(sampleExport())
	var purposes []string
	for _, g := range c.Groups {
		purposes = append(purposes, g.Purpose+":"+strings.Repeat("#", len(g.Records)))
	}
	if want := []string{privacy.PurposeMarketing + ":#", "moved:#", privacy.PurposeRespondToInquiry + ":##"}; !slices.Equal(purposes, want) {
		t.Fatalf("groups %v, want %v", purposes, want)
	}
	sub := c.Groups[0].Records[0]
	var names []string
	for _, f := range sub.Fields {
		names = append(names, f.Name+"="+f.Value)
	}
	if want := []string{"consent.at=2026-11-01T00:00:00Z", "consent.text_version=v2", "kind=subscription",
		"purpose=" + privacy.PurposeMarketing, "topics=newsletter, events"}; !slices.Equal(names, want) {
		t.Fatalf("fields %v, want %v", names, want)
	}
	if len(c.Events) != 1 || c.Events[0][3] != "consent" || len(c.Requests) != 1 || c.Requests[0][0] != "r-1" {
		t.Fatalf("events %v, requests %v", c.Events, c.Requests)
	}
}

// The CSV is one value a row, parses as RFC 4180, and no value runs as a
// formula in a spreadsheet.
func TestWriteCSV(t *testing.T) {
	var b strings.Builder
	if err := WriteCSV(&b, sampleExport()); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], []string{"section", "item", "field", "value"}) {
		t.Fatalf("header %v", rows[0])
	}
	find := func(section, field string) []string {
		var out []string
		for _, r := range rows[1:] {
			if len(r) != 4 {
				t.Fatalf("row %v", r)
			}
			if r[0] == section && r[2] == field {
				out = append(out, r[3])
			}
		}
		return out
	}
	for _, c := range []struct {
		section, field string
		want           []string
	}{
		{"record", "message", []string{`'=HYPERLINK("http://x")`, "'-1+1"}},
		{"record", "consent.text_version", []string{"v2"}},
		{"record", "topics", []string{"newsletter, events"}},
		{"event", "legal_basis", []string{"consent"}},
		{"rights_request", "recipients_told", []string{"name: Mailer Inc; status: confirmed"}},
		{"marketing_suppression", "reason", []string{"bounced"}},
		// What the policy in force states: the marketing basis it gives,
		// the default of the one it does not, the requests' obligation.
		{"purpose", "legal_basis", []string{privacy.BasisLegitimateInterest, privacy.BasisConsent, privacy.BasisLegalObligation}},
	} {
		if got := find(c.section, c.field); !slices.Equal(got, c.want) {
			t.Errorf("%s %s: %q, want %q", c.section, c.field, got, c.want)
		}
	}
}
