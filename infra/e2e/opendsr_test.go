package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/opendsr/opendsrtest"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// controller is a test OpenDSR controller: it calls the processor with its
// credentials and checks the signature of every answer against the
// certificate that discovery names, once that certificate is shown to be
// issued by a CA it trusts for the processor domain the answers name.
type controller struct {
	t          *testing.T
	s          *stack
	id, secret string
	pub        *rsa.PublicKey
}

func (s *stack) issueController(t *testing.T, name string, roots *x509.CertPool) *controller {
	t.Helper()
	out, err := s.privacyctl(t, "opendsr-controller", "-name", name, "-region", "us")
	if err != nil {
		t.Fatalf("issue controller: %v %s", err, out)
	}
	c := &controller{t: t, s: s}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "controller_id "); ok {
			c.id = v
		} else if v, ok := strings.CutPrefix(line, "secret "); ok {
			c.secret = v
		}
	}
	if c.id == "" || c.secret == "" {
		t.Fatalf("no credentials in %q", out)
	}
	c.trust(roots)
	return c
}

// trust reads discovery, fetches the certificate it names, checks it
// against roots for the processor domain of the answer, and checks the
// discovery answer's own signature with it.
func (c *controller) trust(roots *x509.CertPool) {
	c.t.Helper()
	resp, err := client.Get(c.s.URL + "/opendsr/v2/discovery")
	if err != nil {
		c.t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var disc struct {
		Cert string `json:"processor_certificate"`
	}
	if err := json.Unmarshal(raw, &disc); err != nil || disc.Cert == "" {
		c.t.Fatalf("discovery: %d %s", resp.StatusCode, raw)
	}
	certResp, err := client.Get(disc.Cert)
	if err != nil {
		c.t.Fatal(err)
	}
	certPEM, _ := io.ReadAll(certResp.Body)
	certResp.Body.Close()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		c.t.Fatalf("no certificate at %s", disc.Cert)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		c.t.Fatal(err)
	}
	domain := resp.Header.Get("X-OpenDSR-Processor-Domain")
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: domain}); err != nil {
		c.t.Fatalf("certificate for %q: %v", domain, err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		c.t.Fatalf("certificate key %T", cert.PublicKey)
	}
	if err := opendsr.Verify(pub, raw, resp.Header.Get("X-OpenDSR-Signature")); err != nil {
		c.t.Fatalf("discovery signature: %v", err)
	}
	c.pub = pub
}

// testPKI is a CA the test controllers trust and a certificate it issued
// for the processor domain, over the processor's signing key.
func testPKI(t *testing.T, key *rsa.PrivateKey, domain string) (*x509.CertPool, []byte) {
	t.Helper()
	caKey := opendsrtest.Key(t)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: domain}, DNSNames: []string{domain},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})
}

// call sends a request and returns the status, the headers and the body,
// after checking the body's signature.
func (c *controller) call(method, path string, body []byte) (int, http.Header, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.s.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(c.id, c.secret)
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	sig := resp.Header.Get("X-OpenDSR-Signature")
	if err := opendsr.Verify(c.pub, raw, sig); err != nil || resp.Header.Get("X-OpenDSR-Processor-Domain") != "opendsr.example.com" {
		c.t.Fatalf("%s %s: %d, signature does not verify (%v): %s", method, path, resp.StatusCode, err, raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, resp.Header, out
}

// work runs the OpenDSR worker once, as its schedule would, and returns
// its report.
func (s *stack) work(t *testing.T) map[string]any {
	t.Helper()
	resp, out := s.do(t, "POST", "/_local/invoke/OpenDSRWorkerFunction", "application/json", "{}", nil)
	var rep map[string]any
	if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("worker: %d %s", resp.StatusCode, out)
	}
	return rep
}

// openDSRStack starts a stack whose processor API signs with a fresh key
// (its certificate, issued by a test CA for opendsr.example.com, served
// where discovery says), with a cancel window of window and env. It
// returns the stack, the CA the test controllers trust and the
// certificate's PEM.
func openDSRStack(t *testing.T, window time.Duration, env map[string]string) (*stack, *x509.CertPool, []byte) {
	t.Helper()
	key := opendsrtest.Key(t)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	roots, certPEM := testPKI(t, key, "opendsr.example.com")
	certSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(certPEM) }))
	t.Cleanup(certSrv.Close)
	fnEnv := map[string]string{"OPENDSR_SIGNING_KEY": string(keyPEM), "OPENDSR_CANCEL_WINDOW": window.String()}
	for k, v := range env {
		fnEnv[k] = v
	}
	s := startStackOpts(t, localtest.Need(t), 2, fnEnv, map[string]string{"OpenDSRCertificateURL": certSrv.URL + "/cert.pem",
		"ProcessorDomain": "opendsr.example.com"})
	return s, roots, certPEM
}

