package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/opendsr/opendsrtest"
)

// withEnv writes template.yaml with the function id's environment
// variable key set to value (a line of YAML: `!Ref X` or a string),
// replacing the function's own setting or adding one over the Globals,
// and returns the copy's path.
func withEnv(t *testing.T, id, key, value string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(localtest.Root(), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(src), "\n")
	start, vars := -1, -1
	for i, l := range lines {
		switch {
		case start < 0 && l == "  "+id+":":
			start = i
		case start >= 0 && i > start && len(l) > 2 && l[2] != ' ' && l[2] != '#':
			t.Fatalf("%s has no Environment.Variables", id)
		case start >= 0 && l == "        Variables:":
			vars = i
		}
		if vars >= 0 {
			break
		}
	}
	if vars < 0 {
		t.Fatalf("no resource %s", id)
	}
	set := "          " + key + ": " + value
	out := append(append(append([]string{}, lines[:vars+1]...), set), lines[vars+1:]...)
	for i := vars + 2; i < len(out) && strings.HasPrefix(out[i], "          "); i++ {
		if strings.HasPrefix(out[i], "          "+key+":") {
			out = append(out[:i], out[i+1:]...) // the function's own setting, replaced
			break
		}
	}
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// platformStackFrom is openDSRStack on the template at tpl, with IAM
// refusals expected (the test looks for its own).
func platformStackFrom(t *testing.T, tpl string) (*stack, *x509.CertPool) {
	t.Helper()
	key := opendsrtest.Key(t)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	roots, certPEM := testPKI(t, key, "opendsr.example.com")
	certSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(certPEM) }))
	t.Cleanup(certSrv.Close)
	s := startStackConfig(t, localtest.Need(t), 1, map[string]string{"OPENDSR_SIGNING_KEY": string(keyPEM), "OPENDSR_CANCEL_WINDOW": "1s"},
		map[string]string{"OpenDSRCertificateURL": certSrv.URL + "/cert.pem", "ProcessorDomain": "opendsr.example.com"},
		func(c *local.Config) { c.Template = tpl })
	s.expectRefusals = true
	return s, roots
}

