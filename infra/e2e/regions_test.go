package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/opendsr/opendsrtest"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/processor"
)

// The public base URL of each region's stack, as PlatformEndpoints names
// them (the refusals name them; nothing is served there).
const regionEndpoints = "us=https://platform.us.example.com,eu=https://platform.eu.example.com"

// regionStacks starts a Platform stack of each region named, side by
// side, as docs/deploy.md deploys them: region us in us-east-1, region eu
// in eu-west-1. They share the DynamoDB Local process, each with tables
// of its own (in AWS the two regions' tables are different resources),
// and one signing key (one processor domain for both).
func regionStacks(t *testing.T, platforms ...string) ([]*stack, *x509.CertPool) {
	t.Helper()
	key := opendsrtest.Key(t)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	roots, certPEM := testPKI(t, key, "opendsr.example.com")
	certSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(certPEM) }))
	t.Cleanup(certSrv.Close)
	awsRegion := map[string]string{"us": "us-east-1", "eu": "eu-west-1"}
	var out []*stack
	for _, p := range platforms {
		out = append(out, startStackConfig(t, localtest.Need(t), 1,
			map[string]string{"OPENDSR_SIGNING_KEY": string(keyPEM), "OPENDSR_CANCEL_WINDOW": "1s"},
			map[string]string{"OpenDSRCertificateURL": certSrv.URL + "/cert.pem", "ProcessorDomain": "opendsr.example.com",
				"PlatformRegion": p, "PlatformEndpoints": regionEndpoints},
			func(c *local.Config) { c.Region = awsRegion[p] }))
	}
	return out, roots
}

// issueIn registers a controller of region with stack s (privacyctl
// opendsr-controller -region).
func (s *stack) issueIn(t *testing.T, name, region string, roots *x509.CertPool) *controller {
	t.Helper()
	out, err := s.privacyctl(t, "opendsr-controller", "-name", name, "-region", region)
	if err != nil {
		t.Fatalf("issue controller in %s: %v %s", region, err, out)
	}
	c := &controller{t: t, s: s}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "controller_id "); ok {
			c.id = v
		} else if v, ok := strings.CutPrefix(line, "secret "); ok {
			c.secret = v
		}
	}
	c.trust(roots)
	return c
}

// at is c calling stack s instead of its own.
func (c *controller) at(s *stack) *controller {
	o := *c
	o.s = s
	return &o
}

