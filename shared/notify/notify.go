// Package notify renders the emails the system sends: a text and an HTML
// part from the same data, every user-supplied value escaped in the HTML.
// It decides nothing about when mail is due; the mailer does that.
package notify

import (
	"embed"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// ErrRejected marks a send that the mail service refused for good (a bad
// address, a suppressed recipient): retrying it cannot succeed.
var ErrRejected = errors.New("rejected by the mail service")

// Header is an extra email header (List-Unsubscribe and the like).
type Header struct{ Name, Value string }

// Message is one rendered email to send.
type Message struct {
	Kind    string // what it is, for logs and sent-markers: "inquiry_ack"
	To      []string
	ReplyTo []string
	Subject string
	Text    string
	HTML    string
	Headers []Header
}

// Config is what every email needs to know about the sender.
type Config struct {
	Company   string // the name people know the sender by
	TeamInbox string // where the team's notifications go
	PolicyURL string // the privacy policy, linked from every email
	// PolicyUpdated is the "Last updated" day of the version in force,
	// shown next to that link ("" shows none).
	PolicyUpdated string
	BaseURL       string // the API's public base URL, for links in emails
	// UnsubscribeMailDomain is where the mailto: unsubscribe addresses of
	// marketing mail and notices are ("": they carry none).
	UnsubscribeMailDomain string
	// Lang is the language of the person's emails: the form's, kept with
	// their record ("" is English). The team's emails are in English.
	Lang string
	// Bases are the legal bases the policy version in force states (nil:
	// the defaults).
	Bases privacy.Bases
}

//go:embed templates
var files embed.FS

type inquiryData struct {
	Config
	Inquiry privacy.Inquiry
}

// Email kinds.
const (
	KindInquiryAck  = "inquiry_ack"
	KindInquiryTeam = "inquiry_team"
	KindConfirm     = "subscription_confirm"
	KindMarketing   = "marketing"
)

// InquiryReceived renders the two emails a new inquiry makes due: the
// acknowledgement to the sender (transactional: it says why it was sent) and
// the notification to the team inbox, which replies straight to the sender.
func InquiryReceived(c Config, i privacy.Inquiry) ([]Message, error) {
	d := inquiryData{Config: c, Inquiry: i}
	ackSubject := subject(c.Lang, "We received your message")
	ackText, ackHTML, err := render(c.Lang, KindInquiryAck, ackSubject, d)
	if err != nil {
		return nil, err
	}
	teamText, teamHTML, err := render(DefaultLang, KindInquiryTeam, "", d)
	if err != nil {
		return nil, err
	}
	team := Message{Kind: KindInquiryTeam, To: []string{c.TeamInbox}, ReplyTo: []string{i.Form.Email},
		Subject: "New contact inquiry (" + i.Form.Topic + ")", Text: teamText, HTML: teamHTML}
	if i.AckHeld {
		return []Message{team}, nil // the sender's mailbox is past its daily limit
	}
	return []Message{{Kind: KindInquiryAck, To: []string{i.Form.Email}, Subject: ackSubject, Text: ackText, HTML: ackHTML}, team}, nil
}

type confirmData struct {
	Config
	Sub  privacy.Subscription
	Link string
}

// SubscriptionConfirm renders the double opt-in email. It is transactional:
// it goes out even to a suppressed address (the person just asked for it),
// carries no list headers, and says why it was sent.
func SubscriptionConfirm(c Config, sub privacy.Subscription, link string) (Message, error) {
	subj := subject(c.Lang, "Please confirm your subscription")
	text, html, err := render(c.Lang, KindConfirm, subj, confirmData{Config: c, Sub: sub, Link: link})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindConfirm, To: []string{sub.Email}, Subject: subj, Text: text, HTML: html}, nil
}

// Kinds of the receipts' emails.
const (
	KindConfirmed = "subscription_confirmed"
	KindWithdrawn = "consent_withdrawn"
)

