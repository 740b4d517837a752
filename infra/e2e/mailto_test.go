package e2e

import (
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// handledOnce is the summary line of a message naming one person's
// address twice and a bogus one.
var handledOnce = regexp.MustCompile(`"msg":"unsubscribe mail"[^\n]*"unsubscribed":1,"ignored":2,"spam":0`)

// sesInbound is the event SES's receipt rule gives the function for one
// message to recipients (the envelope's, as the rule matched them), with
// the spam scan's verdict and a From header the handler must never read.
func sesInbound(t *testing.T, spam string, recipients ...string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"Records": []any{map[string]any{
		"eventSource": "aws:ses", "eventVersion": "1.0",
		"ses": map[string]any{
			"mail": map[string]any{"messageId": "m-" + localtest.Unique(), "source": "whoever@example.org",
				"destination": recipients, "commonHeaders": map[string]any{"from": []string{"whoever@example.org"}, "subject": "unsubscribe"}},
			"receipt": map[string]any{"recipients": recipients, "spamVerdict": map[string]string{"status": spam},
				"virusVerdict": map[string]string{"status": "PASS"}, "dmarcVerdict": map[string]string{"status": "GRAY"},
				"action": map[string]string{"type": "Lambda", "invocationType": "Event"}},
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// deliver hands an SES inbound event to the function synchronously and
// returns what it did.
func (s *stack) deliver(t *testing.T, event string) map[string]int {
	t.Helper()
	resp, out := s.do(t, "POST", "/_local/invoke/UnsubscribeMailFunction", "application/json", event, nil)
	var res map[string]int
	if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("invoke: %d %s", resp.StatusCode, out)
	}
	return res
}

// unsubscribeAddresses are the https link and the mailto: recipient of
// the List-Unsubscribe header of the email to addr whose subject begins
// with subject.
func (s *stack) unsubscribeAddresses(t *testing.T, addr, subject string) (link, rcpt string) {
	t.Helper()
	link, mailto := s.mailTo(t, addr, subject).ListUnsubscribe()
	rcpt, ok := strings.CutPrefix(mailto, "mailto:")
	if !ok || link == "" {
		t.Fatalf("List-Unsubscribe of %s: %q, %q", addr, link, mailto)
	}
	return link, rcpt
}

// suppressed returns the suppression reasons on record for addr.
func (s *stack) suppressed(t *testing.T, addr string) []string {
	t.Helper()
	pk := "S#" + string(s.hasher.Subject(addr))
	var reasons []string
	for _, it := range s.items(t, "SuppressionTable") {
		if str(it, "pk") == pk {
			reasons = append(reasons, str(it, "sk"))
		}
	}
	return reasons
}

// #34 item 7: a marketing email's List-Unsubscribe carries a mailto:
// address beside the https link; an email to it, delivered by SES's
// receipt rule, unsubscribes the person it was signed for, exactly as the
// one-click link does. A stranger who alters the local part, splices
// another person's subject into their own, writes to another domain or
// sends what SES's scan calls spam changes nothing; an address named many
// times in one message acts once; no log line names anyone.
func TestMailtoUnsubscribes(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	person, stranger := "mailto-"+u+"@example.com", "mailto-stranger-"+u+"@example.net"
	s.subscribed(t, person)
	s.subscribed(t, stranger)
	if res := s.campaign(t, "m1-"+u, "newsletter"); res["sent"] != 2 {
		t.Fatalf("campaign: %v", res)
	}
	recipient := func(addr string) string {
		t.Helper()
		_, rcpt := s.unsubscribeAddresses(t, addr, "News m1-")
		if local, domain, _ := strings.Cut(rcpt, "@"); domain != "example.com" || len(local) > 64 {
			t.Fatalf("the mailto: address of %s: %q", addr, rcpt)
		}
		if strings.Contains(strings.ToLower(rcpt), strings.Split(addr, "@")[0]) {
			t.Fatalf("the mailto: address names its person: %s", rcpt)
		}
		return rcpt
	}
	mine, theirs := recipient(person), recipient(stranger)
	status := func(addr string) string { return str(s.subscription(t, addr), "status") }

	// What a stranger may try, each answered with nothing done.
	flip := []byte(mine)
	if flip[20] == 'a' {
		flip[20] = 'b'
	} else {
		flip[20] = 'a'
	}
	// The person's subject hash (which no email shows; say it leaked)
	// written over the subject of the stranger's own signed local part
	// (token.SignMailbox: 3 bytes of expiry, 32 of subject, 5 of MAC).
	b32 := base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
	local, domain, _ := strings.Cut(theirs, "@")
	raw, err := b32.DecodeString(local)
	hash, _ := hex.DecodeString(string(s.hasher.Subject(person)))
	if err != nil || len(raw) != 40 || len(hash) != 32 {
		t.Fatalf("the stranger's local part %q: %v", local, err)
	}
	copy(raw[3:35], hash)
	spliced := b32.EncodeToString(raw) + "@" + domain
	for _, tc := range []struct {
		name, event string
	}{
		{"an altered local part", sesInbound(t, "PASS", string(flip))},
		{"the person's subject in the stranger's token", sesInbound(t, "PASS", spliced)},
		{"the right token at another domain", sesInbound(t, "PASS", strings.Replace(mine, "@example.com", "@example.net", 1))},
		{"the team's address", sesInbound(t, "PASS", "privacy@example.com")},
		{"what the scan calls spam", sesInbound(t, "FAIL", mine)},
	} {
		res := s.deliver(t, tc.event)
		if res["unsubscribed"] != 0 {
			t.Errorf("%s: %v", tc.name, res)
		}
		if st, sup := status(person), s.suppressed(t, person); st != "confirmed" || len(sup) != 0 {
			t.Fatalf("%s: the person is %s, suppressed %v", tc.name, st, sup)
		}
	}

	// The person's own: SES invokes asynchronously (InvocationType Event).
	// One message names the address twice (once in capitals, as a relay
	// may write it) and a bogus one beside it: the person once, the rest
	// ignored.
	resp, out := s.do(t, "POST", "/_local/invoke/UnsubscribeMailFunction", "application/json",
		sesInbound(t, "PASS", mine, strings.ToUpper(mine), string(flip)), map[string]string{"X-Amz-Invocation-Type": "Event"})
	if resp.StatusCode != 202 {
		t.Fatalf("async invoke: %d %s", resp.StatusCode, out)
	}
	for deadline := time.Now().Add(20 * time.Second); status(person) != "unsubscribed"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the mailto: address did not unsubscribe: %s", status(person))
		}
	}
	// Each address once: the person, then the repeat and the bogus one
	// ignored (the function's summary line; a repeat would rewrite the
	// same ledger entry, so the data alone cannot tell).
	for deadline := time.Now().Add(10 * time.Second); !handledOnce.MatchString(s.logs.String()); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the message naming the address twice was not handled as one unsubscription and two ignored addresses")
		}
	}
	if sup := s.suppressed(t, person); len(sup) != 1 || sup[0] != "unsubscribed" {
		t.Errorf("suppressions %v", sup)
	}
	if status(stranger) != "confirmed" {
		t.Errorf("the other subscriber is %s", status(stranger))
	}
	// The ledger says how, and keeps no network data (there is none).
	ev := s.ledgerEvent(t, person, "unsubscribed")
	if mapStr(ev, "detail", "channel") != "mailto" || mapStr(ev, "detail", "source_ip") != "" ||
		mapStr(ev, "detail", "user_agent") != "" || str(ev, "purpose") != privacy.PurposeMarketing {
		t.Errorf("ledger entry: channel %q, source_ip %q, user_agent %q, purpose %q", mapStr(ev, "detail", "channel"),
			mapStr(ev, "detail", "source_ip"), mapStr(ev, "detail", "user_agent"), str(ev, "purpose"))
	}
	n := 0
	pk := "S#" + string(s.hasher.Subject(person))
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "pk") == pk && str(it, "event") == "unsubscribed" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d unsubscribed entries for one message naming the address twice", n)
	}
	// Withdrawn as by the link: the receipt goes out, the next campaign
	// leaves the person out and still reaches the other.
	s.mailTo(t, person, "You are unsubscribed")
	if res := s.campaign(t, "m2-"+u, "newsletter"); res["sent"] != 1 || res["planned"] != 1 {
		t.Fatalf("campaign after the mailto: unsubscribe: %v", res)
	}
	s.mailTo(t, stranger, "News m2-")
	if got := localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(person) && strings.HasPrefix(e.Subject, "News m2-") }); len(got) != 0 {
		t.Errorf("the unsubscribed person got the next campaign")
	}
	logs := strings.ToLower(s.logs.String())
	for _, secret := range []string{person, stranger, strings.Split(mine, "@")[0], strings.Split(theirs, "@")[0], "whoever@example.org"} {
		if strings.Contains(logs, strings.ToLower(secret)) {
			t.Errorf("a log line contains %q", secret)
		}
	}
}

