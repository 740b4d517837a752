// Package localtest helps tests use the real local services: DynamoDB Local
// with the template's tables under a prefix of the test's own (so tests run
// in parallel), and the SES emulator's store of caught mail.
package localtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/privacykeeper/privacykeeper/infra/local"
)

// Services are the endpoints `make test` exports.
type Services struct {
	DynamoDB string
	SES      string
	SQS      string
	RIE      string
	// Since, when set, is when the test began: Emails asks the SES
	// emulator only for what it caught from that second on, not for every
	// other test's emails too (the emulator, one Node process that every
	// test sends through, serialises its whole store for each read).
	Since time.Time
}

// Need returns the local services, or skips the test when they are not
// running. Under `make test` (PK_REQUIRE_SERVICES=1) a missing service
// fails the test instead, so nothing is silently not run.
func Need(t testing.TB) Services {
	t.Helper()
	s := Services{DynamoDB: os.Getenv("PK_DYNAMODB_ENDPOINT"), SES: os.Getenv("PK_SES_ENDPOINT"), SQS: os.Getenv("PK_SQS_ENDPOINT"),
		RIE: os.Getenv("PK_RIE"), Since: time.Now()}
	if s.DynamoDB == "" || s.SES == "" || s.SQS == "" {
		if os.Getenv("PK_REQUIRE_SERVICES") != "" {
			t.Fatal("PK_DYNAMODB_ENDPOINT, PK_SES_ENDPOINT and PK_SQS_ENDPOINT must be set (make test sets them)")
		}
		t.Skip("needs DynamoDB Local, the SES emulator and the SQS server: run with make test")
	}
	if testing.Short() {
		t.Skip("integration test skipped in -short mode")
	}
	return s
}

// Root returns the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// Unique returns a short random string for names and addresses.
func Unique() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// AWSConfig is a config with static local credentials.
func AWSConfig() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
}

// DynamoDB returns a client for DynamoDB Local.
func DynamoDB(s Services) *dynamodb.Client {
	return dynamodb.NewFromConfig(AWSConfig(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(s.DynamoDB) })
}

// SQS returns a client for the local SQS server.
func SQS(s Services) *sqs.Client {
	return sqs.NewFromConfig(AWSConfig(), func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.SQS) })
}

// SES returns an SES v2 client for the emulator.
func SES(s Services) *sesv2.Client {
	return sesv2.NewFromConfig(AWSConfig(), func(o *sesv2.Options) { o.BaseEndpoint = aws.String(s.SES) })
}

// Tables creates the template's tables under a fresh prefix and returns
// their names by logical id. They are deleted when the test ends.
func Tables(t testing.TB, s Services) map[string]string {
	t.Helper()
	ctx := context.Background()
	tmpl, err := local.ReadTemplate(filepath.Join(Root(), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := local.NewResolver(tmpl, local.DevParams("http://localhost:3000"), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	db := DynamoDB(s)
	prefix := "t" + Unique() + "-"
	if err := local.CreateTables(ctx, db, tmpl, r, prefix); err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, id := range tmpl.ResourcesOfType("AWS::DynamoDB::Table") {
		names[id] = prefix + id
	}
	t.Cleanup(func() {
		for _, n := range names {
			_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(n)})
		}
	})
	return names
}

// Email is one message the SES emulator caught.
type Email struct {
	MessageID   string   `json:"messageId"`
	From        string   `json:"from"`
	ReplyTo     []string `json:"replyTo"`
	Destination struct {
		To, Cc, Bcc []string
	} `json:"destination"`
	Subject string `json:"subject"`
	Body    struct {
		HTML string `json:"html"`
		Text string `json:"text"`
	} `json:"body"`
	Headers []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"headers"`
}

// ListUnsubscribe returns the URLs of the email's List-Unsubscribe header
// (RFC 2369: each in angle brackets, separated by commas): its https link
// and its mailto: address ("" for one it lacks).
func (e Email) ListUnsubscribe() (link, mailto string) {
	for _, u := range strings.Split(e.Header("List-Unsubscribe"), ",") {
		u = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(u), "<"), ">")
		switch {
		case strings.HasPrefix(u, "mailto:"):
			mailto = u
		case strings.HasPrefix(u, "http"):
			link = u
		}
	}
	return link, mailto
}

// Header returns the first value of a header, or "".
func (e Email) Header(name string) string {
	for _, h := range e.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// To reports whether addr is among the recipients.
func (e Email) To(addr string) bool {
	for _, a := range e.Destination.To {
		if strings.EqualFold(a, addr) {
			return true
		}
	}
	return false
}

// Emails returns every email the emulator holds that matches keep (all of
// them when keep is nil), of those caught since s.Since when it is set.
func Emails(t testing.TB, s Services, keep func(Email) bool) []Email {
	t.Helper()
	url := s.SES + "/store"
	if !s.Since.IsZero() {
		// The emulator stamps each email with its second (Unix time, "at")
		// and keeps those with at >= since (aws-ses-v2-local's GET /store).
		// A second earlier: the clocks are the same, the margin is free.
		url += "?since=" + strconv.FormatInt(s.Since.Unix()-1, 10)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("read SES store: %v", err)
	}
	defer resp.Body.Close()
	var store struct {
		Emails []Email `json:"emails"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&store); err != nil {
		t.Fatalf("decode SES store: %v", err)
	}
	var out []Email
	for _, e := range store.Emails {
		if keep == nil || keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// WaitEmails polls the emulator until n emails match keep or the timeout
// passes, and returns what matched then, in the order the emulator got
// them. After its first read it asks only for what came since its last
// (by message id, less a second's margin): decoding every parallel test's
// emails ten times a second was a sixth of the end-to-end tests' own CPU.
func WaitEmails(t testing.TB, s Services, n int, timeout time.Duration, keep func(Email) bool) []Email {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var got []Email
	seen := map[string]bool{}
	for {
		read := time.Now()
		for _, e := range Emails(t, s, keep) {
			if e.MessageID == "" || !seen[e.MessageID] {
				seen[e.MessageID] = true
				got = append(got, e)
			}
		}
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		s.Since = read
		time.Sleep(100 * time.Millisecond)
	}
}

// Mentions matches emails whose recipients, reply-to or bodies contain s.
func Mentions(s string) func(Email) bool {
	return func(e Email) bool {
		return strings.Contains(strings.Join(e.Destination.To, ","), s) || strings.Contains(e.Body.Text, s) ||
			strings.Contains(e.Body.HTML, s) || strings.Contains(strings.Join(e.ReplyTo, ","), s)
	}
}

// SampleEvent decodes events/<name> (the sample events of sam local invoke)
// into v.
func SampleEvent(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Root(), "events", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// SamLocal is the template and each function's environment under sam
// local with infra/env.json and samconfig.toml's parameters for sam local
// (local.SamLocalEnv).
func SamLocal(t testing.TB) (*local.Template, map[string]map[string]string) {
	t.Helper()
	tpl, err := local.ReadTemplate(filepath.Join(Root(), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(filepath.Join(Root(), "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`PublicBaseURL=(\S+)`).FindSubmatch(conf)
	if m == nil {
		t.Fatal("samconfig.toml gives sam local no PublicBaseURL")
	}
	params := local.DevParams(string(m[1]))
	r, err := local.NewResolver(tpl, params, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	vars, err := local.ReadEnvVars(filepath.Join(Root(), "infra", "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := local.SamLocalEnv(tpl, r, vars)
	if err != nil {
		t.Fatal(err)
	}
	return tpl, env
}
