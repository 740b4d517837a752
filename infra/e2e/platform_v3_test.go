package e2e

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// strictReceiver validates callbacks as a strict client of mParticle's
// DSR API does (a publisher's support lambdas): the processor domain on an
// allow-list; the certificate fetched from the processor's discovery,
// issued by a trusted CA for that domain, its CN equal to the domain
// header; the SHA-256 RSA signature over the raw body; then a schema with
// every key required (some nullable) and no other key; then its own URL.
// It answers 202, or 401 / 400 as mParticle's docs say, and keeps what it
// accepted and why it refused.
type strictReceiver struct {
	t         *testing.T
	discovery string // the processor's discovery URL for this version
	roots     *x509.CertPool
	v         int
	url       string
	mu        sync.Mutex
	accepted  map[string][]string // request id -> statuses
	refused   []string
	bodies    []map[string]any
}

func (r *strictReceiver) cert(domain string) (*rsa.PublicKey, error) {
	resp, err := client.Get(r.discovery)
	if err != nil {
		return nil, err
	}
	var disc struct {
		Cert string `json:"processor_certificate"`
	}
	err = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if err != nil || disc.Cert == "" {
		return nil, fmt.Errorf("discovery names no certificate: %v", err)
	}
	cr, err := client.Get(disc.Cert)
	if err != nil {
		return nil, err
	}
	raw, _ := io.ReadAll(cr.Body)
	cr.Body.Close()
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("no PEM at %s", disc.Cert)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: r.roots, DNSName: domain}); err != nil {
		return nil, err
	}
	if cert.Subject.CommonName != domain {
		return nil, fmt.Errorf("certificate CN %q, header %q", cert.Subject.CommonName, domain)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("key %T", cert.PublicKey)
	}
	return pub, nil
}

// schema is the callback's keys: required and whether null is allowed
// (mParticle's v3 callback; v2 the same without group_id, with
// results_count optional).
func (r *strictReceiver) check(b map[string]any) error {
	type key struct {
		nullable bool
		kind     string // "string", "object", "number"
	}
	keys := map[string]key{"controller_id": {false, "string"}, "status_callback_url": {false, "string"},
		"subject_request_id": {false, "string"}, "request_status": {false, "string"}, "expected_completion_time": {false, "string"},
		"api_version": {false, "string"}, "results_url": {true, "string"}, "extensions": {true, "object"}}
	optional := map[string]key{}
	if r.v == 3 {
		keys["group_id"] = key{true, "string"}
	} else {
		optional["results_count"] = key{false, "number"}
	}
	kindOf := func(v any) string {
		switch v.(type) {
		case string:
			return "string"
		case map[string]any:
			return "object"
		case float64:
			return "number"
		}
		return fmt.Sprintf("%T", v)
	}
	for name, k := range keys {
		v, present := b[name]
		switch {
		case !present:
			return fmt.Errorf("required key %s missing", name)
		case v == nil && !k.nullable:
			return fmt.Errorf("%s is null", name)
		case v != nil && kindOf(v) != k.kind:
			return fmt.Errorf("%s is a %s, want %s", name, kindOf(v), k.kind)
		}
	}
	for name, v := range b {
		if _, ok := keys[name]; ok {
			continue
		}
		if k, ok := optional[name]; !ok || kindOf(v) != k.kind {
			return fmt.Errorf("unexpected key %s", name)
		}
	}
	if !slices.Contains([]string{"pending", "in_progress", "completed", "cancelled"}, b["request_status"].(string)) {
		return fmt.Errorf("request_status %v", b["request_status"])
	}
	if _, err := time.Parse(time.RFC3339, b["expected_completion_time"].(string)); err != nil {
		return fmt.Errorf("expected_completion_time: %v", err)
	}
	if want := fmt.Sprintf("%d.0", r.v); b["api_version"] != want {
		return fmt.Errorf("api_version %v, want %s", b["api_version"], want)
	}
	if ext, ok := b["extensions"].(map[string]any); ok && r.v == 3 {
		for d, e := range ext {
			p, _ := e.(map[string]any)
			if p == nil || p["domain"] != d || p["name"] == nil || !slices.Contains([]any{"pending", "skipped", "sent", "failed"}, p["status"]) {
				return fmt.Errorf("extensions.%s: %v", d, e)
			}
		}
	}
	return nil
}