// #34 item 7: a campaign reaches each subscriber in the language they
// signed up in: the team's German text and a German footer for a German
// subscriber, the default text and an English footer for an English one,
// and a French subscriber, of a campaign without French, the default
// text under a French footer. Through the campaign path: the campaign
// function plans it, the sender mails it from the queue.
func TestCampaignInTheSubscribersLanguage(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	readers := map[string]string{"de": "leser-" + u + "@example.com", "en": "reader-" + u + "@example.com", "fr": "lecteur-" + u + "@example.com"}
	confirmSubject := map[string]string{"de": "Bitte bestätigen Sie Ihr Abonnement", "en": "Please confirm your subscription",
		"fr": "Merci de confirmer votre inscription"}
	for lang, addr := range readers {
		resp, out := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+addr+`","topics":["newsletter"],"consent":true}`,
			map[string]string{"Accept-Language": lang})
		if resp.StatusCode != 202 {
			t.Fatalf("signup %s: %d %s", lang, resp.StatusCode, out)
		}
		link := confirmLink.FindString(s.mailTo(t, addr, confirmSubject[lang]).Body.Text)
		if resp, out := s.do(t, "POST", s.path(t, link), "", "", nil); resp.StatusCode != 200 {
			t.Fatalf("confirm %s: %d %s", lang, resp.StatusCode, out)
		}
	}
	id := "lang-" + u
	st := s.campaignStatus(t, `{"campaign_id":"`+id+`","topic":"newsletter","subject":"December news","body":"What is new in December.",
		"translations":{"de":{"subject":"Neues im Dezember","body":"Was es im Dezember Neues gibt."}}}`)
	for deadline := time.Now().Add(60 * time.Second); st.State != "done"; st = s.campaignStatus(t, `{"campaign_id":"`+id+`"}`) {
		if time.Now().After(deadline) {
			t.Fatalf("campaign not done: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st.Sent != 3 {
		t.Fatalf("campaign: %+v", st)
	}
	for _, tc := range []struct {
		lang, subject, body, footer, notFooter string
	}{
		{"de", "Neues im Dezember", "Was es im Dezember Neues gibt.", "Sie erhalten diese E-Mail, weil Sie „newsletter“", "You receive this"},
		{"en", "December news", "What is new in December.", "You receive this because you subscribed to \"newsletter\"", "Sie erhalten"},
		{"fr", "December news", "What is new in December.", "Vous recevez cet e-mail parce que vous êtes inscrit à « newsletter »", "You receive this"},
	} {
		m := s.mailTo(t, readers[tc.lang], tc.subject)
		link, mailto := m.ListUnsubscribe()
		if !strings.HasPrefix(m.Body.Text, tc.body) || !strings.Contains(m.Body.Text, tc.footer) || strings.Contains(m.Body.Text, tc.notFooter) ||
			!strings.Contains(m.Body.HTML, `lang="`+tc.lang+`"`) || !strings.Contains(m.Body.Text, link) || mailto == "" {
			t.Errorf("%s subscriber's campaign email:\n%s\n%s", tc.lang, m.Body.Text, m.Body.HTML)
		}
	}
}
