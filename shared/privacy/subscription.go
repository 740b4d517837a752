package privacy

import (
	"sort"
	"time"
)

// Topics returns the topics a subscriber can choose. Every one of them is marketing.
func Topics() []string { return []string{"newsletter", "events", "product_updates"} }

func knownTopic(t string) bool {
	for _, k := range Topics() {
		if k == t {
			return true
		}
	}
	return false
}

// ConsentTextVersion names the consent sentence the signup form shows; it is
// recorded with every signup so the ledger proves what the person agreed to.
const ConsentTextVersion = "newsletter-consent-2026-12"

// ConsentText is that sentence. It carries the policy's age confirmation
// (§2: under 16, only with a parent's or guardian's consent), which the
// ledger records with the signup (age_confirmed).
const ConsentText = "Yes, send me the emails I picked. I am 16 or older, or my parent or guardian agrees. " +
	"I can unsubscribe at any time with the link in every email."

// The consent sentence in the other languages of the site: each is its own
// version, since the ledger proves which words the person agreed to.
const (
	consentTextDE = "Ja, schicken Sie mir die gewählten E-Mails. Ich bin mindestens 16 Jahre alt, oder meine Eltern oder mein " +
		"Vormund sind einverstanden. Ich kann mich jederzeit über den Link in jeder E-Mail abmelden."
	consentTextFR = "Oui, envoyez-moi les e-mails que j’ai choisis. J’ai 16 ans ou plus, ou mon parent ou tuteur est d’accord. " +
		"Je peux me désabonner à tout moment grâce au lien présent dans chaque e-mail."
)

// Languages are the languages the site and its emails are written in; the
// first is the default.
func Languages() []string { return []string{"en", "de", "fr"} }

// Language is lang when the site is written in it, else the default.
func Language(lang string) string {
	for _, l := range Languages() {
		if l == lang {
			return l
		}
	}
	return Languages()[0]
}

// The forms that ask for consent to the newsletter, as a signup records
// its source: each shows a sentence of its own.
const (
	SourceSignupForm  = "subscription_form"
	SourceContactForm = "contact_form"
)

// ContactOptInVersion names the sentence beside the contact form's
// newsletter box: a consent of its own, with its own words (it says that
// a confirmation email comes first, and nothing of topics).
const ContactOptInVersion = "contact-opt-in-2026-12"

// The contact form's opt-in sentence, by language.
var contactOptIn = map[string]string{
	"en": "Also send me the newsletter (you will get an email to confirm first). I am 16 or older, or my parent or guardian agrees.",
	"de": "Schicken Sie mir auch den Newsletter (Sie erhalten zuerst eine E-Mail zur Bestätigung). Ich bin mindestens 16 Jahre alt, " +
		"oder meine Eltern oder mein Vormund sind einverstanden.",
	"fr": "Envoyez-moi aussi la newsletter (vous recevrez d’abord un e-mail de confirmation). J’ai 16 ans ou plus, " +
		"ou mon parent ou tuteur est d’accord.",
}

// Consent is the consent sentence form (SourceSignupForm or
// SourceContactForm) shows in lang, and its version, which the signup
// records: every form and language has its own, so the ledger and the
// receipt name the words the person saw.
func Consent(form, lang string) (version, text string) {
	lang = Language(lang)
	if form == SourceContactForm {
		v := ContactOptInVersion
		if lang != Languages()[0] {
			v += "-" + lang
		}
		return v, contactOptIn[lang]
	}
	switch lang {
	case "de":
		return ConsentTextVersion + "-de", consentTextDE
	case "fr":
		return ConsentTextVersion + "-fr", consentTextFR
	}
	return ConsentTextVersion, ConsentText
}

// ConsentTexts are the consent sentences by version, every one a form
// has shown: a receipt carries the one agreed to.
func ConsentTexts() map[string]string {
	out := map[string]string{}
	for _, f := range []string{SourceSignupForm, SourceContactForm} {
		for _, l := range Languages() {
			v, t := Consent(f, l)
			out[v] = t
		}
	}
	return out
}

// ErasedCategories are what an erasure removes, as its receipt lists them.
func ErasedCategories() []string {
	return []string{"contact inquiries, with their request metadata", "the newsletter subscription, its topics and signup",
		"the consent and activity record (ledger) kept under the address", "an opt-out of sale and sharing",
		"the address and details of earlier privacy requests"}
}

// Purpose and basis of the newsletter.
const PurposeMarketing = "marketing_email"

// Subscription statuses.
const (
	StatusPending      = "pending"
	StatusConfirmed    = "confirmed"
	StatusUnsubscribed = "unsubscribed"
)

// Suppression reasons. A suppressed subject is never sent marketing.
const (
	SuppressUnsubscribed = "unsubscribed"
	SuppressComplained   = "complained"
	SuppressBounced      = "bounced"
	SuppressObjected     = "objected"
	SuppressErased       = "erased"
)

// ClearedByConfirmation lists the suppression reasons a fresh, explicit
// double opt-in clears in the same write as the confirmation: the ones the
// person themself caused.
func ClearedByConfirmation() []string { return []string{SuppressUnsubscribed, SuppressComplained} }

