package e2e

import (
	"encoding/json"
	"strings"
	"testing"

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
	signer := snstest.New(t)
	body := `{"notificationType":"Complaint","mail":{"messageId":"x"},"complaint":{"complainedRecipients":[{"emailAddress":"victim@example.com"}]}}`
	sign := func(m sns.Message, certURL, version string) sns.Message {
		m.SigningCertURL = certURL
		signer.Serve(certURL)
		signer.Sign(t, &m, version)
		return m
	}
	base := signer.Notification(t, body, "2")
	conf := sns.Message{Type: "SubscriptionConfirmation", MessageID: "c", Token: "t", TopicArn: "arn:t", Message: "m",
		Timestamp: "2026-01-01T00:00:00.000Z", SubscribeURL: "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"}
	cases := map[string]sns.Message{
		"foreign certificate host":   sign(base, "https://certs.evil.example/sns.pem", "2"),
		"plain http certificate":     sign(base, "http://sns.us-east-1.amazonaws.com/c.pem", "2"),
		"look-alike host":            sign(base, "https://sns.us-east-1.amazonaws.com.evil.example/c.pem", "1"),
		"confirmation, foreign host": sign(conf, "https://certs.evil.example/sns.pem", "1"),
		"unsigned":                   {Type: "Notification", Message: body, SigningCertURL: "https://certs.evil.example/x.pem"},
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
