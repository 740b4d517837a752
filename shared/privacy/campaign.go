package privacy

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// A campaign is sent in two steps: the planner reads the topic's confirmed
// subscribers a page at a time and queues them in batches (subject ids
// only, no address), and senders on the queue mail each batch at the
// account's send rate. The campaign's record holds what it sends and how
// far planning got; each batch's record holds what became of it.

// Campaign states.
const (
	CampaignPlanning = "planning" // pages are still being queued
	CampaignPlanned  = "planned"  // every subscriber is queued
)

// CampaignPlan is a campaign as the team asked for it and how far its
// planning got.
type CampaignPlan struct {
	ID, Topic, Subject, Body string
	// Translations are the campaign's subject and body in other languages,
	// by language (one of Languages, not the default's): a subscriber who
	// signed up in one reads it, the others Subject and Body.
	Translations map[string]CampaignText
	State        string
	// Cursor is where the next page of subscribers starts; Pages how many
	// pages were queued, which numbers the batches.
	Cursor string
	Pages  int
	// Planned counts the subscribers of the topic queued, in Batches
	// batches; NotOnTopic the confirmed subscribers without the topic.
	Planned, Batches, NotOnTopic int
	Created, Updated             time.Time
}

// SameContent reports whether p sends what q sends: a campaign id names
// one email, so a second run with other content is refused.
func (p CampaignPlan) SameContent(q CampaignPlan) bool {
	return p.Topic == q.Topic && p.Subject == q.Subject && p.Body == q.Body && maps.Equal(p.Translations, q.Translations)
}

// CampaignText is a campaign's subject and body in one language.
type CampaignText struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// CampaignBatch is one queued message: up to CampaignBatchSize subjects
// of one campaign. Seq names it within the campaign ("<page>-<n>"), so a
// batch queued again by a planner killed before its checkpoint has the
// same name and its record is the same record.
type CampaignBatch struct {
	Campaign string      `json:"campaign_id"`
	Seq      string      `json:"batch"`
	Subjects []SubjectID `json:"subjects"`
}

// CampaignBatchSize is how many subjects one queued message carries.
const CampaignBatchSize = 50

// CampaignTally is what became of one batch's subjects, or of a whole
// campaign's. Sent counts every email of the campaign that went out,
// whichever try sent it, so a batch tried again tallies the same.
type CampaignTally struct {
	Sent       int `json:"sent"`
	Suppressed int `json:"skipped_suppressed"`
	Restricted int `json:"skipped_restricted"`
	// NotOnTopic counts subjects no longer subscribed to the topic (or no
	// longer subscribed) when their batch was sent.
	NotOnTopic int `json:"skipped_topic"`
	// Rejected counts messages SES refused for good: never retried.
	Rejected int `json:"rejected"`
	// Failed counts sends that failed for a reason that passes: the batch
	// is tried again.
	Failed int `json:"failed"`
}

// Add adds u to t.
func (t *CampaignTally) Add(u CampaignTally) {
	t.Sent += u.Sent
	t.Suppressed += u.Suppressed
	t.Restricted += u.Restricted
	t.NotOnTopic += u.NotOnTopic
	t.Rejected += u.Rejected
	t.Failed += u.Failed
}

// Total counts every subject the tally accounts for.
func (t CampaignTally) Total() int {
	return t.Sent + t.Suppressed + t.Restricted + t.NotOnTopic + t.Rejected + t.Failed
}

var campaignID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$`)

// ValidCampaign checks what the team asked for.
func ValidCampaign(p CampaignPlan) error {
	switch {
	case !campaignID.MatchString(p.ID):
		return errors.New("campaign_id: 1 to 80 letters, digits, '.', '_' or '-'")
	case !slices.Contains(Topics(), p.Topic):
		return fmt.Errorf("topic: must be one of: %s", strings.Join(Topics(), ", "))
	case p.Subject == "" || p.Body == "":
		return errors.New("subject and body: required")
	}
	// Every subscriber reads them: nothing in them may hide or reorder
	// text (fourth review), and a subject is one line.
	errs := FieldErrors{}
	singleLine(errs, "subject", p.Subject, true, MaxCampaignSubject)
	multiLine(errs, "body", p.Body, true, MaxCampaignBody)
	for lang, t := range p.Translations {
		if lang == Languages()[0] || !slices.Contains(Languages(), lang) {
			return fmt.Errorf("translations: a language of %s", strings.Join(Languages()[1:], ", "))
		}
		singleLine(errs, "translations."+lang+".subject", t.Subject, true, MaxCampaignSubject)
		multiLine(errs, "translations."+lang+".body", t.Body, true, MaxCampaignBody)
	}
	if fields := slices.Sorted(maps.Keys(errs)); len(fields) > 0 {
		return fmt.Errorf("%s: %s", fields[0], errs[fields[0]].Code)
	}
	return nil
}

// The longest campaign subject and body.
const (
	MaxCampaignSubject = 200
	MaxCampaignBody    = 50000
)
