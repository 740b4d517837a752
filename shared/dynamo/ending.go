package dynamo

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// EventSubscriptionEnded is the ledger's entry of a subscription the sweep
// ended because a bounce or a complaint suppressed its address.
const EventSubscriptionEnded privacy.EventName = "subscription_ended"

// EndSubscription acts on a due suppression of the class c
// (privacy.Retention().SuppressedSubscription, action
// privacy.EndSubscription): it reads the subscription under the
// suppression's own key (never a forward: a subscription that moved to a
// corrected address is not the bounced address's) and, as
// privacy.EndingOf decides, ends it as an unsubscribe does (status
// unsubscribed with the suppression's reason, topics off and out of the
// subscribers' list, deleted after the unsubscribed class's days, the
// consent's proof withdrawn) but with no email due (nothing more goes to
// a dead or complaining address), with its ledger entry. In the same
// transaction the suppression is marked checked (it stays: it keeps the
// address unmailed) and leaves the retention index, and the subject's
// holds are checked. So a crash halfway ends all or nothing and a rerun
// decides again; a suppression lifted (deleted) or changed since it was
// read, or a subscription changed since, ends nothing (privacy.ErrStale:
// it stays filed, and the next run reads it again); a legal hold or a
// restriction in force, privacy.ErrHeld. Dry, it reads and decides, and
// writes nothing.
func (s *Sweep) EndSubscription(ctx context.Context, t privacy.Table, item privacy.Item, c privacy.Class, now time.Time,
	dry bool) (privacy.SubscriptionEnding, error) {
	it, ok := item.(sweepItem)
	sub, has := item.Subject()
	if !ok || !has || t != privacy.TableSuppression || c.Action != privacy.EndSubscription {
		return privacy.EndingNone, fmt.Errorf("end subscription: class %s on a %s item", c.Name, t)
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
	ending := privacy.EndingOf(reason, it.Has("lifted_at"), s1(rec, "status"))
	if dry {
		return ending, nil
	}

	// The suppression as read (its clock), in force and not checked yet,
	// marked checked and filed as that leaves it.
	names := map[string]string{"#clock": c.Clock, "#checked": privacy.AttrSubscriptionChecked}
	vals := map[string]types.AttributeValue{":clock": it[c.Clock], ":now": str(ts(now))}
	checked := sweepItem(maps.Clone(it))
	checked[privacy.AttrSubscriptionChecked] = str(ts(now))
	update := "SET #checked = :now REMOVE " + attrDuePK + ", " + attrDueAt
	if at, ok := privacy.NextDue(privacy.RetentionClasses(), t, checked); ok {
		update = "SET #checked = :now, " + setDue(vals, it.key(), at)
	}
	tx := []types.TransactWriteItem{{Update: &types.Update{TableName: aws.String(s.Tables[t]), Key: it.key(),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#clock = :clock AND attribute_not_exists(#checked) AND attribute_not_exists(lifted_at)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals}}}
	if ending == privacy.EndingEnd {
		end, err := s.endActions(ctx, sub, rec, reason, s1(it, c.Clock), now)
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