func (r *strictReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	raw, _ := io.ReadAll(req.Body)
	refuse := func(code int, why string) {
		r.mu.Lock()
		r.refused = append(r.refused, why)
		r.mu.Unlock()
		w.WriteHeader(code)
	}
	domain := req.Header.Get("X-OpenDSR-Processor-Domain")
	if domain != "opendsr.example.com" {
		refuse(401, "domain not allowed: "+domain)
		return
	}
	pub, err := r.cert(domain)
	if err != nil {
		refuse(401, "certificate: "+err.Error())
		return
	}
	if err := opendsr.Verify(pub, raw, req.Header.Get("X-OpenDSR-Signature")); err != nil {
		refuse(401, "signature: "+err.Error())
		return
	}
	var b map[string]any
	if err := json.Unmarshal(raw, &b); err != nil {
		refuse(400, "JSON: "+err.Error())
		return
	}
	if err := r.check(b); err != nil {
		refuse(400, "schema: "+err.Error()+": "+string(raw))
		return
	}
	if b["status_callback_url"] != r.url {
		refuse(400, "not my URL")
		return
	}
	r.mu.Lock()
	id := b["subject_request_id"].(string)
	r.accepted[id] = append(r.accepted[id], b["request_status"].(string))
	r.bodies = append(r.bodies, b)
	r.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (r *strictReceiver) statuses(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.accepted[id])
}

func newStrictReceiver(t *testing.T, s *stack, roots *x509.CertPool, v int) *strictReceiver {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &strictReceiver{t: t, discovery: fmt.Sprintf("%s/opendsr/v%d/discovery", s.URL, v), roots: roots, v: v,
		url: "http://" + l.Addr().String() + "/cb", accepted: map[string][]string{}}
	srv := &http.Server{Handler: r}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return r
}