// #35, the Platform's requests apart from the site's, under the local
// stack's IAM (each function's role as the transformed template defines
// it, on every call). A Platform function that reaches for the site's
// rights requests (here OpenDSRFunction pointed at RequestsTable: a bug,
// or code run by whoever took the function over) is refused by IAM, and
// nothing lands in the site's table; a site function pointed at the
// Platform's requests (RightsFunction at PlatformRequestsTable) is
// refused the same way. On the template before, OpenDSRFunction was
// granted RequestsTable (the Platform's requests lived there): its
// create was answered 201 and stored beside the site's requests.
func TestPlatformRoleRefusedTheSitesRequests(t *testing.T) {
	t.Parallel()
	t.Run("a Platform function on the site's requests", func(t *testing.T) {
		t.Parallel()
		s, roots := platformStackFrom(t, withEnv(t, "OpenDSRFunction", "REQUESTS_TABLE", "!Ref RequestsTable"))
		acme := s.issueController(t, "Acme", roots)
		id := uuid.NewString()
		body := `{"regulation":"gdpr","subject_request_id":"` + id + `","subject_request_type":"erasure",` +
			`"submitted_time":"2026-12-07T10:00:00Z","subject_identities":[{"identity_type":"email","identity_format":"raw",` +
			`"identity_value":"p-` + localtest.Unique() + `@example.com"}]}`
		// Not acme.call: an error answer is not signed.
		req, _ := http.NewRequest("POST", s.URL+"/opendsr/v2/requests", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(acme.id, acme.secret)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 500 {
			t.Errorf("a controller's request written by OpenDSRFunction to the site's requests: %d, want it refused (5xx)", resp.StatusCode)
		}
		refused := regexp.MustCompile(`IAM refused OpenDSRFunction \(.*\): dynamodb:\w+ on arn:aws:dynamodb:[^:]*:000000000000:table/` +
			regexp.QuoteMeta(s.Tables["RequestsTable"]) + `[ /]`)
		if !refused.MatchString(s.logs.String()) {
			t.Errorf("no refusal of OpenDSRFunction on the site's requests table:\n%s", strings.Join(refusals(s.logs.String()), "\n"))
		}
		for _, it := range s.items(t, "RequestsTable") {
			if str(it, "id") == id {
				t.Errorf("the controller's request is stored among the site's: %s", str(it, "pk"))
			}
		}
	})
	t.Run("a site function on the Platform's requests", func(t *testing.T) {
		t.Parallel()
		s, _ := platformStackFrom(t, withEnv(t, "RightsFunction", "REQUESTS_TABLE", "!Ref PlatformRequestsTable"))
		addr := "site-" + localtest.Unique() + "@example.com"
		resp, out := s.do(t, "POST", "/v1/rights-requests", "application/json", `{"email":"`+addr+`","type":"access"}`, nil)
		if resp.StatusCode < 500 {
			t.Errorf("a rights request written by RightsFunction to the Platform's requests: %d %s, want it refused (5xx)", resp.StatusCode, out)
		}
		refused := regexp.MustCompile(`IAM refused RightsFunction \(.*\): dynamodb:\w+ on arn:aws:dynamodb:[^:]*:000000000000:table/` +
			regexp.QuoteMeta(s.Tables["PlatformRequestsTable"]) + `[ /]`)
		if !refused.MatchString(s.logs.String()) {
			t.Errorf("no refusal of RightsFunction on the Platform's requests table:\n%s", strings.Join(refusals(s.logs.String()), "\n"))
		}
		if n := len(s.items(t, "PlatformRequestsTable")); n != 0 {
			t.Errorf("%d items in the Platform's requests after a refused filing", n)
		}
	})
}

// The upgrade's move (privacyctl platform upgrade-records, a deploy step
// in docs/deploy.md, under PrivacyUpgradePolicy): a Platform request the
// code before kept in the site's requests table, in flight at the deploy,
// is moved to the Platform's, found there by the controller and
// fulfilled by the worker; a second run moves nothing, and the site's
// own request beside it stays where it is.
func TestPlatformRequestsMovedByTheUpgrade(t *testing.T) {
	t.Parallel()
	s, roots, _ := openDSRStack(t, time.Second, nil)
	acme := s.issueController(t, "Acme", roots)
	u := localtest.Unique()
	if resp, out := s.do(t, "POST", "/v1/rights-requests", "application/json", `{"email":"site-`+u+`@example.com","type":"access"}`, nil); resp.StatusCode != 202 {
		t.Fatalf("the site's request: %d %s", resp.StatusCode, out)
	}
	id := r7Request(t, acme, "access", r7Ident("email", "raw", "moved-"+u+"@example.com"))
	ctx := context.Background()
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "R#" + id}, "sk": &types.AttributeValueMemberS{Value: "REQUEST"}}
	// Where the code before kept it: out of the Platform's table, into the site's.
	got, err := s.DB().GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Tables["PlatformRequestsTable"]), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil || got.Item == nil {
		t.Fatalf("the request in the Platform's table: %v %v", err, got)
	}
	if _, err := s.DB().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Tables["RequestsTable"]), Item: got.Item}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.Tables["PlatformRequestsTable"]), Key: key}); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := acme.call("GET", "/opendsr/v2/requests/"+id, nil); code != 404 {
		t.Fatalf("before the upgrade step the controller's request is %d, want 404 (out of the Platform's reach)", code)
	}
	for i, want := range []string{`"requests_moved":1`, `"requests_moved":0`} {
		out, err := s.privacyctl(t, "platform", "upgrade-records")
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("upgrade-records (run %d): %v %s, want %s", i+1, err, out, want)
		}
	}
	time.Sleep(time.Second)
	s.work(t)
	if code, _, st := acme.call("GET", "/opendsr/v2/requests/"+id, nil); code != 200 || st["request_status"] != "completed" {
		t.Errorf("the moved request: %d %v, want completed", code, st)
	}
	site := 0
	for _, it := range s.items(t, "RequestsTable") {
		if str(it, "source") == "opendsr" {
			t.Errorf("a Platform request is left in the site's table: %s", str(it, "pk"))
		}
		if str(it, "kind") == "rights_request" {
			site++
		}
	}
	if site != 1 {
		t.Errorf("%d of the site's requests in its table, want 1 (the upgrade moves the Platform's only)", site)
	}
}

