package e2e

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// The browser tests drive Debian's Chromium (make tools installs it) with
// chromedp against a stack of the test's own: real pages, real form posts,
// real emails from the SES emulator. Every page they reach is checked with
// axe-core (zero serious or critical violations) and photographed at 360 px
// and 1280 px into .local/screenshots for review.

func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PK_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("PK_REQUIRE_SERVICES") != "" {
		t.Fatal("Chromium is not installed (make tools installs Debian's chromium package)")
	}
	t.Skip("needs Chromium: run with make test")
	return ""
}

var axeOnce = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile(filepath.Join(localtest.Root(), ".tools", "node", "node_modules", "axe-core", "axe.min.js"))
	return string(b), err
})

type tab struct {
	t        *testing.T
	s        *stack
	ctx      context.Context
	mu       sync.Mutex
	problems []string // CSP violations and script errors the page reported
	checked  map[string]bool
	noJS     bool // the page's scripts are off (axe is let run, then they are off again)
}

// openBrowser starts a headless Chromium with JavaScript on or off.
func (s *stack) openBrowser(t *testing.T, js bool) *tab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &tab{t: t, s: s, ctx: ctx, checked: map[string]bool{}, noJS: !js}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if text := m.String(); m.IsException() || strings.Contains(text, "Content Security Policy") || strings.Contains(text, "Refused to") {
				b.mu.Lock()
				b.problems = append(b.problems, text)
				b.mu.Unlock()
			}
		}
	}()
	if !js {
		b.scripts(false)
	}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, p := range b.problems {
			t.Errorf("the page reported: %s", p)
		}
	})
	return b
}

func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

func run[T any](b *tab, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

func (b *tab) text(sel string) string { b.t.Helper(); return run(b, chromedp.Text(chromedp.CSS(sel))) }

func (b *tab) attr(sel, name string) string {
	b.t.Helper()
	return run(b, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).getAttribute(%q) || ""`, sel, name)))
}

func (b *tab) focused() string {
	b.t.Helper()
	return run(b, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id || document.activeElement.className : ""`))
}