// LiftedByConfirmation lists every reason a fresh, explicit double opt-in
// lifts: the person asks anew, and the confirmation is the proof in the
// ledger (suppression_lifted). A hard bounce is lifted because the
// confirmation proves the address takes mail; an objection and an erasure
// because the person asks again. An erasure's record outlives its lift
// (Suppression.LiftedAt), so a restore's re-applied erasure still deletes
// what was erased, and nothing given after.
func LiftedByConfirmation() []string {
	return []string{SuppressUnsubscribed, SuppressComplained, SuppressBounced, SuppressObjected, SuppressErased}
}

// Suppression is one reason a subject is not sent marketing, since when,
// and when it was lifted (only an erasure's record is kept once lifted).
type Suppression struct {
	Reason   string
	Since    time.Time
	LiftedAt time.Time
}

// InForce reports whether the reason still suppresses marketing.
func (s Suppression) InForce() bool { return s.LiftedAt.IsZero() }

// Erasure is a subject's erasure as the suppression list records it: when,
// and whether the person has since asked anew (then only what is older
// than At is erased again after a restore).
type Erasure struct {
	Subject SubjectID
	At      time.Time
	Lifted  bool
}

// Signup is a validated newsletter signup.
type Signup struct {
	Email  string
	Name   string
	Topics []string
	Lang   string // the language of the form
}

// ParseSignup validates a signup against the contract: consent must be
// true, topics known (default newsletter).
func ParseSignup(in Input) (Signup, error) {
	errs := FieldErrors{}
	s := Signup{
		Email: checkEmail(errs, "email", in.String(errs, "email")),
		Name:  singleLine(errs, "name", in.String(errs, "name"), false, MaxName),
	}
	s.Topics = parseTopics(errs, in.Strings(errs, "topics"))
	if len(s.Topics) == 0 && !errs.Has("topics") {
		s.Topics = []string{"newsletter"}
	}
	if !in.Bool(errs, "consent") && !errs.Has("consent") {
		errs.Add("consent", Fault(FieldConsentRequired))
	}
	if err := errs.Err(); err != nil {
		return Signup{}, err
	}
	return s, nil
}

// ParseTopics validates a topic list for the preferences route; an empty
// list means no marketing at all.
func ParseTopics(in Input) ([]string, error) {
	errs := FieldErrors{}
	t := parseTopics(errs, in.Strings(errs, "topics"))
	return t, errs.Err()
}

func parseTopics(errs FieldErrors, raw []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range raw {
		if t == "" {
			continue
		}
		if !knownTopic(t) {
			errs.Add("topics", ListOf("newsletter", "events", "product_updates"))
			return nil
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// Subscription is a subject's newsletter subscription.
type Subscription struct {
	Subject        SubjectID
	Email          string
	Name           string
	Topics         []string
	Status         string
	SignupID       string
	RequestedAt    time.Time
	ConfirmedAt    time.Time
	UnsubscribedAt time.Time
	// ConsentVersion names the consent sentence the signup agreed to;
	// PolicyVersion is the policy in force at the last consent act (the
	// confirmation or the withdrawal). A receipt carries both.
	ConsentVersion string
	PolicyVersion  string
	// LegalBasis is the basis the policy in force stated for marketing
	// when the subscription was confirmed ("" in one confirmed before
	// bases were data, which recorded consent).
	LegalBasis string
	// Lang is the language of the signup: the subscriber's emails follow it.
	Lang string
	// Source is the form the signup came from (SourceSignupForm,
	// SourceContactForm; "" in one stored before it was recorded).
	Source string
}

// HasTopic reports whether the subscription includes topic.
func (s Subscription) HasTopic(topic string) bool {
	for _, t := range s.Topics {
		if t == topic {
			return true
		}
	}
	return false
}

// SuppressedSignupDays bounds the confirmation emails a signup sends to
// an address with a bounce or a complaint in force: none while the
// address's subscription ended less than this many days ago (while its
// unsubscribed record is kept: privacy.Retention().Unsubscribed), and
// otherwise at most one per this many days. A confirmed subscription
// shields the address (a signup of it sends nothing); once the sweep ends
// it, this keeps a stranger's signups from mailing the address that
// reported our email as spam, or hammering a dead mailbox, the month
// after, and to once a month later; the person can still opt in again
// (their confirmation lifts the bounce or the complaint).
const SuppressedSignupDays = 30

// SuppressedSignup decides whether a signup of an address whose
// suppressions are recs, and whose subscription ended at ended (zero:
// none ended, or none there), may mail a confirmation at now, and the
// least time since the last confirmation it requires (0: the signup's own
// cooldown). Other reasons than a bounce or a complaint do not hold a
// signup back (the person's own opt-in is what lifts them).
func SuppressedSignup(recs []Suppression, ended, now time.Time) (mail bool, cooldown time.Duration) {
	period := time.Duration(SuppressedSignupDays) * 24 * time.Hour
	for _, r := range recs {
		if r.InForce() && (r.Reason == SuppressBounced || r.Reason == SuppressComplained) {
			cooldown = period
		}
	}
	if cooldown > 0 && !ended.IsZero() && now.Sub(ended) < period {
		return false, 0
	}
	return true, cooldown
}
