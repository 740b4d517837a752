package e2e

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

var answerLink = regexp.MustCompile(`http://[^\s"<>]+/v1/rights-requests/[0-9a-f-]+/answer\?token=[A-Za-z0-9_-]+`)

// verifiedRectification files a free-text rectification for addr and
// verifies it: it then waits for the team (awaiting_review). It returns
// the request's id and its status link.
func (s *stack) verifiedRectification(t *testing.T, addr, details string) (id, status string) {
	t.Helper()
	id, verify, status := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"rectification","details":"`+details+`"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, string(privacy.RequestAwaitingReview)) {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	return id, status
}

// request is the stored request id.
func (s *stack) request(t *testing.T, id string) map[string]string {
	t.Helper()
	for _, it := range s.items(t, "RequestsTable") {
		if str(it, "id") == id && str(it, "sk") == "REQUEST" {
			out := map[string]string{}
			for _, k := range []string{"status", "question", "answer", "answered_at", "asked_from", "due_at", "mail_due"} {
				out[k] = str(it, k)
			}
			return out
		}
	}
	t.Fatalf("no request %s", id)
	return nil
}

// A question asked and answered by link (#34 item 3, policy §8 "we may
// contact you for further information"): the team asks with privacyctl;
// the requester is emailed the question, the link and the deadline that
// stays; the link's page shows the question and a form (GET changes
// nothing); the answer is stored, the ledger records it, the request
// returns to the team, who are emailed (without the answer) and see it in
// privacyctl show; nobody else is shown it (the status page, the lists,
// the logs); the same link again is refused and changes nothing.
func TestQuestionAskedAndAnsweredByLink(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	addr := "asked-" + u + "@example.com"
	id, status := s.verifiedRectification(t, addr, "my name is spelt wrong")
	due := s.request(t, id)["due_at"]

	question := "Which spelling is right, QUESTION-" + u + "?\nAs on your passport, please."
	if out, err := s.privacyctl(t, "ask", id, "-question", question); err != nil || !strings.Contains(out, "the deadline stays") {
		t.Fatalf("ask: %v %s", err, out)
	}
	if r := s.request(t, id); r["status"] != string(privacy.RequestWaitingForInformation) || r["asked_from"] != string(privacy.RequestAwaitingReview) ||
		r["due_at"] != due || r["question"] != question {
		t.Fatalf("asked: %v (due %s before)", r, due)
	}
	if ev := s.ledgerEvent(t, addr, "information_requested"); mapStr(ev, "detail", "by") != dpoARN || strings.Contains(fmtJSON(ev), "QUESTION-"+u) {
		t.Fatalf("the ledger's information_requested: %v", ev)
	}
	mail := s.mailTo(t, addr, "A question about your privacy request "+id)
	link := answerLink.FindString(mail.Body.Text)
	dueDay, _ := time.Parse("2006-01-02", due[:10])
	if link == "" || !strings.Contains(mail.Body.Text, question) || !strings.Contains(mail.Body.Text, dueDay.Format("2 January 2006")) ||
		!strings.Contains(mail.Body.Text, "does not stop that time") || !strings.Contains(mail.Body.HTML, "QUESTION-"+u) {
		t.Fatalf("the question's email:\n%s", mail.Body.Text)
	}
	for _, h := range mail.Headers {
		if strings.EqualFold(h.Name, "List-Unsubscribe") {
			t.Fatalf("a service message carries marketing headers: %v", mail.Headers)
		}
	}

	// GET shows the question and a form, and changes nothing.
	resp, page := s.do(t, "GET", s.path(t, link), "", "", map[string]string{"Accept": "text/html", "Accept-Language": "de"})
	if resp.StatusCode != 200 || !strings.Contains(page, "QUESTION-"+u) || !strings.Contains(page, `<textarea id="answer-answer" name="answer"`) ||
		!strings.Contains(page, "Die Frist Ihrer Anfrage bleibt") {
		t.Fatalf("the answer page: %d %s", resp.StatusCode, page)
	}
	if r := s.request(t, id); r["status"] != string(privacy.RequestWaitingForInformation) || r["answer"] != "" {
		t.Fatalf("opening the page changed the request: %v", r)
	}

	// The answer, posted as the page's plain form does.
	answer := "ANSWER-" + u + ": Zoë Müller,\nas on the passport."
	resp, out := s.do(t, "POST", s.path(t, link), "application/x-www-form-urlencoded", "answer="+url.QueryEscape(answer),
		map[string]string{"Accept": "text/html"})
	if resp.StatusCode != 200 || !strings.Contains(out, "We received your answer") {
		t.Fatalf("answer: %d %s", resp.StatusCode, out)
	}
	r := s.request(t, id)
	if r["status"] != string(privacy.RequestAwaitingReview) || r["answer"] != answer || r["answered_at"] == "" || r["due_at"] != due {
		t.Fatalf("answered: %v", r)
	}
	s.ledgerEvent(t, addr, "information_provided")
	team := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(s.team) && strings.Contains(e.Subject, "The requester answered: request "+id)
	})
	if len(team) != 1 || !strings.Contains(team[0].Body.Text, "/console/requests/"+id) || strings.Contains(team[0].Body.Text, "ANSWER-"+u) ||
		strings.Contains(team[0].Body.Text, addr) {
		t.Fatalf("the team's notice: %+v", team)
	}

	// The same link again: refused, nothing changes.
	resp, out = s.do(t, "POST", s.path(t, link), "application/json", `{"answer":"REPLAY-`+u+`"}`, nil)
	if resp.StatusCode != 409 || !strings.Contains(out, "not_waiting") {
		t.Fatalf("a second answer: %d %s", resp.StatusCode, out)
	}
	if resp, _ := s.do(t, "GET", s.path(t, link), "", "", nil); resp.StatusCode != 409 {
		t.Fatalf("the answered question's page: %d", resp.StatusCode)
	}
	if r := s.request(t, id); r["answer"] != answer || r["status"] != string(privacy.RequestAwaitingReview) {
		t.Fatalf("a second answer changed the request: %v", r)
	}

	// The team reads it; nobody else is shown it.
	if out, err := s.privacyctl(t, "show", id); err != nil || !strings.Contains(out, "ANSWER-"+u) {
		t.Fatalf("show: %v %s", err, out)
	}
	if out, err := s.privacyctl(t, "list", "-json"); err != nil || strings.Contains(out, "ANSWER-"+u) || strings.Contains(out, "QUESTION-"+u) {
		t.Fatalf("the list shows what the person wrote: %v %s", err, out)
	}
	for _, accept := range []string{"text/html", "application/json"} {
		if resp, out := s.do(t, "GET", s.path(t, status), "", "", map[string]string{"Accept": accept}); resp.StatusCode != 200 ||
			strings.Contains(out, "ANSWER-"+u) || strings.Contains(out, "QUESTION-"+u) {
			t.Fatalf("the status page (%s): %d %s", accept, resp.StatusCode, out)
		}
	}
	if logs := s.logs.String(); strings.Contains(logs, "ANSWER-"+u) || strings.Contains(logs, "QUESTION-"+u) || strings.Contains(logs, addr) {
		t.Fatal("a log line holds the question, the answer or the address")
	}

	// Completed: the last email goes and the request keeps neither the
	// address nor what was written of the person.
	if out, err := s.privacyctl(t, "complete", id, "-note", "Name corrected."); err != nil {
		t.Fatalf("complete: %v %s", err, out)
	}
	s.mailTo(t, addr, "Your data is corrected")
	deadline := time.Now().Add(20 * time.Second)
	for len(s.traces(t, "ANSWER-"+u, "QUESTION-"+u, addr)) > 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if found := s.traces(t, "ANSWER-"+u, "QUESTION-"+u, addr); len(found) != 0 {
		t.Fatalf("after the last email, the question, the answer or the address remain in %v", found)
	}
}

