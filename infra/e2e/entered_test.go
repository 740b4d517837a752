package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

var enteredID = regexp.MustCompile(`request ([0-9a-f-]{36}) entered`)

// A request that reached the team by post, email or phone (#34 item 2):
// the team enters it with privacyctl, the deadline counts from the day it
// was received (ten days ago: due ten days sooner than one filed today),
// the ledger names who entered it, the channel and how identity was
// checked; with a check it is carried out at once, without one the person
// is sent the usual verification link. A bad entry changes nothing.
func TestTeamEntersARequestReceivedByMail(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	letter, call := "letter-"+u+"@example.com", "call-"+u+"@example.com"
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"Lea","email":"`+letter+`","message":"Hello"}`, nil); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}
	received := time.Now().UTC().AddDate(0, 0, -10).Truncate(24 * time.Hour)
	day := received.Format(time.DateOnly)

	for _, bad := range [][]string{
		{"-email", letter, "-type", "access", "-channel", "fax", "-received", day},
		{"-email", letter, "-type", "access", "-channel", "post", "-received", time.Now().UTC().AddDate(0, 0, 2).Format(time.DateOnly)},
		{"-email", letter, "-type", "access", "-channel", "post", "-received", "10 days ago"},
		{"-email", "not-an-address", "-type", "access", "-channel", "post", "-received", day},
		{"-email", letter, "-type", "everything", "-channel", "post", "-received", day},
		{"-email", letter, "-type", "access", "-channel", "post", "-received", day, "-identity", "checked \u202eevil"},
	} {
		if out, err := s.privacyctl(t, append([]string{"enter"}, bad...)...); err == nil {
			t.Errorf("entered %v: %s", bad, out)
		}
	}
	for _, it := range s.items(t, "RequestsTable") {
		if str(it, "email") == letter {
			t.Fatalf("a refused entry stored a request: %v", it)
		}
	}

	out, err := s.privacyctl(t, "enter", "-email", letter, "-name", "Lea", "-type", "access", "-channel", "post", "-received", day,
		"-identity", "signature compared with the contract on file")
	m := enteredID.FindStringSubmatch(out)
	if err != nil || m == nil || !strings.Contains(out, "completed") {
		t.Fatalf("enter with an identity check: %v %s", err, out)
	}
	id := m[1]
	var req map[string]any
	for _, it := range s.items(t, "RequestsTable") {
		if str(it, "id") == id && str(it, "sk") == "REQUEST" {
			req = map[string]any{"channel": str(it, "channel"), "received_at": str(it, "received_at"), "due_at": str(it, "due_at"),
				"status": str(it, "status")}
		}
	}
	wantDue := privacy.SiteDueAt(privacy.RegulationGDPR, privacy.RightAccess, received)
	if req == nil || req["channel"] != privacy.ChannelPost || !strings.HasPrefix(req["received_at"].(string), day) ||
		!strings.HasPrefix(req["due_at"].(string), wantDue.Format(time.DateOnly)) || req["status"] != string(privacy.RequestCompleted) {
		t.Fatalf("the entered request: %v (due %s wanted)", req, wantDue.Format(time.DateOnly))
	}
	if filedToday := privacy.SiteDueAt(privacy.RegulationGDPR, privacy.RightAccess, time.Now().UTC()); filedToday.Sub(wantDue) < 9*24*time.Hour {
		t.Fatalf("received ten days ago, due %s; filed today, due %s", wantDue, filedToday)
	}
	ev := s.ledgerEvent(t, letter, "request_entered")
	if mapStr(ev, "detail", "by") != "arn:aws:iam::000000000000:user/dpo" || mapStr(ev, "detail", "channel") != "post" ||
		mapStr(ev, "detail", "received_on") != day || mapStr(ev, "detail", "identity_check") == "" {
		t.Fatalf("the ledger's request_entered: %v", ev)
	}
	ready := s.mailTo(t, letter, "Your data is ready")
	if !exportLink.MatchString(ready.Body.Text) {
		t.Fatalf("the answer: %s", ready.Body.Text)
	}

	// By phone, identity not checked: the person gets the link first.
	out, err = s.privacyctl(t, "enter", "-email", call, "-type", "erasure", "-channel", "phone", "-received", time.Now().UTC().Format(time.DateOnly))
	if m = enteredID.FindStringSubmatch(out); err != nil || m == nil || !strings.Contains(out, "identity_unverified") {
		t.Fatalf("enter without an identity check: %v %s", err, out)
	}
	ack := s.mailTo(t, call, "confirm it is you")
	if resp, out := s.do(t, "POST", s.path(t, verifyLink.FindString(ack.Body.Text)), "", "", nil); resp.StatusCode != 200 ||
		!strings.Contains(out, "completed") {
		t.Fatalf("the person verifies the entered erasure: %d %s", resp.StatusCode, out)
	}
	s.mailTo(t, call, "Your erasure request "+m[1])
}
