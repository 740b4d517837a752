package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/opendsr/opendsrtest"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// GDPR Art. 19 end to end: the site's erasure is sent to two registered
// processors, the stack's own processor API (as another deployment would
// be) and a receiver that is down, then forges its answer, then answers
// truly. Each is told once; the completion email names both and where
// each stands; the digest lists the one not done; both complete.
func TestErasureToldToEveryProcessor(t *testing.T) {
	t.Parallel()
	s, roots, certPEM := openDSRStack(t, 2*time.Second, map[string]string{"RECIPIENT_RETRY_BACKOFF": "1s", "RECIPIENT_POLL_EVERY": "1s"})
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
	recv := opendsrtest.New(t)
	recv.Set(opendsrtest.Down, false)
	for _, p := range []struct{ name, url, creds, cert string }{
		{"Own Platform", s.URL + "/opendsr/v2", site.id + ":" + site.secret, write("own.pem", certPEM)},
		{"Outside Receiver", recv.URL, "site:pw", write("recv.pem", recv.Certificate)},
	} {
		if _, out := s.registerProcessor(t, "-name", p.name, "-url", p.url, "-credentials", p.creds, "-certificate", p.cert); !strings.Contains(out, "naming the person by sha256") {
			t.Fatalf("processor add %s: %s", p.name, out)
		}
	}
	// A certificate that did not sign the discovery answer is refused.
	if out, err := s.privacyctl(t, "processor", "add", "-name", "Wrong", "-url", s.URL+"/opendsr/v2", "-credentials", "a:b",
		"-certificate", write("wrong.pem", recv.Certificate)); err == nil || !strings.Contains(out, "signature") {
		t.Fatalf("a processor whose certificate does not match: %v %s", err, out)
	}
	if out, _ := s.privacyctl(t, "processor", "list"); strings.Count(out, "sha256") != 2 || strings.Contains(out, site.secret) {
		t.Fatalf("processor list: %s", out)
	}

	// The site's erasure, verified.
	addr := "told-" + localtest.Unique() + "@example.com"
	id, verify, status := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"erasure"}`)
	verified := time.Now()
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
	recv.Set(opendsrtest.Forged, false)
	time.Sleep(1100 * time.Millisecond)
	if rep := deliver(); rep["retrying"] != 1.0 || len(recv.Accepted()) != 0 { // (the own platform is polled meanwhile)
		t.Fatalf("a forged answer: %v", rep)
	}
	recv.Set(opendsrtest.Up, true)
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
	// The status page says the same to a browser.
	if resp, page := s.do(t, "GET", s.path(t, status), "", "", map[string]string{"Accept": "text/html"}); resp.StatusCode != 200 ||
		strings.Count(page, "confirmed the erasure") != 2 {
		t.Fatalf("the status page does not list the processors told: %d", resp.StatusCode)
	}
	t.Logf("an erasure told to 2 processors: all completed %s after verification (cancel window 2s, polls every 1s, one processor down for ~2s)",
		time.Since(verified).Round(100*time.Millisecond))
	if got := recv.Accepted(); len(got) != 1 || got[0].Identities[0].Value != privacy.EmailDigest("sha256", addr) {
		t.Fatalf("the receiver accepted %+v", got)
	}
	// The stack's own processor was asked by the site's credential, and
	// holds nothing of the site's: it completed with nothing to erase.
	if n := len(s.items(t, "RecordsTable")); n != 0 {
		t.Fatalf("%d records", n)
	}
}
