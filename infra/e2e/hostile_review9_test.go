package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/sns"
	"github.com/privacykeeper/privacykeeper/shared/sns/snstest"
)

// HOSTILE (review 9), replay: one transient bounce (a full mailbox, a
// greylisting server), delivered three times, is counted three times: the
// address is suppressed as if it had soft-bounced three separate emails,
// and its newsletter subscription is now ENDED (topics off, the consent's
// proof withdrawn, deleted in 30 days). SNS delivers at least once (and
// retries a whole Lambda batch when one message in it fails); on the
// public HTTPS route anyone holding one captured message may post it again
// within sns.MaxAge. ABUSE-CASES "replay": act once. One SES bounce
// (mail.messageId, recipient) must count once.
func TestHostileOneSoftBounceRepeatedEndsASubscription(t *testing.T) {
	t.Parallel()
	signer := snstest.New(t)
	standIn := newSNSStandIn(t, signer)
	s := startStackOpts(t, localtest.Need(t), 2, map[string]string{"SNS_ENDPOINT": standIn.URL}, nil)
	ours := s.feedbackTopic(t)
	u := localtest.Unique()
	posted, invoked := "posted-"+u+"@example.com", "invoked-"+u+"@example.com"
	for _, a := range []string{posted, invoked} {
		s.subscribed(t, a)
	}
	status := func(addr string) string {
		pk := "S#" + string(s.hasher.Subject(addr))
		for _, it := range s.items(t, "SubjectsTable") {
			if str(it, "pk") == pk && str(it, "sk") == "SUB" {
				return str(it, "status")
			}
		}
		return ""
	}
	suppressed := func(addr string) bool {
		for _, it := range s.items(t, "SuppressionTable") {
			if str(it, "pk") == "S#"+string(s.hasher.Subject(addr)) {
				return true
			}
		}
		return false
	}
	// One transient bounce of one email (one SES message id) per address.
	soft := func(addr, id string) sns.Message {
		body := `{"notificationType":"Bounce","mail":{"messageId":"` + id + `"},"bounce":{"bounceType":"Transient","bounceSubType":"MailboxFull",` +
			`"bouncedRecipients":[{"emailAddress":"` + addr + `"}]}}`
		m := signer.Notification(t, body, "2")
		m.TopicArn, m.Timestamp = ours, time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
		signer.Sign(t, &m, "2")
		return m
	}
	one := soft(posted, "soft-p-"+u)
	raw, _ := json.Marshal(one)
	for i := 0; i < 3; i++ {
		resp, out := s.do(t, "POST", "/v1/ses-notifications", "text/plain; charset=UTF-8", string(raw),
			map[string]string{"x-amz-sns-message-type": one.Type})
		if resp.StatusCode != 200 {
			t.Fatalf("post %d: %d %s", i, resp.StatusCode, out)
		}
	}
	again := soft(invoked, "soft-i-"+u)
	raw, _ = json.Marshal(again)
	ev := `{"Records":[{"EventSource":"aws:sns","Sns":` + strings.Replace(string(raw), `"SigningCertURL"`, `"SigningCertUrl"`, 1) + `}]}`
	for i := 0; i < 3; i++ {
		// SNS's redelivery of the same message (same MessageId).
		if resp, out := s.do(t, "POST", "/_local/invoke/FeedbackFunction", "application/json", ev, nil); resp.StatusCode != 200 {
			t.Fatalf("invoke %d: %d %s", i, resp.StatusCode, out)
		}
	}
	for _, a := range []string{posted, invoked} {
		if suppressed(a) {
			t.Errorf("%s: one transient bounce, delivered three times, suppressed the address", a)
		}
		if st := status(a); st != "confirmed" {
			t.Errorf("%s: one transient bounce, delivered three times, left the subscription %q (want confirmed)", a, st)
		}
	}
}

// HOSTILE (review 9): a person moves their address away from a dead
// mailbox (the commonest reason to correct it). The notice of the change
// goes to the old address, as it must, and hard-bounces: the old address
// is suppressed, and feedback now ENDS the subscription held under it
// (topics off, the consent's proof withdrawn, deleted in 30 days). The
// team approves the move: the ended subscription (and the bounce's
// suppression) move to the new, confirmed address, which never bounced.
// The person asked to change their address and lost their subscription.
// A suppression is the bounced address's alone: it must end nothing that
// leaves that address (the move of the person's subscription), nor follow
// it to the new one.
func TestHostileOldAddressBounceEndsTheMovedSubscription(t *testing.T) {
	t.Parallel()
	signer := snstest.New(t)
	standIn := newSNSStandIn(t, signer)
	s := startStackOpts(t, localtest.Need(t), 2, map[string]string{"SNS_ENDPOINT": standIn.URL}, nil)
	ours := s.feedbackTopic(t)
	u := localtest.Unique()
	old, moved := "old-"+u+"@example.com", "new-"+u+"@example.net"
	s.subscribed(t, old)

	id, verify, _ := s.fileAndOpen(t, old, `{"email":"`+old+`","type":"rectification","field":"email","value":"`+moved+`"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"awaiting_review"`) {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	ask := s.mailTo(t, moved, "Please confirm this address (request "+id)
	if resp, out := s.do(t, "POST", s.path(t, addressLink.FindString(ask.Body.Text)), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("confirm the new address: %d %s", resp.StatusCode, out)
	}
	notice := s.mailTo(t, old, "Your address change (request "+id)
	_ = notice
	// The old, dead mailbox hard-bounces the notice (SES, our topic).
	body := `{"notificationType":"Bounce","mail":{"messageId":"dead-` + u + `"},"bounce":{"bounceType":"Permanent","bounceSubType":"General",` +
		`"bouncedRecipients":[{"emailAddress":"` + old + `"}]}}`
	m := signer.Notification(t, body, "2")
	m.TopicArn, m.Timestamp = ours, time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	signer.Sign(t, &m, "2")
	raw, _ := json.Marshal(m)
	ev := `{"Records":[{"EventSource":"aws:sns","Sns":` + strings.Replace(string(raw), `"SigningCertURL"`, `"SigningCertUrl"`, 1) + `}]}`
	if resp, out := s.do(t, "POST", "/_local/invoke/FeedbackFunction", "application/json", ev, nil); resp.StatusCode != 200 {
		t.Fatalf("invoke: %d %s", resp.StatusCode, out)
	}
	if out, err := s.privacyctl(t, "approve", id); err != nil {
		t.Fatalf("approve: %v %s", err, out)
	}
	var status, withdrawn string
	suppressed := false
	pk := "S#" + string(s.hasher.Subject(moved))
	for _, it := range s.items(t, "SubjectsTable") {
		switch {
		case str(it, "pk") != pk:
		case str(it, "sk") == "SUB":
			status = str(it, "status")
		case strings.HasPrefix(str(it, "sk"), "CONSENT#"):
			withdrawn = str(it, "withdrawn_at")
		}
	}
	for _, it := range s.items(t, "SuppressionTable") {
		if str(it, "pk") == pk {
			suppressed = true
		}
	}
	if status != "confirmed" || withdrawn != "" {
		t.Errorf("the subscription moved to the new address %s is %q (consent withdrawn at %q): the old address's bounce ended it", moved, status, withdrawn)
	}
	if suppressed {
		t.Errorf("the new address %s, which never bounced, is suppressed: the old address's bounce moved with the data", moved)
	}
}
