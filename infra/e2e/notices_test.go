package e2e

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/sns/snstest"
)

// A policy notice is mail like a marketing email (#34 item 4): it carries
// the RFC 8058 one-click headers and the link in its footer, a
// subscriber's also the preferences link; it reaches the people whose
// inquiries are still kept, not an address that complained or
// unsubscribed (from a notice too), nor a person who restricted their
// processing, for whom an old confirmation link and a new topic start
// nothing either.
func TestPolicyNoticesAreMarketingGrade(t *testing.T) {
	t.Parallel()
	signer := snstest.New(t)
	standIn := newSNSStandIn(t, signer)
	s := startStackOpts(t, localtest.Need(t), 2, map[string]string{"SNS_ENDPOINT": standIn.URL}, nil)
	u := localtest.Unique()
	reader, complainer, restricted, writer := "reader-"+u+"@example.com", "complainer-"+u+"@example.com",
		"restricted-"+u+"@example.com", "writer-"+u+"@example.com"
	for _, a := range []string{reader, complainer, restricted} {
		s.subscribed(t, a)
	}
	// The restricted person also has a second signup waiting: its
	// confirmation link, clicked after the restriction, confirms nothing.
	late := "late-" + u + "@example.com"
	if resp, out := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+late+`","topics":["newsletter"],"consent":true}`, nil); resp.StatusCode != 202 {
		t.Fatalf("signup: %d %s", resp.StatusCode, out)
	}
	lateConfirm := confirmLink.FindString(s.mailTo(t, late, "Please confirm your subscription").Body.Text)
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"Wri","email":"`+writer+`","message":"A question"}`, nil); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}

	// A new topic offered: the restricted person is offered it before
	// their restriction, and cannot take it after.
	today := time.Now().UTC().Format(time.DateOnly)
	publish := func(version string, args ...string) {
		t.Helper()
		if out, err := s.privacyctl(t, append([]string{"policy", "publish", "-version", version, "-effective", today}, args...)...); err != nil {
			t.Fatalf("publish %s: %v %s", version, err, out)
		}
		if resp, out := s.do(t, "POST", "/_local/invoke/NoticesFunction", "application/json", `{}`, nil); resp.StatusCode != 200 {
			t.Fatalf("notices run: %d %s", resp.StatusCode, out)
		}
	}
	publish("offer-"+u, "-summary", "Event invitations are new.", "-new-purpose", "events")
	offer := addTopicLink.FindString(s.mailTo(t, restricted, "Something new you can choose to receive").Body.Text)
	for _, a := range []string{restricted, late} {
		rid, verify, _ := s.fileAndOpen(t, a, `{"email":"`+a+`","type":"restriction","details":"disputed"}`)
		if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || len(s.restrictionOf(t, a)) != 1 {
			t.Fatalf("restriction %s of %s: %d %s", rid, a, resp.StatusCode, out)
		}
	}
	if resp, out := s.do(t, "POST", s.path(t, offer), "", "", nil); resp.StatusCode != 409 || !strings.Contains(out, `"restricted"`) {
		t.Fatalf("a new topic for a restricted person: %d %s", resp.StatusCode, out)
	}
	if resp, out := s.do(t, "POST", s.path(t, lateConfirm), "", "", nil); resp.StatusCode != 409 || !strings.Contains(out, `"restricted"`) {
		t.Fatalf("a confirmation after the restriction: %d %s", resp.StatusCode, out)
	}
	if got := str(s.subscription(t, late), "status"); got != "pending" {
		t.Fatalf("the late signup is %q after its confirmation link under a restriction", got)
	}
	if got := strings.Join(ss(s.subscription(t, restricted), "topics"), ","); got != "newsletter" {
		t.Fatalf("the restricted person's topics: %s", got)
	}

	// A complaint.
	m := signer.Notification(t, `{"notificationType":"Complaint","mail":{"messageId":"m-`+u+`"},"complaint":{"complainedRecipients":[{"emailAddress":"`+complainer+`"}]}}`, "2")
	m.TopicArn = s.feedbackTopic(t)
	signer.Sign(t, &m, "2")
	raw, _ := json.Marshal(m)
	if resp, out := s.do(t, "POST", "/v1/ses-notifications", "text/plain; charset=UTF-8", string(raw),
		map[string]string{"x-amz-sns-message-type": "Notification"}); resp.StatusCode != 200 {
		t.Fatalf("complaint: %d %s", resp.StatusCode, out)
	}

	// A material change.
	const updated = "We have updated our privacy policy"
	publish("material-"+u, "-material", "-summary", "We keep support chats for 12 months.")
	notice := s.mailTo(t, reader, updated)
	lu := notice.Header("List-Unsubscribe")
	if !strings.HasPrefix(lu, "<http") || !strings.Contains(lu, "/v1/unsubscribe?token=") ||
		notice.Header("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Fatalf("the subscriber's notice has no one-click headers: %+v", notice.Headers)
	}
	if link, _ := notice.ListUnsubscribe(); !strings.Contains(notice.Body.Text, link) || !strings.Contains(notice.Body.Text, "/v1/preferences?token=") {
		t.Fatalf("the subscriber's notice has no unsubscribe or preferences link:\n%s", notice.Body.Text)
	}
	told := s.mailTo(t, writer, updated)
	if !strings.Contains(told.Body.Text, "you wrote to us") || strings.Contains(told.Body.Text, "/v1/preferences?token=") {
		t.Fatalf("the inquirer's notice:\n%s", told.Body.Text)
	}
	// The inquirer stops them with one click (RFC 8058: a POST of the
	// header's link).
	oneClick, _ := told.ListUnsubscribe()
	if resp, out := s.do(t, "POST", s.path(t, oneClick), "application/x-www-form-urlencoded",
		url.Values{"List-Unsubscribe": {"One-Click"}}.Encode(), nil); resp.StatusCode != 200 {
		t.Fatalf("one-click from a notice: %d %s", resp.StatusCode, out)
	}
	// Nothing to the complainer nor the restricted person; the notices
	// after them went (the mailer sends in order of the stream).
	s.idle(t)
	for _, a := range []string{complainer, restricted, late} {
		if got := localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(a) && e.Subject == updated }); len(got) != 0 {
			t.Errorf("%s was sent the notice", a)
		}
	}

	// The next change reaches the reader, not the inquirer who clicked.
	publish("again-"+u, "-material", "-summary", "We keep support chats for 6 months.")
	got := localtest.WaitEmails(t, s.svc, 2, 20*time.Second, func(e localtest.Email) bool { return e.To(reader) && e.Subject == updated })
	if len(got) != 2 {
		t.Fatalf("the reader got %d notices of two changes", len(got))
	}
	s.idle(t)
	if n := len(localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(writer) && e.Subject == updated })); n != 1 {
		t.Fatalf("the inquirer who stopped them got %d notices", n)
	}
}