// #35, a regression: since the Platform's requests moved to a table of
// their own, the controllers' open OpenDSR requests were in no deadline
// digest and on no board of the team's (the digest and the board read
// RequestsTable alone). A controller's request past its deadline is now
// in the digest and on the board (privacyctl list, the operator's List
// the console shows), marked as the Platform's with its controller, and
// the identity it names is in neither. The board is read-only for it:
// the desk neither shows nor decides a Platform request (the processor
// worker fulfils it, the controller cancels it). Every call runs under
// its function's role. On the code before, the digest listed nothing
// (no digest was sent) and the list was empty.
func TestPlatformRequestOverdueOnTheBoardAndInTheDigest(t *testing.T) {
	t.Parallel()
	// A cancel window of an hour: the worker leaves the request pending.
	s, roots, _ := openDSRStack(t, time.Hour, nil)
	acme := s.issueController(t, "Acme", roots)
	addr := "plat-" + localtest.Unique() + "@example.com"
	id := uuid.NewString()
	body := `{"regulation":"gdpr","subject_request_id":"` + id + `","subject_request_type":"erasure",` +
		`"submitted_time":"2026-12-07T10:00:00Z","subject_identities":[{"identity_type":"email","identity_format":"raw",` +
		`"identity_value":"` + addr + `"}]}`
	if code, _, out := acme.call("POST", "/opendsr/v2/requests", []byte(body)); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	var item map[string]types.AttributeValue
	for _, it := range s.items(t, "PlatformRequestsTable") {
		if str(it, "id") == id {
			item = it
		}
	}
	if item == nil || str(item, "status") != "pending" {
		t.Fatalf("the controller's request is not stored pending: %v", item)
	}
	// Its deadline passed three days ago (the test's stand-in for a month
	// gone by).
	due := time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Second)
	if _, err := s.DB().UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(s.Tables["PlatformRequestsTable"]),
		Key: map[string]types.AttributeValue{"pk": item["pk"], "sk": item["sk"]}, UpdateExpression: aws.String("SET due_at = :d"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberS{Value: due.Format(time.RFC3339)}}}); err != nil {
		t.Fatal(err)
	}
	mark := "Platform, controller " + acme.id

	// The digest (checked on, to the board, when none is sent).
	if resp, out := s.do(t, "POST", "/_local/invoke/DeadlineWatchFunction", "application/json", "{}", nil); resp.StatusCode != 200 ||
		!strings.Contains(out, `"overdue":1`) || !strings.Contains(out, `"digest_sent":true`) {
		t.Errorf("deadline watch: %d %s, want the Platform's request overdue and a digest sent", resp.StatusCode, out)
	} else {
		s.checkPlatformDigest(t, id, mark, addr, due)
	}

	// The board.
	s.checkPlatformBoard(t, id, acme.id, addr, due)
}

// checkPlatformDigest checks the team's digest lists the Platform's
// request id overdue since due, marked, and never addr.
func (s *stack) checkPlatformDigest(t *testing.T, id, mark, addr string, due time.Time) {
	t.Helper()
	digest := s.mailTo(t, s.team, "Rights requests")
	overdue, _, _ := strings.Cut(digest.Body.Text, "Due within 7 days")
	if !strings.Contains(overdue, id+"  erasure  pending  was due "+due.Format(time.DateOnly)+"  "+mark) {
		t.Errorf("the digest does not list the Platform's overdue request, marked:\n%s", digest.Body.Text)
	}
	if !strings.Contains(digest.Body.HTML, mark) || !strings.Contains(digest.Subject, "1 overdue") {
		t.Errorf("digest %q, HTML:\n%s", digest.Subject, digest.Body.HTML)
	}
	for _, part := range []string{digest.Subject, digest.Body.Text, digest.Body.HTML} {
		if strings.Contains(part, addr) {
			t.Errorf("the digest names the controller's person (%s):\n%s", addr, part)
		}
	}
}

// checkPlatformBoard checks privacyctl lists the Platform's request id of
// controller overdue, marked, never addr, and that the desk neither shows
// nor decides it.
func (s *stack) checkPlatformBoard(t *testing.T, id, controller, addr string, due time.Time) {
	t.Helper()
	for _, args := range [][]string{{"list"}, {"list", "-overdue"}, {"list", "-status", "pending"}} {
		out, err := s.privacyctl(t, args...)
		if err != nil {
			t.Fatalf("privacyctl %v: %v %s", args, err, out)
		}
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, id+" ") {
				line = l
			}
		}
		if !strings.Contains(line, "OVERDUE") || !strings.Contains(line, "platform:"+controller) || !strings.Contains(line, "erasure") {
			t.Errorf("privacyctl %v does not list the Platform's overdue request, marked:\n%s", args, out)
		}
		if strings.Contains(out, addr) {
			t.Errorf("privacyctl %v names the controller's person:\n%s", args, out)
		}
	}
	out, err := s.privacyctl(t, "list", "-json")
	if err != nil || !strings.Contains(out, `"platform":true`) || strings.Contains(out, addr) {
		t.Errorf("privacyctl list -json: %v %s", err, out)
	}

	// Read-only: the desk neither shows it nor decides it.
	if out, err := s.privacyctl(t, "deny", id, "-reason", "Not ours to decide."); err == nil || strings.Contains(out, addr) {
		t.Errorf("the team denied a controller's request through the site's desk: %v %s", err, out)
	}
	if out, err := s.privacyctl(t, "show", id); err == nil || strings.Contains(out, addr) {
		t.Errorf("the desk showed a controller's request: %v %s", err, out)
	}
	for _, it := range s.items(t, "PlatformRequestsTable") {
		if str(it, "id") == id && (str(it, "status") != "pending" || str(it, "due_at") != due.Format(time.RFC3339)) {
			t.Errorf("the controller's request changed: %s, due %s", str(it, "status"), str(it, "due_at"))
		}
	}
}
