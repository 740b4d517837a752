package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

func TestInquiryReceivedEscapesAndAddresses(t *testing.T) {
	inq := privacy.NewInquiry("ref-1", "subj", privacy.ContactForm{
		Name: `Ann <b>"Lee"</b>`, Email: "ann@example.com", Topic: "demo", Company: "<i>ACME</i>",
		Message: "<script>alert(1)</script>\nsecond line",
	}, "v1", privacy.RequestMeta{ReceivedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
	msgs, err := InquiryReceived(Config{Company: "Example", TeamInbox: "team@example.com", PolicyURL: "https://e.com/p"}, inq)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	ack, team := msgs[0], msgs[1]
	if ack.To[0] != "ann@example.com" || team.To[0] != "team@example.com" || team.ReplyTo[0] != "ann@example.com" {
		t.Fatalf("recipients: ack %v, team %v reply-to %v", ack.To, team.To, team.ReplyTo)
	}
	for _, m := range msgs {
		for _, raw := range []string{"<script>", "<b>", "<i>"} {
			if strings.Contains(m.HTML, raw) {
				t.Errorf("%s HTML contains unescaped %q", m.Kind, raw)
			}
		}
		if m.Text == "" || m.HTML == "" || m.Subject == "" {
			t.Errorf("%s lacks a part", m.Kind)
		}
	}
	if !strings.Contains(team.Text, `Ann <b>"Lee"</b>`) {
		t.Error("the team's text part should carry the name as given")
	}
	if !strings.Contains(team.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("team HTML should show the message, escaped")
	}
	if strings.Contains(ack.Text, "alert(1)") {
		t.Error("the acknowledgement must not echo the message (it would let the form relay text to any address)")
	}
	if !strings.Contains(ack.Text, "Why you received this email") || len(ack.Headers) != 0 {
		t.Error("a transactional email says why it was sent and carries no list headers")
	}
}

// Mail to an address nobody has confirmed carries no text the sender
// typed: otherwise the forms would relay a stranger's words and links to
// anyone (list-bombing with content). The team's notices keep them.
func TestNoSubmittedTextToUnverifiedAddresses(t *testing.T) {
	const spam, link = "Cheap pills", "http://spam.example"
	name := spam + " " + link
	c := Config{Company: "Example", TeamInbox: "team@example.com", PolicyURL: "https://e.com/p", BaseURL: "https://api.example"}
	inq := privacy.NewInquiry("ref-1", "subj", privacy.ContactForm{Name: name, Email: "ann@example.com", Topic: "demo",
		Company: name, Phone: "+1 555", Message: name}, "v1", privacy.RequestMeta{ReceivedAt: time.Now()})
	inquiry, err := InquiryReceived(c, inq)
	if err != nil {
		t.Fatal(err)
	}
	confirm, err := SubscriptionConfirm(c, privacy.Subscription{Name: name, Email: "ann@example.com",
		Topics: []string{"newsletter"}}, "https://api.example/v1/subscriptions/confirm?token=t")
	if err != nil {
		t.Fatal(err)
	}
	request, err := RequestReceived(c, RequestInfo{ID: "r-1", Type: "access", Regulation: "gdpr", Name: name,
		Email: "ann@example.com", Details: name, Due: time.Now()}, "https://api.example/v", "https://api.example/s", "")
	if err != nil {
		t.Fatal(err)
	}
	// A parent's acknowledgement names no child, an agent's request to
	// confirm their address nothing of the person: both go to addresses
	// the filer typed.
	parent, err := RequestReceived(c, RequestInfo{ID: "r-2", Type: "erasure", Name: name, Email: "child-" + spam + "@example.com",
		Parent: "parent@example.com", Details: name, Due: time.Now()}, "https://a/v", "https://a/s", "")
	if err != nil {
		t.Fatal(err)
	}
	agent, err := RequestReceived(c, RequestInfo{ID: "r-3", Type: "access", Name: name, Email: "person-" + spam + "@example.com",
		Agent: "agent@example.com", Details: name, Due: time.Now()}, "https://a/v", "https://a/s", "https://a/a")
	if err != nil || len(agent) != 3 {
		t.Fatalf("agent's filing: %d emails, %v", len(agent), err)
	}
	if parent[0].To[0] != "parent@example.com" || agent[2].To[0] != "agent@example.com" {
		t.Fatalf("recipients: %v %v", parent[0].To, agent[2].To)
	}
	// A correction of the name, company or phone names the field, never the
	// filer's new value (an address, validated, is shown).
	corrections := []Message{}
	for _, field := range []string{privacy.FieldName, privacy.FieldCompany, privacy.FieldPhone} {
		fix, err := RequestReceived(c, RequestInfo{ID: "r-4", Type: string(privacy.RightRectification), Email: "ann@example.com", Due: time.Now(),
			Correction: privacy.Correction{Field: field, Value: name}}, "https://a/v", "https://a/s", "")
		if err != nil {
			t.Fatal(err)
		}
		corrections = append(corrections, fix[0])
	}
	toPerson := append([]Message{inquiry[0], confirm, request[0], parent[0], agent[2]}, corrections...)
	toTeam := []Message{inquiry[1], request[1]}
	for _, m := range toPerson {
		for _, part := range []string{m.Subject, m.Text, m.HTML} {
			if strings.Contains(part, spam) || strings.Contains(part, link) {
				t.Errorf("%s to the unverified address carries the submitted text", m.Kind)
			}
		}
	}
	for _, m := range toTeam {
		if !strings.Contains(m.Text, name) {
			t.Errorf("%s to the team lost the submitted name", m.Kind)
		}
	}
}

// The team's question reaches the requester in their language, escaped in
// the HTML part, with the link and the deadline that stays; a GDPR
// request is told the law does not stop the clock, another is not told a
// law it is not under.
func TestQuestion(t *testing.T) {
	due := time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		lang, regulation, subject, due, law string
		told                                bool
	}{
		{"en", privacy.RegulationGDPR, "A question about your privacy request r-1", "1 March 2027", "GDPR Art. 12(3)", true},
		{"en", privacy.RegulationCCPA, "A question about your privacy request r-1", "1 March 2027", "GDPR", false},
		{"de", privacy.RegulationGDPR, "Eine Frage zu Ihrer Datenschutzanfrage r-1", "1. März 2027", "Art. 12 Abs. 3 DSGVO", true},
		{"fr", privacy.RegulationGDPR, "Une question sur votre demande r-1", "1er mars 2027", "RGPD", true},
		{"fr", privacy.RegulationOther, "Une question sur votre demande r-1", "1er mars 2027", "RGPD", false},
	} {
		m, err := Question(Config{Lang: tc.lang, PolicyURL: "https://e.com/p"}, QuestionMail{To: "ann@example.com", ID: "r-1",
			Question: "Which <b>account</b>?", Link: "https://api.example/v1/rights-requests/r-1/answer?token=T", Due: due,
			Regulation: tc.regulation})
		if err != nil {
			t.Fatalf("%s %s: %v", tc.lang, tc.regulation, err)
		}
		if m.Subject != tc.subject || len(m.To) != 1 || m.To[0] != "ann@example.com" || len(m.Headers) != 0 {
			t.Errorf("%s %s: %+v", tc.lang, tc.regulation, m)
		}
		for _, want := range []string{"Which <b>account</b>?", "answer?token=T", tc.due} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("%s %s: the text lacks %q:\n%s", tc.lang, tc.regulation, want, m.Text)
			}
		}
		if strings.Contains(m.HTML, "<b>account</b>") || !strings.Contains(m.HTML, "&lt;b&gt;account&lt;/b&gt;") {
			t.Errorf("%s %s: the question is not escaped in the HTML:\n%s", tc.lang, tc.regulation, m.HTML)
		}
		if got := strings.Contains(m.Text, tc.law); got != tc.told {
			t.Errorf("%s %s: names %q: %v, want %v:\n%s", tc.lang, tc.regulation, tc.law, got, tc.told, m.Text)
		}
	}
}

