package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/ledger"
)

func TestContactEndToEnd(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	email := "Visitor." + u + "@Example.com"
	normalised := strings.ToLower(email)
	name := "Zoë <b>" + u + "</b>"
	message := "Please call me about " + u + " <script>alert(1)</script>"
	ua := "E2E-Agent/" + u
	body, _ := json.Marshal(map[string]any{"name": name, "email": email, "message": message, "topic": "demo",
		"company": "ACME " + u, "phone": "+44 20 7946 0000"})
	resp, out := s.do(t, "POST", "/v1/contact", "application/json", string(body), map[string]string{
		"User-Agent": ua, "Accept-Language": "de-CH", "Referer": "https://www.example.com/contact?x=" + u,
	})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	var got struct{ ID, Status string }
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Status != "received" || len(got.ID) != 36 {
		t.Fatalf("body %s", out)
	}

	// Stored under the subject hash, with what it is for and where it came from.
	subject := string(s.hasher.Subject(email))
	items := s.items(t, "SubjectsTable")
	if len(items) != 1 {
		t.Fatalf("%d items stored, want 1", len(items))
	}
	it := items[0]
	meta, _ := it["meta"].(*types.AttributeValueMemberM)
	if str(it, "pk") != "S#"+subject || str(it, "id") != got.ID || str(it, "email") != normalised ||
		str(it, "name") != name || str(it, "message") != message || str(it, "legal_basis") != "legitimate_interest" ||
		str(it, "purpose") != "respond_to_inquiry" || str(it, "policy_version") != "2018-07-10" || meta == nil ||
		str(meta.Value, "source_ip") != "127.0.0.77" || str(meta.Value, "user_agent") != ua ||
		str(meta.Value, "accept_language") != "de-CH" || !strings.Contains(str(meta.Value, "referrer"), u) ||
		str(meta.Value, "received_at") == "" {
		t.Fatalf("stored item %v", it)
	}
	for _, ttl := range []string{"expires_at", "meta_expires_at"} {
		if _, ok := it[ttl].(*types.AttributeValueMemberN); !ok {
			t.Errorf("item lacks %s", ttl)
		}
	}
	// Its ledger entry is the mailer's, written from the inquiry's stream
	// record under the mailer's template role (the stack fails the test on
	// any call IAM refuses): waited for, then read.
	entry := s.waitLedger(t, "S#"+subject, "inquiry_received", 30*time.Second)
	if str(entry, "ref") != got.ID || str(entry, "purpose") != "respond_to_inquiry" || str(entry, "legal_basis") != "legitimate_interest" ||
		str(entry, "policy_version") != "2018-07-10" || str(entry, "day") == "" || entry["detail"] != nil {
		t.Fatalf("ledger entry %v", entry)
	}
	scan, err := dynamo.New(s.DB(), dynamo.Tables{Ledger: s.Tables["LedgerTable"]}).ScanLedger(context.Background())
	if err != nil || len(scan) != 1 || scan[0].Hash == "" || ledger.Check(scan[0]) != "" {
		t.Fatalf("the ledger: %d entries, %v; %+v", len(scan), err, scan)
	}

	// Two emails: the acknowledgement and the team's notification.
	mails := localtest.WaitEmails(t, s.svc, 2, 20*time.Second, localtest.Mentions(normalised))
	if len(mails) != 2 {
		t.Fatalf("%d emails arrived, want 2", len(mails))
	}
	var ack, team *localtest.Email
	for i := range mails {
		switch {
		case mails[i].To(normalised):
			ack = &mails[i]
		case mails[i].To(s.team):
			team = &mails[i]
		}
	}
	if ack == nil || team == nil {
		t.Fatalf("recipients wrong: %+v", mails)
	}
	if len(team.ReplyTo) != 1 || team.ReplyTo[0] != normalised {
		t.Errorf("team mail reply-to %v", team.ReplyTo)
	}
	if !strings.Contains(team.Body.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(team.Body.HTML, "<script>") {
		t.Errorf("the message is not escaped in the team's HTML")
	}
	if !strings.Contains(team.Body.HTML, "Zoë &lt;b&gt;"+u+"&lt;/b&gt;") || strings.Contains(team.Body.HTML, "<b>"+u) {
		t.Errorf("the name is not escaped in the team's HTML")
	}
	// The acknowledgement goes to an address nobody has confirmed: it
	// carries nothing the sender typed, not even the name.
	if strings.Contains(ack.Body.HTML, u+"&lt;/b&gt;") || strings.Contains(ack.Body.Text, "Zoë") || strings.Contains(ack.Body.HTML, "Zoë") {
		t.Errorf("the acknowledgement carries the submitted name")
	}
	if !strings.Contains(team.Body.Text, message) || !strings.Contains(ack.Body.Text, got.ID) {
		t.Errorf("text parts lack content")
	}
	// Once each: the stream may replay, the sent-markers hold.
	s.idle(t)
	if n := len(localtest.Emails(t, s.svc, localtest.Mentions(normalised))); n != 2 {
		t.Errorf("%d emails after waiting, want still 2", n)
	}

	// No personal data in any log line of any function or the gateway.
	logs := s.logs.String()
	if !strings.Contains(logs, got.ID) {
		t.Fatalf("the log does not show the inquiry id, so it cannot be checked:\n%s", logs)
	}
	// The phone in each form a line could carry it (as sent, without its
	// spaces, digits only, the local number): "7946" alone was also part
	// of other numbers in a busy run's log (a timestamp, a duration).
	for _, pii := range []string{normalised, email, u + "@", "Zoë", message, "Please call me", "127.0.0.77", ua, "ACME " + u,
		"+44 20 7946 0000", "+442079460000", "442079460000", "7946 0000", "79460000"} {
		if strings.Contains(logs, pii) {
			t.Errorf("a log line contains personal data %q", pii)
		}
	}
}

func TestContactFormPostFromBrowser(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	form := url.Values{"name": {"Ann " + u}, "email": {"ann-" + u + "@example.com"}, "message": {"Hi"}, "marketing_opt_in": {"on"}}
	resp, out := s.do(t, "POST", "/v1/contact", "application/x-www-form-urlencoded", form.Encode(),
		map[string]string{"Accept": "text/html"})
	if resp.StatusCode != http.StatusAccepted || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(out, "Thank you") {
		t.Fatalf("status %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), out)
	}
	// The opt-in box starts the newsletter's double opt-in: a pending
	// subscription beside the inquiry, and a confirmation email.
	kinds := map[string]string{}
	for _, it := range s.items(t, "SubjectsTable") {
		kinds[str(it, "kind")] = str(it, "status")
	}
	if len(kinds) != 2 || kinds["subscription"] != "pending" {
		t.Fatalf("items by kind: %v", kinds)
	}
	addr := "ann-" + u + "@example.com"
	if mails := localtest.WaitEmails(t, s.svc, 2, 20*time.Second, func(e localtest.Email) bool { return e.To(addr) }); len(mails) != 2 {
		t.Fatalf("%d emails to the visitor, want the acknowledgement and the confirmation", len(mails))
	}
	form.Set("email", "not an address")
	resp, out = s.do(t, "POST", "/v1/contact", "application/x-www-form-urlencoded", form.Encode(),
		map[string]string{"Accept": "text/html"})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(out, "email") || !strings.Contains(out, "<html") {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	addr := func(tag string) string { return tag + "-" + u + "@example.com" }
	js := func(v map[string]any) string { b, _ := json.Marshal(v); return string(b) }
	ok := func(tag string) map[string]any {
		return map[string]any{"name": "N " + tag, "email": addr(tag), "message": "M " + tag}
	}
	set := func(tag, k string, v any) string {
		m := ok(tag)
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return js(m)
	}
	tests := []struct {
		name, ct, body string
		status         int
		code, field    string
	}{
		{"malformed JSON", "application/json", `{"email":"` + addr("malformed") + `","name":`, 400, "validation_failed", ""},
		{"70 KiB body", "application/json", set("big", "message", strings.Repeat("x", 70<<10)), 413, "payload_too_large", ""},
		{"text/plain", "text/plain", set("plain", "name", "N"), 415, "unsupported_media_type", ""},
		{"no content type", "", set("noct", "name", "N"), 415, "unsupported_media_type", ""},
		{"LF in name", "application/json", set("lf", "name", "Ann\nBcc: victim@example.com"), 400, "validation_failed", "name"},
		{"CR in name", "application/json", set("cr", "name", "Ann\rX"), 400, "validation_failed", "name"},
		{"missing name", "application/json", set("noname", "name", nil), 400, "validation_failed", "name"},
		{"missing email", "application/json", js(map[string]any{"name": "N noemail-" + u, "message": "M"}), 400, "validation_failed", "email"},
		{"invalid email", "application/json", set("bad", "email", "bad-"+u+"@"), 400, "validation_failed", "email"},
		{"missing message", "application/json", set("nomsg", "message", nil), 400, "validation_failed", "message"},
		{"over-long name", "application/json", set("longname", "name", strings.Repeat("n", 201)), 400, "validation_failed", "name"},
		{"bidi override in message", "application/json", set("bidi", "message", "Refund to \u202eKCAB 0001\u202c please"), 400, "validation_failed", "message"},
		{"zero-width space in message", "application/json", set("zwsp", "message", "pass\u200bword"), 400, "validation_failed", "message"},
		{"over-long message", "application/json", set("longmsg", "message", strings.Repeat("m", 5001)), 400, "validation_failed", "message"},
		{"over-long phone", "application/json", set("longphone", "phone", strings.Repeat("1", 41)), 400, "validation_failed", "phone"},
		{"wrong type", "application/json", set("type", "name", 12), 400, "validation_failed", "name"},
		{"unknown topic", "application/json", set("topic", "topic", "sales"), 400, "validation_failed", "topic"},
		{"filled honeypot", "application/json", set("honey", "website", "http://spam.example"), 202, "", ""},
	}
	for _, tt := range tests {
		resp, out := s.do(t, "POST", "/v1/contact", tt.ct, tt.body, nil)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d: %.200s", tt.name, resp.StatusCode, tt.status, out)
			continue
		}
		if tt.status == 202 {
			if !strings.Contains(out, `"status":"received"`) {
				t.Errorf("%s: the honeypot answer must look like any other: %s", tt.name, out)
			}
			continue
		}
		var e struct {
			Error struct {
				Code    string            `json:"code"`
				Message string            `json:"message"`
				Fields  map[string]string `json:"fields"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(out), &e); err != nil || e.Error.Code != tt.code || e.Error.Message == "" {
			t.Errorf("%s: body %.300s", tt.name, out)
			continue
		}
		if tt.field != "" && e.Error.Fields[tt.field] == "" {
			t.Errorf("%s: no error for field %s in %v", tt.name, tt.field, e.Error.Fields)
		}
	}
	// Nothing stored, nothing sent: once the stack is idle, anything it
	// would deliver has been.
	s.idle(t)
	for _, table := range []string{"SubjectsTable", "LedgerTable", "OpsTable"} {
		n := 0
		for _, it := range s.items(t, table) {
			if str(it, "pk") != "RCPTKEY" { // the receipt key the mailer published at its start
				n++
			}
		}
		if n != 0 {
			t.Errorf("%s holds %d items after bad input", table, n)
		}
	}
	if mails := localtest.Emails(t, s.svc, func(e localtest.Email) bool {
		return localtest.Mentions(u)(e) || e.To(s.team)
	}); len(mails) != 0 {
		t.Errorf("%d emails sent for bad input", len(mails))
	}
}

func TestHealthAndCORS(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	resp, out := s.do(t, "GET", "/v1/health", "", "", nil)
	if resp.StatusCode != 200 || strings.TrimSpace(out) != `{"status":"ok"}` {
		t.Fatalf("health %d %s", resp.StatusCode, out)
	}
	resp, _ = s.do(t, "OPTIONS", "/v1/contact", "", "", map[string]string{
		"Origin": "https://www.example.com", "Access-Control-Request-Method": "POST"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://www.example.com" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight from the site: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = s.do(t, "OPTIONS", "/v1/contact", "", "", map[string]string{
		"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin was allowed: %v", resp.Header)
	}
	resp, _ = s.do(t, "GET", "/v1/nowhere", "", "", nil)
	if resp.StatusCode != 404 {
		t.Errorf("unknown route: %d", resp.StatusCode)
	}
}

// The address corpus through every form: what SES cannot deliver to or
// what hides text is 400 on email and stores nothing; an internationalised
// domain is stored in its punycode form and the acknowledgement actually
// arrives there. None is 202 followed by no mail.
func TestAddressCorpusEndToEnd(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	refused := []string{
		"zoë-" + u + "@bücher.example", "zoë-" + u + "@example.com", "zw\u200b" + u + "@example.com",
		"rtl\u202e" + u + "@example.com", "ls-" + u + "@example.com\u2028", "lit-" + u + "@[192.0.2.1]",
		"bad-" + u + "@xn--zz.example",
	}
	before := len(s.items(t, "SubjectsTable")) + len(s.items(t, "RequestsTable"))
	for _, addr := range refused {
		for _, route := range []struct{ path, body string }{
			{"/v1/contact", `{"name":"A","message":"m","email":%q}`},
			{"/v1/subscriptions", `{"topics":["newsletter"],"consent":true,"email":%q}`},
			{"/v1/rights-requests", `{"type":"access","email":%q}`},
		} {
			resp, out := s.do(t, "POST", route.path, "application/json", fmt.Sprintf(route.body, addr), nil)
			if resp.StatusCode != 400 || !strings.Contains(out, "validation_failed") || !strings.Contains(out, `"email"`) {
				t.Errorf("%s %q: %d %s", route.path, addr, resp.StatusCode, out)
			}
		}
	}
	if after := len(s.items(t, "SubjectsTable")) + len(s.items(t, "RequestsTable")); after != before {
		t.Fatalf("refused addresses stored %d items", after-before)
	}
	// An IDN domain: stored, hashed and mailed as punycode.
	idn, puny := "zoe-"+u+"@Bücher.example", "zoe-"+u+"@xn--bcher-kva.example"
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", fmt.Sprintf(`{"name":"Zoe","message":"m","email":%q}`, idn), nil); resp.StatusCode != 202 {
		t.Fatalf("IDN address: %d %s", resp.StatusCode, out)
	}
	var stored string
	for _, it := range s.items(t, "SubjectsTable") {
		if str(it, "pk") == "S#"+string(s.hasher.Subject(puny)) {
			stored = str(it, "email")
		}
	}
	if stored != puny {
		t.Fatalf("stored as %q, want %q", stored, puny)
	}
	if got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool { return e.To(puny) }); len(got) != 1 {
		t.Fatalf("%d acknowledgements delivered to %s", len(got), puny)
	}
}

// waitLedger waits for the ledger entry of event in partition pk (an
// entry written from a stream record, not by the request) and returns it.
func (s *stack) waitLedger(t *testing.T, pk, event string, wait time.Duration) map[string]types.AttributeValue {
	t.Helper()
	for deadline := time.Now().Add(wait); ; time.Sleep(100 * time.Millisecond) {
		for _, it := range s.items(t, "LedgerTable") {
			if str(it, "pk") == pk && str(it, "event") == event {
				return it
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s entry in %s after %s", event, pk, wait)
		}
	}
}
