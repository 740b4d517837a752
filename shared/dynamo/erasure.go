package dynamo

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Erase deletes everything held under a subject, in every table, each by
// its key (no scan): the subject's partition of the subjects table, the
// addresses in its other requests; its ledger entries are redacted (their
// detail goes, their hash stays for the day's seal: redactLedger). The suppression
// hash stays, with reason "erased", so the person is never mailed marketing
// by mistake; one ledger entry records the erasure, without any address.
// Under a legal hold nothing is deleted and withheld is true. deleted
// counts the items that were held before this request (not the ledger
// entries requestID wrote itself). Erase is idempotent: running it again
// after a failure finishes the job.
func (s *Store) Erase(ctx context.Context, subject privacy.SubjectID, requestID string, e privacy.Event) (withheld bool, deleted int, err error) {
	return s.EraseBefore(ctx, subject, time.Time{}, requestID, e)
}

// EraseBefore is Erase of what is older than before (all when zero): what
// the person gave after an erasure they later asked anew (a lifted
// erasure) stays when a restore's erasure is re-applied. An item's age is
// its first clock (created_at, confirm_requested_at, at, received_at,
// restricted_at, since); one with none counts as old.
func (s *Store) EraseBefore(ctx context.Context, subject privacy.SubjectID, before time.Time, requestID string,
	e privacy.Event) (withheld bool, deleted int, err error) {
	items, err := s.SubjectItems(ctx, subject)
	if err != nil {
		return false, 0, err
	}
	entries, err := s.LedgerEntries(ctx, subject)
	if err != nil {
		return false, 0, err
	}
	reqs, err := s.SubjectRequests(ctx, subject, time.Time{})
	if err != nil {
		return false, 0, err
	}
	wrote, err := s.recordMissingEntries(ctx, items, reqs, entries, e.At)
	if err != nil {
		return false, 0, err
	}
	if len(wrote) > 0 {
		if entries, err = s.LedgerEntries(ctx, subject); err != nil {
			return false, 0, err
		}
	}
	// An entry an erasure redacted before holds nothing more to erase.
	entries = slices.DeleteFunc(entries, func(it map[string]types.AttributeValue) bool { return s1(it, ledger.AttrRedactedBy) != "" })
	plan := privacy.PlanErasure(held(items), held(entries), reqs, before, requestID, e.At)
	// The entries it wrote itself were not held before: not counted (the
	// request's own are not, already).
	for _, i := range plan.Ledger {
		if ref := s1(entries[i], "ref"); ref != requestID && slices.Contains(wrote, [2]string{s1(entries[i], "event"), ref}) {
			plan.Deleted--
		}
	}
	if plan.Withheld {
		return true, 0, nil
	}
	if err := s.batchDelete(ctx, s.tables.Subjects, keysAt(items, plan.Items)); err != nil {
		return false, 0, err
	}
	if err := s.redactLedger(ctx, entries, plan.Ledger, requestID); err != nil {
		return false, 0, err
	}
	for _, id := range plan.Strip {
		if err := s.StripRequestAddress(ctx, id); err != nil {
			return false, 0, err
		}
		if err := s.stripDeliveries(ctx, id); err != nil {
			return false, 0, err
		}
	}
	if !plan.Suppress {
		// A lifted erasure re-applied: the person asked anew since, so
		// their suppression stays lifted; the ledger records the run.
		if err := s.RecordEvent(ctx, e); err != nil {
			return false, 0, err
		}
		return false, plan.Deleted, nil
	}
	// An erasure after an earlier one was lifted starts its record anew.
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Suppression,
		Key:              map[string]types.AttributeValue{attrPK: str(SubjectPK(subject)), attrSK: str(privacy.SuppressErased)},
		UpdateExpression: aws.String("SET since = :now REMOVE lifted_at"), ConditionExpression: aws.String("attribute_exists(lifted_at)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": str(ts(e.At))}})
	if err != nil && !isConditionFailed(err) {
		return false, 0, fmt.Errorf("erase: %w", err)
	}
	if err := s.Suppress(ctx, subject, privacy.SuppressErased, e); err != nil {
		return false, 0, err
	}
	return false, plan.Deleted, nil
}

// held is what an erasure weighs of stored items: each one's sort key,
// first clock (created_at, confirm_requested_at, at, received_at,
// restricted_at, since), ref, and the legal hold it is.
func held(items []map[string]types.AttributeValue) []privacy.Held {
	out := make([]privacy.Held, len(items))
	for i, it := range items {
		h := privacy.Held{SK: s1(it, attrSK), Ref: s1(it, "ref")}
		for _, clock := range []string{"created_at", "confirm_requested_at", "at", "received_at", "restricted_at", "since"} {
			if t, err := parseTS(s1(it, clock)); err == nil && !t.IsZero() {
				h.Clock = t
				break
			}
		}
		if h.SK == privacy.HoldLegal {
			// A hold whose end cannot be read protects the data as one
			// without an end does (Until zero): it never lapses by a
			// corrupt date.
			hold, err := decodeHold(it)
			if err != nil {
				hold.Until = time.Time{}
			}
			h.Hold = &hold
		}
		out[i] = h
	}
	return out
}

// keysAt are the keys of the items at the indexes.
func keysAt(items []map[string]types.AttributeValue, at []int) []map[string]types.AttributeValue {
	keys := make([]map[string]types.AttributeValue, 0, len(at))
	for _, i := range at {
		keys = append(keys, map[string]types.AttributeValue{attrPK: items[i][attrPK], attrSK: items[i][attrSK]})
	}
	return keys
}

