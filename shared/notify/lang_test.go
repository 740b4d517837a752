package notify

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// personEmails renders every email a person (or an agent, or a recipient
// they chose) receives, in c's language.
func personEmails(t *testing.T, c Config) []Message {
	t.Helper()
	due := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	inq := privacy.NewInquiry("ref-1", "subj", privacy.ContactForm{Name: "Ann", Email: "ann@example.com", Topic: "demo",
		Message: "hi"}, "v1", privacy.RequestMeta{ReceivedAt: due})
	sub := privacy.Subscription{Email: "ann@example.com", Topics: []string{"newsletter"}}
	r := RequestInfo{ID: "r-1", Type: string(privacy.RightAccess), Regulation: "gdpr", Email: "ann@example.com", Due: due,
		Parent: "parent@example.com"}
	n := privacy.Notice{Email: "ann@example.com", Audience: "subscribers", Version: privacy.PolicyVersion{
		Version: "2027-01", Effective: due, Summary: "What changed.", Material: true}}
	var out []Message
	add := func(m Message, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	adds := func(ms []Message, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ms...)
	}
	ms, err := InquiryReceived(c, inq)
	add(ms[0], err)
	add(SubscriptionConfirm(c, sub, "https://api.example/confirm?token=t"))
	add(SubscriptionConfirmed(c, sub, "https://api.example/unsubscribe?token=t", "eyJ.rcpt.sig"))
	add(ConsentWithdrawn(c, sub, "eyJ.rcpt.sig"))
	add(PolicyNotice(c, n, []Offer{{Topic: "events", Link: "https://api.example/add?token=t"}}, "https://api.example/unsubscribe?token=u", "", "https://api.example/preferences?token=p"))
	n.Version.Material = false
	add(PolicyNotice(c, n, []Offer{{Topic: "events", Link: "https://api.example/add?token=t"}}, "https://api.example/unsubscribe?token=u", "", "https://api.example/preferences?token=p"))
	// A campaign the team translated (#34 item 7): its text and its footer.
	add(Marketing(c, Campaign{ID: "c-1", Topic: "newsletter", Subject: "News", Body: "The news.",
		Translations: map[string]privacy.CampaignText{"de": {Subject: "Neuigkeiten", Body: "Die Neuigkeiten."},
			"fr": {Subject: "Nouvelles", Body: "Les nouvelles."}}},
		"ann@example.com", "https://api.example/unsubscribe?token=u", "", "https://api.example/preferences?token=p"))
	own := r
	own.Parent, own.Agent, own.Type = "", "agent@example.com", string(privacy.RightRectification)
	own.Correction = privacy.Correction{Field: privacy.FieldEmail, Value: "new@example.com"}
	ms, err = RequestReceived(c, own, "https://api.example/v", "https://api.example/s", "https://api.example/a")
	if err != nil || len(ms) != 3 {
		t.Fatalf("an agent's request: %d emails, %v", len(ms), err)
	}
	add(ms[0], nil)
	add(ms[2], nil)
	ms, err = RequestReceived(c, r, "https://api.example/v", "https://api.example/s", "")
	add(ms[0], err)
	add(ConfirmAddress(c, AddressRequest{To: "new@example.com", ID: "r-1", Role: "new", Link: "https://api.example/a"}))
	add(AddressChange(c, "ann@example.com", "r-1", "new@example.com", "https://api.example/stop", due))
	add(ExportReady(c, "ann@example.com", "r-1", "https://api.example/export?token=t"))
	adds(ExportToThirdParty(c, "ann@example.com", "bob@example.com", "r-1", "https://api.example/export?token=t"))
	add(ErasureDone(c, "ann@example.com", "r-1", false, []privacy.Told{{Name: "Mailer Inc", Status: "confirmed"}}, "eyJ.rcpt.sig"))
	add(ErasureDone(c, "ann@example.com", "r-1", true, nil, ""))
	add(RequestDone(c, "ann@example.com", "r-1", string(privacy.RightWithdrawConsent)))
	add(RequestJoined(c, "ann@example.com", "r-1", string(privacy.RightAccess), "https://api.example/s"))
	for _, kind := range slices.Sorted(maps.Keys(decisionSubjects)) {
		add(RequestDecision(c, Decision{Kind: kind, To: "ann@example.com", ID: "r-1", Reason: "Because.", Until: due,
			StatusURL: "https://api.example/s"}))
	}
	add(OptOutRecorded(c, "ann@example.com", "r-1"))
	add(Categories(c, "ann@example.com", "r-1"))
	for _, kind := range []string{"received", "ready", "denied", "extended", "restricted", "lifted", "done"} {
		add(AgentNotice(c, AgentUpdate{To: "agent@example.com", ID: "r-1", Type: string(privacy.RightAccess), Kind: kind, Until: due}))
	}
	return out
}

