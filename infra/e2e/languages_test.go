package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/web"
)

// A browser that asks for German or French gets the privacy center, the
// pages after it and the emails in that language: a signup through its
// confirmation (and the receipt's email), a rights request through
// verification to its status page. Every page passes the accessibility
// checks.
func TestBrowserInGermanAndFrench(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	for _, tc := range []struct {
		lang                              string
		confirmSubject, confirmed, verify string // parts of the emails' subjects
		greeting                          string
	}{
		{"de", "Bitte bestätigen Sie Ihr Abonnement", "Ihr Abonnement ist bestätigt", "Bitte bestätigen Sie, dass Sie es sind", "Guten Tag,"},
		{"fr", "Merci de confirmer votre inscription", "Votre inscription est confirmée", "merci de confirmer qu’il s’agit de vous", "Bonjour,"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			t.Parallel()
			l := web.Lang{Code: tc.lang}
			u := localtest.Unique()
			b := s.openBrowser(t, true)
			if _, err := chromedp.Call(b.ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
				Headers: network.Headers{"Accept-Language": tc.lang + ",en;q=0.5"}}); err != nil {
				t.Fatal(err)
			}
			lang := func(page string) {
				t.Helper()
				if got := run(b, chromedp.Evaluate[string](`document.documentElement.lang`)); got != tc.lang {
					t.Fatalf("%s: page in %q", page, got)
				}
				b.check(page + "-" + tc.lang)
			}
			// act opens an emailed link's page, presses its one button and
			// checks the page that answers.
			act := func(link, page, done, titleKey string) {
				t.Helper()
				b.open(link)
				lang(page)
				b.post("main form button")
				if h := b.text("h1"); h != l.T(titleKey) {
					t.Fatalf("after %s: %q", page, h)
				}
				lang(done)
			}

			addr := "sprache-" + u + "@example.com"
			b.open(s.URL + "/privacy")
			lang("center")
			if got := b.text("#complaint"); !strings.Contains(got, l.T("rights.complaint")) || l.T("rights.complaint") == "rights.complaint" {
				t.Fatalf("the privacy center does not name the right to complain in %s: %q", tc.lang, got)
			}
			b.typeInto("#newsletter-email", addr)
			// A mistake first: its message, from the 400 body, is in the
			// page's language.
			b.do(chromedp.Click(chromedp.CSS("#newsletter button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#newsletter-consent-error")))
			if got, want := b.text("#newsletter-consent-error"), l.Field(privacy.Fault(privacy.FieldConsentRequired)); got != want || got == "must be given to subscribe" {
				t.Fatalf("the consent error reads %q, want %q", got, want)
			}
			b.do(chromedp.Click(chromedp.CSS("#newsletter-consent")), chromedp.Click(chromedp.CSS("#newsletter button[type=submit]")),
				chromedp.WaitNotPresent(chromedp.CSS("#newsletter")))
			mail := s.mailTo(t, addr, tc.confirmSubject)
			if !strings.HasPrefix(mail.Body.Text, tc.greeting) || !strings.Contains(mail.Body.HTML, `lang="`+tc.lang+`"`) {
				t.Fatalf("the confirmation email is not in %s:\n%s", tc.lang, mail.Body.Text)
			}
			act(confirmLink.FindString(mail.Body.Text), "confirm-subscription", "subscribed", "confirmed.title")
			if done := s.mailTo(t, addr, tc.confirmed); !strings.Contains(done.Body.Text, "/v1/receipts/verify") {
				t.Fatalf("the confirmed email has no receipt:\n%s", done.Body.Text)
			}

			addr = "anfrage-" + u + "@example.com"
			b.open(s.URL + "/privacy")
			b.do(chromedp.Click(chromedp.CSS("#rights-type-access")))
			b.typeInto("#rights-email", addr)
			b.do(chromedp.Click(chromedp.CSS("#rights button[type=submit]")), chromedp.WaitNotPresent(chromedp.CSS("#rights")))
			ack := s.mailTo(t, addr, tc.verify)
			if !strings.HasPrefix(ack.Body.Text, tc.greeting) || !strings.Contains(ack.Body.Text, "https://www.edpb.europa.eu/") {
				t.Fatalf("the acknowledgement is not in %s:\n%s", tc.lang, ack.Body.Text)
			}
			act(verifyLink.FindString(ack.Body.Text), "verify-request", "request-verified", "verified.title")
			b.open(statusLink.FindString(ack.Body.Text))
			lang("request-status")
		})
	}
}
