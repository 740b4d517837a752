// Package ropa builds the record of processing activities (GDPR Art. 30)
// from the code's own tables: the purposes and the legal bases the policy
// version in force states, the retention classes with their periods and
// reasons, the sources, the recipients and the processors registered to be
// told of erasures. What is descriptive (the categories of people and
// data) is written here, beside the class each activity keeps; a retention
// class or a purpose added without its activity fails the package's test.
package ropa

import (
	"fmt"
	"slices"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Record is the Art. 30(1) record of the controller and, for the Platform,
// the Art. 30(2) record of the processor.
type Record struct {
	Controller    string     `json:"controller"`
	Contact       string     `json:"contact"`
	PolicyVersion string     `json:"policy_version"`
	GeneratedAt   string     `json:"generated_at"`
	Activities    []Activity `json:"activities"`
	// Security are the technical and organisational measures (Art.
	// 30(1)(g), Art. 32), as docs/security.md details them.
	Security []string `json:"security_measures"`
}

// Activity is one processing activity.
type Activity struct {
	Name string `json:"name"`
	// Role: "controller" (the Sites) or "processor" (the Platform, on its
	// clients' instructions).
	Role       string      `json:"role"`
	Purpose    string      `json:"purpose"`
	LegalBasis string      `json:"legal_basis"`
	People     []string    `json:"categories_of_people"`
	Data       []string    `json:"categories_of_data"`
	Sources    []string    `json:"sources"`
	Recipients []string    `json:"recipients"`
	Transfers  string      `json:"transfers"`
	Storage    string      `json:"storage"`
	Retention  []Retention `json:"retention"`
}

// Retention is one retention class of an activity.
type Retention struct {
	Record string `json:"record"`
	Period string `json:"period"`
	Why    string `json:"why"`
}

// PurposePlatform is the Platform's processing on its clients' behalf.
const PurposePlatform = "platform_processing"

// activity is what the code does not know of an activity: its words, and
// the retention classes (by name) it keeps.
type activity struct {
	name, role, purpose string
	people, data        []string
	sources             []int // indexes into privacy.Sources(); the Platform's are its clients
	classes             []string
}

func activities() []activity {
	return []activity{
		{name: "Answering what people write through the contact form", role: "controller", purpose: privacy.PurposeRespondToInquiry,
			people:  []string{"visitors of the Sites who write to us", "prospects and clients' staff"},
			data:    []string{"name", "email address", "company", "phone number", "the message", "request metadata (IP address, browser, language, referrer)"},
			sources: []int{0, 1}, classes: []string{"contact_inquiry", "request_metadata", "ledger_request_metadata", "rate_counter"}},
		{name: "Newsletter and marketing email, with a double opt-in", role: "controller", purpose: privacy.PurposeMarketing,
			people:  []string{"subscribers", "people who asked to subscribe and did not confirm"},
			data:    []string{"email address", "name (optional)", "topics", "the consent sentence and its version", "confirmation and unsubscription times and request metadata", "delivery feedback (bounces, complaints)"},
			sources: []int{0, 1, 2}, classes: []string{"unconfirmed_signup", "unsubscribed_subscriber", "consent_proof", "sent_marker", "campaign_record", "policy_notice", "moved_address_forward", "suppressed_subscription"}},
		{name: "Privacy requests (access, rectification, erasure, objection, restriction, portability, withdrawal)", role: "controller",
			purpose: privacy.PurposePrivacyRequests,
			people:  []string{"requesters", "authorised agents", "parents and guardians", "recipients the requester names"},
			data:    []string{"email address", "name", "what the request asks and says", "the team's questions and the answers", "identity verification and the decisions, with who took them", "the accountability ledger"},
			sources: []int{0, 1}, classes: []string{"unverified_rights_request", "expired_rights_request", "finished_rights_request_address", "lifted_restriction_address", "completed_rights_request", "recipient_delivery", "ledger_entry"}},
		{name: "The Platform: records clients hand over, and their people's requests (OpenDSR)", role: "processor", purpose: PurposePlatform,
			people:  []string{"the clients' own users (their customers and prospects)"},
			data:    []string{"the identities the Platform uses (advertising ids, customer ids, email addresses)", "the attributes each client chooses to send", "the requests the client relays"},
			classes: []string{"client_termination", "completed_platform_request", "callback_delivery"}},
	}
}

// Build is the record at now, of the controller (its name and the team's
// contact), under policy (the version in force: its bases), with the
// processors registered to be told of erasures, stored in region.
func Build(controller, contact, region string, policy privacy.PolicyVersion, processors []privacy.Processor, now time.Time) (Record, error) {
	classes := map[string]privacy.Class{}
	for _, c := range privacy.RetentionClasses() {
		classes[c.Name] = c
	}
	r := Record{Controller: controller, Contact: contact, PolicyVersion: policy.Version, GeneratedAt: now.UTC().Format(time.RFC3339),
		Security: security()}
	recipients := slices.Clone(privacy.Recipients())
	for _, p := range processors {
		recipients = append(recipients, p.Name+" (a processor, told of erasures)")
	}
	storage := fmt.Sprintf("Amazon DynamoDB and Lambda in AWS region %s, encrypted at rest", region)
	for _, a := range activities() {
		act := Activity{Name: a.name, Role: a.role, Purpose: a.purpose, People: a.people, Data: a.data, Recipients: recipients,
			Storage: storage, Transfers: "none outside the region but to the processors named, under their contracts"}
		switch a.purpose {
		case PurposePlatform:
			act.LegalBasis = "the client's instructions (Art. 28); the client is the controller"
			act.Sources = []string{"the client (the controller), through the OpenDSR API"}
			act.Recipients = []string{"Amazon Web Services (hosting, as our sub-processor)", "the client that handed the data over"}
		case privacy.PurposePrivacyRequests:
			act.LegalBasis = privacy.BasisLegalObligation
		default:
			act.LegalBasis = policy.Basis(a.purpose)
		}
		for _, i := range a.sources {
			act.Sources = append(act.Sources, privacy.Sources()[i])
		}
		for _, name := range a.classes {
			c, ok := classes[name]
			if !ok {
				return Record{}, fmt.Errorf("ropa: activity %q keeps retention class %q, which the code does not have", a.purpose, name)
			}
			period := fmt.Sprintf("%d days from %s", c.Days, c.Clock)
			if c.Clock == privacy.ClockExpiry {
				period = fmt.Sprintf("%d days (until it expires)", c.Days)
			}
			act.Retention = append(act.Retention, Retention{Record: c.Name, Period: period, Why: c.Why})
		}
		r.Activities = append(r.Activities, act)
	}
	return r, nil
}

func security() []string {
	return []string{
		"personal data keyed by keyed hashes of the address (HMAC), never the address itself, across tables",
		"encryption at rest (DynamoDB, SQS, Secrets Manager) and in transit (TLS)",
		"least privilege: each function's IAM role names only the tables, keys and attributes it uses",
		"links in emails signed (HMAC-SHA256), scoped to one purpose and expiring; no login needed, no address in them",
		"retention enforced by TTL and a scheduled sweep from one table of classes",
		"an append-only ledger of every consent and decision, with who took it; the team's views of a person recorded",
		"no personal data in logs (structured logs, checked by tests)",
		"per-address and per-source limits on every form that mails",
		"the privacy team signs in with MFA-capable single sign-on; sessions bound and ended on removal",
	}
}
