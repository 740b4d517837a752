package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/sns"
	"github.com/privacykeeper/privacykeeper/shared/sns/snstest"
)

// Through the gateway only untrusted messages can be tried: a genuine one
// needs AWS's certificate (shared/feedback tests those with a test
// certificate), and a message naming an SNS host would make the function
// fetch from AWS, which this machine cannot reach. Untrusted messages, in
// the HTTPS and the Lambda shapes, are refused without any fetch and change
// nothing.
func TestFeedbackRejectsUntrusted(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	topic := s.feedbackTopic(t)
	signer := snstest.New(t)
	body := `{"notificationType":"Complaint","mail":{"messageId":"x"},"complaint":{"complainedRecipients":[{"emailAddress":"victim@example.com"}]}}`
	sign := func(m sns.Message, certURL, version string) sns.Message {
		m.SigningCertURL = certURL
		signer.Serve(certURL)
		signer.Sign(t, &m, version)
		return m
	}
	base := signer.Notification(t, body, "2")
	base.TopicArn = topic // from our own topic, so that the other checks are what refuses them
	conf := sns.Message{Type: "SubscriptionConfirmation", MessageID: "c", Token: "t", TopicArn: topic, Message: "m",
		Timestamp: time.Now().UTC().Format(time.RFC3339), SubscribeURL: "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"}
	cases := map[string]sns.Message{
		"foreign certificate host":   sign(base, "https://certs.evil.example/sns.pem", "2"),
		"plain http certificate":     sign(base, "http://sns.us-east-1.amazonaws.com/c.pem", "2"),
		"look-alike host":            sign(base, "https://sns.us-east-1.amazonaws.com.evil.example/c.pem", "1"),
		"confirmation, foreign host": sign(conf, "https://certs.evil.example/sns.pem", "1"),
		"unsigned":                   {Type: "Notification", TopicArn: topic, Message: body, SigningCertURL: "https://certs.evil.example/x.pem"},
		"no SNS certificate path":    sign(base, "https://sns.us-east-1.amazonaws.com/evil.pem", "2"),
	}
	bad := sign(base, snstest.CertURL, "2")
	bad.SignatureVersion = "3"
	cases["unknown signature version"] = bad
	for name, m := range cases {
		raw, _ := json.Marshal(m)
		resp, _ := s.do(t, "POST", "/v1/ses-notifications", "text/plain; charset=UTF-8", string(raw),
			map[string]string{"x-amz-sns-message-type": m.Type})
		if resp.StatusCode != 403 {
			t.Errorf("%s: %d, want 403", name, resp.StatusCode)
		}
		lambdaEvent := `{"Records":[{"EventSource":"aws:sns","Sns":` +
			strings.Replace(string(raw), `"SigningCertURL"`, `"SigningCertUrl"`, 1) + `}]}`
		if resp, out := s.do(t, "POST", "/_local/invoke/FeedbackFunction", "application/json", lambdaEvent, nil); resp.StatusCode != 200 {
			t.Errorf("%s, Lambda shape: %d %s", name, resp.StatusCode, out)
		}
	}
	if resp, _ := s.do(t, "POST", "/v1/ses-notifications", "text/plain", "not json", nil); resp.StatusCode != 400 {
		t.Errorf("garbage: %d", resp.StatusCode)
	}
	if n := len(s.items(t, "SuppressionTable")); n != 0 {
		t.Fatalf("%d suppressions from untrusted messages", n)
	}
	if !strings.Contains(s.logs.String(), "SNS message rejected") {
		t.Error("rejections are not logged")
	}
}

// feedbackTopic is the ARN of the stack's FeedbackTopic, as the function
// is configured with it.
func (s *stack) feedbackTopic(t *testing.T) string {
	t.Helper()
	arns := strings.Split(s.Functions["FeedbackFunction"].Env["FEEDBACK_TOPIC_ARNS"], ",")
	if len(arns) == 0 || !strings.HasPrefix(arns[0], "arn:aws:sns:") {
		t.Fatalf("FeedbackFunction's topics: %v", arns)
	}
	return arns[0]
}

// snsStandIn serves SNS's hosts for the feedback function (SNS_ENDPOINT):
// the test signing certificate, and subscription confirmations, which it
// records.
type snsStandIn struct {
	*httptest.Server
	mu        sync.Mutex
	confirmed []string
}

func newSNSStandIn(t *testing.T, signer *snstest.Signer) *snsStandIn {
	sn := &snsStandIn{}
	certPath := strings.TrimPrefix(snstest.CertURL, "https://sns.us-east-1.amazonaws.com")
	sn.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == certPath:
			w.Write(signer.PEM)
		case r.URL.Query().Get("Action") == "ConfirmSubscription":
			sn.mu.Lock()
			sn.confirmed = append(sn.confirmed, r.URL.Query().Get("Token"))
			sn.mu.Unlock()
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(sn.Close)
	return sn
}

