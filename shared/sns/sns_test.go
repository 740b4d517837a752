package sns_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/sns"
	"github.com/privacykeeper/privacykeeper/shared/sns/snstest"
)

func TestVerify(t *testing.T) {
	s := snstest.New(t)
	v := &sns.Verifier{Certs: s}
	ctx := context.Background()
	for _, ver := range []string{"1", "2"} {
		m := s.Notification(t, `{"notificationType":"Bounce"}`, ver)
		if err := v.Verify(ctx, m); err != nil {
			t.Fatalf("version %s: %v", ver, err)
		}
		withSubject := s.Notification(t, "x", ver)
		withSubject.Subject = "hello"
		s.Sign(t, &withSubject, ver)
		if err := v.Verify(ctx, withSubject); err != nil {
			t.Fatalf("version %s with subject: %v", ver, err)
		}
	}
	conf := sns.Message{Type: "SubscriptionConfirmation", MessageID: "m", Token: "tok", TopicArn: "arn:t",
		Message: "confirm", Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		SubscribeURL: "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok"}
	s.Sign(t, &conf, "2")
	if err := v.Verify(ctx, conf); err != nil {
		t.Fatalf("confirmation: %v", err)
	}

	bad := map[string]func(m *sns.Message){
		"tampered message":   func(m *sns.Message) { m.Message = `{"notificationType":"Complaint"}` },
		"tampered topic":     func(m *sns.Message) { m.TopicArn += "x" },
		"tampered timestamp": func(m *sns.Message) { m.Timestamp = "2020-01-01T00:00:00.000Z" },
		"version 3":          func(m *sns.Message) { m.SignatureVersion = "3" },
		"version swapped":    func(m *sns.Message) { m.SignatureVersion = "1" },
		"not base64":         func(m *sns.Message) { m.Signature = "%%%" },
		"http URL":           func(m *sns.Message) { m.SigningCertURL = "http://sns.us-east-1.amazonaws.com/c.pem" },
		"other host":         func(m *sns.Message) { m.SigningCertURL = "https://evil.example.com/c.pem" },
		"look-alike host":    func(m *sns.Message) { m.SigningCertURL = "https://sns.us-east-1.amazonaws.com.evil.example/c.pem" },
		"host with port":     func(m *sns.Message) { m.SigningCertURL = "https://sns.us-east-1.amazonaws.com:8443/c.pem" },
		"other path":         func(m *sns.Message) { m.SigningCertURL = "https://sns.us-east-1.amazonaws.com/c.pem" },
		"path with a prefix": func(m *sns.Message) {
			m.SigningCertURL = "https://sns.us-east-1.amazonaws.com/x/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem"
		},
		"unknown type": func(m *sns.Message) { m.Type = "Other" },
	}
	for name, mutate := range bad {
		m := s.Notification(t, `{"notificationType":"Bounce"}`, "2")
		mutate(&m)
		// Serve the certificate wherever the message points, so only the
		// checks themselves can refuse it.
		s.Serve(m.SigningCertURL)
		if err := v.Verify(ctx, m); !errors.Is(err, sns.ErrUntrusted) {
			t.Errorf("%s: got %v, want ErrUntrusted", name, err)
		}
	}
	// Signed genuinely two hours ago: the signature holds (a late retry
	// Lambda delivers counts); its age is Fresh's to judge.
	old := s.Notification(t, "x", "2")
	old.Timestamp = time.Now().Add(-2 * time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	s.Sign(t, &old, "2")
	if err := v.Verify(ctx, old); err != nil {
		t.Errorf("two hours old: %v", err)
	}
	// Signed at a time the certificate was not valid (snstest's is valid
	// from a week ago).
	early := s.Notification(t, "x", "2")
	early.Timestamp = time.Now().Add(-8 * 24 * time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	s.Sign(t, &early, "2")
	if err := v.Verify(ctx, early); !errors.Is(err, sns.ErrUntrusted) {
		t.Errorf("signed before the certificate was valid: %v", err)
	}
	other := snstest.New(t) // another key behind the same URL
	m := other.Notification(t, "x", "2")
	if err := v.Verify(ctx, m); !errors.Is(err, sns.ErrUntrusted) {
		t.Errorf("another key: %v", err)
	}
}

// A message posted to an HTTPS endpoint counts only if signed within the
// hour (or a few minutes ahead: clocks differ).
func TestFresh(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		ts   string
		ok   bool
	}{
		{"now", "2026-12-03T10:00:00.000Z", true},
		{"59 minutes old", "2026-12-03T09:01:00.000Z", true},
		{"61 minutes old", "2026-12-03T08:59:00.000Z", false},
		{"two hours old", "2026-12-03T08:00:00.000Z", false},
		{"4 minutes ahead", "2026-12-03T10:04:00.000Z", true},
		{"an hour ahead", "2026-12-03T11:00:00.000Z", false},
		{"not a time", "yesterday", false},
	} {
		err := sns.Fresh(sns.Message{Timestamp: tc.ts}, now)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, sns.ErrUntrusted)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestLambdaEventFieldNames(t *testing.T) {
	var ev sns.LambdaEvent
	raw := `{"Records":[{"EventSource":"aws:sns","Sns":{"Type":"Notification","MessageId":"m","TopicArn":"t",
	"Message":"x","Timestamp":"2026-01-01T00:00:00.000Z","SignatureVersion":"1","Signature":"c2ln",
	"SigningCertUrl":"https://sns.eu-west-1.amazonaws.com/c.pem","UnsubscribeUrl":"https://sns.eu-west-1.amazonaws.com/u"}}]}`
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		t.Fatal(err)
	}
	m := ev.Messages()
	if len(m) != 1 || m[0].SigningCertURL != "https://sns.eu-west-1.amazonaws.com/c.pem" || m[0].Timestamp != "2026-01-01T00:00:00.000Z" {
		t.Fatalf("%+v", m)
	}
}

func FuzzMessage(f *testing.F) {
	f.Add(`{"Type":"Notification","Message":"{}","SignatureVersion":"1","Signature":"","SigningCertURL":"https://sns.us-east-1.amazonaws.com/x.pem"}`)
	f.Add(`{"Records":[{"Sns":{"Type":"SubscriptionConfirmation"}}]}`)
	s := snstest.New(f)
	v := &sns.Verifier{Certs: s}
	f.Fuzz(func(t *testing.T, raw string) {
		var m sns.Message
		if json.Unmarshal([]byte(raw), &m) != nil {
			return
		}
		// No input a fuzzer can build carries a valid signature.
		if err := v.Verify(context.Background(), m); err == nil {
			t.Fatalf("unsigned message verified: %q", raw)
		}
	})
}

// Certificates are fetched by their URL without query string, and the
// cache is bounded: varying the query fetches nothing more, and a flood of
// distinct URLs cannot grow the cache without end.
func TestCertCache(t *testing.T) {
	s := snstest.New(t)
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if r.URL.RawQuery != "" {
			t.Errorf("fetched with a query: %s", r.URL)
		}
		w.Write(s.PEM)
	}))
	defer srv.Close()
	certs := &sns.HTTPCerts{Client: srv.Client(), Endpoint: srv.URL}
	v := &sns.Verifier{Certs: certs}
	for i := 0; i < 5; i++ {
		m := s.Notification(t, "x", "2")
		m.SigningCertURL = snstest.CertURL + "?v=" + string(rune('a'+i))
		if err := v.Verify(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
	for i := 0; i < 3*sns.MaxCached; i++ {
		u := fmt.Sprintf("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-%032x.pem", i)
		if _, err := certs.Cert(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		if n := certs.Cached(); n > sns.MaxCached {
			t.Fatalf("%d certificates cached", n)
		}
	}
}

// A signing certificate is fetched only from an SNS regional endpoint,
// sns.<region>.amazonaws.com (sns.cn-<...>.amazonaws.com.cn in China),
// over HTTPS, at a path of SNS's shape; anything else is never fetched.
func TestCertURL(t *testing.T) {
	const pem = "/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem"
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://sns.us-east-1.amazonaws.com" + pem, true},
		{"https://sns.eu-central-2.amazonaws.com" + pem, true},
		{"https://sns.ap-southeast-5.amazonaws.com" + pem, true},
		{"https://sns.us-gov-west-1.amazonaws.com" + pem, true},
		{"https://sns.cn-north-1.amazonaws.com.cn" + pem, true},
		{"https://sns.cn-northwest-1.amazonaws.com.cn" + pem, true},
		{"https://sns.us-east-1.amazonaws.com" + pem + "?x=1", true}, // fetched without the query
		// Other hosts of amazonaws.com: anyone can serve a file from S3.
		{"https://sns.s3.amazonaws.com" + pem, false},
		{"https://sns.s3-website.amazonaws.com" + pem, false},
		{"https://sns.execute-api.amazonaws.com" + pem, false},
		{"https://sns.us-east-1.elb.amazonaws.com" + pem, false},
		{"https://sns.amazonaws.com" + pem, false},
		{"https://sns.us-east-1.amazonaws.com.cn" + pem, false}, // .com.cn is China's only
		{"https://sns.cn-north-1.amazonaws.com" + pem, false},
		// Look-alikes.
		{"https://sns.us-east-1.amazonaws.com.evil.com" + pem, false},
		{"https://evil.com/sns.us-east-1.amazonaws.com" + pem, false},
		{"https://sns.us-east-1.amazonaws.com@evil.com" + pem, false},
		{"https://evil.com@sns.us-east-1.amazonaws.com" + pem, false},
		{"https://sns.us-east-1.amazonaws.com." + pem, false},
		{"https://SNS.US-EAST-1.AMAZONAWS.COM" + pem, false},
		{"https://sns.us-east-1.amazonaws.com:443" + pem, false},
		{"https://xsns.us-east-1.amazonaws.com" + pem, false},
		{"https://sns.us_east-1.amazonaws.com" + pem, false},
		// Scheme and path.
		{"http://sns.us-east-1.amazonaws.com" + pem, false},
		{"//sns.us-east-1.amazonaws.com" + pem, false},
		{"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem.txt", false},
		{"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.crt", false},
		{"https://sns.us-east-1.amazonaws.com/x" + pem, false},
		{"https://sns.us-east-1.amazonaws.com/cert.pem", false},
		{"", false},
	} {
		got, ok := sns.CertURL(tc.url)
		if ok != tc.ok {
			t.Errorf("%q: trusted %v, want %v", tc.url, ok, tc.ok)
		}
		if ok && got != tc.url[:strings.Index(tc.url, ".pem")+4] {
			t.Errorf("%q: fetched as %q", tc.url, got)
		}
	}
}
