package recipients

import (
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// A processor registered by its contact address is told of erasures,
// rectifications and restrictions by email, naming the person by the
// address it holds, due again when its confirmation is overdue; an
// OpenDSR processor is told of erasures only, as before.
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
		{privacy.RightRectification, []string{"p-mail"}, true},
		{privacy.RightRestriction, []string{"p-mail"}, true},
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
