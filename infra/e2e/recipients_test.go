package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// receiver is a downstream processor's OpenDSR v2 API outside the stack:
// down, forging its signature, or up; it completes what it accepted once
// told to.
type receiver struct {
	srv    *httptest.Server
	signer *opendsr.Signer
	forger *opendsr.Signer
	cert   []byte

	mu       sync.Mutex
	mode     string
	done     bool
	received []opendsr.Request
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	forged, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, cert := testPKI(t, key, "receiver.example.com")
	r := &receiver{cert: cert, mode: "down"}
	var err error
	for k, s := range map[*rsa.PrivateKey]**opendsr.Signer{key: &r.signer, forged: &r.forger} {
		if *s, err = opendsr.NewSigner(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}),
			"receiver.example.com"); err != nil {
			t.Fatal(err)
		}
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) set(mode string, done bool) {
	r.mu.Lock()
	r.mode, r.done = mode, done
	r.mu.Unlock()
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out any
	code := http.StatusOK
	switch {
	case req.URL.Path == "/opendsr/v2/discovery":
		out = map[string]any{"api_version": "2.0", "supported_subject_request_types": []string{"erasure"},
			"supported_identities": []map[string]string{{"identity_type": "email", "identity_format": "sha256"}}}
	case r.mode == "down":
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	case req.Method == http.MethodPost:
		var in opendsr.Request
		raw, _ := io.ReadAll(req.Body)
		_ = json.Unmarshal(raw, &in)
		if r.mode == "up" {
			r.received = append(r.received, in)
		}
		code, out = http.StatusCreated, map[string]string{"subject_request_id": in.SubjectRequestID}
	default:
		st := opendsr.StatusPending
		if r.done {
			st = opendsr.StatusDone
		}
		out = map[string]string{"request_status": st}
	}
	body, _ := json.Marshal(out)
	s := r.signer
	if r.mode == "forged" && req.URL.Path != "/opendsr/v2/discovery" {
		s = r.forger
	}
	h, _ := s.Headers(opendsr.V2, body)
	for k, v := range h {
		w.Header().Set(k, v)
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// GDPR Art. 19 end to end: the site's erasure is sent to two registered
// processors, the stack's own processor API (as another deployment would
// be) and a receiver that is down, then forges its answer, then answers
// truly. Each is told once; the completion email names both and where
// each stands; the digest lists the one not done; both complete.
func TestErasureToldToEveryProcessor(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	roots, certPEM := testPKI(t, key, "opendsr.example.com")
	certSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(certPEM) }))
	defer certSrv.Close()
	const window = 2 * time.Second
	s := startStackOpts(t, localtest.Need(t), 2, map[string]string{"OPENDSR_SIGNING_KEY": string(keyPEM),
		"OPENDSR_CANCEL_WINDOW": window.String(), "RECIPIENT_RETRY_BACKOFF": "1s", "RECIPIENT_POLL_EVERY": "1s"},
		map[string]string{"OpenDSRCertificateURL": certSrv.URL + "/cert.pem", "ProcessorDomain": "opendsr.example.com"})
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// The stack's own platform, as a processor with a controller
	// credential for the site, and the outside receiver.
	site := s.issueController(t, "Our site", roots)
	recv := newReceiver(t)
	for _, p := range []struct{ name, url, creds, cert string }{
		{"Own Platform", s.URL + "/opendsr/v2", site.id + ":" + site.secret, write("own.pem", certPEM)},
		{"Outside Receiver", recv.srv.URL + "/opendsr/v2", "site:pw", write("recv.pem", recv.cert)},
	} {
		if out, err := s.privacyctl(t, "processor", "add", "-name", p.name, "-url", p.url, "-credentials", p.creds, "-certificate", p.cert); err != nil ||
			!strings.Contains(out, "naming the person by sha256") {
			t.Fatalf("processor add %s: %v %s", p.name, err, out)
		}
	}
	// A certificate that did not sign the discovery answer is refused.
	if out, err := s.privacyctl(t, "processor", "add", "-name", "Wrong", "-url", s.URL+"/opendsr/v2", "-credentials", "a:b",
		"-certificate", write("wrong.pem", recv.cert)); err == nil || !strings.Contains(out, "signature") {
		t.Fatalf("a processor whose certificate does not match: %v %s", err, out)
	}
	if out, _ := s.privacyctl(t, "processor", "list"); strings.Count(out, "sha256") != 2 || strings.Contains(out, site.secret) {
		t.Fatalf("processor list: %s", out)
	}

	// The site's erasure, verified.
	addr := "told-" + localtest.Unique() + "@example.com"
	id, verify, status := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"erasure"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	deliver := func() map[string]any {
		t.Helper()
		resp, out := s.do(t, "POST", "/_local/invoke/RecipientsFunction", "application/json", "{}", nil)
		var rep map[string]any
		if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &rep) != nil {
			t.Fatalf("recipients: %d %s", resp.StatusCode, out)
		}
		return rep
	}
	// Nothing goes to the requester before each processor was tried.
	time.Sleep(time.Second)
	if n := len(localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(addr) && strings.Contains(e.Subject, "erasure") })); n != 0 {
		t.Fatal("the completion email went before the processors were tried")
	}
	if rep := deliver(); rep["tried"] != 2.0 || rep["sent"] != 1.0 || rep["retrying"] != 1.0 || rep["emails_released"] != 1.0 {
		t.Fatalf("first delivery run: %v", rep)
	}
	mail := s.mailTo(t, addr, "Your erasure request")
	if !strings.Contains(mail.Body.Text, "Own Platform: asked; their erasure is under way") ||
		!strings.Contains(mail.Body.Text, "Outside Receiver: not reachable yet") {
		t.Fatalf("completion email:\n%s", mail.Body.Text)
	}
	// The team's digest lists both, not done.
	if resp, out := s.do(t, "POST", "/_local/invoke/DeadlineWatchFunction", "application/json", "{}", nil); resp.StatusCode != 200 ||
		!strings.Contains(out, `"recipients_not_done":2`) {
		t.Fatalf("digest: %d %s", resp.StatusCode, out)
	}
	digest := s.mailTo(t, s.team, "Rights requests")
	if !strings.Contains(digest.Body.Text, id+"  Outside Receiver  retrying (HTTP 503)") || strings.Contains(digest.Body.Text, addr) {
		t.Fatalf("digest:\n%s", digest.Body.Text)
	}

	// The receiver comes back forging its signature: not taken. Then true.
	recv.set("forged", false)
	time.Sleep(1100 * time.Millisecond)
	deliver()
	recv.mu.Lock()
	forgedTaken := len(recv.received)
	recv.mu.Unlock()
	if forgedTaken != 0 {
		t.Fatal("a forged answer was taken")
	}
	recv.set("up", true)
	var st map[string]any
	for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline); time.Sleep(1100 * time.Millisecond) {
		s.work(t) // the stack's own processor fulfils what it was sent
		deliver()
		resp, out := s.do(t, "GET", s.path(t, status), "", "", map[string]string{"Accept": "application/json"})
		if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &st) != nil {
			t.Fatalf("status: %d %s", resp.StatusCode, out)
		}
		if b, _ := json.Marshal(st["recipients_told"]); strings.Count(string(b), "confirmed the erasure") == 2 {
			break
		}
	}
	if b, _ := json.Marshal(st["recipients_told"]); strings.Count(string(b), "confirmed the erasure") != 2 {
		t.Fatalf("recipients at the end: %s", b)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.received) != 1 || recv.received[0].Identities[0].Value != privacy.EmailDigest("sha256", addr) {
		t.Fatalf("the receiver got %+v", recv.received)
	}
	// The stack's own processor was asked by the site's credential, and
	// holds nothing of the site's: it completed with nothing to erase.
	if n := len(s.items(t, "RecordsTable")); n != 0 {
		t.Fatalf("%d records", n)
	}
}