// SetOutcome records an outcome (completed with completed_at), makes its
// email due, and writes e to the ledger, in one transaction. An outcome is
// the lifecycle's fulfil step (privacy.StepFulfil): written only while the
// request is where that step starts, so a denial, cancellation or expiry
// that crossed a running fulfilment stands and the outcome is
// privacy.ErrStale, nothing written.
func (s *Store) SetOutcome(ctx context.Context, id string, o privacy.Outcome, e privacy.Event) error {
	if !slices.ContainsFunc(privacy.StepFulfil.From(), func(from privacy.Status) bool { return privacy.StepFulfil.Allowed(from, o.Status) }) {
		return fmt.Errorf("outcome of %s: %q is not where fulfilment goes", id, o.Status)
	}
	set := "SET #s = :status, withheld = :w"
	vals := map[string]types.AttributeValue{":status": str(o.Status), ":w": &types.AttributeValueMemberBOOL{Value: o.Withheld}}
	var deliveries []types.TransactWriteItem
	queued := false // a delivery still to be tried holds the email back
	if len(o.Deliveries) > 0 {
		sums := map[string]types.AttributeValue{}
		for _, d := range o.Deliveries {
			put, err := s.deliveryPut(d, e.At)
			if err != nil {
				return err
			}
			deliveries = append(deliveries, put)
			state := initialState(d)
			queued = queued || state == privacy.RecipientQueued
			sum, err := marshalValue(recipientRecord{Name: d.ProcessorName, State: state, At: stamp{e.At}})
			if err != nil {
				return fmt.Errorf("marshal recipient: %w", err)
			}
			sums[d.ProcessorID] = sum
		}
		set += ", recipients = :rcpt"
		vals[":rcpt"] = &types.AttributeValueMemberM{Value: sums}
	}
	switch {
	case !o.MailDue.IsZero() && queued:
		set += ", mail_pending = :due"
		vals[":due"] = str(o.MailDue.String())
	case !o.MailDue.IsZero():
		// An outcome that makes no email due (an OpenDSR request's) leaves
		// mail_due alone, so the mailer is not invoked for nothing.
		set += ", mail_due = :due"
		vals[":due"] = str(o.MailDue.String())
	}
	if o.Status == privacy.RequestCompleted {
		set += ", completed_at = if_not_exists(completed_at, :now), " + setDue(vals, requestKey(id), e.At)
		vals[":now"] = str(ts(e.At))
	}
	if e.PolicyVersion != "" {
		set += ", policy_version = :pv"
		vals[":pv"] = str(e.PolicyVersion)
	}
	if o.Restricts {
		set += ", " + privacy.AttrRestricts + " = :r"
		vals[":r"] = &types.AttributeValueMemberBOOL{Value: true}
	}
	if o.Results != nil {
		set += ", results_count = :n"
		vals[":n"] = num(int64(*o.Results))
	}
	items, err := s.withLedger(e, types.TransactWriteItem{Update: &types.Update{TableName: &s.tables.Requests, Key: requestKey(id),
		UpdateExpression: aws.String(set), ConditionExpression: aws.String(statusIn(vals, privacy.StepFulfil.From())),
		ExpressionAttributeNames: map[string]string{"#s": "status"}, ExpressionAttributeValues: vals}})
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append(items, deliveries...)})
	if refusedAt(err, 0) {
		return privacy.ErrStale
	}
	if err != nil {
		return fmt.Errorf("request outcome: %w", err)
	}
	return nil
}

// StripRequestAddress removes the personal data from a request record
// (the address and what the requester and the team wrote of the person:
// details, question, answer) once its last email has gone, and that
// email's mail_due with it: later
// changes (a recipient's progress) make nothing due again. The record
// itself stays for accountability (its own retention class).
// forgetRequester removes a request's address and what its requester
// wrote (#n is "name").
const forgetRequester = "REMOVE email, #n, details, recipient_email, correction_value, parent_email, agent_email, question, answer, mail_due"

func (s *Store) StripRequestAddress(ctx context.Context, id string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Requests, Key: requestKey(id),
		UpdateExpression:         aws.String(forgetRequester),
		ConditionExpression:      aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames: map[string]string{"#n": "name"}})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("strip request address: %w", err)
	}
	return nil
}

// stripDeliveries removes the person's address from the deliveries of
// request id to its processors (identity_value: what an email to a
// processor without an API names them by, kept until it confirms or is
// overdue). An erasure strips them with the request: the processors were
// told, or are told of the erasure itself.
func (s *Store) stripDeliveries(ctx context.Context, id string) error {
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.Requests,
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :rcpt)"),
		ProjectionExpression:      aws.String("pk, sk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str("R#" + id), ":rcpt": str("RCPT#")},
		ConsistentRead:            aws.Bool(true)})
	if err != nil {
		return fmt.Errorf("strip deliveries: %w", err)
	}
	for _, it := range items {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Requests,
			Key:                 map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]},
			UpdateExpression:    aws.String("REMOVE identity_value"),
			ConditionExpression: aws.String("attribute_exists(identity_value)")})
		if err != nil && !isConditionFailed(err) {
			return fmt.Errorf("strip delivery: %w", err)
		}
	}
	return nil
}

func (s *Store) batchDelete(ctx context.Context, table string, keys []map[string]types.AttributeValue) error {
	for i := 0; i < len(keys); i += 25 {
		var reqs []types.WriteRequest
		for _, k := range keys[i:min(i+25, len(keys))] {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
		}
		for attempt := 0; len(reqs) > 0; attempt++ {
			if err := unprocessedPause(ctx, attempt); err != nil {
				return fmt.Errorf("erase: %d deletes on %s: %w", len(reqs), table, err)
			}
			out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
			if err != nil {
				return fmt.Errorf("erase from %s: %w", table, err)
			}
			reqs = out.UnprocessedItems[table]
		}
	}
	return nil
}
