package recipients

import (
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// A processor registered by its contact address is told of erasures,
// rectifications and restrictions by email, naming the person by the
// address it holds, due again when its confirmation is overdue; an
// OpenDSR processor is sent erasures (of the others it is not informed:
// TestForTellsOpenDSRProcessorsOfRectificationsAndRestrictions).
func TestForEmailProcessors(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	mail := privacy.Processor{ID: "p-mail", Name: "Pardot", Contact: "privacy@pardot.example", IdentityFormat: "raw", Types: EmailTypes()}
	api := privacy.Processor{ID: "p-api", Name: "Platform", URL: "https://p.example/opendsr/v2", IdentityFormat: "sha256", Types: Types()}
	for _, tc := range []struct {
		typ        privacy.Right
		want       []string // processor ids told
		wantByMail bool
	}{
		{privacy.RightErasure, []string{"p-mail", "p-api"}, true},
		{privacy.RightRectification, []string{"p-mail", "p-api"}, true},
		{privacy.RightRestriction, []string{"p-mail", "p-api"}, true},
		{privacy.RightAccess, nil, false},
	} {
		req := privacy.RightsRequest{ID: "r-1", Email: "Ann@Example.com", Type: tc.typ, Regulation: "gdpr"}
		ds, err := For(req, []privacy.Processor{mail, api}, at)
		if err != nil {
			t.Fatalf("%s: %v", tc.typ, err)
		}
		var got []string
		for _, d := range ds {
			got = append(got, d.ProcessorID)
			switch d.ProcessorID {
			case "p-mail":
				if !d.ByEmail() || d.Contact != mail.Contact || d.Identity != "ann@example.com" || d.State != privacy.RecipientEmailed ||
					!d.Due.Equal(at.Add(privacy.ConfirmWithin)) || d.Status != privacy.DeliveryOpen {
					t.Errorf("%s: email delivery %+v", tc.typ, d)
				}
			case "p-api":
				if tc.typ != privacy.RightErasure {
					continue
				}
				if d.ByEmail() || d.State != privacy.RecipientQueued || d.Identity == "ann@example.com" || !d.Due.Equal(at) {
					t.Errorf("%s: OpenDSR delivery %+v", tc.typ, d)
				}
			}
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%s: told %v, want %v", tc.typ, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: told %v, want %v", tc.typ, got, tc.want)
			}
		}
	}
}

// Art. 19 asks that every recipient be told of a rectification or a
// restriction. An OpenDSR processor has no request type for them: one
// registered with a privacy contact address is emailed them (its
// erasures still go by OpenDSR); one without is the team's at once, a
// failed delivery that says it was not informed and keeps no address.
func TestForTellsOpenDSRProcessorsOfRectificationsAndRestrictions(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	withContact := privacy.Processor{ID: "p-both", Name: "Drift", URL: "https://d.example/opendsr/v2", IdentityFormat: "sha256",
		Types: Types(), Contact: "privacy@drift.example"}
	apiOnly := privacy.Processor{ID: "p-api", Name: "Piwik", URL: "https://p.example/opendsr/v2", IdentityFormat: "sha256", Types: Types()}
	type want struct{ state, status, contact string }
	emailed := want{privacy.RecipientEmailed, privacy.DeliveryOpen, withContact.Contact}
	notTold := want{privacy.RecipientFailed, privacy.DeliveryFailed, ""}
	api := want{privacy.RecipientQueued, privacy.DeliveryOpen, ""}
	for _, tc := range []struct {
		typ  privacy.Right
		want map[string]want
	}{
		{privacy.RightErasure, map[string]want{"p-both": api, "p-api": api}},
		{privacy.RightRectification, map[string]want{"p-both": emailed, "p-api": notTold}},
		{privacy.RightRestriction, map[string]want{"p-both": emailed, "p-api": notTold}},
		{privacy.RightAccess, map[string]want{}},
		{privacy.RightPortability, map[string]want{}},
	} {
		req := privacy.RightsRequest{ID: "r-1", Email: "Ann@Example.com", Type: tc.typ, Regulation: "gdpr"}
		ds, err := For(req, []privacy.Processor{withContact, apiOnly}, at)
		if err != nil {
			t.Fatalf("%s: %v", tc.typ, err)
		}
		if len(ds) != len(tc.want) {
			t.Fatalf("%s: %d deliveries %+v, want %d", tc.typ, len(ds), ds, len(tc.want))
		}
		for _, d := range ds {
			w, ok := tc.want[d.ProcessorID]
			if !ok || d.State != w.state || d.Status != w.status || d.Contact != w.contact {
				t.Errorf("%s: %s: state %q status %q contact %q, want %+v", tc.typ, d.ProcessorID, d.State, d.Status, d.Contact, w)
			}
			switch w {
			case emailed:
				if d.Identity != "ann@example.com" || d.IdentityFormat != "raw" || !d.Due.Equal(at.Add(privacy.ConfirmWithin)) {
					t.Errorf("%s: email delivery %+v", tc.typ, d)
				}
			case notTold:
				if d.Identity != "" || d.LastError != NotInformed(string(tc.typ)) {
					t.Errorf("%s: not informed %+v", tc.typ, d)
				}
			case api:
				if d.Identity != privacy.EmailDigest("sha256", "ann@example.com") || d.ByEmail() {
					t.Errorf("%s: OpenDSR delivery %+v", tc.typ, d)
				}
			}
		}
	}
}
