package dynamo

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// EventSubscriptionEnded is the ledger's entry of a subscription the sweep
// ended because a bounce or a complaint suppressed its address.
const EventSubscriptionEnded privacy.EventName = "subscription_ended"

// EndSubscription acts on a due suppression of the class c
// (privacy.Retention().SuppressedSubscription, action
// privacy.EndSubscription), keyed S#<subject>: the subject is the key's,
// never an attribute.
//
// On its first sight of the suppression (no privacy.AttrGraceFrom) it
// stamps it with now and files it due when the grace from now ends
// (privacy.EndingStamped): the grace runs from a time only the sweep
// writes, so a suppression written with its since set back (the function
// the internet reaches writes since and the filing) still waits the whole
// week. Once the grace from its stamp has passed, it reads the
// subscription under the suppression's own key (never a forward: a
// subscription that moved to a corrected address is not the bounced
// address's) and, as privacy.EndingOf decides, ends it as an unsubscribe
// does (status unsubscribed with the suppression's reason, topics off and
// out of the subscribers' list, deleted after the unsubscribed class's
// days, the consent's proof withdrawn) but with no email due (nothing
// more goes to a dead or complaining address), with its ledger entry. A
// subscription confirmed after the suppression's since is kept
// (privacy.EndingKept). In the same transaction the suppression is marked
// checked (it stays: it keeps the address unmailed) and leaves the
// retention index, and the subject's holds are checked. Every write to
// the suppression is conditional on the filing as read (retention_at,
// and the stamp), never on attributes the sweep may not write.
//
// So a crash halfway ends all or nothing and a rerun decides again; a
// suppression lifted (deleted), filed anew or a subscription changed
// since it was read ends nothing (privacy.ErrStale: the next run reads it
// again); a legal hold or a restriction in force, or an address
// correction of the subject still open (the approval would move the
// subscription to the new address: ended, it would move ended),
// privacy.ErrHeld; a key that names no subject, or a since that cannot be
// read or is in the future, privacy.ErrUnreadable (never acted on). Dry,
// it reads and decides, and writes nothing.
func (s *Sweep) EndSubscription(ctx context.Context, t privacy.Table, item privacy.Item, c privacy.Class, now time.Time,
	dry bool) (privacy.SubscriptionEnding, error) {
	it, ok := item.(sweepItem)
	if !ok || t != privacy.TableSuppression || c.Action != privacy.EndSubscription {
		return privacy.EndingNone, fmt.Errorf("end subscription: class %s on a %s item: %w", c.Name, t, privacy.ErrUnreadable)
	}
	subject, keyed := strings.CutPrefix(s1(it, attrPK), "S#")
	if !keyed || subject == "" || strings.Contains(subject, "#") {
		return privacy.EndingNone, fmt.Errorf("end subscription: a suppression keyed by no subject: %w", privacy.ErrUnreadable)
	}
	sub := privacy.SubjectID(subject)
	since, ok := it.Time("since")
	if !ok || since.After(now) {
		return privacy.EndingNone, fmt.Errorf("end subscription: the suppression's since: %w", privacy.ErrUnreadable)
	}
	cur, filed := it[attrDueAt]
	if !filed {
		return privacy.EndingNone, privacy.ErrStale // no longer filed: another run has it
	}
	names := map[string]string{"#clock": c.Clock, "#checked": privacy.AttrSubscriptionChecked}
	if !it.Has(c.Clock) {
		if dry {
			return privacy.EndingStamped, nil
		}
		vals := map[string]types.AttributeValue{":cur": cur, ":now": str(ts(now))}
		_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.Tables[t]), Key: it.key(),
			UpdateExpression:          aws.String("SET #clock = :now, " + setDue(vals, it.key(), c.From(now))),
			ConditionExpression:       aws.String(attrDueAt + " = :cur AND attribute_not_exists(#clock) AND attribute_not_exists(#checked)"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: vals})
		if isConditionFailed(err) {
			return privacy.EndingNone, privacy.ErrStale
		}
		if err != nil {
			return privacy.EndingNone, fmt.Errorf("end subscription: stamp the grace: %w", err)
		}
		return privacy.EndingStamped, nil
	}
	subjects := s.Tables[privacy.TableSubjects]
	got, err := s.batchGet(ctx, subjects, []map[string]types.AttributeValue{subKey(sub)})
	if err != nil {
		return privacy.EndingNone, fmt.Errorf("end subscription: %w", err)
	}
	var rec map[string]types.AttributeValue
	if len(got) == 1 {
		rec = got[0]
	}
	reason := s1(it, attrSK)
	confirmedAt, _ := sweepItem(rec).Time("confirmed_at")
	ending := privacy.EndingOf(reason, it.Has("lifted_at"), s1(rec, "status"), confirmedAt, since)
	if ending == privacy.EndingEnd {
		open, err := s.correctionOpen(ctx, sub)
		if err != nil {
			return privacy.EndingNone, err
		}
		if open {
			return privacy.EndingNone, privacy.ErrHeld
		}
	}
	if dry {
		return ending, nil
	}

	// The suppression as filed and stamped when read, not checked yet,
	// marked checked and filed as that leaves it.
	vals := map[string]types.AttributeValue{":cur": cur, ":clock": it[c.Clock], ":now": str(ts(now))}
	checked := sweepItem(maps.Clone(it))
	checked[privacy.AttrSubscriptionChecked] = str(ts(now))
	update := "SET #checked = :now REMOVE " + attrDuePK + ", " + attrDueAt
	if at, ok := privacy.NextDue(privacy.RetentionClasses(), t, checked); ok {
		update = "SET #checked = :now, " + setDue(vals, it.key(), at)
	}
	tx := []types.TransactWriteItem{{Update: &types.Update{TableName: aws.String(s.Tables[t]), Key: it.key(),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(attrDueAt + " = :cur AND #clock = :clock AND attribute_not_exists(#checked)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals}}}
	if ending == privacy.EndingEnd {
		end, err := s.endActions(ctx, sub, rec, reason, s1(it, "since"), now)
		if err != nil {
			return privacy.EndingNone, err
		}
		tx = append(tx, end...)
	}
	checks := len(tx)
	tx = append(tx, s.holdChecks(sub, now)...)
	failed, _, err := s.transact(ctx, tx)
	switch {
	case err != nil:
		return privacy.EndingNone, fmt.Errorf("end subscription: %w", err)
	case slices.ContainsFunc(failed, func(a int) bool { return a >= checks }):
		return privacy.EndingNone, privacy.ErrHeld
	case len(failed) > 0:
		return privacy.EndingNone, privacy.ErrStale
	}
	return ending, nil
}

// correctionOpen reports whether sub has a correction of its address
// still open (privacy.RightsRequest.ChangesAddress, an open status): its
// approval moves the subscription to the new address, so the sweep does
// not end it meanwhile (the bounce is the old address's, and does not
// move). It reads, of the subject's requests (the requests table's
// by-subject index), the type, the field corrected and the status only.
func (s *Sweep) correctionOpen(ctx context.Context, sub privacy.SubjectID) (bool, error) {
	in := &dynamodb.QueryInput{TableName: aws.String(s.Tables[privacy.TableRequests]), IndexName: aws.String("by-subject"),
		KeyConditionExpression:    aws.String("subject = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(string(sub))},
		ExpressionAttributeNames:  map[string]string{"#type": "type", "#status": "status"},
		ProjectionExpression:      aws.String("#type, correction_field, #status"),
		Select:                    types.SelectSpecificAttributes}
	for {
		out, err := s.DB.Query(ctx, in)
		if err != nil {
			return false, fmt.Errorf("end subscription: the subject's corrections: %w", err)
		}
		for _, r := range out.Items {
			if s1(r, "type") == string(privacy.RightRectification) && s1(r, "correction_field") == privacy.FieldEmail &&
				privacy.Status(s1(r, "status")).Open() {
				return true, nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return false, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// endActions are the writes that end the confirmed subscription rec of
// sub, as read: the subscription (conditional on its status and signup
// as read), the consent's proof stamped withdrawn (if one is kept) and
// the ledger's entry.
func (s *Sweep) endActions(ctx context.Context, sub privacy.SubjectID, rec map[string]types.AttributeValue, reason, since string,
	now time.Time) ([]types.TransactWriteItem, error) {
	subjects := aws.String(s.Tables[privacy.TableSubjects])
	ends := privacy.Retention().Unsubscribed.From(now)
	vals := map[string]types.AttributeValue{":unsub": str(privacy.StatusUnsubscribed), ":confirmed": str(privacy.StatusConfirmed),
		":now": str(ts(now)), ":reason": str(reason), ":exp": num(ends.Unix())}
	cond := "#status = :confirmed AND attribute_not_exists(signup_id)"
	signup := s1(rec, "signup_id")
	if signup != "" {
		cond, vals[":sid"] = "#status = :confirmed AND signup_id = :sid", str(signup)
	}
	// As Store.Unsubscribe writes it, but no mail_due: no receipt goes
	// to the address (and one due from before is dropped).
	tx := []types.TransactWriteItem{{Update: &types.Update{TableName: subjects, Key: subKey(sub),
		UpdateExpression: aws.String("SET #status = :unsub, unsubscribed_at = :now, unsubscribed_reason = :reason, expires_at = :exp, " +
			"last_activity_at = :now, " + setDue(vals, subKey(sub), ends) + " REMOVE topics, list_pk, list_sk, " + AttrMailDue),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: vals}}}
	if signup != "" {
		key := map[string]types.AttributeValue{attrPK: str(SubjectPK(sub)), attrSK: str(consentProofSK(signup))}
		proof, err := s.batchGet(ctx, s.Tables[privacy.TableSubjects], []map[string]types.AttributeValue{key})
		if err != nil {
			return nil, fmt.Errorf("end subscription: the consent's proof: %w", err)
		}
		if len(proof) == 1 { // a subscription confirmed before proofs were kept has none
			pv := map[string]types.AttributeValue{":at": str(ts(now))}
			tx = append(tx, types.TransactWriteItem{Update: &types.Update{TableName: subjects, Key: key,
				UpdateExpression: aws.String("SET withdrawn_at = if_not_exists(withdrawn_at, :at), " +
					setDueIfNone(pv, key, privacy.Retention().ConsentProof.From(now))),
				ConditionExpression:       aws.String("attribute_exists(pk)"),
				ExpressionAttributeValues: pv}})
		}
	}
	put, err := ledgerPutIn(s.Tables[privacy.TableLedger], privacy.Event{Subject: sub, Name: EventSubscriptionEnded, At: now,
		Ref: reason, Purpose: privacy.PurposeMarketing, LegalBasis: privacy.BasisLegalObligation,
		Detail: map[string]string{"suppression": reason, "suppressed_since": since, "by": "retention_sweep"}})
	if err != nil {
		return nil, err
	}
	return append(tx, types.TransactWriteItem{Put: put}), nil
}