// What a stranger, or a stale link, can do with the question's link and
// the team's action: nothing is mailed to an address nobody verified (ask
// on an unverified request is refused, no mail); a link answers only its
// own request; an answer with bidi or invisible formatting characters is
// refused with its field (400) and nothing is stored; an answer once the
// team decided (no longer waiting) is refused (409) and changes nothing.
func TestAbuseAnswerLinks(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	mine, theirs, stranger := "mine-"+u+"@example.com", "theirs-"+u+"@example.com", "victim-"+u+"@example.com"

	// Filed by anyone under someone's address, never verified: the team's
	// question would be text a stranger made the company send.
	code, f := s.file(t, `{"email":"`+stranger+`","type":"access"}`)
	if code != 202 {
		t.Fatalf("file: %d", code)
	}
	if out, err := s.privacyctl(t, "ask", f.ID, "-question", "Which account?"); err == nil || !strings.Contains(out, "not verified") {
		t.Fatalf("asked an unverified request: %v %s", err, out)
	}
	if out, err := s.privacyctl(t, "ask", f.ID, "-question", "Which \u202eaccount?"); err == nil {
		t.Fatalf("asked a question with a bidi override: %s", out)
	}

	a, _ := s.verifiedRectification(t, mine, "my phone is wrong")
	b, _ := s.verifiedRectification(t, theirs, "my company is wrong")
	if out, err := s.privacyctl(t, "ask", a, "-question", "Which number?"); err != nil {
		t.Fatalf("ask: %v %s", err, out)
	}
	if out, err := s.privacyctl(t, "ask", b, "-question", "Which company?"); err != nil {
		t.Fatalf("ask: %v %s", err, out)
	}
	linkA := answerLink.FindString(s.mailTo(t, mine, "A question about").Body.Text)
	linkB := answerLink.FindString(s.mailTo(t, theirs, "A question about").Body.Text)
	tokA := linkA[strings.Index(linkA, "?"):]

	for _, tc := range []struct {
		name, path, contentType, body string
		status                        int
		code                          string
	}{
		{"a's link on b's request", "/v1/rights-requests/" + b + "/answer" + tokA, "application/json", `{"answer":"HIJACK-` + u + `"}`, 400, "invalid_token"},
		{"a forged token", "/v1/rights-requests/" + a + "/answer?token=" + strings.Repeat("A", 100), "application/json", `{"answer":"FORGED-` + u + `"}`, 400, "invalid_token"},
		{"a bidi override", s.path(t, linkA), "application/x-www-form-urlencoded", "answer=" + url.QueryEscape("BIDI-"+u+"\u202egpj.exe"), 400, "format_characters"},
		{"a zero-width space", s.path(t, linkA), "application/json", `{"answer":"ZW-` + u + `\u200b"}`, 400, "format_characters"},
		{"a control character", s.path(t, linkA), "application/json", `{"answer":"CTRL-` + u + `\u0007"}`, 400, "control_characters"},
		{"too long", s.path(t, linkA), "application/json", `{"answer":"` + strings.Repeat("x", privacy.MaxAnswer+1) + `"}`, 400, "too_long"},
	} {
		resp, out := s.do(t, "POST", tc.path, tc.contentType, tc.body, nil)
		if resp.StatusCode != tc.status || !strings.Contains(out, tc.code) {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, out)
		}
	}
	// The page's plain form: drawn again with the error at the field.
	if resp, out := s.do(t, "POST", s.path(t, linkA), "application/x-www-form-urlencoded", "answer="+url.QueryEscape("BIDI-"+u+"\u202e"),
		map[string]string{"Accept": "text/html"}); resp.StatusCode != 400 || !strings.Contains(out, `aria-invalid="true"`) ||
		!strings.Contains(out, "Which number?") {
		t.Errorf("a bidi override through the page: %d %s", resp.StatusCode, out)
	}
	if resp, _ := s.do(t, "GET", "/v1/rights-requests/"+b+"/answer"+tokA, "", "", nil); resp.StatusCode != 400 {
		t.Errorf("a's link shows b's question: %d", resp.StatusCode)
	}
	for _, id := range []string{a, b} {
		if r := s.request(t, id); r["status"] != string(privacy.RequestWaitingForInformation) || r["answer"] != "" {
			t.Errorf("a refused answer changed request %s: %v", id, r)
		}
	}
	if found := s.traces(t, "HIJACK-"+u, "FORGED-"+u, "BIDI-"+u, "ZW-"+u, "CTRL-"+u); len(found) != 0 {
		t.Fatalf("a refused answer was stored: %v", found)
	}

	// The team denies b while it waits: its link answers nothing more.
	if out, err := s.privacyctl(t, "deny", b, "-reason", "We hold no company name for you."); err != nil {
		t.Fatalf("deny: %v %s", err, out)
	}
	resp, out := s.do(t, "POST", s.path(t, linkB), "application/json", `{"answer":"LATE-`+u+`"}`, nil)
	if resp.StatusCode != 409 || !strings.Contains(out, "not_waiting") {
		t.Fatalf("an answer to a denied request: %d %s", resp.StatusCode, out)
	}
	if r := s.request(t, b); r["status"] != string(privacy.RequestDenied) || r["answer"] != "" {
		t.Fatalf("an answer to a denied request changed it: %v", r)
	}
	// Nothing but the acknowledgement went to the address nobody verified.
	if got := s.mailsTo(t, stranger); len(got) != 1 {
		t.Fatalf("%d emails to the unverified address, want the acknowledgement alone", len(got))
	}
}
