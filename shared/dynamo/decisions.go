package dynamo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Transition applies t with its ledger entry, in one transaction. When the
// request is no longer in one of t.From (decided by someone else first, or
// never in that state) it returns privacy.ErrStale and changes nothing.
// t.From defaults to its step's; a transition the lifecycle does not hold
// (privacy.Steps) is refused before anything is written.
func (s *Store) Transition(ctx context.Context, id string, t privacy.Transition, e privacy.Event) error {
	if len(t.From) == 0 {
		t.From = t.Step.From()
	}
	for _, from := range t.From {
		if !t.Step.Allowed(from, t.Status) {
			return fmt.Errorf("transition of %s: %q from %s to %q is not in the lifecycle", id, t.Step, from, t.Status)
		}
	}
	set := "SET decided_at = :now"
	names := map[string]string{"#s": "status"}
	vals := map[string]types.AttributeValue{":now": str(ts(e.At))}
	if !t.MailDue.IsZero() {
		set += ", mail_due = :due"
		vals[":due"] = str(t.MailDue.String())
	}
	finishes := t.Status.Finishes()
	if t.Status != "" {
		set += ", #s = :status"
		vals[":status"] = str(t.Status)
	}
	if finishes {
		set += ", completed_at = if_not_exists(completed_at, :now)"
	}
	for attr, v := range map[string]string{"reason": t.Reason, "extension_reason": t.ExtensionReason, "decided_by": t.By} {
		if v != "" {
			set += ", " + attr + " = :" + attr
			vals[":"+attr] = str(v)
		}
	}
	if t.Lifted {
		set += ", lifted_at = :now"
	}
	if finishes || t.Lifted {
		// A finished or lifted request's address has 30 days left: the
		// sweep reads it at its next run and files it exactly.
		set += ", " + setDue(vals, requestKey(id), e.At)
	}
	if !t.Extend.IsZero() {
		set += ", original_due_at = if_not_exists(original_due_at, due_at), due_at = :ext, extended_until = :ext"
		vals[":ext"] = str(dueAt(t.Extend))
	}
	if len(t.From) == 0 {
		return fmt.Errorf("transition of %s: no starting status", id)
	}
	cond := statusIn(vals, t.From)
	if t.Ask.Text != "" {
		set += ", question = :question, asked_at = :now, asked_from = :asked_from, ask_nonce = :ask_nonce"
		vals[":question"], vals[":asked_from"], vals[":ask_nonce"] = str(t.Ask.Text), str(t.Ask.From), str(t.Ask.Nonce)
	}
	if t.Answer.Text != "" {
		// Only the question asked now: a link of an earlier one answers
		// nothing.
		set += ", answer = :answer, answered_at = :now"
		vals[":answer"], vals[":nonce"] = str(t.Answer.Text), str(t.Answer.Nonce)
		cond += " AND ask_nonce = :nonce"
	}
	if t.Forget {
		// What StripRequestAddress removes once the last email has gone.
		set += " " + forgetRequester
		names["#n"] = "name"
	}
	items, err := s.withLedger(e, types.TransactWriteItem{Update: &types.Update{TableName: &s.tables.Requests,
		Key: requestKey(id), UpdateExpression: aws.String(set), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals}})
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if lostRace(err) {
		return privacy.ErrStale
	}
	if err != nil {
		return fmt.Errorf("request %s: %w", id, err)
	}
	return nil
}

// statusIn is the condition that the request's status (#s) is one of
// statuses, whose values it adds to vals.
func statusIn(vals map[string]types.AttributeValue, statuses []privacy.Status) string {
	keys := make([]string, len(statuses))
	for i, st := range statuses {
		keys[i] = fmt.Sprintf(":st%d", i)
		vals[keys[i]] = str(st)
	}
	return "#s IN (" + strings.Join(keys, ", ") + ")"
}

func holdKey(subject privacy.SubjectID, hold string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(SubjectPK(subject)), attrSK: str(hold)}
}

