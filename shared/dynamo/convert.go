package dynamo

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// tsLayout is how every stored time is written: UTC, fixed width to the
// nanosecond, so that the strings sort and compare as the times do (sort
// keys, index keys, conditions). Items written before it carry RFC 3339
// with the fraction trimmed (or whole seconds); parseTS reads both, and the
// two forms misorder only within one second.
const tsLayout = "2006-01-02T15:04:05.000000000Z"

func ts(t time.Time) string { return t.UTC().Format(tsLayout) }

// timeIs is the condition that attr holds t as stored in either form
// (tsLayout, or the older RFC 3339 with the fraction trimmed), with its
// values under the placeholder v: a condition "unchanged since read" on a
// time read through parseTS compares what was read, not only ts's
// rendering of it.
func timeIs(attr, v string, t time.Time) (string, map[string]types.AttributeValue) {
	fixed, trimmed := ts(t), t.UTC().Format(time.RFC3339Nano)
	if fixed == trimmed {
		return attr + " = " + v, map[string]types.AttributeValue{v: str(fixed)}
	}
	return attr + " IN (" + v + ", " + v + "t)", map[string]types.AttributeValue{v: str(fixed), v + "t": str(trimmed)}
}

// tsOpt is ts, or "" for the zero time (an attribute left out).
func tsOpt(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return ts(t)
}

// parseTS reads a stored time in either form; "" is the zero time.
func parseTS(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// recipientRecord is a request's summary of one delivery, as stored on the
// request item (recipients.<processor id>).
type recipientRecord struct {
	Name  string `dynamodbav:"name"`
	State string `dynamodbav:"state"`
	At    stamp  `dynamodbav:"at,omitempty"`
}

func toRequestRecord(r privacy.RightsRequest) requestRecord {
	rec := requestRecord{ID: r.ID, Kind: KindRequest, Subject: string(r.Subject), Email: r.Email, Name: r.Name, Type: r.Type,
		Details: r.Details, Relationship: r.Relationship, Regulation: r.Regulation, Scope: r.Scope, Recipient: r.RecipientEmail, FixField: r.Correction.Field, FixValue: r.Correction.Value, ParentEmail: r.ParentEmail, AgentEmail: r.AgentEmail, Status: r.Status,
		ReceivedAt: stamp{r.ReceivedAt}, DueAt: deadline{r.DueAt}, OriginalDueAt: deadline{r.OriginalDueAt}, Extended: deadline{r.ExtendedUntil},
		CompletedAt: stamp{r.CompletedAt}, VerifyNonce: r.VerifyNonce, VerifySentAt: stamp{r.VerifySentAt},
		VerifiedAt: stamp{r.VerifiedAt}, Excessive: r.Excessive, Withheld: r.Withheld, Reason: r.Reason,
		ExtensionReason: r.ExtensionReason, DecidedBy: r.DecidedBy, MailDue: r.MailDue.String(), Source: r.Source, Channel: r.Channel,
		Controller: r.Controller, CallbackURLs: r.CallbackURLs, IdentityKeys: r.IdentityKeys, GroupID: r.GroupID,
		OpenDSRVersion: r.OpenDSRVersion, FulfilAfter: stamp{r.FulfilAfter}, AttemptedAt: stamp{r.AttemptedAt}, BodyDigest: r.BodyDigest,
		ResultsCount: r.ResultsCount, MailPending: r.MailPending.String(), PolicyVersion: r.PolicyVersion, ReceivedPolicyVersion: r.ReceivedPolicyVersion,
		Lang: r.Lang, AgentConfirmedAt: stamp{r.AgentConfirmedAt}, NewAddressConfirmedAt: stamp{r.NewAddressConfirmedAt},
		MailHeld: r.MailHeld, Question: r.Question, AskedAt: stamp{r.AskedAt}, AskedFrom: r.AskedFrom, AskNonce: r.AskNonce,
		Answer: r.Answer, AnsweredAt: stamp{r.AnsweredAt}}
	if r.GroupID != "" {
		rec.GroupKey = r.Controller + "#" + r.GroupID
	}
	if len(r.Recipients) > 0 {
		rec.Recipients = make(map[string]recipientRecord, len(r.Recipients))
		for id, rc := range r.Recipients {
			rec.Recipients[id] = recipientRecord{Name: rc.Name, State: rc.State, At: stamp{rc.At}}
		}
	}
	return rec
}

func (rec requestRecord) domain() (privacy.RightsRequest, error) {
	r := privacy.RightsRequest{ID: rec.ID, Subject: privacy.SubjectID(rec.Subject), Email: rec.Email, Name: rec.Name,
		Type: rec.Type, Details: rec.Details, Relationship: rec.Relationship, Regulation: rec.Regulation, Scope: rec.Scope, RecipientEmail: rec.Recipient, Correction: privacy.Correction{Field: rec.FixField, Value: rec.FixValue},
		ParentEmail: rec.ParentEmail, AgentEmail: rec.AgentEmail,
		Status:      rec.Status,
		VerifyNonce: rec.VerifyNonce, Excessive: rec.Excessive, Withheld: rec.Withheld, Reason: rec.Reason,
		ExtensionReason: rec.ExtensionReason, DecidedBy: rec.DecidedBy, MailDue: privacy.ParseMailDue(rec.MailDue),
		Source: rec.Source, Channel: rec.Channel, Controller: rec.Controller, CallbackURLs: rec.CallbackURLs, OpenDSRVersion: rec.OpenDSRVersion,
		IdentityKeys: rec.IdentityKeys, GroupID: rec.GroupID,
		BodyDigest: rec.BodyDigest, ResultsCount: rec.ResultsCount, MailPending: privacy.ParseMailDue(rec.MailPending),
		PolicyVersion: rec.PolicyVersion, ReceivedPolicyVersion: rec.ReceivedPolicyVersion, Lang: rec.Lang, MailHeld: rec.MailHeld,
		Question: rec.Question, AskedFrom: rec.AskedFrom, AskNonce: rec.AskNonce, Answer: rec.Answer,
		ReceivedAt: rec.ReceivedAt.Time, DueAt: rec.DueAt.Time, OriginalDueAt: rec.OriginalDueAt.Time, ExtendedUntil: rec.Extended.Time,
		CompletedAt: rec.CompletedAt.Time, VerifySentAt: rec.VerifySentAt.Time, VerifiedAt: rec.VerifiedAt.Time,
		FulfilAfter: rec.FulfilAfter.Time, AttemptedAt: rec.AttemptedAt.Time, AgentConfirmedAt: rec.AgentConfirmedAt.Time,
		NewAddressConfirmedAt: rec.NewAddressConfirmedAt.Time, AskedAt: rec.AskedAt.Time, AnsweredAt: rec.AnsweredAt.Time}
	if len(rec.Recipients) > 0 {
		r.Recipients = make(map[string]privacy.Recipient, len(rec.Recipients))
		for id, rc := range rec.Recipients {
			r.Recipients[id] = privacy.Recipient{Name: rc.Name, State: rc.State, At: rc.At.Time}
		}
	}
	return r, nil
}
