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