// Restrict puts the subject under requestID's restriction of processing
// (GDPR Art. 18): the subject's HOLD#RESTRICTION item names every request
// whose restriction is in force (requests, a string set), and is listed in
// the sparse holds index while any is. The sweep keeps the subject's data,
// the mailer sends no marketing and no sales notification, the campaign
// skips it. Idempotent.
func (s *Store) Restrict(ctx context.Context, subject privacy.SubjectID, requestID string, e privacy.Event) error {
	ledger, err := s.ledgerPut(e)
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		s.restriction(subject, requestID, e.At), {Put: ledger}}})
	if err != nil {
		return fmt.Errorf("restrict: %w", err)
	}
	return nil
}

// restriction is the write that adds requestID's restriction to the
// subject's.
func (s *Store) restriction(subject privacy.SubjectID, requestID string, at time.Time) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{TableName: &s.tables.Subjects, Key: holdKey(subject, privacy.HoldRestriction),
		UpdateExpression: aws.String("SET list_pk = :holds, list_sk = :pk, restricted_at = if_not_exists(restricted_at, :now) " +
			"ADD requests :r"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":holds": str(privacy.HoldsList),
			":pk": str(SubjectPK(subject)), ":r": &types.AttributeValueMemberSS{Value: []string{requestID}}, ":now": str(ts(at))}}}
}

// Lift ends requestID's restriction of the subject's processing, with its
// ledger entry, and nobody else's: the subject stays restricted while
// another request's restriction is in force. privacy.ErrNotFound when
// requestID's is not (lifted before, or never put in place).
func (s *Store) Lift(ctx context.Context, subject privacy.SubjectID, requestID string, e privacy.Event) error {
	ledger, err := s.ledgerPut(e)
	if err != nil {
		return err
	}
	key := holdKey(subject, privacy.HoldRestriction)
	// A restriction stored before the set (request_id, one request) is
	// lifted by its own request only.
	upd := &types.Update{TableName: &s.tables.Subjects, Key: key,
		UpdateExpression:          aws.String("DELETE requests :r"),
		ConditionExpression:       aws.String("contains(requests, :id)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":r": &types.AttributeValueMemberSS{Value: []string{requestID}}, ":id": str(requestID)}}
	legacy := &types.Update{TableName: &s.tables.Subjects, Key: key,
		UpdateExpression:          aws.String("REMOVE request_id"),
		ConditionExpression:       aws.String("request_id = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": str(requestID)}}
	for _, u := range []*types.Update{upd, legacy} {
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: u}, {Put: ledger}}})
		if !refusedAt(err, 0) {
			break
		}
	}
	if refusedAt(err, 0) {
		return privacy.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("lift restriction: %w", err)
	}
	// The last restriction lifted: the item goes, and with it the entry in
	// the holds index (a restriction added meanwhile keeps it).
	_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.tables.Subjects, Key: key,
		ConditionExpression: aws.String("attribute_not_exists(requests) AND attribute_not_exists(request_id)")})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("lift restriction: %w", err)
	}
	return nil
}

// Restriction returns the requests whose restriction of the subject's
// processing is in force, sorted; none when it is not restricted.
func (s *Store) Restriction(ctx context.Context, subject privacy.SubjectID) ([]string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Subjects,
		Key: holdKey(subject, privacy.HoldRestriction), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("requests, request_id")})
	if err != nil {
		return nil, fmt.Errorf("restriction check: %w", err)
	}
	return restrictedBy(out.Item), nil
}

// restrictedBy reads the requests a HOLD#RESTRICTION item names (nil for
// none, or no item).
func restrictedBy(item map[string]types.AttributeValue) []string {
	var by []string
	if set, ok := item["requests"].(*types.AttributeValueMemberSS); ok {
		by = append(by, set.Value...)
	}
	if id := s1(item, "request_id"); id != "" && !slices.Contains(by, id) {
		by = append(by, id)
	}
	slices.Sort(by)
	return by
}