// keys are the keys of the items in s's tables (table|pk|sk).
func (s *stack) keys(t *testing.T) []string {
	t.Helper()
	var out []string
	for id := range s.Tables {
		for _, it := range s.items(t, id) {
			pk, _ := it["pk"].(*types.AttributeValueMemberS)
			sk, _ := it["sk"].(*types.AttributeValueMemberS)
			k := id
			for _, v := range []*types.AttributeValueMemberS{pk, sk} {
				if v != nil {
					k += "|" + v.Value
				}
			}
			// The receipts' signing key, which the stack writes on its
			// own first use (shared/receipt), whatever a test does.
			if !strings.HasPrefix(k, "OpsTable|"+dynamo.ReceiptKeysPK+"|") {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

// An eu controller's records and requests sent to the us stack are
// refused there, in OpenDSR's error body, naming the eu endpoint, and
// nothing is stored; the same calls to the eu stack are served; the
// discovery of each names its region.
func TestRegionsTwoStacks(t *testing.T) {
	t.Parallel()
	stacks, roots := regionStacks(t, "us", "eu")
	us, eu := stacks[0], stacks[1]
	for _, c := range []struct {
		s    *stack
		name string
	}{{us, "us"}, {eu, "eu"}} {
		for _, v := range []string{"v1", "v2", "v3"} {
			resp, out := c.s.do(t, "GET", "/opendsr/"+v+"/discovery", "", "", nil)
			if resp.StatusCode != 200 || !strings.Contains(out, `"region":"`+c.name+`"`) ||
				!strings.Contains(out, `"supported_subject_request_types"`) || !strings.Contains(out, `"processor_certificate"`) {
				t.Errorf("%s stack's %s discovery: %d %s", c.name, v, resp.StatusCode, out)
			}
		}
	}

	// The us stack registers no eu controller (its tables are not where
	// that controller's data is to be kept), and stores nothing trying.
	before := us.keys(t)
	if out, err := us.privacyctl(t, "opendsr-controller", "-name", "Euro", "-region", "eu"); err == nil ||
		!strings.Contains(out, "this stack serves region us") {
		t.Errorf("the us stack registered an eu controller: %v %s", err, out)
	}
	euCtl := eu.issueIn(t, "Euro", "eu", roots)
	if !strings.HasPrefix(euCtl.id, "eu-") {
		t.Fatalf("eu controller id %q", euCtl.id)
	}

	// Its record and its requests of every version, sent to the us
	// stack: 421, the error body naming the same path at the eu endpoint.
	email := "region-" + localtest.Unique() + "@example.com"
	record := []byte(`{"identities":[{"identity_type":"email","identity_format":"raw","identity_value":"` + email + `"}],"attributes":{"plan":"pro"}}`)
	rid := uuid.NewString()
	request := func(v string) []byte {
		if v == "v3" {
			return []byte(`{"regulation":"gdpr","subject_request_id":"` + rid + `","subject_request_type":"access","submitted_time":"2026-12-01T10:00:00Z",` +
				`"subject_identities":{"email":{"value":"` + email + `","encoding":"raw"}}}`)
		}
		return []byte(`{"regulation":"gdpr","subject_request_id":"` + rid + `","subject_request_type":"access","submitted_time":"2026-12-01T10:00:00Z",` +
			`"subject_identities":[{"identity_type":"email","identity_format":"raw","identity_value":"` + email + `"}]}`)
	}
	calls := []struct {
		method, path string
		body         []byte
	}{
		{"PUT", "/platform/v1/records/r-1", record},
		{"POST", "/opendsr/v1/opengdpr_requests", request("v1")},
		{"POST", "/opendsr/v2/requests", request("v2")},
		{"POST", "/opendsr/v3/requests", request("v3")},
		{"GET", "/opendsr/v2/requests/" + rid, nil},
		{"GET", "/platform/v1/records/r-1", nil},
	}
	refusedBody := ""
	for _, c := range calls {
		code, _, out := euCtl.at(us).call(c.method, c.path, c.body)
		e, _ := out["error"].(map[string]any)
		msg, _ := e["message"].(string)
		if code != 421 || e["code"] != float64(421) || !strings.Contains(msg, "kept in region eu") ||
			!strings.Contains(msg, "https://platform.eu.example.com"+c.path) {
			t.Errorf("the eu controller's %s %s at the us stack: %d %v", c.method, c.path, code, out)
		}
		if c.path == "/platform/v1/records/r-1" && c.method == "PUT" {
			refusedBody = msg
		}
	}
	if after := us.keys(t); !slices.Equal(before, after) {
		t.Errorf("the us stack stored something of the refused calls: items %v, before %v", after, before)
	}

	// The same calls at the eu stack: served; the request completes there.
	if code, _, out := euCtl.call("PUT", "/platform/v1/records/r-1", record); code != 201 {
		t.Fatalf("the eu controller's record at the eu stack: %d %v", code, out)
	}
	if code, _, out := euCtl.call("POST", "/opendsr/v2/requests", request("v2")); code != 201 {
		t.Fatalf("the eu controller's request at the eu stack: %d %v", code, out)
	}
	time.Sleep(1100 * time.Millisecond) // the cancel window
	eu.work(t)
	if code, _, out := euCtl.call("GET", "/opendsr/v2/requests/"+rid, nil); code != 200 || out["request_status"] != "completed" ||
		out["results_count"] != float64(1) {
		t.Errorf("the eu controller's request at the eu stack: %d %v", code, out)
	}

	// And the other way round: a us controller at the eu stack.
	usCtl := us.issueIn(t, "Yankee", "us", roots)
	if code, _, out := usCtl.at(eu).call("PUT", "/platform/v1/records/r-2", record); code != 421 ||
		!strings.Contains(out["error"].(map[string]any)["message"].(string), "https://platform.us.example.com/platform/v1/records/r-2") {
		t.Errorf("the us controller at the eu stack: %d %v", code, out)
	}
	if code, _, out := usCtl.call("PUT", "/platform/v1/records/r-2", record); code != 201 {
		t.Errorf("the us controller at the us stack: %d %v", code, out)
	}

	// Oracle: the us stack's answer to an eu id depends on the id alone:
	// a stranger's made-up eu id, or the real one with a wrong secret, get
	// the same body as the controller itself; nothing says whether such a
	// controller exists.
	for _, who := range []*controller{{id: "eu-" + uuid.NewString(), secret: "guess"}, {id: euCtl.id, secret: "guess"}} {
		who.t, who.s, who.pub = t, us, euCtl.pub
		if code, _, out := who.call("PUT", "/platform/v1/records/r-1", record); code != 421 || out["error"].(map[string]any)["message"] != refusedBody {
			t.Errorf("id %s with a wrong secret at the us stack: %d %v, want the controller's own refusal", who.id, code, out)
		}
	}

	// Each stack's functions reach their own tables only: their
	// environment names no table of the other, and a call with a
	// function's own role naming the other's table is refused (the two
	// share DynamoDB Local; in AWS another region's table is another
	// resource). The watch on every stack's log (startStackConfig) fails
	// the test on any other call to a table not the stack's own.
	for _, c := range []struct{ s, other *stack }{{us, eu}, {eu, us}} {
		others := slices.Collect(maps.Values(c.other.Tables))
		for id, f := range c.s.Functions {
			for k, v := range f.Env {
				if slices.Contains(others, v) {
					t.Errorf("%s's %s names the other stack's table %s", id, k, v)
				}
			}
		}
		cfg, ok := c.s.AWSAs("OpenDSRFunction")
		if !ok {
			t.Fatal("no OpenDSRFunction")
		}
		db := dynamodb.NewFromConfig(cfg)
		key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: dynamo.ControllerPrefix + euCtl.id},
			"sk": &types.AttributeValueMemberS{Value: "CTRL"}}
		if _, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(c.s.Tables["OpsTable"]), Key: key}); err != nil {
			t.Errorf("OpenDSRFunction reading its own ops table: %v", err)
		}
		if _, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(c.other.Tables["OpsTable"]), Key: key}); err == nil {
			t.Errorf("OpenDSRFunction read the other stack's ops table %s", c.other.Tables["OpsTable"])
		}
		c.s.expectRefusals = true // that one; the rest are checked below
	}
	for _, s := range []*stack{us, eu} {
		lines := refusals(s.logs.String())
		if len(lines) == 0 {
			t.Error("the call to the other stack's table is not in the refusals")
		}
		for _, line := range lines {
			if !strings.Contains(line, "is not one of the stack's") {
				t.Errorf("refused: %s", line)
			}
		}
	}
}