// mParticle's DSR API v3 beside v1 and v2 (issue #35 item 5): a request
// shaped as its docs show (identities as a dictionary, a group, the
// waiting period skipped) completes, and a strict receiver accepts every
// callback from creation to completion, for v3 and v2; an erasure that
// keeps its waiting period stays pending past the cancel window and is
// cancelled; GET ?group_id= lists the controller's group only.
func TestPlatformV3(t *testing.T) {
	t.Parallel()
	const window = time.Second
	s, roots, _ := openDSRStack(t, window, map[string]string{"CALLBACK_RETRY_BACKOFF": "1s"})
	acme := s.issueController(t, "Acme", roots)
	other := s.issueController(t, "Other", roots)
	u := localtest.Unique()
	email, idfa := "v3-"+u+"@example.com", uuid.NewString()
	rec := `{"identities":[{"identity_type":"email","identity_format":"raw","identity_value":"` + email + `"},` +
		`{"identity_type":"ios_advertising_id","identity_format":"raw","identity_value":"` + idfa + `"}],"attributes":{"plan":"v3"}}`
	for _, c := range []*controller{acme, other} {
		if code, _, out := c.call("PUT", "/platform/v1/records/v3-1", []byte(rec)); code != 201 {
			t.Fatalf("put: %d %v", code, out)
		}
	}
	r3, r2 := newStrictReceiver(t, s, roots, 3), newStrictReceiver(t, s, roots, 2)
	group := "grp-" + u

	_, _, disc := acme.call("GET", "/opendsr/v3/discovery", nil)
	if disc["api_version"] != "3.0" || disc["processor_certificate"] == nil {
		t.Fatalf("v3 discovery: %v", disc)
	}
	v3 := func(c *controller, id, typ string, skip bool, extra string) []byte {
		return []byte(`{"regulation":"gdpr","subject_request_id":"` + id + `","subject_request_type":"` + typ + `",` +
			`"submitted_time":"2026-12-07T10:00:00Z","skip_waiting_period":` + fmt.Sprint(skip) + `,"group_id":"` + group + `",` +
			`"subject_identities":{"email":{"value":"` + email + `","encoding":"raw"},` +
			`"ios_advertising_id":{"value":"` + strings.ToUpper(idfa) + `","encoding":"raw"}},` +
			`"api_version":"3.0","status_callback_urls":["` + r3.url + `"]` + extra + `}`)
	}
	// An erasure, waiting period skipped: 201 with received_time and the
	// request's bytes.
	erase := uuid.NewString()
	body := v3(acme, erase, "erasure", true, "")
	code, h, created := acme.call("POST", "/opendsr/v3/requests", body)
	if code != 201 || created["received_time"] == nil || created["encoded_request"] == nil || created["subject_request_id"] != erase ||
		h.Get("X-OpenDSR-Signature") == "" {
		t.Fatalf("v3 create: %d %v", code, created)
	}
	// An access in the same group that keeps its waiting period (not an
	// erasure: the cancel window), and an erasure that keeps it (days).
	access, waits := uuid.NewString(), uuid.NewString()
	if code, _, out := acme.call("POST", "/opendsr/v3/requests", []byte(strings.Replace(string(v3(acme, access, "access", false, "")),
		`"email":{"value":"`+email+`","encoding":"raw"},`, "", 1))); code != 201 {
		t.Fatalf("v3 access: %d %v", code, out)
	}
	if code, _, out := acme.call("POST", "/opendsr/v3/requests", []byte(strings.Replace(string(v3(acme, waits, "erasure", false, "")),
		`"ios_advertising_id":{"value":"`+strings.ToUpper(idfa)+`","encoding":"raw"}`, `"controller_customer_id":{"value":"c-`+u+`","encoding":"raw"}`, 1))); code != 201 {
		t.Fatalf("v3 erasure with its waiting period: %d %v", code, out)
	}
	// v2 beside it, to its own strict receiver.
	v2id := uuid.NewString()
	if code, _, out := acme.call("POST", "/opendsr/v2/requests", []byte(`{"regulation":"gdpr","subject_request_id":"`+v2id+
		`","subject_request_type":"access","submitted_time":"2026-12-07T10:00:00Z","status_callback_urls":["`+r2.url+`"],`+
		`"subject_identities":[{"identity_type":"ios_advertising_id","identity_format":"md5","identity_value":"`+
		md5hex(idfa)+`"}]}`)); code != 201 {
		t.Fatalf("v2 create: %d %v", code, out)
	}
	// Status: every documented key, null when empty.
	_, _, st := acme.call("GET", "/opendsr/v3/requests/"+erase, nil)
	for _, k := range []string{"controller_id", "expected_completion_time", "subject_request_id", "group_id", "request_status",
		"api_version", "results_url", "extensions"} {
		if _, ok := st[k]; !ok {
			t.Errorf("v3 status without %s: %v", k, st)
		}
	}
	if st["group_id"] != group || st["results_url"] != nil || st["extensions"] != nil || st["api_version"] != "3.0" {
		t.Errorf("v3 status: %v", st)
	}
	_, _, st2 := acme.call("GET", "/opendsr/v2/requests/"+v2id, nil)
	if _, ok := st2["results_url"]; !ok || st2["extensions"] != nil {
		t.Errorf("v2 status without results_url or extensions: %v", st2)
	} else if _, ok := st2["extensions"]; !ok {
		t.Errorf("v2 status without extensions: %v", st2)
	}

	time.Sleep(window)
	s.work(t)
	// The erasure with its waiting period is still pending, cancellable.
	_, _, w := acme.call("GET", "/opendsr/v3/requests/"+waits, nil)
	if w["request_status"] != "pending" {
		t.Fatalf("an erasure inside its waiting period: %v", w)
	}
	if code, _, out := acme.call("DELETE", "/opendsr/v3/requests/"+waits, nil); code != 202 {
		t.Fatalf("cancel in the waiting period: %d %v", code, out)
	}
	if code, _, _ := acme.call("GET", "/platform/v1/records/v3-1", nil); code != 404 {
		t.Errorf("acme's record after the v3 erasure: %d", code)
	}
	if code, _, _ := other.call("GET", "/platform/v1/records/v3-1", nil); code != 200 {
		t.Errorf("other's record with the same identities: %d", code)
	}

	// The group: acme's three, in order; another controller's group of the
	// same name is its own (empty); odd group ids refused.
	code, _, _ = acme.call("GET", "/opendsr/v3/requests?group_id="+group, nil)
	list := acme.callList("/opendsr/v3/requests?group_id=" + group)
	if code != 200 || len(list) != 3 {
		t.Fatalf("group: %d %v", code, list)
	}
	for _, e := range list {
		if e["group_id"] != group {
			t.Errorf("group entry: %v", e)
		}
	}
	if l := other.callList("/opendsr/v3/requests?group_id=" + group); len(l) != 0 {
		t.Errorf("another controller reads acme's group: %v", l)
	}
	for _, g := range []string{"", "a%20b", strings.Repeat("g", 65), "%3Cscript%3E"} {
		if code, _, out := acme.call("GET", "/opendsr/v3/requests?group_id="+g, nil); code != 400 {
			t.Errorf("group_id %q: %d %v", g, code, out)
		}
	}
	if code, _, out := acme.call("POST", "/opendsr/v3/requests", []byte(strings.Replace(string(v3(acme, uuid.NewString(), "access", true, "")),
		`"group_id":"`+group+`"`, `"group_id":"<b>\n"`, 1))); code != 400 {
		t.Errorf("an odd group_id at create: %d %v", code, out)
	}
	if code, _, out := acme.call("POST", "/opendsr/v3/requests", []byte(strings.Replace(string(v3(acme, uuid.NewString(), "access", true, "")),
		`"encoding":"raw"`, `"encoding":"base64"`, 1))); code != 400 || !strings.Contains(fmtJSON(out), "InvalidValue") {
		t.Errorf("an unknown encoding: %d %v", code, out)
	}

	// Every callback, creation to completion, accepted by the strict
	// receivers.
	want := map[*strictReceiver]map[string][]string{
		r3: {erase: {"pending", "in_progress", "completed"}, access: {"pending", "in_progress", "completed"}, waits: {"pending", "cancelled"}},
		r2: {v2id: {"pending", "in_progress", "completed"}},
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		if resp, out := s.do(t, "POST", "/_local/invoke/CallbackFunction", "application/json", `{"retry_callbacks":true}`, nil); resp.StatusCode != 200 {
			t.Fatalf("callbacks: %d %s", resp.StatusCode, out)
		}
		done := true
		for r, ids := range want {
			for id, statuses := range ids {
				done = done && slices.Equal(r.statuses(id), statuses)
			}
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	for r, ids := range want {
		for id, statuses := range ids {
			if got := r.statuses(id); !slices.Equal(got, statuses) {
				t.Errorf("v%d callbacks of %s: %v, want %v", r.v, id, got, statuses)
			}
		}
		if len(r.refused) > 0 {
			t.Errorf("v%d receiver refused %d callbacks: %v", r.v, len(r.refused), r.refused)
		}
	}
	for _, b := range r3.bodies {
		if b["subject_request_id"] == access && b["request_status"] == "completed" && b["results_url"] == nil {
			t.Errorf("the completed access's callback has no results_url: %v", b)
		}
	}
}

// callList is a signed call answered by a JSON array.
func (c *controller) callList(path string) []map[string]any {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.s.URL+path, nil)
	req.SetBasicAuth(c.id, c.secret)
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := opendsr.Verify(c.pub, raw, resp.Header.Get("X-OpenDSR-Signature")); err != nil {
		c.t.Fatalf("GET %s: signature: %v", path, err)
	}
	var out []map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		c.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
	}
	return out
}

func md5hex(v string) string { return privacy.IdentityDigest("md5", v) }