// type fills a field by keyboard, replacing what was there.
func (b *tab) typeInto(sel, text string) {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = ""`, sel)),
		chromedp.SendKeys(chromedp.CSS(sel), text))
}

// check runs axe-core on the page (zero serious or critical violations of
// WCAG 2.x A/AA) and takes its screenshots at 360 and 1280 px.
func (b *tab) check(name string) {
	b.t.Helper()
	if b.checked[name] {
		return
	}
	b.checked[name] = true
	for _, w := range []int64{360, 1280} {
		b.do(chromedp.EmulateViewport(w, 900))
		png := run(b, chromedp.FullScreenshot(100)) // 100: PNG
		dir := filepath.Join(localtest.Root(), ".local", "screenshots")
		_ = os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
		if w == 360 {
			// Nothing wider than the phone: no sideways scrolling.
			if wide := run(b, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)); wide {
				b.t.Errorf("%s: wider than a 360 px screen", name)
			}
		}
	}
	b.do(chromedp.EmulateViewport(1280, 900))
	axe, err := axeOnce()
	if err != nil {
		b.t.Fatalf("axe-core is not installed (make tools): %v", err)
	}
	if b.noJS {
		// axe is a script: on for its run only.
		b.scripts(true)
		defer b.scripts(false)
	}
	out := run(b, chromedp.Evaluate[string](axe+`;axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}})
		.then(r => JSON.stringify({passes: r.passes.length, violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" "))}))}))`,
		chromedp.EvalAwaitPromise))
	var res struct {
		Passes     int
		Violations []struct {
			ID, Impact, Help string
			Nodes            []string
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Passes == 0 {
		b.t.Fatalf("axe did not run: %v: %s", err, out)
	}
	for _, v := range res.Violations {
		line := fmt.Sprintf("%s: axe %s (%s): %s at %v", name, v.ID, v.Impact, v.Help, v.Nodes)
		if v.Impact == "serious" || v.Impact == "critical" {
			b.t.Error(line)
		} else {
			b.t.Log(line)
		}
	}
	b.t.Logf("axe %s: %d rules passed, %d violations", name, res.Passes, len(res.Violations))
}

// scripts turns the page's JavaScript on or off.
func (b *tab) scripts(on bool) {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on}); err != nil {
		b.t.Fatal(err)
	}
}

// post clicks a button that posts a form the plain way and waits for the
// page that answers; it returns that page's status.
func (b *tab) post(button string) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button)))
	if err != nil {
		b.t.Fatalf("browser: post with %s: %v", button, err)
	}
	return resp.Status
}

func (b *tab) open(url string) {
	b.t.Helper()
	b.do(chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body")))
}

func (s *stack) inquiries(t *testing.T) int {
	n := 0
	for _, it := range s.items(t, "SubjectsTable") {
		if str(it, "kind") == "inquiry" {
			n++
		}
	}
	return n
}

// Each form with a mistake: the error appears inline on the right field,
// tied to it for assistive technology, and focus moves there; fixed, it
// goes through without a reload. Then the same by keyboard alone.
func TestBrowserFormsInlineErrors(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	b := s.openBrowser(t, true)
	b.open(s.URL + "/privacy")
	b.check("privacy-center")

	// The page the server draws for a plain post with a mistake (what a
	// browser without JavaScript gets; form.submit() skips the script).
	b.typeInto("#contact-name", "Ann")
	b.typeInto("#contact-email", "not-an-address")
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	resp, err := chromedp.RunResponse(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("contact").submit()`))
	cancel()
	if err != nil || resp.Status != 400 {
		t.Fatalf("plain post: %v %v", err, resp)
	}
	if b.focused() != "contact-email" {
		t.Errorf("the server-drawn page does not focus the first error (at %q)", b.focused())
	}
	b.check("privacy-center-server-errors")
	b.open(s.URL + "/privacy")

	// Contact: a bad address.
	b.typeInto("#contact-name", "Ann")
	b.typeInto("#contact-email", "not-an-address")
	b.typeInto("#contact-message", "Hello "+u)
	b.do(chromedp.Click(chromedp.CSS("#contact button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#contact-email-error")))
	if b.attr("#contact-email", "aria-invalid") != "true" || !strings.Contains(b.attr("#contact-email", "aria-describedby"), "contact-email-error") ||
		b.focused() != "contact-email" || b.text("#contact-email-error") == "" {
		t.Fatalf("contact error: invalid=%q describedby=%q focus=%q", b.attr("#contact-email", "aria-invalid"),
			b.attr("#contact-email", "aria-describedby"), b.focused())
	}
	if b.attr("#contact-name", "aria-invalid") != "" {
		t.Error("a correct field was marked invalid")
	}
	b.check("privacy-center-inline-errors")
	if n := s.inquiries(t); n != 0 {
		t.Fatalf("%d inquiries stored after an invalid post", n)
	}
	b.typeInto("#contact-email", "ann-"+u+"@example.com")
	b.do(chromedp.Click(chromedp.CSS("#contact button[type=submit]")), chromedp.WaitNotPresent(chromedp.CSS("#contact")))
	if got := b.text("#contact-heading + p + p.status"); !strings.Contains(got, "Thank you") {
		t.Fatalf("after sending: %q", got)
	}
	if n := s.inquiries(t); n != 1 {
		t.Fatalf("%d inquiries stored, want 1", n)
	}

	// Newsletter: consent not given.
	b.typeInto("#newsletter-email", "news-"+u+"@example.com")
	b.do(chromedp.Click(chromedp.CSS("#newsletter button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#newsletter-consent-error")))
	if b.focused() != "newsletter-consent" || b.attr("#newsletter-consent", "aria-invalid") != "true" {
		t.Fatalf("newsletter error: focus %q", b.focused())
	}
	b.do(chromedp.Click(chromedp.CSS("#newsletter-consent")), chromedp.Click(chromedp.CSS("#newsletter button[type=submit]")), chromedp.WaitNotPresent(chromedp.CSS("#newsletter")))

	// Rights: a correction without details.
	b.do(chromedp.Click(chromedp.CSS("#rights-type-rectification")))
	b.typeInto("#rights-email", "fix-"+u+"@example.com")
	b.do(chromedp.Click(chromedp.CSS("#rights button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#rights-details-error")))
	if b.focused() != "rights-details" || !strings.Contains(b.attr("#rights-details", "aria-describedby"), "rights-details-hint") {
		t.Fatalf("rights error: focus %q, describedby %q", b.focused(), b.attr("#rights-details", "aria-describedby"))
	}
	b.typeInto("#rights-details", "My name is Ann, not Anne.")
	b.do(chromedp.Click(chromedp.CSS("#rights button[type=submit]")), chromedp.WaitNotPresent(chromedp.CSS("#rights")))
	if n := len(s.items(t, "RequestsTable")); n != 1 {
		t.Fatalf("%d requests stored, want 1", n)
	}

	// Keyboard only: the skip link first, then the contact form, sent with Enter.
	b.open(s.URL + "/privacy")
	b.do(chromedp.KeyEvent(kb.Tab))
	if f := b.focused(); f != "skip" {
		t.Fatalf("first Tab reaches %q, want the skip link", f)
	}
	for i := 0; i < 5 && b.focused() != "contact-name"; i++ {
		b.do(chromedp.KeyEvent(kb.Tab))
	}
	if b.focused() != "contact-name" {
		t.Fatalf("Tab never reached the contact form (at %q)", b.focused())
	}
	steps := []string{"Kim", kb.Tab, "kim-" + u + "@example.com", kb.Tab, kb.Tab, kb.Tab, kb.Tab, "By keyboard", kb.Tab, kb.Tab}
	for _, k := range steps {
		b.do(chromedp.KeyEvent(k))
	}
	if !strings.Contains(run(b, chromedp.Evaluate[string](`document.activeElement.outerHTML`)), "Send message") {
		t.Fatalf("after the fields, Tab reaches %q, not the send button", b.focused())
	}
	b.do(chromedp.KeyEvent(kb.Enter), chromedp.WaitNotPresent(chromedp.CSS("#contact")))
	if n := s.inquiries(t); n != 2 {
		t.Fatalf("%d inquiries stored after the keyboard-only submission, want 2", n)
	}
}

