package feedback_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/feedback"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/sns"
	"github.com/privacykeeper/privacykeeper/shared/sns/snstest"
)

func bounce(typ, addr string, eventShape bool) string {
	key := `"notificationType"`
	if eventShape {
		key = `"eventType"`
	}
	return `{` + key + `:"Bounce","mail":{"messageId":"ses-1"},"bounce":{"bounceType":"` + typ +
		`","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"Some One <` + addr + `>","status":"5.1.1"}]}}`
}

func complaint(addr, feedbackType string) string {
	return `{"eventType":"Complaint","mail":{"messageId":"ses-2"},"complaint":{"complaintFeedbackType":"` + feedbackType +
		`","complainedRecipients":[{"emailAddress":"` + addr + `"}]}}`
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, body, kind string
		n                int
	}{
		{"hard bounce", bounce("Permanent", "A@Example.com", false), feedback.HardBounce, 1},
		{"hard bounce, event shape", bounce("Permanent", "a@example.com", true), feedback.HardBounce, 1},
		{"soft bounce", bounce("Transient", "a@example.com", false), feedback.SoftBounce, 1},
		{"undetermined bounce", bounce("Undetermined", "a@example.com", true), feedback.SoftBounce, 1},
		{"complaint", complaint("a@example.com", "abuse"), feedback.Complaint, 1},
		{"complaint without type", complaint("a@example.com", ""), feedback.Complaint, 1},
		{"not-spam", complaint("a@example.com", "not-spam"), feedback.Other, 1},
		{"delivery", `{"notificationType":"Delivery","mail":{"messageId":"x"},"delivery":{}}`, feedback.Other, 0},
		{"bad recipient dropped", bounce("Permanent", "not-an-address", false), feedback.HardBounce, 0},
	}
	for _, tt := range tests {
		f, err := feedback.Parse([]byte(tt.body))
		if err != nil || f.Kind != tt.kind || len(f.Recipients) != tt.n {
			t.Errorf("%s: %+v %v", tt.name, f, err)
		}
		if tt.n == 1 && f.Recipients[0] != "a@example.com" {
			t.Errorf("%s: recipient %q not normalised", tt.name, f.Recipients[0])
		}
	}
	for _, bad := range []string{`nope`, `{"notificationType":"Bounce"}`, `{"eventType":"Complaint"}`} {
		if _, err := feedback.Parse([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(bounce("Permanent", "a@example.com", false))
	f.Add(complaint("a@example.com", "abuse"))
	f.Fuzz(func(t *testing.T, body string) {
		fb, err := feedback.Parse([]byte(body))
		if err != nil {
			return
		}
		for _, r := range fb.Recipients {
			if !privacy.ValidEmail(r) {
				t.Fatalf("invalid recipient %q", r)
			}
		}
	})
}

func TestHandler(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	n := localtest.Tables(t, svc)
	store := dynamo.New(localtest.DynamoDB(svc), dynamo.Tables{Suppression: n["SuppressionTable"], Ledger: n["LedgerTable"], Ops: n["OpsTable"]})
	signer := snstest.New(t)
	hasher, _ := privacy.NewHasher([]byte("feedback-test-pepper"))
	var confirmed []string
	h := &feedback.Handler{Store: store, Verifier: &sns.Verifier{Certs: signer}, Hasher: hasher, Topics: []string{snstest.TopicArn},
		Confirm:         func(ctx context.Context, url string) error { confirmed = append(confirmed, url); return nil },
		SoftBounceLimit: 3, SoftBounceWindow: 7 * 24 * time.Hour, Policy: privacy.FixedPolicy("v1"), Now: time.Now,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	ctx := context.Background()
	u := localtest.Unique()
	addr := func(tag string) string { return tag + "-" + u + "@example.com" }
	reasons := func(a string) string {
		r, err := store.Suppressions(ctx, hasher.Subject(a))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(r)
		return strings.Join(r, ",")
	}
	deliver := func(m sns.Message) feedback.Outcome {
		t.Helper()
		out, err := h.Message(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	// Valid signatures: applied at once for hard bounces and complaints.
	deliver(signer.Notification(t, bounce("Permanent", addr("hard"), false), "1"))
	deliver(signer.Notification(t, complaint(addr("complaint"), "abuse"), "2"))
	if reasons(addr("hard")) != "bounced" || reasons(addr("complaint")) != "complained" {
		t.Fatalf("suppressions: hard=%q complaint=%q", reasons(addr("hard")), reasons(addr("complaint")))
	}
	// Soft bounces: suppressed at the third.
	for i := 1; i <= 3; i++ {
		// Three bounces of three emails (each SES message id once).
		deliver(signer.Notification(t, strings.Replace(bounce("Transient", addr("soft"), true), "ses-1", fmt.Sprintf("ses-soft-%d", i), 1), "2"))
		if got, want := reasons(addr("soft")), map[bool]string{true: "bounced", false: ""}[i == 3]; got != want {
			t.Fatalf("after %d soft bounces: %q, want %q", i, got, want)
		}
	}
	// Invalid signature, foreign certificate host: nothing changes.
	forged := signer.Notification(t, bounce("Permanent", addr("forged"), false), "2")
	forged.Message = bounce("Permanent", addr("victim"), false)
	if out := deliver(forged); out != feedback.Rejected {
		t.Fatalf("forged: %s", out)
	}
	foreign := signer.Notification(t, complaint(addr("foreign"), "abuse"), "2")
	foreign.SigningCertURL = "https://certs.evil.example/sns.pem"
	signer.Serve(foreign.SigningCertURL)
	signer.Sign(t, &foreign, "2")
	if out := deliver(foreign); out != feedback.Rejected {
		t.Fatalf("foreign host: %s", out)
	}
	for _, a := range []string{addr("forged"), addr("victim"), addr("foreign")} {
		if r := reasons(a); r != "" {
			t.Errorf("%s suppressed (%s) by an untrusted message", a, r)
		}
	}
	// Subscription confirmation: only a signed one with an SNS URL is followed.
	conf := sns.Message{Type: "SubscriptionConfirmation", MessageID: "c", Token: "t", TopicArn: snstest.TopicArn, Message: "m",
		Timestamp: time.Now().UTC().Format(time.RFC3339), SubscribeURL: "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=t"}
	signer.Sign(t, &conf, "1")
	evil := conf
	evil.SubscribeURL = "https://evil.example/confirm"
	signer.Sign(t, &evil, "1")
	if deliver(conf) != feedback.Confirmed || deliver(evil) != feedback.Rejected || len(confirmed) != 1 {
		t.Fatalf("confirmations followed: %v", confirmed)
	}
	// Genuinely signed, but from a topic that is not ours (anyone can own a
	// topic and subscribe the public route): neither a notification nor a
	// subscription confirmation has any effect, in either shape.
	const stranger = "arn:aws:sns:us-east-1:111122223333:attacker-topic"
	alien := signer.Notification(t, complaint(addr("alien"), "abuse"), "2")
	alien.TopicArn = stranger
	signer.Sign(t, &alien, "2")
	alienConf := conf
	alienConf.TopicArn = stranger
	signer.Sign(t, &alienConf, "2")
	if deliver(alien) != feedback.Rejected || deliver(alienConf) != feedback.Rejected || len(confirmed) != 1 {
		t.Fatalf("a foreign topic's messages were acted on (confirmed %v)", confirmed)
	}
	alienRaw, _ := json.Marshal(alien)
	var alienEv sns.LambdaEvent
	_ = json.Unmarshal([]byte(`{"Records":[{"EventSource":"aws:sns","Sns":`+string(alienRaw)+`}]}`), &alienEv)
	if err := h.Lambda(ctx, alienEv); err != nil || reasons(addr("alien")) != "" {
		t.Fatalf("a foreign topic's complaint suppressed the address: %v %q", err, reasons(addr("alien")))
	}
	if code := h.HTTPBody(ctx, alienRaw); code != 403 {
		t.Errorf("a foreign topic's notification over HTTPS: %d", code)
	}
	// The Lambda event shape (Lambda spells SigningCertUrl) reaches the same code.
	m := signer.Notification(t, bounce("Permanent", addr("lambda"), true), "2")
	raw, _ := json.Marshal(m)
	var ev sns.LambdaEvent
	if err := json.Unmarshal([]byte(`{"Records":[{"EventSource":"aws:sns","Sns":`+
		strings.Replace(string(raw), `"SigningCertURL"`, `"SigningCertUrl"`, 1)+`}]}`), &ev); err != nil {
		t.Fatal(err)
	}
	if err := h.Lambda(ctx, ev); err != nil || reasons(addr("lambda")) != "bounced" {
		t.Fatalf("lambda event: %v, %q", err, reasons(addr("lambda")))
	}
	// Genuinely signed two hours ago: a Lambda delivery (a late retry, a
	// redrive) is acted on; the same message posted to the HTTPS route is
	// a replay and refused.
	late := func(tag string) []byte {
		m := signer.Notification(t, bounce("Permanent", addr(tag), false), "2")
		m.Timestamp = time.Now().Add(-2 * time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
		signer.Sign(t, &m, "2")
		b, _ := json.Marshal(m)
		return b
	}
	var lateEv sns.LambdaEvent
	if err := json.Unmarshal([]byte(`{"Records":[{"EventSource":"aws:sns","Sns":`+string(late("late-lambda"))+`}]}`), &lateEv); err != nil {
		t.Fatal(err)
	}
	if err := h.Lambda(ctx, lateEv); err != nil || reasons(addr("late-lambda")) != "bounced" {
		t.Errorf("a two-hour-old bounce delivered by Lambda: %v, suppressions %q", err, reasons(addr("late-lambda")))
	}
	if code := h.HTTPBody(ctx, late("late-https")); code != 403 || reasons(addr("late-https")) != "" {
		t.Errorf("a two-hour-old bounce posted over HTTPS: %d, suppressions %q", code, reasons(addr("late-https")))
	}
	if code := h.HTTPBody(ctx, []byte(`{"Type":"Notification"}`)); code != 403 {
		t.Errorf("unsigned HTTPS body: %d", code)
	}
}

func TestSampleEvents(t *testing.T) {
	for file, kind := range map[string]string{"feedback-sns-bounce.json": feedback.HardBounce, "feedback-sns-complaint.json": feedback.Complaint} {
		var ev sns.LambdaEvent
		localtest.SampleEvent(t, file, &ev)
		msgs := ev.Messages()
		if len(msgs) != 1 || !sns.TrustedURL(msgs[0].SigningCertURL) {
			t.Fatalf("%s: %+v", file, msgs)
		}
		f, err := feedback.Parse([]byte(msgs[0].Message))
		if err != nil || f.Kind != kind || len(f.Recipients) != 1 {
			t.Errorf("%s: %+v %v", file, f, err)
		}
	}
}
