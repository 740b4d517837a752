package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
)

// controller is a test OpenDSR controller: it calls the processor with its
// credentials and checks the signature of every answer against the key
// the processor was configured with.
type controller struct {
	t          *testing.T
	s          *stack
	id, secret string
	pub        *rsa.PublicKey
}

func (s *stack) issueController(t *testing.T, name string, pub *rsa.PublicKey) *controller {
	t.Helper()
	out, err := s.privacyctl(t, "opendsr-controller", "-name", name)
	if err != nil {
		t.Fatalf("issue controller: %v %s", err, out)
	}
	c := &controller{t: t, s: s, pub: pub}
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
	return c
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

func TestOpenDSRProcessor(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	s := startStackOpts(t, localtest.Need(t), 2, map[string]string{"OPENDSR_SIGNING_KEY": string(keyPEM)})
	u := localtest.Unique()
	gone, kept := "gone-"+u+"@example.com", "kept-"+u+"@example.com"
	for _, addr := range []string{gone, kept} {
		if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"D","email":"`+addr+`","message":"MSG-`+addr+`"}`, nil); resp.StatusCode != 202 {
			t.Fatalf("seed: %d %s", resp.StatusCode, out)
		}
	}
	acme := s.issueController(t, "Acme", &key.PublicKey)
	other := s.issueController(t, "Other", &key.PublicKey)

	code, _, disc := acme.call("GET", "/opendsr/v2/discovery", nil)
	if code != 200 || disc["api_version"] != "2.0" || disc["processor_certificate"] == "" {
		t.Fatalf("discovery: %d %v", code, disc)
	}

	// v2 erasure: 201 with the echo of the exact bytes; done at once.
	id := uuid.NewString()
	body := []byte(`{"regulation":"gdpr","subject_request_id":"` + id + `","subject_request_type":"erasure",` +
		`"submitted_time":"2026-11-28T10:00:00Z","subject_identities":[{"identity_type":"email","identity_value":"` +
		strings.ToUpper(gone) + `","identity_format":"raw"}]}`)
	code, h, created := acme.call("POST", "/opendsr/v2/requests", body)
	if code != 201 || created["controller_id"] != acme.id || created["subject_request_id"] != id ||
		created["encoded_request"] != base64.StdEncoding.EncodeToString(body) || created["received_time"] == nil ||
		created["expected_completion_time"] == nil || h.Get("X-OpenGDPR-Signature") != "" {
		t.Fatalf("create v2: %d %v %v", code, created, h)
	}
	if code, _, st := acme.call("GET", "/opendsr/v2/requests/"+id, nil); code != 200 || st["request_status"] != "completed" {
		t.Fatalf("status: %d %v", code, st)
	}
	pk := "S#" + string(s.hasher.Subject(gone))
	for _, it := range s.items(t, "SubjectsTable") {
		if str(it, "pk") == pk {
			t.Fatalf("the erased subject still has %s", str(it, "sk"))
		}
	}

	// v1 access: both header families; the results link serves the export.
	id1 := uuid.NewString()
	body1 := []byte(`{"subject_request_id":"` + id1 + `","subject_request_type":"access","submitted_time":"2026-11-28T10:00:00Z",` +
		`"subject_identities":[{"identity_type":"email","identity_value":"` + kept + `","identity_format":"raw"}]}`)
	code, h, _ = acme.call("POST", "/opendsr/v1/opengdpr_requests", body1)
	if code != 201 || h.Get("X-OpenGDPR-Signature") != h.Get("X-OpenDSR-Signature") || h.Get("X-OpenGDPR-Processor-Domain") == "" {
		t.Fatalf("create v1: %d %v", code, h)
	}
	code, _, st := acme.call("GET", "/opendsr/v1/opengdpr_requests/"+id1, nil)
	results, _ := st["results_url"].(string)
	if code != 200 || st["request_status"] != "completed" || results == "" {
		t.Fatalf("status v1: %d %v", code, st)
	}
	if resp, out := s.do(t, "GET", s.path(t, results), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, "MSG-"+kept) ||
		strings.Contains(out, "MSG-"+gone) {
		t.Fatalf("results: %d %.200s", resp.StatusCode, out)
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
	if code, _, e := acme.call("POST", "/opendsr/v2/requests", body); code != 409 || errCode(e) != 409 {
		t.Fatalf("duplicate: %d %v", code, e)
	}
	if code, _, _ := acme.call("DELETE", "/opendsr/v2/requests/"+id, nil); code != 409 {
		t.Fatalf("cancel of a completed request: %d", code)
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
	type got struct{ status, url string }
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
		if err := opendsr.Verify(&key.PublicKey, raw, r.Header.Get("X-OpenDSR-Signature")); err != nil {
			t.Errorf("callback signature: %v", err)
		}
		var b struct {
			Status string `json:"request_status"`
			URL    string `json:"status_callback_url"`
			ID     string `json:"subject_request_id"`
		}
		_ = json.Unmarshal(raw, &b)
		received = append(received, got{b.Status, b.URL})
		w.WriteHeader(http.StatusAccepted)
	}))
	defer recv.Close()
	cbID := uuid.NewString()
	cbBody := []byte(`{"regulation":"ccpa","subject_request_id":"` + cbID + `","subject_request_type":"portability",` +
		`"submitted_time":"2026-11-28T10:00:00Z","status_callback_urls":["` + recv.URL + `/cb"],` +
		`"subject_identities":[{"identity_type":"email","identity_value":"` + kept + `","identity_format":"raw"}]}`)
	if code, _, out := acme.call("POST", "/opendsr/v2/requests", cbBody); code != 201 {
		t.Fatalf("create with a callback: %d %v", code, out)
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		mu.Lock()
		n := len(received)
		mu.Unlock()
		if n >= 2 {
			break
		}
	}
	time.Sleep(2 * time.Second) // time for a duplicate, if one were coming
	mu.Lock()
	if fmt.Sprint(received) != fmt.Sprint([]got{{"pending", recv.URL + "/cb"}, {"completed", recv.URL + "/cb"}}) || failures != 2 {
		t.Errorf("callbacks received %v after %d failures", received, failures)
	}
	mu.Unlock()

	// The controller tells the person: no email from us about these requests.
	if n := len(localtest.Emails(t, s.svc, func(e localtest.Email) bool {
		return (e.To(gone) || e.To(kept)) && !strings.Contains(e.Subject, "We received your message")
	})); n != 0 {
		t.Fatalf("%d emails to the subjects of OpenDSR requests", n)
	}
}

func fmtJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