// With JavaScript off the same forms post normally: the server draws the
// page again with the values sent and the errors next to their fields.
func TestBrowserFormsWithoutJavaScript(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	b := s.openBrowser(t, false)
	b.open(s.URL + "/privacy")
	b.typeInto("#contact-name", "Noscript")
	b.typeInto("#contact-email", "nope")
	b.typeInto("#contact-message", "Hello")
	if code := b.post("#contact button[type=submit]"); code != 400 {
		t.Fatalf("a plain post with a mistake answered %d", code)
	}
	if run(b, chromedp.Value(chromedp.CSS("#contact-name"))) != "Noscript" || b.text("#contact-email-error") == "" || b.attr("#contact-email", "aria-invalid") != "true" ||
		!strings.Contains(b.attr("#contact-email", "aria-describedby"), "contact-email-error") {
		t.Fatal("the page drawn again lost the values or the error's ties")
	}
	if n := s.inquiries(t); n != 0 {
		t.Fatalf("%d inquiries after an invalid post", n)
	}
	b.typeInto("#contact-email", "noscript-"+u+"@example.com")
	b.post("#contact button[type=submit]")
	if h := b.text("h1"); h != "Thank you" {
		t.Fatalf("after sending: %q", h)
	}
	b.open(s.URL + "/privacy")
	b.typeInto("#newsletter-email", "noscript-news-"+u+"@example.com")
	b.do(chromedp.Click(chromedp.CSS("#newsletter-consent")))
	b.post("#newsletter button[type=submit]")
	if h := b.text("h1"); h != "Check your inbox" {
		t.Fatalf("after subscribing: %q", h)
	}
	b.open(s.URL + "/privacy")
	b.do(chromedp.Click(chromedp.CSS("#rights-type-access")))
	b.typeInto("#rights-email", "noscript-rights-"+u+"@example.com")
	b.post("#rights button[type=submit]")
	if h := b.text("h1"); h != "Request received" {
		t.Fatalf("after the request: %q", h)
	}
	if n := s.inquiries(t); n != 1 || len(s.items(t, "RequestsTable")) != 1 {
		t.Fatal("the plain posts were not all stored")
	}
}

// The newsletter in the browser: subscribe, confirm from the email's link,
// unsubscribe from a campaign's link; and what a broken link shows.
func TestBrowserNewsletterJourney(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	addr := "journey-" + u + "@example.com"
	b := s.openBrowser(t, true)
	b.open(s.URL + "/privacy")
	b.typeInto("#newsletter-email", addr)
	b.do(chromedp.Click(chromedp.CSS("#newsletter-topics-events")), chromedp.Click(chromedp.CSS("#newsletter-consent")),
		chromedp.Click(chromedp.CSS("#newsletter button[type=submit]")), chromedp.WaitNotPresent(chromedp.CSS("#newsletter")))
	confirm := confirmLink.FindString(s.mailTo(t, addr, "confirm your subscription").Body.Text)
	b.open(confirm)
	b.check("confirm-subscription")
	if st := str(s.subscription(t, addr), "status"); st != "pending" {
		t.Fatalf("opening the link changed the subscription: %s", st)
	}
	b.post("main form button")
	if h := b.text("h1"); h != "You are subscribed" {
		t.Fatalf("after confirming: %q", h)
	}
	b.check("subscribed")
	if res := s.campaign(t, "b1-"+u, "events"); res["sent"] != 1 {
		t.Fatalf("campaign: %v", res)
	}
	news := s.mailTo(t, addr, "News b1-")
	b.open(prefsLink.FindString(news.Body.Text))
	b.check("preferences")
	b.open(func() string { link, _ := news.ListUnsubscribe(); return link }())
	b.check("unsubscribe")
	b.post("form.second button")
	if h := b.text("h1"); h != "You are unsubscribed" {
		t.Fatalf("after unsubscribing: %q", h)
	}
	b.check("unsubscribed")
	if st := str(s.subscription(t, addr), "status"); st != "unsubscribed" {
		t.Fatalf("subscription after unsubscribing: %s", st)
	}
	b.open(s.URL + "/v1/unsubscribe?token=cut-short")
	if h := b.text("h1"); h != "This link does not work" || !strings.Contains(b.text("main"), "privacy center") {
		t.Fatalf("broken link page: %q", b.text("main"))
	}
	b.check("invalid-link")
}