// Every email a person receives is written in each language the site is:
// its subject, its text and its HTML (lang attribute, links kept), with
// nothing English left but what the person or the team typed.
func TestEveryPersonEmailInEveryLanguage(t *testing.T) {
	if got, want := slices.Sorted(slices.Values(Languages())), slices.Sorted(slices.Values(privacy.Languages())); !slices.Equal(got, want) {
		t.Fatalf("emails are written in %v, the site in %v", got, want)
	}
	base := Config{Company: "Example", TeamInbox: "team@example.com", PolicyURL: "https://example.com/privacy",
		PolicyUpdated: "2026-12-01", BaseURL: "https://api.example"}
	english := personEmails(t, base)
	for _, lang := range Languages() {
		if lang == DefaultLang {
			continue
		}
		t.Run(lang, func(t *testing.T) {
			c := base
			c.Lang = lang
			got := personEmails(t, c)
			if len(got) != len(english) {
				t.Fatalf("%d emails, %d in English", len(got), len(english))
			}
			for i, m := range got {
				en := english[i]
				name := fmt.Sprintf("%s #%d", m.Kind, i)
				if m.Subject == en.Subject {
					t.Errorf("%s: subject not translated: %q", name, m.Subject)
				}
				for _, word := range []string{"Hello,", "Privacy policy", "Why you received", "Your request", "The link works"} {
					if strings.Contains(m.Text, word) {
						t.Errorf("%s: English %q left in the text:\n%s", name, word, m.Text)
					}
				}
				if !strings.Contains(m.HTML, `<html lang="`+lang+`">`) || !strings.Contains(m.HTML, "<title>"+m.Subject+"</title>") {
					t.Errorf("%s: HTML without its language or title:\n%.300s", name, m.HTML)
				}
				// Every link of the English email is in the translation, as
				// text and as a link.
				for _, u := range link.FindAllString(en.Text, -1) {
					if !strings.Contains(m.Text, u) || !strings.Contains(m.HTML, `<a href="`+u+`">`) {
						t.Errorf("%s: the link %s is missing", name, u)
					}
				}
				if m.Kind != en.Kind || !slices.Equal(m.To, en.To) {
					t.Errorf("%s: kind or recipients differ from English: %s %v", name, en.Kind, en.To)
				}
			}
		})
	}
}

// The team reads English whatever the person's language.
func TestTeamEmailsStayEnglish(t *testing.T) {
	c := Config{Company: "Example", TeamInbox: "team@example.com", PolicyURL: "https://e.com/p", Lang: "de"}
	inq := privacy.NewInquiry("ref-1", "subj", privacy.ContactForm{Name: "Ann", Email: "ann@example.com", Topic: "demo",
		Message: "hi"}, "v1", privacy.RequestMeta{ReceivedAt: time.Now()})
	inquiry, err := InquiryReceived(c, inq)
	if err != nil {
		t.Fatal(err)
	}
	request, err := RequestReceived(c, RequestInfo{ID: "r-1", Type: "access", Email: "ann@example.com", Due: time.Now()},
		"https://a/v", "https://a/s", "")
	if err != nil {
		t.Fatal(err)
	}
	review, err := ReviewNeeded(c, RequestInfo{ID: "r-1", Type: "rectification", Email: "ann@example.com", Due: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if inquiry[0].Subject != "Wir haben Ihre Nachricht erhalten" {
		t.Errorf("the person's acknowledgement: %q", inquiry[0].Subject)
	}
	for _, m := range []Message{inquiry[1], request[1], review} {
		if !strings.Contains(m.HTML, `lang="en"`) || strings.Contains(m.Text, "Guten Tag") {
			t.Errorf("%s to the team is not in English: %q", m.Kind, m.Subject)
		}
	}
}

func TestDatesInEachLanguage(t *testing.T) {
	for _, tc := range []struct {
		lang string
		day  time.Time
		want string
	}{
		{"en", time.Date(2027, 3, 1, 23, 0, 0, 0, time.UTC), "1 March 2027"},
		{"de", time.Date(2027, 3, 1, 23, 0, 0, 0, time.UTC), "1. März 2027"},
		{"fr", time.Date(2027, 3, 1, 23, 0, 0, 0, time.UTC), "1er mars 2027"},
		{"fr", time.Date(2027, 8, 15, 0, 0, 0, 0, time.UTC), "15 août 2027"},
		{"xx", time.Date(2027, 8, 15, 0, 0, 0, 0, time.UTC), "15 August 2027"},
	} {
		if got := textFuncs(tc.lang)["date"].(func(time.Time) string)(tc.day); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.lang, got, tc.want)
		}
	}
}

