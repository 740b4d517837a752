// Package feedback turns SES bounce and complaint notifications into
// suppressions: a hard bounce or a complaint suppresses the address at once,
// soft bounces after a threshold. It reads both shapes SES sends:
// identity notifications ("notificationType") and configuration-set events
// ("eventType").
package feedback

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"strings"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Kinds of feedback.
const (
	HardBounce = "hard_bounce"
	SoftBounce = "soft_bounce"
	Complaint  = "complaint"
	Other      = "other" // deliveries, opens, ...: nothing to do
)

// Feedback is what one notification says.
type Feedback struct {
	Kind       string
	SubType    string
	Recipients []string // normalised addresses
	MessageID  string   // the SES message id it is about
}

type notification struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Mail             struct {
		MessageID string `json:"messageId"`
	} `json:"mail"`
	Bounce *struct {
		BounceType        string `json:"bounceType"`
		BounceSubType     string `json:"bounceSubType"`
		BouncedRecipients []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint *struct {
		ComplaintFeedbackType string `json:"complaintFeedbackType"`
		ComplainedRecipients  []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
	} `json:"complaint"`
}

// Parse reads an SES notification (the SNS message body).
func Parse(body []byte) (Feedback, error) {
	var n notification
	if err := json.Unmarshal(body, &n); err != nil {
		return Feedback{}, fmt.Errorf("ses notification: %w", err)
	}
	typ := n.NotificationType
	if typ == "" {
		typ = n.EventType
	}
	f := Feedback{Kind: Other, MessageID: n.Mail.MessageID}
	switch strings.ToLower(typ) {
	case "bounce":
		if n.Bounce == nil {
			return Feedback{}, fmt.Errorf("ses notification: bounce without details")
		}
		f.Kind, f.SubType = SoftBounce, n.Bounce.BounceSubType
		if n.Bounce.BounceType == "Permanent" {
			f.Kind = HardBounce
		}
		for _, r := range n.Bounce.BouncedRecipients {
			f.Recipients = appendAddr(f.Recipients, r.EmailAddress)
		}
	case "complaint":
		if n.Complaint == nil {
			return Feedback{}, fmt.Errorf("ses notification: complaint without details")
		}
		f.SubType = n.Complaint.ComplaintFeedbackType
		// "not-spam" is a recipient taking back a spam verdict: no complaint.
		if f.SubType != "not-spam" {
			f.Kind = Complaint
		}
		for _, r := range n.Complaint.ComplainedRecipients {
			f.Recipients = appendAddr(f.Recipients, r.EmailAddress)
		}
	}
	return f, nil
}

// appendAddr adds an address, which SES may give as "Name <a@b>".
func appendAddr(list []string, raw string) []string {
	addr := raw
	if a, err := mail.ParseAddress(raw); err == nil {
		addr = a.Address
	}
	addr = privacy.NormalizeEmail(addr)
	if !privacy.ValidEmail(addr) {
		return list
	}
	return append(list, addr)
}