// A rights request in the browser, through verification and the status
// page, to the downloaded export; and the page of an expired export link.
func TestBrowserRightsRequestToExport(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	addr := "export-" + u + "@example.com"
	b := s.openBrowser(t, true)
	b.open(s.URL + "/privacy")
	b.do(chromedp.Click(chromedp.CSS("#rights-type-access")))
	b.typeInto("#rights-email", addr)
	b.do(chromedp.Click(chromedp.CSS("#rights button[type=submit]")), chromedp.WaitNotPresent(chromedp.CSS("#rights")))
	ack := s.mailTo(t, addr, "confirm it is you")
	b.open(verifyLink.FindString(ack.Body.Text))
	b.check("verify-request")
	b.post("main form button")
	if h := b.text("h1"); h != "Thank you" {
		t.Fatalf("after verifying: %q", h)
	}
	b.check("request-verified")
	b.open(statusLink.FindString(ack.Body.Text))
	if !strings.Contains(b.text("dl.status"), "Done") {
		t.Fatalf("status page: %q", b.text("main"))
	}
	b.check("request-status")

	ready := s.mailTo(t, addr, "Your data is ready")
	exportURL := regexp.MustCompile(`http://[^\s"<>]+/export\?token=[A-Za-z0-9_-]+`).FindString(ready.Body.Text)
	b.open(exportURL)
	b.check("export")
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(b.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Click(chromedp.CSS("#export-json")))
	var got []byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && got == nil; time.Sleep(200 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		if len(files) == 1 {
			got, _ = os.ReadFile(files[0])
		}
	}
	var ex struct {
		RequestID string           `json:"request_id"`
		Records   []map[string]any `json:"records"`
		Requests  []map[string]any `json:"rights_requests"`
	}
	if err := json.Unmarshal(got, &ex); err != nil || len(ex.Requests) != 1 || ex.RequestID == "" {
		t.Fatalf("downloaded export: %v %.300s", err, got)
	}

	// The same link reads as a page (printable, accessible) with what
	// Art. 15 asks beside the data, and as a CSV that parses.
	b.open(exportURL)
	b.do(chromedp.Click(chromedp.CSS("#export-read")), chromedp.WaitVisible(chromedp.CSS("#art15")))
	b.check("copy")
	page := b.text("main")
	for _, want := range []string{"How we process your data (GDPR Art. 15)", "Why, and on what legal basis", "Who receives it",
		"How long we keep it", "Where it comes from", "supervisory authority", ex.RequestID, "access"} {
		if !strings.Contains(page, want) {
			t.Errorf("the readable copy lacks %q", want)
		}
	}
	resp, body := s.do(t, "GET", s.path(t, exportURL)+"&format=csv", "", "", nil)
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || err != nil || len(rows) < 2 ||
		strings.Join(rows[0], ",") != "section,item,field,value" {
		t.Fatalf("the CSV copy: %d %v %.300s", resp.StatusCode, err, body)
	}
	if resp, _ := s.do(t, "GET", s.path(t, exportURL)+"&format=pdf", "", "", nil); resp.StatusCode != 400 {
		t.Fatalf("an unknown format: %d", resp.StatusCode)
	}

	// A week later the same link explains itself (410) and says what to do.
	signer, _ := token.New(lambdaenv.DeriveSecrets(localSecret).TokenKey)
	id := ex.RequestID
	old, _ := signer.Sign(token.Claims{Purpose: token.Export, Subject: privacy.SubjectID(s.hasher.Subject(addr)), Ref: id,
		Expires: time.Now().Add(-time.Hour)})
	b.open(s.URL + "/v1/rights-requests/" + id + "/export?token=" + old)
	if h := b.text("h1"); h != "This link has expired" || !strings.Contains(b.text("main"), "new access request") {
		t.Fatalf("expired export page: %q", b.text("main"))
	}
	b.check("export-expired")
}