// SubscriptionConfirmed tells a subscriber their signup is confirmed,
// with its receipt and the unsubscribe link.
func SubscriptionConfirmed(c Config, sub privacy.Subscription, unsubscribe, receipt string) (Message, error) {
	subj := subject(c.Lang, "Your subscription is confirmed")
	text, html, err := render(c.Lang, KindConfirmed, subj, struct {
		Config
		Sub                  privacy.Subscription
		Unsubscribe, Receipt string
	}{c, sub, unsubscribe, receipt})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindConfirmed, To: []string{sub.Email}, Subject: subj, Text: text, HTML: html}, nil
}

// ConsentWithdrawn tells a former subscriber their consent is withdrawn,
// with its receipt.
func ConsentWithdrawn(c Config, sub privacy.Subscription, receipt string) (Message, error) {
	subj := subject(c.Lang, "You are unsubscribed")
	text, html, err := render(c.Lang, KindWithdrawn, subj, struct {
		Config
		Receipt string
	}{c, receipt})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindWithdrawn, To: []string{sub.Email}, Subject: subj, Text: text, HTML: html}, nil
}

// KindPolicyNotice tells a person of a change to the privacy policy.
const KindPolicyNotice = "policy_notice"

// Offer is a new topic a policy change offers a subscriber, with the link
// that opts in to it.
type Offer struct {
	Topic, Link string
}

// PolicyNotice renders a policy change's notice: what changed (the team's
// summary), from when, the link to the policy, and for a subscriber the
// new topics they may opt in to (nobody is enrolled by the change).
//
// Like a marketing email it carries the RFC 8058 one-click headers (with
// the mailto: alternative, unsubscribeMail, when there is one) and the same
// link in its footer (policy §4: an opt-out in every email), and a
// subscriber's the link to their preferences (preferencesURL, "" for
// others).
func PolicyNotice(c Config, n privacy.Notice, offers []Offer, unsubscribeURL, unsubscribeMail, preferencesURL string) (Message, error) {
	subj := subject(c.Lang, "We have updated our privacy policy")
	if !n.Version.Material {
		subj = subject(c.Lang, "Something new you can choose to receive")
	}
	text, html, err := render(c.Lang, KindPolicyNotice, subj, struct {
		Config
		N                           privacy.Notice
		Effective                   string
		Offers                      []Offer
		Unsubscribe, PreferencesURL string
	}{c, n, n.Version.LastUpdated(), offers, unsubscribeURL, preferencesURL})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindPolicyNotice, To: []string{n.Email}, Subject: subj, Text: text, HTML: html,
		Headers: oneClick(unsubscribeURL, unsubscribeMail)}, nil
}

