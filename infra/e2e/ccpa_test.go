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
		// The purposes with the bases the policy in force states.
		privacy.Sources()[0], "marketing emails (legitimate interest)", "We do not sell or share"} {
		if !strings.Contains(cats.Body.Text, want) {
			t.Errorf("the categories email lacks %q", want)
		}
	}
	if strings.Contains(cats.Body.Text, "/export?token=") {
		t.Error("the categories email carries the person's data")
	}
}

// An authorised agent (CCPA) files for a person: the verification link
// goes to the person, naming the agent; the agent is asked to confirm
// their own address and, once they have, is told how the request stands,
// never sent the export or any link to the person's data; an opt-out the
// agent files waits for the person's confirmation too.
func TestAuthorizedAgent(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	person, agent := "person-"+u+"@example.com", "agent-"+u+"@agency.example"
	for _, body := range []string{`{"email":"` + person + `","type":"access","relationship":"authorized_agent"}`,
		`{"email":"` + person + `","type":"access","relationship":"authorized_agent","agent_email":"` + person + `"}`,
		`{"email":"` + person + `","type":"access","agent_email":"` + agent + `"}`} {
		if code, _ := s.file(t, body); code != 400 {
			t.Fatalf("%s: %d", body, code)
		}
	}
	id, verify, _ := s.fileAndOpen(t, person, `{"email":"`+person+`","type":"access","regulation":"ccpa","relationship":"authorized_agent","agent_email":"`+agent+`"}`)
	if ack := s.mailTo(t, person, id); !strings.Contains(ack.Body.Text, agent) {
		t.Fatalf("the person's verification email does not name the agent:\n%s", ack.Body.Text)
	}
	// The agent confirms their own address: the link does that and nothing
	// else (nothing of the person in the email).
	ask := s.mailTo(t, agent, "Please confirm this address (request "+id)
	if strings.Contains(ask.Body.Text, person) || !addressLink.MatchString(ask.Body.Text) {
		t.Fatalf("the agent's request to confirm their address:\n%s", ask.Body.Text)
	}
	if resp, out := s.do(t, "POST", s.path(t, addressLink.FindString(ask.Body.Text)), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("the agent confirms: %d %s", resp.StatusCode, out)
	}
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	if ready := s.mailTo(t, person, "Your data is ready"); !strings.Contains(ready.Body.Text, "/export?token=") {
		t.Fatal("the person has no export link")
	}
	done := s.mailTo(t, agent, "The request you filed for someone: "+id)
	if strings.Contains(done.Body.Text, "token=") || strings.Contains(done.Body.HTML, "token=") {
		t.Fatalf("a link reached the agent: %s", done.Body.Text)
	}
	if !strings.Contains(done.Body.Text, "We do not send the data, or the link, to you") {
		t.Fatal("the agent was not told the request is done")
	}
	// An opt-out the agent files waits for the person: nothing recorded
	// until they confirm it.
	code, f := s.file(t, `{"email":"`+person+`","type":"opt_out_of_sale","relationship":"authorized_agent","agent_email":"`+agent+`"}`)
	if code != 202 || f.Status != "identity_unverified" {
		t.Fatalf("opt-out by an agent: %d %+v", code, f)
	}
	optOut := verifyLink.FindString(s.mailTo(t, person, f.ID).Body.Text)
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "event") == "opt_out_of_sale_recorded" {
			t.Fatal("an agent's opt-out was recorded before the person confirmed it")
		}
	}
	if resp, out := s.do(t, "POST", s.path(t, optOut), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
		t.Fatalf("the person confirms the opt-out: %d %s", resp.StatusCode, out)
	}
	s.mailTo(t, person, "Your opt-out of sale and sharing is recorded (request "+f.ID)
	s.ledgerEvent(t, person, "opt_out_of_sale_recorded")
}