// Every marketing email and policy notice names the one-click https link
// first and, when the stack receives mail, the mailto: address beside it
// (RFC 2369 §2, RFC 8058 §3.1); List-Unsubscribe-Post follows.
func TestListUnsubscribeNamesTheMailtoAlternative(t *testing.T) {
	c := Config{Company: "Example", PolicyURL: "https://e.com/p", BaseURL: "https://api.example"}
	const https, mailto = "https://api.example/v1/unsubscribe?token=u", "mailto:abc234@unsubscribe.example.com"
	n := privacy.Notice{Email: "ann@example.com", Audience: privacy.NoticeSubscribers,
		Version: privacy.PolicyVersion{Version: "v2", Material: true, Summary: "s"}}
	tests := []struct {
		name, mail, want string
		render           func(mail string) (Message, error)
	}{
		{"marketing", mailto, "<" + https + ">, <" + mailto + ">", func(mail string) (Message, error) {
			return Marketing(c, Campaign{ID: "c", Topic: "newsletter", Subject: "News", Body: "b"}, "ann@example.com", https, mail, "https://p")
		}},
		{"marketing without a mail domain", "", "<" + https + ">", func(mail string) (Message, error) {
			return Marketing(c, Campaign{ID: "c", Topic: "newsletter", Subject: "News", Body: "b"}, "ann@example.com", https, mail, "https://p")
		}},
		{"policy notice", mailto, "<" + https + ">, <" + mailto + ">", func(mail string) (Message, error) {
			return PolicyNotice(c, n, nil, https, mail, "https://p")
		}},
		{"policy notice without a mail domain", "", "<" + https + ">", func(mail string) (Message, error) {
			return PolicyNotice(c, n, nil, https, mail, "")
		}},
	}
	for _, tt := range tests {
		m, err := tt.render(tt.mail)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		want := []Header{{"List-Unsubscribe", tt.want}, {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}}
		if len(m.Headers) != 2 || m.Headers[0] != want[0] || m.Headers[1] != want[1] {
			t.Errorf("%s: headers %+v, want %+v", tt.name, m.Headers, want)
		}
	}
}