func TestHTMLFromText(t *testing.T) {
	got := htmlFromText("de", `A <b> & "c"`, "Zeile <eins>\nLink: https://a.example/x?t=1&u=2.\n\nZweiter Absatz")
	for _, want := range []string{`<html lang="de">`, `<title>A &lt;b&gt; &amp; &#34;c&#34;</title>`,
		`<p>Zeile &lt;eins&gt;<br>`, `<a href="https://a.example/x?t=1&amp;u=2">https://a.example/x?t=1&amp;u=2</a>.</p>`,
		"<p>Zweiter Absatz</p>"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
}

// The categories answer is generated from the retention and purpose
// tables; in a translation every generated line is translated too, so
// adding a retention class without its words fails here.
func TestCategoriesInEachLanguage(t *testing.T) {
	var english []string
	for _, cl := range privacy.RetentionClasses() {
		english = append(english, cl.Why, strings.ReplaceAll(cl.Name, "_", " ")+":")
	}
	english = append(append(append(english, privacy.Sources()...), purposes(DefaultLang, nil)...), privacy.Recipients()...)
	english = append(english, purposes(DefaultLang, privacy.Bases{privacy.PurposeMarketing: privacy.BasisConsent})...)
	for _, lang := range Languages() {
		if lang == DefaultLang {
			continue
		}
		// Every basis a version may state, in words of the language.
		m, err := Categories(Config{Lang: lang, PolicyURL: "https://e.com/p",
			Bases: privacy.Bases{privacy.PurposeMarketing: privacy.BasisConsent, privacy.PurposeRespondToInquiry: privacy.BasisContract}},
			"ann@example.com", "r-1")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range english {
			if strings.Contains(m.Text, s) {
				t.Errorf("%s: %q left in English", lang, s)
			}
		}
		for _, b := range []string{privacy.BasisConsent, privacy.BasisContract, privacy.BasisLegalObligation} {
			if w := "(" + strings.ReplaceAll(b, "_", " ") + ")"; strings.Contains(m.Text, w) {
				t.Errorf("%s: the basis %s left in English", lang, w)
			}
		}
		for _, s := range []string{"days from", "until it expires"} {
			if strings.Contains(m.Text, s) {
				t.Errorf("%s: a period in English (%q):\n%s", lang, s, m.Text)
			}
		}
	}
}

// The team's emails link the console: the request to decide, the board.
func TestTeamEmailsLinkTheConsole(t *testing.T) {
	c := Config{Company: "Example", TeamInbox: "team@example.com", PolicyURL: "https://e.com/p", BaseURL: "https://api.example.com/"}
	review, err := ReviewNeeded(c, RequestInfo{ID: "r-1", Type: "rectification", Email: "ann@example.com", Due: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	digest, err := DeadlineDigest(c, Digest{Date: "2026-12-03"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		m    Message
		want string
	}{{review, "https://api.example.com/console/requests/r-1"}, {digest, "https://api.example.com/console/deadlines"}} {
		if !strings.Contains(tc.m.Text, tc.want) || !strings.Contains(tc.m.HTML, `href="`+tc.want+`"`) {
			t.Errorf("%s does not link %s:\n%s", tc.m.Kind, tc.want, tc.m.Text)
		}
	}
}

// The acknowledgement and every final answer name the right to lodge a
// complaint with a supervisory authority (GDPR Art. 77; policy: "you have
// the right to lodge a complaint with the relevant supervisory
// authority"), in the person's language, in the text and the HTML.
func TestAnswersNameTheRightToComplain(t *testing.T) {
	answers := []string{KindRequestAck, KindParentAck, KindExportReady, KindErasureDone, KindRequestDone, KindWithdrawn,
		KindOptedOut, KindCategories}
	answers = append(answers, slices.Collect(maps.Keys(decisionSubjects))...)
	for _, lang := range Languages() {
		t.Run(lang, func(t *testing.T) {
			s, _, err := set(lang, "")
			if err != nil {
				t.Fatal(err)
			}
			var block strings.Builder
			if err := s.text.ExecuteTemplate(&block, "complaint", nil); err != nil {
				t.Fatal(err)
			}
			want := strings.TrimSpace(block.String())
			if !strings.Contains(want, "https://www.edpb.europa.eu/") {
				t.Fatalf("the %s text names no list of authorities: %q", lang, want)
			}
			seen := map[string]bool{}
			for _, m := range personEmails(t, Config{Company: "Example", PolicyURL: "https://example.com/privacy",
				BaseURL: "https://api.example", Lang: lang}) {
				if !slices.Contains(answers, m.Kind) {
					continue
				}
				seen[m.Kind] = true
				if !strings.Contains(m.Text, want) {
					t.Errorf("%s: the text does not name the right to complain:\n%s", m.Kind, m.Text)
				}
				if !strings.Contains(m.HTML, `<a href="https://www.edpb.europa.eu/about-edpb/about-edpb/members_en">`) {
					t.Errorf("%s: the HTML does not link the authorities:\n%s", m.Kind, m.HTML)
				}
			}
			for _, k := range answers {
				if !seen[k] {
					t.Errorf("no %s email rendered", k)
				}
			}
		})
	}
}