func TestOpenDSRProcessor(t *testing.T) {
	t.Parallel()
	const window = 2 * time.Second
	s, roots, _ := openDSRStack(t, window, map[string]string{"CALLBACK_RETRY_BACKOFF": "1s"})
	u := localtest.Unique()
	gone, kept := "gone-"+u+"@example.com", "kept-"+u+"@example.com"
	for _, addr := range []string{gone, kept} {
		if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"D","email":"`+addr+`","message":"MSG-`+addr+`"}`, nil); resp.StatusCode != 202 {
			t.Fatalf("seed: %d %s", resp.StatusCode, out)
		}
	}
	acme := s.issueController(t, "Acme", roots)
	other := s.issueController(t, "Other", roots)
	// The site holds an inquiry from each (above); acme hands over a record
	// about each, other one about kept. Each controller's requests act on
	// its own records only.
	putRecord := func(c *controller, id, email, attrs string) {
		t.Helper()
		body := `{"identities":[{"identity_type":"email","identity_format":"raw","identity_value":"` + email + `"}],"attributes":` + attrs + `}`
		if code, _, out := c.call("PUT", "/platform/v1/records/"+id, []byte(body)); code != 201 || out["record_id"] != id {
			t.Fatalf("put record %s: %d %v", id, code, out)
		}
	}
	putRecord(acme, "g-1", gone, `{"note":"ACME-`+gone+`"}`)
	putRecord(acme, "k-1", kept, `{"note":"ACME-`+kept+`"}`)
	putRecord(other, "k-1", kept, `{"note":"OTHER-`+kept+`"}`)
	if code, _, out := acme.call("PUT", "/platform/v1/records/bad", []byte(`{"identities":[],"attributes":[]}`)); code != 400 || out["error"] == nil {
		t.Fatalf("a bad record: %d %v", code, out)
	}

	code, _, disc := acme.call("GET", "/opendsr/v2/discovery", nil)
	if code != 200 || disc["api_version"] != "2.0" || disc["processor_certificate"] == "" ||
		!strings.Contains(fmtJSON(disc["supported_identities"]), `{"identity_format":"sha256","identity_type":"email"}`) {
		t.Fatalf("discovery: %d %v", code, disc)
	}
	identity := func(format, value string) string {
		return `[{"identity_type":"email","identity_value":"` + value + `","identity_format":"` + format + `"}]`
	}
	v2 := func(id, typ, identities string) []byte {
		return []byte(`{"regulation":"gdpr","subject_request_id":"` + id + `","subject_request_type":"` + typ + `",` +
			`"submitted_time":"2026-11-28T10:00:00Z","subject_identities":` + identities + `}`)
	}
	status := func(c *controller, path string) map[string]any {
		t.Helper()
		code, _, st := c.call("GET", path, nil)
		if code != 200 {
			t.Fatalf("status %s: %d %v", path, code, st)
		}
		return st
	}

	// v2 erasure named by the sha256 of the address as the controller
	// holds it (normalised: trimmed, lower-cased): 201 with the echo of the
	// exact bytes, pending through the cancel window, then done by the
	// worker, with how many of acme's records went.
	id := uuid.NewString()
	body := v2(id, "erasure", identity("sha256", privacy.EmailDigest("sha256", "  "+strings.ToUpper(gone))))
	sent := time.Now()
	code, h, created := acme.call("POST", "/opendsr/v2/requests", body)
	if code != 201 || created["controller_id"] != acme.id || created["subject_request_id"] != id ||
		created["encoded_request"] != base64.StdEncoding.EncodeToString(body) || created["received_time"] == nil ||
		created["expected_completion_time"] == nil || h.Get("X-OpenGDPR-Signature") != "" {
		t.Fatalf("create v2: %d %v %v", code, created, h)
	}
	if st := status(acme, "/opendsr/v2/requests/"+id); st["request_status"] != "pending" || st["results_count"] != nil {
		t.Fatalf("before the window is over: %v", st)
	}
	if rep := s.work(t); rep["fulfilled"] != 0.0 && time.Since(sent) < window {
		t.Fatalf("the worker started a request inside its cancel window: %v", rep)
	}
	// The same bytes again (a retry after a lost answer): the same receipt.
	if code, _, again := acme.call("POST", "/opendsr/v2/requests", body); code != 201 || again["received_time"] != created["received_time"] {
		t.Fatalf("retry: %d %v, first %v", code, again, created)
	}
	time.Sleep(window)
	s.work(t)
	// acme's one record of gone went; the site's inquiry from gone is the
	// site's, and stays, with no suppression written.
	if st := status(acme, "/opendsr/v2/requests/"+id); st["request_status"] != "completed" || st["results_count"] != 1.0 {
		t.Fatalf("after the worker: %v", st)
	}
	if code, _, _ := acme.call("GET", "/platform/v1/records/g-1", nil); code != 404 {
		t.Fatalf("acme's record of the erased person: %d", code)
	}
	pk, siteKept := "S#"+string(s.hasher.Subject(gone)), false
	for _, it := range s.items(t, "SubjectsTable") {
		siteKept = siteKept || str(it, "pk") == pk && str(it, "message") == "MSG-"+gone
	}
	if !siteKept {
		t.Fatal("a controller's erasure removed the site's inquiry")
	}
	if sup := s.items(t, "SuppressionTable"); len(sup) != 0 {
		t.Fatalf("a controller's erasure wrote %d suppression entries", len(sup))
	}
	if code, _, _ := acme.call("DELETE", "/opendsr/v2/requests/"+id, nil); code != 409 {
		t.Fatalf("cancel of a completed request: %d", code)
	}

	// v1 access by the raw address: both header families; the results
	// link serves acme's records of kept, to acme only; no results_count
	// in v1.
	id1 := uuid.NewString()
	body1 := []byte(`{"subject_request_id":"` + id1 + `","subject_request_type":"access","submitted_time":"2026-11-28T10:00:00Z",` +
		`"subject_identities":` + identity("raw", kept) + `}`)
	code, h, _ = acme.call("POST", "/opendsr/v1/opengdpr_requests", body1)
	if code != 201 || h.Get("X-OpenGDPR-Signature") != h.Get("X-OpenDSR-Signature") || h.Get("X-OpenGDPR-Processor-Domain") == "" {
		t.Fatalf("create v1: %d %v", code, h)
	}
	// A second access request with the same identities while the first
	// is in flight is a conflict (mParticle's 409); the same one from
	// another controller is not.
	if code, _, e := acme.call("POST", "/opendsr/v2/requests", v2(uuid.NewString(), "access", identity("raw", " "+strings.ToUpper(kept)))); code != 409 {
		t.Fatalf("a second request in flight: %d %v", code, e)
	}
	// Cancelled inside the window: 202, and the worker leaves it alone.
	idc := uuid.NewString()
	if code, _, out := other.call("POST", "/opendsr/v2/requests", v2(idc, "access", identity("sha1", privacy.EmailDigest("sha1", kept)))); code != 201 {
		t.Fatalf("create to cancel: %d %v", code, out)
	}
	if code, _, out := other.call("DELETE", "/opendsr/v2/requests/"+idc, nil); code != 202 || out["subject_request_id"] != idc || out["received_time"] == nil {
		t.Fatalf("cancel while pending: %d %v", code, out)
	}
	// A digest of an address not held: completed, nothing found.
	idn := uuid.NewString()
	if code, _, out := acme.call("POST", "/opendsr/v2/requests", v2(idn, "erasure", identity("md5", privacy.EmailDigest("md5", "nobody-"+u+"@example.com")))); code != 201 {
		t.Fatalf("create for no one: %d %v", code, out)
	}
	time.Sleep(window)
	if rep := s.work(t); rep["fulfilled"] != 2.0 {
		t.Fatalf("worker: %v", rep)
	}
	if st := status(other, "/opendsr/v2/requests/"+idc); st["request_status"] != "cancelled" {
		t.Fatalf("cancelled request: %v", st)
	}
	if st := status(acme, "/opendsr/v2/requests/"+idn); st["request_status"] != "completed" || st["results_count"] != 0.0 {
		t.Fatalf("request for no one: %v", st)
	}
	st := status(acme, "/opendsr/v1/opengdpr_requests/"+id1)
	results, _ := st["results_url"].(string)
	if st["request_status"] != "completed" || results == "" || st["results_count"] != nil {
		t.Fatalf("status v1: %v", st)
	}
	if resp, out := s.do(t, "GET", s.path(t, results), "", "", nil); resp.StatusCode != 401 || strings.Contains(out, kept) {
		t.Fatalf("results without credentials: %d %.200s", resp.StatusCode, out)
	}
	if code, _, out := other.call("GET", s.path(t, results), nil); code != 404 {
		t.Fatalf("results with another controller's credentials: %d %v", code, out)
	}
	if code, _, out := acme.call("GET", s.path(t, results), nil); code != 200 || !strings.Contains(fmtJSON(out), "ACME-"+kept) ||
		strings.Contains(fmtJSON(out), "MSG-") || strings.Contains(fmtJSON(out), "OTHER-") {
		t.Fatalf("results: %d %.300v", code, out)
	}

	// The specification's errors, each signed, none echoing an identity.
	errCode := func(m map[string]any) float64 {
		e, _ := m["error"].(map[string]any)
		c, _ := e["code"].(float64)
		return c
	}
	bad := bytes.Replace(body, []byte(`"regulation":"gdpr",`), nil, 1)
	bad = bytes.Replace(bad, []byte(id), []byte(uuid.NewString()), 1)
	if code, _, e := acme.call("POST", "/opendsr/v2/requests", bad); code != 400 || errCode(e) != 400 || strings.Contains(fmtJSON(e), gone) {
		t.Fatalf("missing regulation: %d %v", code, e)
	}
	// (Two addresses in one request are the controller's word that they
	// are one person's: it matches a record on any of them, issue #35;
	// TestPlatformIdentities.)
	if code, _, e := acme.call("POST", "/opendsr/v2/requests", bytes.Replace(body, []byte("erasure"), []byte("access"), 1)); code != 409 || errCode(e) != 409 {
		t.Fatalf("another request under a used id: %d %v", code, e)
	}
	if code, _, _ := other.call("GET", "/opendsr/v2/requests/"+id, nil); code != 404 {
		t.Fatalf("another controller's request: %d", code)
	}
	if code, _, _ := acme.call("GET", "/opendsr/v2/requests/"+uuid.NewString(), nil); code != 404 {
		t.Fatalf("unknown id: %d", code)
	}
	wrong := *acme
	wrong.secret = "not-the-secret"
	if code, h, e := wrong.call("GET", "/opendsr/v2/requests/"+id, nil); code != 401 || errCode(e) != 401 || h.Get("WWW-Authenticate") == "" {
		t.Fatalf("wrong password: %d %v", code, e)
	}
	if out, err := s.privacyctl(t, "opendsr-revoke", other.id); err != nil {
		t.Fatalf("revoke: %v %s", err, out)
	}
	if code, _, _ := other.call("GET", "/opendsr/v2/discovery", nil); code != 200 {
		t.Fatal("discovery needs no credentials")
	}
	if code, _, _ := other.call("GET", "/opendsr/v2/requests/"+id, nil); code != 401 {
		t.Fatalf("a revoked controller: %d", code)
	}

	// Callbacks: a receiver that fails twice, then accepts, gets every
	// status change once, in order, signed, naming its own URL.
	type got struct {
		status, url string
		count       any
	}
	var mu sync.Mutex
	var received []got
	failures := 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if failures < 2 {
			failures++
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
			return
		}
		if err := opendsr.Verify(acme.pub, raw, r.Header.Get("X-OpenDSR-Signature")); err != nil {
			t.Errorf("callback signature: %v", err)
		}
		var b struct {
			Status string `json:"request_status"`
			URL    string `json:"status_callback_url"`
			ID     string `json:"subject_request_id"`
			Count  any    `json:"results_count"`
		}
		_ = json.Unmarshal(raw, &b)
		received = append(received, got{b.Status, b.URL, b.Count})
		w.WriteHeader(http.StatusAccepted)
	}))
	defer recv.Close()
	cbID := uuid.NewString()
	cbBody := []byte(`{"regulation":"ccpa","subject_request_id":"` + cbID + `","subject_request_type":"portability",` +
		`"submitted_time":"2026-11-28T10:00:00Z","status_callback_urls":["` + recv.URL + `/cb"],` +
		`"subject_identities":` + identity("raw", kept) + `}`)
	if code, _, out := acme.call("POST", "/opendsr/v2/requests", cbBody); code != 201 {
		t.Fatalf("create with a callback: %d %v", code, out)
	}
	time.Sleep(window)
	s.work(t)
	// The failed deliveries wait in their queue; the schedule's retry (run
	// here by hand) delivers them once their backoff is over.
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		mu.Lock()
		n := len(received)
		mu.Unlock()
		if n >= 3 {
			break
		}
		if resp, out := s.do(t, "POST", "/_local/invoke/CallbackFunction", "application/json", `{"retry_callbacks":true}`, nil); resp.StatusCode != 200 {
			t.Fatalf("callback retry: %d %s", resp.StatusCode, out)
		}
	}
	s.idle(t) // time for a duplicate, if one were coming
	// The completed callback counts what the status route counts: acme's
	// one record of kept.
	count := status(acme, "/opendsr/v2/requests/"+cbID)["results_count"]
	if count != 1.0 {
		t.Errorf("results_count %v for a subject acme handed one record of", count)
	}
	mu.Lock()
	want := []got{{"pending", recv.URL + "/cb", nil}, {"in_progress", recv.URL + "/cb", nil}, {"completed", recv.URL + "/cb", count}}
	if fmt.Sprint(received) != fmt.Sprint(want) || failures != 2 {
		t.Errorf("callbacks received %v after %d failures, want %v", received, failures, want)
	}
	mu.Unlock()

	// Retention is the controller's: with 30 days set, a record last
	// written 31 days ago goes at the next sweep, a fresh one stays.
	if out, err := s.privacyctl(t, "opendsr-retention", acme.id, "-days", "30"); err != nil || !strings.Contains(out, "30 days") {
		t.Fatalf("retention: %v %s", err, out)
	}
	putRecord(acme, "old-1", kept, `{}`)
	if _, err := s.DB().UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(s.Tables["RecordsTable"]),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "C#" + acme.id + "#old-1"},
			"sk": &types.AttributeValueMemberS{Value: "RECORD"}}, UpdateExpression: aws.String("SET updated_at = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{
			Value: time.Now().AddDate(0, 0, -31).UTC().Format(time.RFC3339Nano)}}}); err != nil {
		t.Fatal(err)
	}
	if out, err := s.privacyctl(t, "terminate-client", "-controller", other.id); err != nil || !strings.Contains(out, "terminated") {
		t.Fatalf("terminate a controller: %v %s", err, out)
	}
	resp, out := s.do(t, "POST", "/_local/invoke/SweepFunction", "application/json", "{}", nil)
	if resp.StatusCode != 200 || !strings.Contains(out, `"controller_record":{"deleted":1}`) {
		t.Fatalf("sweep: %d %s", resp.StatusCode, out)
	}
	for _, k := range []struct {
		c    *controller
		id   string
		code int
	}{{acme, "old-1", 404}, {acme, "k-1", 200}} {
		if code, _, _ := k.c.call("GET", "/platform/v1/records/"+k.id, nil); code != k.code {
			t.Errorf("after the sweep, %s: %d, want %d", k.id, code, k.code)
		}
	}

	// A restore that brings acme's erased record of gone back: reapplied,
	// it goes again (the completed OpenDSR erasure says whose it was).
	restore := dynamo.New(s.DB(), dynamo.Tables{Records: s.Tables["RecordsTable"]})
	if _, _, err := restore.PutRecord(context.Background(), privacy.Record{Controller: acme.id, ID: "g-1",
		Keys: s.hasher.IdentityKeys(acme.id, "email", gone), Attributes: []byte(`{}`), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if out, err := s.privacyctl(t, "reapply-erasures"); err != nil || !strings.Contains(out, `"controller_records_deleted_again":1`) {
		t.Fatalf("reapply: %v %s", err, out)
	}
	if code, _, _ := acme.call("GET", "/platform/v1/records/g-1", nil); code != 404 {
		t.Fatalf("the restored record of an erased person: %d", code)
	}

	// The controller tells the person: no email from us about these requests.
	if n := len(localtest.Emails(t, s.svc, func(e localtest.Email) bool {
		return (e.To(gone) || e.To(kept)) && !strings.Contains(e.Subject, "We received your message")
	})); n != 0 {
		t.Fatalf("%d emails to the subjects of OpenDSR requests", n)
	}
}

func fmtJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// make dev answers the OpenDSR routes with no key step: the gateway makes a
// signing key and a self-signed certificate on first start (and keeps them),
// discovery and a create by freshly issued credentials answer 200 and 201,
// signed with that key.
func TestOpenDSRWithTheDevelopmentKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startStackConfig(t, localtest.Need(t), 1, nil, nil, func(c *local.Config) { c.DevKeyDir = dir })
	raw, err := os.ReadFile(filepath.Join(dir, "certificate.pem"))
	if err != nil {
		t.Fatalf("no certificate made: %v", err)
	}
	block, _ := pem.Decode(raw)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub := cert.PublicKey.(*rsa.PublicKey)
	out, err := s.privacyctl(t, "opendsr-controller", "-name", "Dev", "-region", "us")
	if err != nil {
		t.Fatalf("issue controller: %v %s", err, out)
	}
	var id, secret string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "controller_id "); ok {
			id = v
		} else if v, ok := strings.CutPrefix(line, "secret "); ok {
			secret = v
		}
	}
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		req.SetBasicAuth(id, secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if err := opendsr.Verify(pub, b, resp.Header.Get("X-OpenDSR-Signature")); err != nil {
			t.Fatalf("%s %s: %d, not signed with the development key: %v", method, path, resp.StatusCode, err)
		}
		return resp.StatusCode, string(b)
	}
	code, body := call("GET", "/opendsr/v2/discovery", "")
	if code != 200 {
		t.Fatalf("discovery: %d %s", code, body)
	}
	// The certificate discovery names is served by the local stack itself
	// (issue #35): a client fetches it from discovery as in production.
	var disc struct {
		Cert string `json:"processor_certificate"`
	}
	_ = json.Unmarshal([]byte(body), &disc)
	resp, err := client.Get(disc.Cert)
	if err != nil {
		t.Fatalf("processor_certificate %q: %v", disc.Cert, err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(served) != string(raw) || !strings.HasPrefix(disc.Cert, s.URL+"/") {
		t.Fatalf("processor_certificate %q: %d, not the development certificate", disc.Cert, resp.StatusCode)
	}
	rid := uuid.NewString()
	if code, body := call("POST", "/opendsr/v2/requests", `{"regulation":"gdpr","subject_request_id":"`+rid+
		`","subject_request_type":"access","submitted_time":"2026-11-29T10:00:00Z","subject_identities":`+
		`[{"identity_type":"email","identity_format":"raw","identity_value":"dev@example.com"}]}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	// A second start keeps the same key.
	key1, _, err := local.DevSigningKey(dir, "ignored")
	if err != nil {
		t.Fatal(err)
	}
	key0, _ := os.ReadFile(filepath.Join(dir, "signing-key.pem"))
	if string(key1) != string(key0) {
		t.Fatal("the development key was made anew")
	}
}
