package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// withoutStatement writes template.yaml without the statement sid of the
// resource id (the lines from its "- Sid:" to the next statement or the
// end of the list) and returns the copy's path.
func withoutStatement(t *testing.T, id, sid string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(localtest.Root(), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "  "+id+":") {
			start = i
			break
		}
	}
	sidLine := regexp.MustCompile(`^(\s*)- Sid: ` + regexp.QuoteMeta(sid) + `$`)
	for i := start; start >= 0 && i < len(lines); i++ {
		m := sidLine.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		end := i + 1
		for end < len(lines) && (strings.HasPrefix(lines[end], m[1]+"  ") || strings.HasPrefix(lines[end], m[1]+"#")) {
			end++
		}
		out := append(append([]string{}, lines[:i]...), lines[end:]...)
		path := filepath.Join(t.TempDir(), "template.yaml")
		if err := os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Fatalf("%s has no statement %s", id, sid)
	return ""
}

// A function calling outside its role gets AWS's AccessDenied, locally as
// in AWS: the forms function without its grant on the ledger (a newsletter
// signup writes the subscription and its ledger entry in one transaction;
// a contact no longer writes the ledger, the mailer does) is
// refused the ledger's PutItem; its SDK returns the service's
// AccessDeniedException, the visitor gets the function's 503 and nothing
// is stored; the gateway logs who, the action, the resource and that no
// statement allows it.
func TestCallOutsideTheRoleIsRefused(t *testing.T) {
	t.Parallel()
	tpl := withoutStatement(t, "FormsFunction", "Ledger")
	s := startStackConfig(t, localtest.Need(t), 1, nil, nil, func(c *local.Config) { c.Template = tpl })
	s.expectRefusals = true
	addr := "outside-" + localtest.Unique() + "@example.com"
	resp, out := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+addr+`","consent":true}`, nil)
	if resp.StatusCode != 503 {
		t.Fatalf("signup without the ledger grant: %d %s", resp.StatusCode, out)
	}
	// The stack answers once the function's log of the invocation is in
	// (local: the runtime's END line), so the refusal is there to read.
	log := s.logs.String()
	refusal := regexp.MustCompile(`gateway\tIAM refused FormsFunction \(arn:aws:sts::000000000000:assumed-role/FormsFunctionRole/FormsFunction\): ` +
		`dynamodb:PutItem on arn:aws:dynamodb:[^:]*:000000000000:table/` + regexp.QuoteMeta(s.Tables["LedgerTable"]) + ` \[.*\]: ImplicitlyDenied: ` +
		`no statement allows dynamodb:PutItem on this resource`)
	if !refusal.MatchString(log) {
		t.Errorf("the refusal is not logged with who, action, resource and why:\n%s", strings.Join(refusals(log), "\n"))
	}
	// The function's SDK got AWS's error (its log names the code and
	// message, and no address).
	var fnLine string
	for _, l := range strings.Split(log, "\n") {
		if strings.HasPrefix(l, "FormsFunction\t") && strings.Contains(l, "AccessDeniedException") {
			fnLine = l
		}
	}
	if !strings.Contains(fnLine, "is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:") ||
		!strings.Contains(fnLine, "because no identity-based policy allows the dynamodb:PutItem action") || strings.Contains(fnLine, addr) {
		t.Errorf("the function's log of the refusal: %q", fnLine)
	}
	s.idle(t)
	for _, table := range []string{"SubjectsTable", "LedgerTable"} {
		if n := len(s.items(t, table)); n != 0 {
			t.Errorf("%d items in %s after a refused transaction", n, table)
		}
	}
}

// A function whose role does not let Lambda do what its event source
// needs is refused, as AWS refuses the mapping at deploy: the mailer
// without its stream read does not start.
func TestEventSourceWithoutTheRoleIsRefused(t *testing.T) {
	t.Parallel()
	tpl := withoutStatement(t, "MailerFunctionRole", "ReadOwnStreamsOnly")
	svc := localtest.Need(t)
	cfg := local.Config{Template: tpl, Root: localtest.Root(), BuildDir: filepath.Join(localtest.Root(), ".local", "e2e-build"),
		RIE: svc.RIE, DynamoDBEndpoint: svc.DynamoDB, SESEndpoint: svc.SES, SQSEndpoint: svc.SQS, TablePrefix: "e" + localtest.Unique() + "-",
		Addr: "127.0.0.1:0", Pool: 1, NoSchedules: true, Params: map[string]string{"TeamInbox": "team@example.com", "SiteOrigins": "https://www.example.com"}}
	s, err := local.Start(t.Context(), cfg)
	if err == nil {
		s.Close()
		t.Fatal("the stack started")
	}
	if msg := err.Error(); !strings.Contains(msg, "AWS would refuse this stack at deploy") || !strings.Contains(msg, "event SubjectsStream: MailerFunction") ||
		!strings.Contains(msg, "is not authorized to perform: dynamodb:DescribeStream on resource: arn:aws:dynamodb:") {
		t.Fatalf("refused as %v", err)
	}
}