func (sn *snsStandIn) confirmations() []string {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	return append([]string(nil), sn.confirmed...)
}

// Genuinely signed SNS messages through the gateway and the real function:
// only the stack's own feedback topic is acted on. Anyone can create a
// topic, subscribe the public route and publish a well-signed "complaint"
// for any address; that must change nothing, and neither may its
// subscription confirmation.
func TestFeedbackOnlyFromTheConfiguredTopic(t *testing.T) {
	t.Parallel()
	signer := snstest.New(t)
	standIn := newSNSStandIn(t, signer)
	s := startStackOpts(t, localtest.Need(t), 2, map[string]string{"SNS_ENDPOINT": standIn.URL}, nil)
	ours := s.feedbackTopic(t)
	const theirs = "arn:aws:sns:us-east-1:111122223333:attacker-topic"
	u := localtest.Unique()
	victim, bounced := "victim-"+u+"@example.com", "bounced-"+u+"@example.com"
	complaint := func(addr string) string {
		return `{"notificationType":"Complaint","mail":{"messageId":"m-` + u + `"},"complaint":{"complainedRecipients":[{"emailAddress":"` + addr + `"}]}}`
	}
	bounce := `{"notificationType":"Bounce","mail":{"messageId":"b-` + u + `"},"bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"` + bounced + `"}]}}`
	notification := func(topic, body string, at time.Time) sns.Message {
		m := signer.Notification(t, body, "2")
		m.TopicArn, m.Timestamp = topic, at.UTC().Format("2006-01-02T15:04:05.000Z")
		signer.Sign(t, &m, "2")
		return m
	}
	confirmation := func(topic, token string) sns.Message {
		m := sns.Message{Type: "SubscriptionConfirmation", MessageID: "c-" + token, Token: token, TopicArn: topic,
			Message: "confirm", Timestamp: time.Now().UTC().Format(time.RFC3339),
			SubscribeURL: "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + topic + "&Token=" + token}
		signer.Sign(t, &m, "2")
		return m
	}
	post := func(m sns.Message) int {
		raw, _ := json.Marshal(m)
		resp, _ := s.do(t, "POST", "/v1/ses-notifications", "text/plain; charset=UTF-8", string(raw),
			map[string]string{"x-amz-sns-message-type": m.Type})
		return resp.StatusCode
	}
	invoke := func(m sns.Message) {
		raw, _ := json.Marshal(m)
		ev := `{"Records":[{"EventSource":"aws:sns","Sns":` + strings.Replace(string(raw), `"SigningCertURL"`, `"SigningCertUrl"`, 1) + `}]}`
		if resp, out := s.do(t, "POST", "/_local/invoke/FeedbackFunction", "application/json", ev, nil); resp.StatusCode != 200 {
			t.Fatalf("invoke: %d %s", resp.StatusCode, out)
		}
	}
	suppressed := func(addr string) bool {
		for _, it := range s.items(t, "SuppressionTable") {
			if str(it, "pk") == "S#"+string(s.hasher.Subject(addr)) {
				return true
			}
		}
		return false
	}

	// Another account's topic: refused in both shapes, nothing suppressed,
	// nothing confirmed.
	if code := post(notification(theirs, complaint(victim), time.Now())); code != 403 {
		t.Errorf("a foreign topic's complaint: %d", code)
	}
	invoke(notification(theirs, complaint(victim), time.Now()))
	if code := post(confirmation(theirs, "their-token")); code != 403 {
		t.Errorf("a foreign topic's subscription confirmation: %d", code)
	}
	// Our own topic, but signed two hours ago: a replay.
	if code := post(notification(ours, complaint(victim), time.Now().Add(-2*time.Hour))); code != 403 {
		t.Errorf("a stale notification: %d", code)
	}
	if suppressed(victim) {
		t.Fatal("the victim was suppressed by a foreign topic or a replay")
	}
	// Our own topic: confirmed, and its feedback applied, in both shapes.
	if code := post(confirmation(ours, "our-token")); code != 200 {
		t.Errorf("our topic's subscription confirmation: %d", code)
	}
	if got := standIn.confirmations(); len(got) != 1 || got[0] != "our-token" {
		t.Fatalf("subscriptions confirmed: %v, want only ours", got)
	}
	if code := post(notification(ours, complaint(victim), time.Now())); code != 200 || !suppressed(victim) {
		t.Fatalf("our topic's complaint: %d, suppressed %v", code, suppressed(victim))
	}
	invoke(notification(ours, bounce, time.Now()))
	if !suppressed(bounced) {
		t.Fatal("our topic's hard bounce, Lambda shape, did not suppress")
	}
	logs := s.logs.String()
	if !strings.Contains(logs, "not from a configured feedback topic") {
		t.Error("foreign-topic rejections are not logged")
	}
	for _, pii := range []string{victim, bounced} {
		if strings.Contains(logs, pii) {
			t.Errorf("a log line contains %q", pii)
		}
	}
}
