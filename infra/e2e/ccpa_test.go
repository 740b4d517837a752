package e2e

import (
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The CCPA's requests: "do not sell or share" is answered at once (the
// company sells and shares nothing; the opt-out is recorded on the
// person's record and confirmed by email, no verification needed), and
// "know the categories" is answered, once verified, with the categories,
// sources, purposes and recipients generated from the retention and
// purpose tables.
func TestCCPARequests(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	addr := "ca-" + u + "@example.com"

	code, f := s.file(t, `{"email":"`+addr+`","type":"opt_out_of_sale","regulation":"ccpa"}`)
	if code != 202 || f.Status != "completed" {
		t.Fatalf("opt-out: %d %+v", code, f)
	}
	if got := s.mailTo(t, addr, "Your opt-out of sale and sharing is recorded (request "+f.ID); !strings.Contains(got.Body.Text, "sell and share no one's") ||
		verifyLink.MatchString(got.Body.Text) {
		t.Fatalf("opt-out email: %s", got.Body.Text)
	}
	pk := "S#" + string(s.hasher.Subject(addr))
	var marked bool
	for _, it := range s.items(t, "SubjectsTable") {
		marked = marked || (str(it, "pk") == pk && str(it, "kind") == "sale_opt_out" && str(it, "source") == "request")
	}
	if !marked {
		t.Fatal("the opt-out is not on the person's record")
	}

	id, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"know_categories","regulation":"ccpa"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	cats := s.mailTo(t, addr, "The categories of personal information we collect (request "+id)
	for _, want := range []string{strings.ReplaceAll(privacy.Retention().Inquiry.Name, "_", " "), privacy.Recipients()[0],
		privacy.Sources()[0], privacy.PurposeMarketing, "We do not sell or share"} {
		if !strings.Contains(cats.Body.Text, want) {
			t.Errorf("the categories email lacks %q", want)
		}
	}
	if strings.Contains(cats.Body.Text, "/export?token=") {
		t.Error("the categories email carries the person's data")
	}
}