// A controller registered before regions (its id names none) is served
// by no stack until the team records its region; a stranger without its
// secret is not told the region; the team records it once, never moves
// it, and the ledger names who did.
func TestRegionsControllerBeforeRegions(t *testing.T) {
	t.Parallel()
	stacks, roots := regionStacks(t, "us")
	us := stacks[0]
	legacy := &controller{t: t, s: us, id: uuid.NewString(), secret: "legacy-secret-" + localtest.Unique()}
	store := dynamo.New(us.DB(), dynamo.Tables{Ops: us.Tables["OpsTable"], Ledger: us.Tables["LedgerTable"]})
	if err := store.PutController(context.Background(), privacy.Controller{ID: legacy.id, Name: "Old client",
		SecretHash: processor.SecretHash(us.hasher, legacy.secret)}, privacy.Event{At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	legacy.trust(roots)
	record := []byte(`{"identities":[{"identity_type":"email","identity_format":"raw","identity_value":"old@example.com"}],"attributes":{}}`)
	before := us.keys(t)
	if code, _, out := legacy.call("PUT", "/platform/v1/records/r-1", record); code != 403 ||
		!strings.Contains(out["error"].(map[string]any)["message"].(string), "region is not recorded") {
		t.Errorf("a controller without a region: %d %v", code, out)
	}
	if out, err := us.privacyctl(t, "opendsr-controllers"); err != nil || !strings.Contains(out, `"region": ""`) {
		t.Errorf("opendsr-controllers does not show the region unrecorded: %v %s", err, out)
	}
	if out, err := us.privacyctl(t, "opendsr-region", legacy.id, "-region", "eu", "-reason", "its contract names the EEA"); err != nil {
		t.Fatalf("opendsr-region: %v %s", err, out)
	}
	code, _, out := legacy.call("PUT", "/platform/v1/records/r-1", record)
	if code != 421 || !strings.Contains(out["error"].(map[string]any)["message"].(string), "https://platform.eu.example.com/platform/v1/records/r-1") {
		t.Errorf("a controller recorded eu at the us stack: %d %v", code, out)
	}
	stranger := &controller{t: t, s: us, id: legacy.id, secret: "guess", pub: legacy.pub}
	unknown := &controller{t: t, s: us, id: uuid.NewString(), secret: "guess", pub: legacy.pub}
	_, _, a := stranger.call("PUT", "/platform/v1/records/r-1", record)
	if code, _, b := unknown.call("PUT", "/platform/v1/records/r-1", record); code != 401 || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("its id with a wrong secret answers %v, an unknown id %d %v: the region leaks", a, code, b)
	}
	if out, err := us.privacyctl(t, "opendsr-region", legacy.id, "-region", "us"); err == nil || !strings.Contains(out, "recorded already") {
		t.Errorf("the region moved: %v %s", err, out)
	}
	for _, k := range us.keys(t) { // new: the team's ledger entry only
		if !slices.Contains(before, k) && !strings.HasPrefix(k, "LedgerTable|") {
			t.Errorf("stored by the refused calls: %s", k)
		}
	}
	if by := us.ledgerBy(t, "controller_region_set"); len(by) != 1 || by[0] != dpoARN {
		t.Errorf("controller_region_set by %v, want [%s]", by, dpoARN)
	}
}