// Campaign is one marketing email as the team writes it: plain text
// paragraphs, never HTML from outside (it is escaped like everything else).
type Campaign struct {
	ID      string `json:"campaign_id"`
	Topic   string `json:"topic"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
	// Translations are the subject and body in other languages (de, fr),
	// by language; optional.
	Translations map[string]privacy.CampaignText `json:"translations,omitempty"`
}

// In is the campaign's subject and body in lang: its translation, or the
// default text when it has none.
func (c Campaign) In(lang string) (subject, body string) {
	if t, ok := c.Translations[lang]; ok {
		return t.Subject, t.Body
	}
	return c.Subject, c.Body
}

type marketingData struct {
	Config
	Campaign       Campaign // its Subject and Body those of the subscriber's language
	Unsubscribe    string
	PreferencesURL string
}

// Marketing renders a campaign for one subscriber, in their language
// (c.Lang): the campaign's translation into it when it has one, else its
// default text, and the footer in that language all the same; with the RFC 8058
// one-click headers (List-Unsubscribe, with the mailto: alternative
// unsubscribeMail when there is one, before List-Unsubscribe-Post) and the
// same link in the footer.
func Marketing(c Config, camp Campaign, to, unsubscribeURL, unsubscribeMail, preferencesURL string) (Message, error) {
	camp.Subject, camp.Body = camp.In(c.Lang)
	text, html, err := render(c.Lang, KindMarketing, camp.Subject, marketingData{Config: c, Campaign: camp,
		Unsubscribe: unsubscribeURL, PreferencesURL: preferencesURL})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindMarketing, To: []string{to}, Subject: camp.Subject, Text: text, HTML: html,
		Headers: oneClick(unsubscribeURL, unsubscribeMail)}, nil
}

// oneClick is the RFC 8058 pair of headers for a one-click unsubscribe
// link (List-Unsubscribe before List-Unsubscribe-Post). List-Unsubscribe
// names the https link first, then the mailto: address when there is one
// ("": none): RFC 2369 §2 lists a header's URLs in order of preference,
// and RFC 8058 §3.1 has the one-click POST go to the https one.
func oneClick(unsubscribeURL, unsubscribeMail string) []Header {
	lu := "<" + unsubscribeURL + ">"
	if unsubscribeMail != "" {
		lu += ", <" + unsubscribeMail + ">"
	}
	return []Header{
		{Name: "List-Unsubscribe", Value: lu},
		{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"},
	}
}

// DigestItem is one rights request in the deadline digest: ids and dates,
// no personal data. A Platform request (a controller's, by OpenDSR) is
// marked as the Platform's with its controller's id, never an identity.
type DigestItem struct {
	ID, Type, Status string
	Due              time.Time
	Platform         bool
	Controller       string
}

// Digest is the deadline watch's one email per run.
type Digest struct {
	Date                      string
	Overdue, DueSoon, Waiting []DigestItem
	// Recipients are the processors told of an erasure that have not
	// confirmed it (Art. 19), the failed ones first.
	Recipients []DigestRecipient
	// Holds are the legal holds in force: what no erasure or sweep
	// touches until the team lifts them.
	Holds []DigestHold
	// PlatformUnread says the Platform's requests could not be read: the
	// digest lists the site's alone, and says so.
	PlatformUnread bool
}

// DigestHold is one legal hold, by subject hash (never an address).
type DigestHold struct {
	Subject, Reason, By string
	Since, Until        time.Time
}

// DigestRecipient is one processor not done with one request.
type DigestRecipient struct {
	RequestID, Processor, State, LastError string
	Since                                  time.Time
}

// KindDigest is the deadline digest.
const KindDigest = "deadline_digest"

// DeadlineDigest renders the digest for the team inbox.
func DeadlineDigest(c Config, d Digest) (Message, error) {
	text, html, err := render(DefaultLang, KindDigest, "", struct {
		Config
		Digest
		// Board is the console's deadline board (behind its sign-in).
		Board string
	}{c, d, strings.TrimRight(c.BaseURL, "/") + "/console/deadlines"})
	if err != nil {
		return Message{}, err
	}
	subject := fmt.Sprintf("Rights requests: %d overdue, %d due within 7 days", len(d.Overdue), len(d.DueSoon))
	return Message{Kind: KindDigest, To: []string{c.TeamInbox}, Subject: subject, Text: text, HTML: html}, nil
}

// RequestInfo is what the request emails show.
type RequestInfo struct {
	ID, Type, Regulation, Name, Email, Details string
	Due                                        time.Time
	Excessive                                  bool
	// Correction is a rectification's field and new value, when named.
	Correction privacy.Correction
	// Parent is the parent's or guardian's own address, on a request made
	// for a child (Email is then the child's).
	Parent string
	// Agent is the authorised agent's address, on a request an agent
	// filed for the person.
	Agent string
	// Recipient is the third party a portability request's copy goes to:
	// the person confirms knowing where.
	Recipient string
	// NewAddressConfirmed: a correction's new address confirmed it.
	NewAddressConfirmed bool
	// AckHeld: the requester's mailbox was past its daily limit when the
	// request was filed; the acknowledgement is not sent, the team's
	// notice says so.
	AckHeld bool
}

// Kinds of the emails of a new rights request: the acknowledgement with
// its verification link (to the person; a parent's request: to the
// parent, with no word of the child), the team's notice, and the agent's
// request to confirm their address.
const (
	KindRequestAck  = "request_ack"
	KindParentAck   = "parent_ack"
	KindRequestTeam = "request_team"
)

// RequestReceived renders the acknowledgement (reference, due date,
// verification and status links; transactional, sent whatever the
// marketing preferences) and the privacy team's notice; with agentURL,
// also the agent's request to confirm their address. What reaches an
// address nobody verified yet is the system's own text: the person's
// acknowledgement shows the agent who filed and the change a correction
// asks for, so that they confirm knowing what; the parent's names no
// child, and the agent's nothing of the person.
func RequestReceived(c Config, r RequestInfo, verifyURL, statusURL, agentURL string) ([]Message, error) {
	d := struct {
		Config
		R                 RequestInfo
		Verify, StatusURL string
	}{c, r, verifyURL, statusURL}
	kind, to, format := KindRequestAck, r.Email, "Your privacy request %s: please confirm it is you"
	if r.Parent != "" {
		kind, to, format = KindParentAck, r.Parent, "Your request %s for your child's data"
	}
	ackSubject := subject(c.Lang, format, r.ID)
	ackText, ackHTML, err := render(c.Lang, kind, ackSubject, d)
	if err != nil {
		return nil, err
	}
	teamText, teamHTML, err := render(DefaultLang, KindRequestTeam, "", d)
	if err != nil {
		return nil, err
	}
	var msgs []Message
	if !r.AckHeld {
		msgs = append(msgs, Message{Kind: kind, To: []string{to}, Subject: ackSubject, Text: ackText, HTML: ackHTML})
	}
	msgs = append(msgs, Message{Kind: KindRequestTeam, To: []string{c.TeamInbox},
		Subject: "Rights request " + r.ID + " (" + r.Type + "), due " + r.Due.Format("2006-01-02"), Text: teamText, HTML: teamHTML})
	if agentURL != "" {
		m, err := ConfirmAddress(c, AddressRequest{To: r.Agent, ID: r.ID, Role: "agent", Link: agentURL})
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// KindConfirmAddress asks an address a request names besides the
// person's to confirm it; KindAddressChange tells the old address of a
// correction of the address that the new one confirmed, with the link
// that stops it.
const (
	KindConfirmAddress = "confirm_address"
	KindAddressChange  = "address_change"
)

// AddressRequest is an address to confirm: To, the request ID, the Role
// the address has in it ("agent", or "new": a correction's new address)
// and the Link that confirms it.
type AddressRequest struct {
	To, ID, Role, Link string
}

// ConfirmAddress renders the request to confirm an address. It carries
// nothing a filer typed (the address alone), so a stranger who names
// someone's address learns and sends nothing through it.
func ConfirmAddress(c Config, a AddressRequest) (Message, error) {
	subj := subject(c.Lang, "Please confirm this address (request %s)", a.ID)
	text, html, err := render(c.Lang, KindConfirmAddress, subj, struct {
		Config
		AddressRequest
	}{c, a})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindConfirmAddress + "_" + a.Role, To: []string{a.To}, Subject: subj, Text: text, HTML: html}, nil
}

// AddressChange renders the old address's notice of a correction of the
// address that its new address confirmed: what will change, from when at
// the earliest, and the link that stops it before the team applies it.
func AddressChange(c Config, to, requestID, newAddress, stopURL string, notBefore time.Time) (Message, error) {
	subj := subject(c.Lang, "Your address change (request %s): the new address confirmed it", requestID)
	text, html, err := render(c.Lang, KindAddressChange, subj, struct {
		Config
		ID, NewAddress, Stop string
		NotBefore            time.Time
	}{c, requestID, newAddress, stopURL, notBefore})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindAddressChange, To: []string{to}, Subject: subj, Text: text, HTML: html}, nil
}

// KindExportReady tells a requester their copy is ready.
const KindExportReady = "export_ready"

// ExportReady renders the "your data is ready" email.
func ExportReady(c Config, to, requestID, link string) (Message, error) {
	subj := subject(c.Lang, "Your data is ready (request %s)", requestID)
	text, html, err := render(c.Lang, KindExportReady, subj, struct {
		Config
		ID, Link string
	}{c, requestID, link})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindExportReady, To: []string{to}, Subject: subj, Text: text, HTML: html}, nil
}

// The emails of a portability request to a third party: the export link
// to the recipient the person chose, and the notice of it to the person.
const (
	KindExportToRecipient = "export_to_recipient"
	KindExportSentNotice  = "export_sent_notice"
)

// ExportToThirdParty renders both: the link goes to recipient, and a copy
// of the notice, naming the recipient, to the person.
func ExportToThirdParty(c Config, person, recipient, requestID, link string) ([]Message, error) {
	var out []Message
	for _, m := range []struct {
		kind, to, subject string
		toRecipient       bool
	}{
		{KindExportToRecipient, recipient, subject(c.Lang, "A copy of personal data sent at its owner's request (%s)", requestID), true},
		{KindExportSentNotice, person, subject(c.Lang, "Your data was sent to the recipient you chose (request %s)", requestID), false},
	} {
		text, html, err := render(c.Lang, "export_third_party", m.subject, struct {
			Config
			ID, Link, Person, Recipient string
			ToRecipient                 bool
		}{c, requestID, link, person, recipient, m.toRecipient})
		if err != nil {
			return nil, err
		}
		out = append(out, Message{Kind: m.kind, To: []string{m.to}, Subject: m.subject, Text: text, HTML: html})
	}
	return out, nil
}

// KindErasureDone confirms an erasure.
const KindErasureDone = "erasure_done"

// ErasureDone renders the erasure confirmation. It is the last email to the
// address: after it the request record keeps no address.
// A completed erasure's carries its receipt (a signed JWS).
func ErasureDone(c Config, to, requestID string, withheld bool, recipients []privacy.Told, receipt string) (Message, error) {
	subj := subject(c.Lang, "Your erasure request %s", requestID)
	text, html, err := render(c.Lang, KindErasureDone, subj, struct {
		Config
		ID         string
		Withheld   bool
		Recipients []privacy.Told
		Receipt    string
	}{c, requestID, withheld, recipients, receipt})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindErasureDone, To: []string{to}, Subject: subj, Text: text, HTML: html}, nil
}

// Kinds of the outcome emails.
const (
	KindRequestDone  = "request_done"
	KindReviewNeeded = "review_needed"
)

// RequestDone tells the requester an objection or consent withdrawal is done.
func RequestDone(c Config, to, requestID, typ string) (Message, error) {
	subj := subject(c.Lang, "Your privacy request %s is done", requestID)
	text, html, err := render(c.Lang, KindRequestDone, subj, struct {
		Config
		ID, Type string
	}{c, requestID, typ})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindRequestDone, To: []string{to}, Subject: subj, Text: text, HTML: html}, nil
}

// ReviewNeeded asks the privacy team to review a rectification, with the
// correction the requester asked for, or a possibly excessive request.
func ReviewNeeded(c Config, r RequestInfo) (Message, error) {
	text, html, err := render(DefaultLang, KindReviewNeeded, "", struct {
		Config
		R RequestInfo
		// Console is the request's page in the team's console (behind
		// its sign-in: the link grants nothing by itself).
		Console string
	}{c, r, strings.TrimRight(c.BaseURL, "/") + "/console/requests/" + url.PathEscape(r.ID)})
	if err != nil {
		return Message{}, err
	}
	subject, replyTo := "Correction to review: request ", r.Email
	switch {
	case r.Excessive:
		subject = "Possibly excessive, to review: request "
	case r.Parent != "":
		subject, replyTo = "A parent's or guardian's request to review: request ", r.Parent
	case r.Type == string(privacy.RightObjection):
		subject = "Objection to review: request "
	}
	return Message{Kind: KindReviewNeeded, To: []string{c.TeamInbox}, ReplyTo: []string{replyTo},
		Subject: subject + r.ID + ", due " + r.Due.Format("2006-01-02"), Text: text, HTML: html}, nil
}

// KindQuestion asks a requester the privacy team's question on their
// request; KindAnswered tells the team the requester answered.
const (
	KindQuestion = "request_question"
	KindAnswered = "request_answered"
)

// QuestionMail is what the question's email says: the team's question,
// the link that answers it, and the deadline, which stays.
type QuestionMail struct {
	To, ID, Question, Link string
	Due                    time.Time
	// Regulation is the request's: a GDPR request is told that the law
	// does not stop its clock.
	Regulation string
}

// Question renders the team's question to the requester (policy §8: "we
// may contact you for further information"). It is transactional: it goes
// only to the address of a verified request.
func Question(c Config, q QuestionMail) (Message, error) {
	subj := subject(c.Lang, "A question about your privacy request %s", q.ID)
	text, html, err := render(c.Lang, KindQuestion, subj, struct {
		Config
		QuestionMail
	}{c, q})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindQuestion, To: []string{q.To}, Subject: subj, Text: text, HTML: html}, nil
}

// Answered tells the privacy team that the requester answered its
// question on request id: the answer itself is in the console, behind its
// sign-in, not in the email.
func Answered(c Config, id, typ string, due time.Time) (Message, error) {
	d := struct {
		Config
		ID, Type, Console string
		Due               time.Time
	}{c, id, typ, strings.TrimRight(c.BaseURL, "/") + "/console/requests/" + url.PathEscape(id), due}
	text, html, err := render(DefaultLang, KindAnswered, "", d)
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindAnswered, To: []string{c.TeamInbox}, Subject: "The requester answered: request " + id + ", due " +
		due.Format("2006-01-02"), Text: text, HTML: html}, nil
}

// KindRequestJoined tells a requester that the same request was filed
// again and is part of their open one.
const KindRequestJoined = "request_joined"

// RequestJoined renders that notice. It goes only to the address of the
// open request, so only its owner learns that the request exists.
func RequestJoined(c Config, to, requestID, typ, statusURL string) (Message, error) {
	subj := subject(c.Lang, "Your privacy request %s", requestID)
	text, html, err := render(c.Lang, KindRequestJoined, subj, struct {
		Config
		ID, Type, StatusURL string
	}{c, requestID, typ, statusURL})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindRequestJoined, To: []string{to}, Subject: subj, Text: text, HTML: html}, nil
}

// Kinds of the emails that tell a requester about the team's decisions and
// about a restriction.
const (
	KindRequestRestricted = "request_restricted"
	KindRestrictionLifted = "restriction_lifted"
	KindRequestDenied     = "request_denied"
	KindRequestExtended   = "request_extended"
	KindRectificationDone = "rectification_done"
	KindObjectionUpheld   = "objection_upheld"
	KindObjectionErased   = "objection_erased"
	KindRequestStopped    = "request_stopped"
)

var decisionSubjects = map[string]string{
	KindRequestRestricted: "Your data is restricted (request %s)",
	KindRestrictionLifted: "The restriction of your data is lifted (request %s)",
	KindRequestDenied:     "We cannot carry out your request %s",
	KindRequestExtended:   "We need more time for your request %s",
	KindRectificationDone: "Your data is corrected (request %s)",
	KindObjectionUpheld:   "Your objection is upheld (request %s)",
	KindObjectionErased:   "Your objection is upheld and your data erased (request %s)",
	KindRequestStopped:    "We stopped your request %s",
}

// Decision is what a decision email says.
type Decision struct {
	Kind      string // one of the Kind… constants above
	To        string
	ID        string
	Reason    string    // the team's reason or note, as the requester reads it
	Until     time.Time // an extension's new deadline
	StatusURL string
	// BeyondErasurePromise: an erasure's extension goes past the 30 days
	// of the policy's promise (§7); the email says so.
	BeyondErasurePromise bool
}

// RequestDecision renders a decision email to the requester.
func RequestDecision(c Config, d Decision) (Message, error) {
	format, ok := decisionSubjects[d.Kind]
	if !ok {
		return Message{}, fmt.Errorf("no decision email of kind %q", d.Kind)
	}
	subj := subject(c.Lang, format, d.ID)
	text, html, err := render(c.Lang, "request_decision", subj, struct {
		Config
		Decision
	}{c, d})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: d.Kind, To: []string{d.To}, Subject: subj, Text: text, HTML: html}, nil
}

// KindInquiryRestricted replaces the team's inquiry notification when the
// sender's processing is restricted: it names the inquiry, not its content.
const KindInquiryRestricted = "inquiry_restricted"

// InquiryRestricted renders that notice; requestIDs are the requests whose
// restriction is in force.
func InquiryRestricted(c Config, inquiryID string, requestIDs []string) (Message, error) {
	text, html, err := render(DefaultLang, KindInquiryRestricted, "", struct {
		ID         string
		RequestIDs []string
	}{inquiryID, requestIDs})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindInquiryRestricted, To: []string{c.TeamInbox},
		Subject: "Inquiry held: the sender's processing is restricted", Text: text, HTML: html}, nil
}

// The CCPA's answers: an opt-out of sale recorded, and the categories.
const (
	KindOptedOut   = "opted_out"
	KindCategories = "categories"
)

// OptOutRecorded confirms an opt-out of the sale and sharing of personal
// data.
func OptOutRecorded(c Config, to, requestID string) (Message, error) {
	subj := subject(c.Lang, "Your opt-out of sale and sharing is recorded (request %s)", requestID)
	text, html, err := render(c.Lang, KindOptedOut, subj, struct {
		Config
		ID string
	}{c, requestID})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindOptedOut, To: []string{to}, Subject: subj, Text: text, HTML: html}, nil
}

// purposes are the purposes with their legal bases, as bases state them,
// in lang: "answering your messages (legitimate interest)".
func purposes(lang string, bases privacy.Bases) []string {
	english := map[string]string{privacy.PurposeRespondToInquiry: "answering your messages", privacy.PurposeMarketing: "marketing emails",
		privacy.PurposePrivacyRequests: "answering your rights requests"}
	var out []string
	for _, p := range privacy.Purposes(bases) {
		basis := strings.ReplaceAll(p.LegalBasis, "_", " ")
		out = append(out, term(lang, "purpose."+p.Purpose, english[p.Purpose])+" ("+term(lang, "basis."+p.LegalBasis, basis)+")")
	}
	return out
}

// Categories answers a request to know the categories of personal
// information collected: generated from the retention classes and the
// purpose, source and recipient tables, never written by hand.
func Categories(c Config, to, requestID string) (Message, error) {
	type class struct{ Name, Period, Why string }
	var classes []class
	seen := map[string]bool{}
	words := func(s string) string { return strings.ReplaceAll(s, "_", " ") }
	for _, cl := range privacy.RetentionClasses() {
		if seen[cl.Name] {
			continue
		}
		seen[cl.Name] = true
		clock := words(cl.Clock)
		if cl.Clock == privacy.AttrGraceFrom { // the sweep's first sight of a suppression
			clock = "the suppression's first check"
		}
		period := fmt.Sprintf(term(c.Lang, "period", "%d days from %s"), cl.Days, term(c.Lang, "clock."+cl.Clock, clock))
		if cl.Clock == privacy.ClockExpiry {
			period = fmt.Sprintf(term(c.Lang, "period_expiry", "until it expires (%d days)"), cl.Days)
		}
		classes = append(classes, class{term(c.Lang, "class."+cl.Name, words(cl.Name)), period,
			term(c.Lang, "why."+cl.Name, cl.Why)})
	}
	in := func(list []string) []string {
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = term(c.Lang, s, s)
		}
		return out
	}
	subj := subject(c.Lang, "The categories of personal information we collect (request %s)", requestID)
	text, html, err := render(c.Lang, KindCategories, subj, struct {
		Config
		ID                            string
		Classes                       []class
		Sources, Purposes, Recipients []string
	}{c, requestID, classes, in(privacy.Sources()), purposes(c.Lang, c.Bases), in(privacy.Recipients())})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindCategories, To: []string{to}, Subject: subj, Text: text, HTML: html}, nil
}

// KindAgentNotice tells an authorised agent how the request they filed
// stands. It carries no link and none of the person's data.
const KindAgentNotice = "agent_notice"

// AgentUpdate is what an agent's notice says: the request, and which of
// the person's emails it follows (a privacy.MailKind).
type AgentUpdate struct {
	To, ID, Type, Kind, Reason string
	Until                      time.Time
}

// AgentNotice renders the agent's notice.
func AgentNotice(c Config, u AgentUpdate) (Message, error) {
	subj := subject(c.Lang, "The request you filed for someone: %s", u.ID)
	text, html, err := render(c.Lang, KindAgentNotice, subj, struct {
		Config
		AgentUpdate
	}{c, u})
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindAgentNotice, To: []string{u.To}, Subject: subj, Text: text, HTML: html}, nil
}

// KindProcessorRequest tells a processor without an API (by its privacy
// contact address) of a request it is to carry out (GDPR Art. 19).
const KindProcessorRequest = "processor_request"

// ProcessorRequest is what a processor told by email reads. It carries
// what the processor already holds and needs to find the person (the
// address, Identity) and nothing else of them: no name, no details, no
// request text; the reference is the delivery's own id, not the request's.
type ProcessorRequest struct {
	To, Processor, Reference, Type, Regulation, Identity, Confirm string
	Submitted, ConfirmBy                                          time.Time
}

// ProcessorRequestMail renders the email to a processor told by email,
// in English (a company's privacy contact, not the person).
func ProcessorRequestMail(c Config, p ProcessorRequest) (Message, error) {
	c.Lang = ""
	subj := subject(c.Lang, "Data subject request %s: %s", p.Reference, p.Type)
	text, html, err := render(c.Lang, KindProcessorRequest, subj, struct {
		Config
		ProcessorRequest
	}{c, p})
	if err != nil {
		return Message{}, err
	}
	// It asks the processor to reply: the reply goes to the privacy
	// team, not to the sender address nobody reads.
	msg := Message{Kind: KindProcessorRequest, To: []string{p.To}, Subject: subj, Text: text, HTML: html}
	if c.TeamInbox != "" {
		msg.ReplyTo = []string{c.TeamInbox}
	}
	return msg, nil
}

// TypeRestrictionLifted is the type of a processor's email that a
// restriction it was told of is lifted.
const TypeRestrictionLifted = "restriction lifted"

// KindProcessorDigest tells a processor without an API of the requests
// received while its mailbox's period was running (one email per period).
const KindProcessorDigest = "processor_digest"

// ProcessorDigest is one email listing several requests to one processor:
// each as ProcessorRequest (its own reference, identity and link). Every
// is the period between two emails, in words.
type ProcessorDigest struct {
	To, Processor, Every string
	Requests             []ProcessorRequest
}

// ProcessorDigestMail renders a processor's digest, in English.
func ProcessorDigestMail(c Config, d ProcessorDigest) (Message, error) {
	c.Lang = ""
	var types []string
	for _, r := range d.Requests {
		if !slices.Contains(types, r.Type) {
			types = append(types, r.Type)
		}
	}
	subj := subject(c.Lang, "Data subject requests: %d to carry out (%s)", len(d.Requests), strings.Join(types, ", "))
	text, html, err := render(c.Lang, KindProcessorDigest, subj, struct {
		Config
		ProcessorDigest
	}{c, d})
	if err != nil {
		return Message{}, err
	}
	msg := Message{Kind: KindProcessorDigest, To: []string{d.To}, Subject: subj, Text: text, HTML: html}
	if c.TeamInbox != "" {
		msg.ReplyTo = []string{c.TeamInbox}
	}
	return msg, nil
}

// KindContactChanged tells a processor's former privacy contact address
// that the team changed it (privacy.ContactNotice): if the change was not
// the processor's own, it tells the team at once, before the people's
// requests have gone to the new address for long.
const KindContactChanged = "processor_contact_changed"

// ContactChanged renders that notice, in English (a company's privacy
// contact). It names the processor, when, and the new address's domain;
// nothing of any person.
func ContactChanged(c Config, n privacy.ContactNotice) (Message, error) {
	c.Lang = ""
	// The name is the team's, checked one line when registered; a name
	// registered before that check is flattened here: it goes to an
	// outside address.
	n.ProcessorName = strings.Join(strings.FieldsFunc(n.ProcessorName, hidden), " ")
	subj := subject(c.Lang, "Your privacy contact address with %s was changed", c.Company)
	text, html, err := render(c.Lang, KindContactChanged, subj, struct {
		Config
		privacy.ContactNotice
	}{c, n})
	if err != nil {
		return Message{}, err
	}
	msg := Message{Kind: KindContactChanged, To: []string{n.To}, Subject: subj, Text: text, HTML: html}
	if c.TeamInbox != "" {
		msg.ReplyTo = []string{c.TeamInbox}
	}
	return msg, nil
}
