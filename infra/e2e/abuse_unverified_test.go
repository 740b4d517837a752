package e2e

import (
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// A stranger files in someone else's name (or names them as the parent);
// the address is never proven. The team's steps on such a request email
// nobody: a denial reaches neither the named person nor the named parent
// and keeps nothing of them (address, name, what was written); an
// extension is refused (the request is on no clock, and the email would go
// to an address nobody proved). The only email they ever get is the one
// that asks them to confirm it is them.
func TestAbuseTeamStepsOnAStrangersFilingMailNobody(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	victim, parent := "named-"+u+"@example.com", "named-parent-"+u+"@example.net"

	id, _, _ := s.fileAndOpen(t, victim, `{"email":"`+victim+`","name":"Victim `+u+`","type":"erasure","details":"WROTE-`+u+`"}`)
	code, p := s.file(t, `{"email":"child-`+u+`@example.com","type":"access","relationship":"parent_or_guardian","parent_email":"`+parent+`"}`)
	if code != 202 || p.ID == "" {
		t.Fatalf("the parent filing: %d %+v", code, p)
	}
	s.mailTo(t, parent, "Your request "+p.ID+" for your child's data")

	if out, err := s.privacyctl(t, "extend", id, "-reason", "We need more time."); err == nil || !strings.Contains(out+err.Error(), "not verified") {
		t.Errorf("an extension of an unverified request: %v %s", err, out)
	}
	for _, rid := range []string{id, p.ID} {
		if out, err := s.privacyctl(t, "deny", rid, "-reason", "We could not confirm who filed this."); err != nil {
			t.Fatalf("deny %s: %v %s", rid, err, out)
		}
		r := s.request(t, rid)
		if r["status"] != "denied" || r["mail_due"] != "" {
			t.Errorf("request %s after the denial: %v", rid, r)
		}
	}
	for _, it := range s.items(t, "RequestsTable") {
		if rid := str(it, "id"); (rid != id && rid != p.ID) || str(it, "sk") != "REQUEST" {
			continue
		}
		for _, attr := range []string{"email", "name", "details", "parent_email"} {
			if _, kept := it[attr]; kept {
				t.Errorf("the denied unverified request %s keeps %s", str(it, "id"), attr)
			}
		}
	}
	// Whatever the mailer would send has gone.
	s.idle(t)
	for _, addr := range []string{victim, parent} {
		got := localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(addr) })
		if len(got) != 1 {
			subjects := make([]string, len(got))
			for i, e := range got {
				subjects[i] = e.Subject
			}
			t.Errorf("%s was mailed %d times, want only the request to confirm it: %q", addr, len(got), subjects)
		}
	}
}