// A campaign reaches each subscriber in the language they signed up in:
// its translation when the team wrote one, else its default text, and
// the footer (why, unsubscribe, preferences, policy) in their language
// either way (#34 item 7).
func TestMarketingInTheSubscribersLanguage(t *testing.T) {
	camp := Campaign{ID: "c-1", Topic: "newsletter", Subject: "News of December", Body: "What is new.",
		Translations: map[string]privacy.CampaignText{"de": {Subject: "Neues im Dezember", Body: "Was es Neues gibt."}}}
	tests := []struct {
		lang, subject, body, footer, htmlLang string
	}{
		{"", "News of December", "What is new.", "You receive this because you subscribed", `lang="en"`},
		{"de", "Neues im Dezember", "Was es Neues gibt.", "Sie erhalten diese E-Mail, weil Sie „newsletter“ von Example abonniert haben.", `lang="de"`},
		// No French text: the default one, the footer in French.
		{"fr", "News of December", "What is new.", "Vous recevez cet e-mail parce que vous êtes inscrit à « newsletter » de Example.", `lang="fr"`},
		// A language the emails are not written in: English.
		{"it", "News of December", "What is new.", "You receive this because you subscribed", `lang="en"`},
	}
	for _, tt := range tests {
		c := Config{Company: "Example", PolicyURL: "https://e.com/p", Lang: tt.lang}
		m, err := Marketing(c, camp, "ann@example.com", "https://api.example/v1/unsubscribe?token=u", "", "https://api.example/v1/preferences?token=p")
		if err != nil {
			t.Fatalf("%s: %v", tt.lang, err)
		}
		if m.Subject != tt.subject || !strings.HasPrefix(m.Text, tt.body+"\n") || !strings.Contains(m.Text, tt.footer) ||
			!strings.Contains(m.HTML, tt.htmlLang) || !strings.Contains(m.HTML, "https://api.example/v1/unsubscribe?token=u") {
			t.Errorf("%q: subject %q, text:\n%s\nHTML:\n%s", tt.lang, m.Subject, m.Text, m.HTML)
		}
	}
}

// The processor's email asks for a reply (a rectification's corrected
// data, a person it cannot find): the reply reaches the privacy team.
func TestProcessorRequestRepliesReachTheTeam(t *testing.T) {
	c := Config{Company: "Example Inc.", BaseURL: "https://privacy.example.com", PolicyURL: "https://example.com/privacy",
		TeamInbox: "team@example.com"}
	msg, err := ProcessorRequestMail(c, ProcessorRequest{To: "dpo@processor.example", Processor: "Drift", Reference: "ref-1",
		Type: "rectification", Regulation: "gdpr", Identity: "ann@example.com", Confirm: "https://privacy.example.com/c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.To) != 1 || msg.To[0] != "dpo@processor.example" {
		t.Errorf("to %v", msg.To)
	}
	if len(msg.ReplyTo) != 1 || msg.ReplyTo[0] != "team@example.com" {
		t.Errorf("reply-to %v, want the team's inbox: the email asks the processor to reply", msg.ReplyTo)
	}
}
