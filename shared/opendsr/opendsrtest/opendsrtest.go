// Package opendsrtest is a downstream OpenDSR v2 processor for tests: it
// answers discovery, create and status, signs every answer with its own
// key (or, forging, with another), can be down, and records what it
// accepted.
package opendsrtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/opendsr"
)

// Modes of a Processor.
const (
	Up     = "up"
	Down   = "down"   // 503 to everything but discovery
	Forged = "forged" // answers signed with a key not its certificate's
)

// Processor is the fake. URL is its OpenDSR v2 base; Certificate the PEM
// of the certificate whose key signs its answers.
type Processor struct {
	URL         string
	Certificate []byte

	signer, forger *opendsr.Signer
	mu             sync.Mutex
	mode           string
	done           bool
	accepted       []opendsr.Request
	auth           string
}

// New starts one, up, whose requests stay pending; it stops with the test.
func New(t testing.TB) *Processor {
	t.Helper()
	key, cert := selfSigned(t)
	other, _ := selfSigned(t)
	p := &Processor{Certificate: cert, mode: Up}
	var err error
	if p.signer, err = opendsr.NewSigner(key, "processor.example.com"); err == nil {
		p.forger, err = opendsr.NewSigner(other, "processor.example.com")
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(srv.Close)
	p.URL = srv.URL + "/opendsr/v2"
	return p
}

// Set changes its mode, and whether its requests are completed.
func (p *Processor) Set(mode string, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode, p.done = mode, done
}

// Accepted returns the requests it accepted (not those it answered forged).
func (p *Processor) Accepted() []opendsr.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]opendsr.Request(nil), p.accepted...)
}

// Auth is the user:password of the last call.
func (p *Processor) Auth() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.auth
}

func (p *Processor) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/opendsr/v2")
	if p.mode == Down && path != "/discovery" {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	user, pass, _ := r.BasicAuth()
	p.auth = user + ":" + pass
	code, out := http.StatusOK, any(nil)
	switch {
	case path == "/discovery":
		out = map[string]any{"api_version": "2.0", "supported_subject_request_types": []string{"erasure"},
			"supported_identities": []map[string]string{{"identity_type": "email", "identity_format": "sha256"}}}
	case r.Method == http.MethodPost && path == "/requests":
		var req opendsr.Request
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &req)
		if p.mode == Up {
			p.accepted = append(p.accepted, req)
		}
		code, out = http.StatusCreated, map[string]string{"subject_request_id": req.SubjectRequestID, "controller_id": user}
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/requests/"):
		st := opendsr.StatusPending
		if p.done {
			st = opendsr.StatusDone
		}
		out = map[string]string{"subject_request_id": strings.TrimPrefix(path, "/requests/"), "request_status": st}
	default:
		code, out = http.StatusNotFound, map[string]any{"error": map[string]any{"code": 404, "message": "not found"}}
	}
	body, _ := json.Marshal(out)
	s := p.signer
	if p.mode == Forged && path != "/discovery" {
		s = p.forger
	}
	h, _ := s.Headers(opendsr.V2, body)
	for k, v := range h {
		w.Header().Set(k, v)
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func selfSigned(t testing.TB) ([]byte, []byte) {
	t.Helper()
	key := Key(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "processor.example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// keys is the pool Key hands out: slot n generated once, the first time
// any test asks for its n-th key.
var keys struct {
	mu    sync.Mutex
	slots []func() (*rsa.PrivateKey, error)
	taken map[string]int // per top-level test: how many it took
}

// Key returns a 2048-bit RSA key for a test's fixtures (a processor's
// signing key, a test CA's). The n-th key a test (with its subtests) asks
// for is the n-th of a pool generated once per process: no two keys one
// test holds are alike, as when each was generated for it, while tests
// apart (each with its own stack, certificates and processors) share them.
// Generating a key per fixture was 8% of the end-to-end tests' own CPU.
func Key(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	root, _, _ := strings.Cut(t.Name(), "/")
	keys.mu.Lock()
	if keys.taken == nil {
		keys.taken = map[string]int{}
	}
	n := keys.taken[root]
	keys.taken[root]++
	for len(keys.slots) <= n {
		keys.slots = append(keys.slots, sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) }))
	}
	slot := keys.slots[n]
	keys.mu.Unlock()
	key, err := slot()
	if err != nil {
		t.Fatalf("test key %d: %v", n, err)
	}
	return key
}
