package dynamo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// A subject's subscription is one item, sk "SUB". While confirmed it carries
// list_pk/list_sk, which put it in the sparse "by-list" index that a
// campaign reads; nothing else is ever in that index.
const (
	KindSubscription = "subscription"
	subSK            = "SUB"
	listSubscribers  = "subscribers"
)

type subscriptionRecord struct {
	PK             string   `dynamodbav:"pk"`
	SK             string   `dynamodbav:"sk"`
	Kind           string   `dynamodbav:"kind"`
	Subject        string   `dynamodbav:"subject"`
	Email          string   `dynamodbav:"email"`
	Name           string   `dynamodbav:"name,omitempty"`
	Topics         []string `dynamodbav:"topics,stringset,omitempty"`
	Status         string   `dynamodbav:"status"`
	SignupID       string   `dynamodbav:"signup_id"`
	RequestedAt    stamp    `dynamodbav:"confirm_requested_at,omitempty"`
	ConfirmedAt    stamp    `dynamodbav:"confirmed_at,omitempty"`
	UnsubscribedAt stamp    `dynamodbav:"unsubscribed_at,omitempty"`
	ConsentVersion string   `dynamodbav:"consent_text_version,omitempty"`
	PolicyVersion  string   `dynamodbav:"policy_version,omitempty"`
	LegalBasis     string   `dynamodbav:"legal_basis,omitempty"`
	Lang           string   `dynamodbav:"lang,omitempty"`
	Source         string   `dynamodbav:"source,omitempty"`
	// SignedUpAt is when the signup whose terms the item holds was made:
	// when its sentence was shown (a repeat sends it again, and takes none
	// of its terms).
	SignedUpAt string `dynamodbav:"signed_up_at,omitempty"`
}

func (r subscriptionRecord) domain() privacy.Subscription {
	return privacy.Subscription{Subject: privacy.SubjectID(r.Subject), Email: r.Email, Name: r.Name,
		Topics: r.Topics, Status: r.Status, SignupID: r.SignupID, RequestedAt: r.RequestedAt.Time,
		ConfirmedAt: r.ConfirmedAt.Time, UnsubscribedAt: r.UnsubscribedAt.Time, ConsentVersion: r.ConsentVersion,
		PolicyVersion: r.PolicyVersion, LegalBasis: r.LegalBasis, Lang: r.Lang, Source: r.Source}
}

// DecodeSubscription reads a subscription item, as stored or as a stream image.
func DecodeSubscription(item map[string]types.AttributeValue) (privacy.Subscription, error) {
	var r subscriptionRecord
	if err := attributevalue.UnmarshalMap(item, &r); err != nil {
		return privacy.Subscription{}, fmt.Errorf("decode subscription: %w", err)
	}
	if r.Kind != KindSubscription {
		return privacy.Subscription{}, fmt.Errorf("decode subscription: item kind %q", r.Kind)
	}
	return r.domain(), nil
}

func subKey(s privacy.SubjectID) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: SubjectPK(s)},
		attrSK: &types.AttributeValueMemberS{Value: subSK},
	}
}

// str is a string attribute of v (a string, or a named string type of
// the domain: privacy.Status, privacy.Right, ...).
func str[S ~string](v S) *types.AttributeValueMemberS {
	return &types.AttributeValueMemberS{Value: string(v)}
}

func (s *Store) ledgerPut(e privacy.Event) (*types.Put, error) {
	return ledgerPutIn(s.tables.Ledger, e)
}

// ledgerPutIn is the sealed put of e's entry in the ledger table named
// ledgerTable.
func ledgerPutIn(ledgerTable string, e privacy.Event) (*types.Put, error) {
	item, err := ledgerItem(e)
	if err != nil {
		return nil, err
	}
	return &types.Put{TableName: &ledgerTable, Item: sealEntry(withDue(privacy.TableLedger, item))}, nil
}

// ledgerItem is e's entry as stored, before its filing and seal.
func ledgerItem(e privacy.Event) (map[string]types.AttributeValue, error) {
	item, err := marshalItem(ledgerRecord{
		PK: SubjectPK(e.Subject), SK: ts(e.At) + "#" + string(e.Name) + "#" + e.Ref, Subject: string(e.Subject),
		Event: e.Name, At: stamp{e.At}, Ref: e.Ref, Purpose: e.Purpose, LegalBasis: e.LegalBasis,
		PolicyVersion: e.PolicyVersion, ExpiresAt: privacy.Retention().Ledger.From(e.At).Unix(), Detail: e.Detail,
	})
	if err != nil {
		return nil, fmt.Errorf("marshal ledger entry: %w", err)
	}
	return item, nil
}

// withLedger returns items with e's ledger entry added, when e has a
// subject: the ledger is kept per subject, and a request that names no one
// this system holds (an OpenDSR digest that matched nothing) has none; its
// own record is the evidence.
func (s *Store) withLedger(e privacy.Event, items ...types.TransactWriteItem) ([]types.TransactWriteItem, error) {
	if e.Subject == "" {
		return items, nil
	}
	put, err := s.ledgerPut(e)
	if err != nil {
		return nil, err
	}
	return append(items, types.TransactWriteItem{Put: put}), nil
}

// RecordEvent appends one entry to the ledger.
func (s *Store) RecordEvent(ctx context.Context, e privacy.Event) error {
	put, err := s.ledgerPut(e)
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: put.TableName, Item: put.Item})
	if err != nil {
		return fmt.Errorf("record %s: %w", e.Name, err)
	}
	return nil
}

// RequestSubscription records a signup and makes a confirmation email due,
// unless the subject is already confirmed or was sent a confirmation less
// than its cooldown ago. A signup still waiting for its confirmation is
// not replaced: it is sent again, as it was asked (its topics, name and
// language), and its first link keeps working; whoever typed the address
// again sets none of its terms (a stranger cannot swap the person's
// pending signup for one of their own). It reports whether a confirmation
// is due. Concurrent signups of one address race on one item's
// condition: one wins.
func (s *Store) RequestSubscription(ctx context.Context, p privacy.PendingSignup) (bool, error) {
	items, err := s.signupItems(p)
	if err != nil {
		return false, err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if refusedAt(err, 0) {
		return s.resendSignup(ctx, p)
	}
	if lostRace(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("request subscription: %w", err)
	}
	return true, nil
}

// resendSignup sends a pending signup's confirmation again under a new
// signup id (the link's; the earlier ones stay valid, signup_ids), unless
// it was sent less than the cooldown ago or is no longer pending.
func (s *Store) resendSignup(ctx context.Context, p privacy.PendingSignup) (bool, error) {
	e := p.Event
	e.Name = "signup_repeated" // its terms are not taken
	ledger, err := s.ledgerPut(e)
	if err != nil {
		return false, err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: &s.tables.Subjects, Key: subKey(p.Subject),
			// (A subscription written before site items lost their digest
			// keys gives them up, as a new signup does.)
			UpdateExpression: aws.String("SET signup_id = :sid, confirm_requested_at = :now, mail_due = :due ADD signup_ids :sids " +
				"REMOVE email_md5, email_sha1, email_sha256"),
			ConditionExpression:      aws.String("#status = :pending AND expires_at > :epoch AND confirm_requested_at < :cool"),
			ExpressionAttributeNames: map[string]string{"#status": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":sid": str(p.ID), ":now": str(ts(e.At)),
				":due": str(privacy.Due(privacy.MailConfirm, p.ID).String()), ":sids": &types.AttributeValueMemberSS{Value: []string{p.ID}},
				":pending": str(privacy.StatusPending), ":epoch": num(e.At.Unix()), ":cool": str(ts(e.At.Add(-p.Cooldown)))}}},
		{Put: ledger},
	}})
	if lostRace(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("send the pending signup again: %w", err)
	}
	return true, nil
}

// signupItems are the writes of a signup: the subscription, on its
// condition, and the ledger entry.
func (s *Store) signupItems(p privacy.PendingSignup) ([]types.TransactWriteItem, error) {
	sub, subject, signupID, cooldown, e := p.Sub, p.Subject, p.ID, p.Cooldown, p.Event
	now := ts(e.At)
	topics := &types.AttributeValueMemberSS{Value: sub.Topics}
	set := "SET kind = :kind, subject = :subject, email = :email, #name = :name, topics = :topics, " +
		"#status = :pending, signup_id = :sid, signup_ids = :sids, confirm_requested_at = :now, created_at = if_not_exists(created_at, :now), " +
		"mail_due = :due, expires_at = :exp, consent_text_version = :cv, lang = :lang, #source = :src, signed_up_at = :now, "
	vals := map[string]types.AttributeValue{
		":kind": str(KindSubscription), ":subject": str(string(subject)), ":email": str(sub.Email),
		":name": str(sub.Name), ":topics": topics, ":pending": str(privacy.StatusPending),
		":confirmed": str(privacy.StatusConfirmed), ":sid": str(signupID), ":now": str(now),
		":sids": &types.AttributeValueMemberSS{Value: []string{signupID}}, ":epoch": num(e.At.Unix()),
		":cool": str(ts(e.At.Add(-cooldown))), ":due": str(privacy.Due(privacy.MailConfirm, signupID).String()),
		":exp": num(privacy.Retention().PendingSignup.From(e.At).Unix()), ":cv": str(e.Detail["consent_text_version"]),
		":lang": str(privacy.Language(sub.Lang)), ":src": str(e.Detail["source"]),
	}
	set += setDue(vals, subKey(subject), privacy.Retention().PendingSignup.From(e.At))
	upd := &types.Update{
		TableName: &s.tables.Subjects,
		Key:       subKey(subject),
		// A subscription written before site items lost their digest keys
		// gives them up (the by-email-* indexes serve nothing of the site).
		UpdateExpression: aws.String(set + " REMOVE list_pk, list_sk, confirmed_at, email_md5, email_sha1, email_sha256"),
		// A pending signup still live is not replaced (RequestSubscription
		// sends it again instead).
		ConditionExpression: aws.String("attribute_not_exists(pk) OR (#status <> :confirmed AND confirm_requested_at < :cool AND " +
			"(#status <> :pending OR expires_at <= :epoch))"),
		ExpressionAttributeNames:  map[string]string{"#status": "status", "#name": "name", "#source": "source"},
		ExpressionAttributeValues: vals,
	}
	ledger, err := s.ledgerPut(e)
	if err != nil {
		return nil, err
	}
	return []types.TransactWriteItem{{Update: upd}, {Put: ledger}}, nil
}

// lostRace reports whether a transaction failed on its condition or on a
// concurrent transaction on the same item: not an error, just no change.
// refusedAt reports whether a transaction was cancelled by the condition
// of its item i (not by a conflict or another item).
func refusedAt(err error, i int) bool {
	var tc *types.TransactionCanceledException
	return errors.As(err, &tc) && len(tc.CancellationReasons) > i &&
		aws.ToString(tc.CancellationReasons[i].Code) == "ConditionalCheckFailed"
}

func lostRace(err error) bool {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return false
	}
	for _, r := range tc.CancellationReasons {
		if c := aws.ToString(r.Code); c == "ConditionalCheckFailed" || c == "TransactionConflict" {
			return true
		}
	}
	return false
}

// Subscription returns a subject's subscription.
func (s *Store) Subscription(ctx context.Context, subject privacy.SubjectID) (privacy.Subscription, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Subjects, Key: subKey(subject), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return privacy.Subscription{}, fmt.Errorf("get subscription: %w", err)
	}
	if out.Item == nil {
		return privacy.Subscription{}, privacy.ErrNotFound
	}
	return DecodeSubscription(out.Item)
}

// ConfirmSubscription confirms the signup signupID: it records the proof in
// the ledger, puts the subscriber on the list, keeps the consent's proof
// (consentProofRecord), clears the suppression reasons a fresh opt-in
// clears and makes the receipt's email due; it reports true. The sentence
// agreed to is the one the signup recorded: e's consent_text_version and
// source are taken from the stored signup, whatever the caller passed.
// Confirming again is a no-op that reports false: an old link is no new
// consent. A link to a replaced or expired signup gives privacy.ErrStale.
func (s *Store) ConfirmSubscription(ctx context.Context, subject privacy.SubjectID, signupID string, e privacy.Event) (bool, error) {
	var signup subscriptionRecord
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Subjects, Key: subKey(subject), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, fmt.Errorf("confirm subscription: %w", err)
	}
	// (No item: the transaction's condition refuses it, privacy.ErrStale.)
	if err := attributevalue.UnmarshalMap(out.Item, &signup); err != nil {
		return false, fmt.Errorf("confirm subscription: %w", err)
	}
	e.Detail = maps.Clone(e.Detail)
	if e.Detail == nil {
		e.Detail = map[string]string{}
	}
	e.Detail["consent_text_version"], e.Detail["source"] = signup.ConsentVersion, signup.Source
	now := ts(e.At)
	vals := map[string]types.AttributeValue{
		":confirmed": str(privacy.StatusConfirmed), ":pending": str(privacy.StatusPending),
		":sid": str(signupID), ":now": str(now), ":list": str(listSubscribers), ":subject": str(string(subject)),
		":pv": str(e.PolicyVersion), ":lb": str(e.LegalBasis), ":due": str(privacy.Due(privacy.MailConfirmed, signupID).String()),
		":cv": str(signup.ConsentVersion),
	}
	upd := &types.Update{
		TableName: &s.tables.Subjects, Key: subKey(subject),
		UpdateExpression: aws.String("SET #status = :confirmed, signup_id = :sid, confirmed_at = :now, list_pk = :list, list_sk = :subject, " +
			"last_activity_at = :now, policy_version = :pv, legal_basis = :lb, mail_due = :due REMOVE expires_at, unsubscribed_at"),
		// The sentence read above is still the signup's: a signup that
		// replaced it since fails here (as its signup ids do).
		// (Empty or absent in a signup stored before versions were kept.)
		ConditionExpression: aws.String("#status = :pending AND (signup_id = :sid OR contains(signup_ids, :sid)) AND " +
			"(consent_text_version = :cv OR attribute_not_exists(consent_text_version))"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: vals,
	}
	proof, err := marshalItem(consentProofRecord{PK: SubjectPK(subject), SK: consentProofSK(signupID), Kind: privacy.KindConsentProof,
		Subject: string(subject), SignupID: signupID, Source: signup.Source, ConsentVersion: signup.ConsentVersion, Lang: signup.Lang,
		Topics: signup.Topics, SignedUpAt: cmp.Or(signup.SignedUpAt, tsOpt(signup.RequestedAt.Time)), ConfirmedAt: now,
		PolicyVersion: e.PolicyVersion, LegalBasis: e.LegalBasis})
	if err != nil {
		return false, fmt.Errorf("marshal consent proof: %w", err)
	}
	ledger, err := s.ledgerPut(e)
	if err != nil {
		return false, err
	}
	items := []types.TransactWriteItem{{Update: upd}, {Put: ledger}, {Put: &types.Put{TableName: &s.tables.Subjects, Item: proof}}}
	for _, reason := range privacy.ClearedByConfirmation() {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.tables.Suppression,
			Key: map[string]types.AttributeValue{attrPK: str(SubjectPK(subject)), attrSK: str(reason)}}})
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return true, nil
	}
	if !lostRace(err) {
		return false, fmt.Errorf("confirm subscription: %w", err)
	}
	cur, gerr := s.Subscription(ctx, subject)
	switch {
	case gerr != nil && !errors.Is(gerr, privacy.ErrNotFound):
		return false, gerr
	case gerr == nil && cur.Status == privacy.StatusConfirmed && cur.SignupID == signupID:
		return false, nil // confirmed already: idempotent
	}
	return false, privacy.ErrStale
}

// consentProofRecord proves one confirmed consent (GDPR Art. 7(1)): the
// sentence shown (its version, the form, the language), when the signup
// was made and confirmed, the topics, and the policy and basis of the
// confirmation. It holds no address and no request metadata (those stay
// with the ledger's entries, whose IP and user agent go at 90 days). It
// has no expiry while the consent is relied on; its withdrawal starts the
// retention class privacy.Retention().ConsentProof.
type consentProofRecord struct {
	PK             string   `dynamodbav:"pk"`
	SK             string   `dynamodbav:"sk"`
	Kind           string   `dynamodbav:"kind"`
	Subject        string   `dynamodbav:"subject"`
	SignupID       string   `dynamodbav:"signup_id"`
	Source         string   `dynamodbav:"source,omitempty"`
	ConsentVersion string   `dynamodbav:"consent_text_version,omitempty"`
	Lang           string   `dynamodbav:"lang,omitempty"`
	Topics         []string `dynamodbav:"topics,stringset,omitempty"`
	SignedUpAt     string   `dynamodbav:"signed_up_at,omitempty"`
	ConfirmedAt    string   `dynamodbav:"confirmed_at"`
	PolicyVersion  string   `dynamodbav:"policy_version,omitempty"`
	LegalBasis     string   `dynamodbav:"legal_basis,omitempty"`
}

// consentProofSK is the sort key of the proof of the signup signupID.
func consentProofSK(signupID string) string { return "CONSENT#" + signupID }

// withdrawConsentProof starts the retention period of the proof of the
// subject's confirmed consent, if one is confirmed: withdrawn_at (the
// first withdrawal's time is kept, so a retry moves nothing) and its due
// time in the retention index. It runs before the subscription is ended,
// so a failure here leaves the withdrawal to be retried whole. A
// subscription confirmed before proofs were kept has none: nothing to do.
func (s *Store) withdrawConsentProof(ctx context.Context, subject privacy.SubjectID, at time.Time) error {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Subjects, Key: subKey(subject), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("#status, signup_id"), ExpressionAttributeNames: map[string]string{"#status": "status"}})
	if err != nil {
		return fmt.Errorf("read the subscription: %w", err)
	}
	var sub subscriptionRecord
	if err := attributevalue.UnmarshalMap(out.Item, &sub); err != nil {
		return fmt.Errorf("read the subscription: %w", err)
	}
	if sub.Status != privacy.StatusConfirmed || sub.SignupID == "" {
		return nil
	}
	key := map[string]types.AttributeValue{attrPK: str(SubjectPK(subject)), attrSK: str(consentProofSK(sub.SignupID))}
	vals := map[string]types.AttributeValue{":at": str(ts(at))}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Subjects, Key: key,
		UpdateExpression: aws.String("SET withdrawn_at = if_not_exists(withdrawn_at, :at), " +
			setDueIfNone(vals, key, privacy.Retention().ConsentProof.From(at))),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: vals})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("withdraw the consent's proof: %w", err)
	}
	return nil
}

// Unsubscribe turns every marketing topic off at once and suppresses the
// subject for marketing. It works whether or not a subscription exists (the
// link proves the person was mailed) and is idempotent: once the subject is
// suppressed as unsubscribed, a repeat (the same link posted again, mail to
// the unsubscribe address sent again) writes nothing, not even to the
// ledger. A subscription it ends makes the withdrawal's receipt due (the
// mailer sends it to those who had confirmed).
func (s *Store) Unsubscribe(ctx context.Context, subject privacy.SubjectID, e privacy.Event) error {
	recorded, err := s.suppress(ctx, subject, privacy.SuppressUnsubscribed, e, true)
	if err != nil {
		return err
	}
	if err := s.withdrawConsentProof(ctx, subject, e.At); err != nil {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	vals := map[string]types.AttributeValue{
		":unsub": str(privacy.StatusUnsubscribed), ":now": str(ts(e.At)),
		":exp": num(privacy.Retention().Unsubscribed.From(e.At).Unix()),
		":pv":  str(e.PolicyVersion), ":due": str(privacy.Due(privacy.MailWithdrawn, ts(e.At)).String()),
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.tables.Subjects, Key: subKey(subject),
		UpdateExpression: aws.String("SET #status = :unsub, unsubscribed_at = :now, expires_at = :exp, last_activity_at = :now, " +
			"policy_version = :pv, mail_due = :due, " + setDue(vals, subKey(subject), privacy.Retention().Unsubscribed.From(e.At)) +
			" REMOVE topics, list_pk, list_sk"),
		ConditionExpression:       aws.String("attribute_exists(pk) AND #status <> :unsub"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: vals,
	})
	switch {
	case isConditionFailed(err):
		return nil
	case err != nil:
		return fmt.Errorf("unsubscribe: %w", err)
	case !recorded:
		// A subscription ended under a suppression already there: its
		// withdrawal is still the ledger's (its receipt names the entry).
		return s.RecordEvent(ctx, e)
	}
	return nil
}

// Suppress adds a suppression reason and its ledger entry. Adding a reason
// that is there already keeps its first time.
func (s *Store) Suppress(ctx context.Context, subject privacy.SubjectID, reason string, e privacy.Event) error {
	_, err := s.suppress(ctx, subject, reason, e, false)
	return err
}

// suppress is Suppress; once, a reason already there writes nothing. It
// reports whether e was recorded.
func (s *Store) suppress(ctx context.Context, subject privacy.SubjectID, reason string, e privacy.Event, once bool) (bool, error) {
	ledger, err := s.ledgerPut(e)
	if err != nil {
		return false, err
	}
	key := map[string]types.AttributeValue{attrPK: str(SubjectPK(subject)), attrSK: str(reason)}
	vals := map[string]types.AttributeValue{":now": str(ts(e.At)), ":subject": str(string(subject))}
	set := "SET since = if_not_exists(since, :now), subject = :subject"
	// A bounce or a complaint is filed for the sweep, due at once: the
	// sweep stamps it on its first sight (privacy.AttrGraceFrom, which
	// this function never writes) and ends the subscription it leaves
	// without a purpose when the class's grace from that stamp has passed
	// (privacy.Retention().SuppressedSubscription); a reason there already
	// keeps its filing, as it keeps its since.
	if _, ok := privacy.NextDue(privacy.RetentionClasses(), privacy.TableSuppression,
		sweepItem{attrPK: key[attrPK], attrSK: key[attrSK], "since": vals[":now"]}); ok {
		set += ", " + setDueIfNone(vals, key, e.At)
	}
	upd := &types.Update{TableName: &s.tables.Suppression, Key: key,
		UpdateExpression: aws.String(set), ExpressionAttributeValues: vals}
	if once {
		upd.ConditionExpression = aws.String("attribute_not_exists(pk)")
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: upd}, {Put: ledger},
	}})
	if once && refusedAt(err, 0) {
		return false, nil // in force already: nothing new to record
	}
	if err != nil {
		return false, fmt.Errorf("suppress %s: %w", reason, err)
	}
	return true, nil
}

// Suppressions returns a subject's suppression reasons in force.
func (s *Store) Suppressions(ctx context.Context, subject privacy.SubjectID) ([]string, error) {
	recs, err := s.SuppressionRecords(ctx, subject)
	if err != nil {
		return nil, err
	}
	var reasons []string
	for _, r := range recs {
		if r.InForce() {
			reasons = append(reasons, r.Reason)
		}
	}
	return reasons, nil
}

// SuppressionRecords returns a subject's suppressions, lifted erasures
// included.
func (s *Store) SuppressionRecords(ctx context.Context, subject privacy.SubjectID) ([]privacy.Suppression, error) {
	items, err := s.query(ctx, s.tables.Suppression, SubjectPK(subject))
	if err != nil {
		return nil, err
	}
	out := make([]privacy.Suppression, 0, len(items))
	for _, it := range items {
		r, err := decodeSuppression(it)
		if err != nil {
			return nil, err
		}
		out = append(out, privacy.Suppression{Reason: r.Reason, Since: r.Since.Time, LiftedAt: r.LiftedAt.Time})
	}
	return out, nil
}

// suppressionRecord is a suppression as stored (pk the subject's, sk its
// reason).
type suppressionRecord struct {
	PK       string `dynamodbav:"pk"`
	Reason   string `dynamodbav:"sk"`
	Since    stamp  `dynamodbav:"since"`
	LiftedAt stamp  `dynamodbav:"lifted_at"`
}

// decodeSuppression reads a suppression; a time that cannot be read is an
// error.
func decodeSuppression(it map[string]types.AttributeValue) (suppressionRecord, error) {
	var r suppressionRecord
	if err := attributevalue.UnmarshalMap(it, &r); err != nil {
		return r, fmt.Errorf("suppression %s: %w", s1(it, attrSK), err)
	}
	return r, nil
}

// LiftSuppressions lifts the named reasons of a subject, with e in the
// ledger, in one transaction: each is deleted, but an erasure is only
// marked lifted (lifted_at), since it is the record a restore's re-applied
// erasure reads. Lifting a reason that is not there does nothing.
func (s *Store) LiftSuppressions(ctx context.Context, subject privacy.SubjectID, reasons []string, e privacy.Event) error {
	return s.TeamLift(ctx, subject, reasons, nil, e)
}

// SetTopics changes a confirmed subscriber's topics. An empty list is an
// unsubscribe. It returns the subscription as it now is.
func (s *Store) SetTopics(ctx context.Context, subject privacy.SubjectID, topics []string, e privacy.Event) (privacy.Subscription, error) {
	if len(topics) == 0 {
		if err := s.Unsubscribe(ctx, subject, e); err != nil {
			return privacy.Subscription{}, err
		}
		return s.Subscription(ctx, subject)
	}
	ledger, err := s.ledgerPut(e)
	if err != nil {
		return privacy.Subscription{}, err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: &s.tables.Subjects, Key: subKey(subject),
			UpdateExpression:          aws.String("SET topics = :topics, last_activity_at = :now"),
			ConditionExpression:       aws.String("#status = :confirmed"),
			ExpressionAttributeNames:  map[string]string{"#status": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":topics": &types.AttributeValueMemberSS{Value: topics}, ":now": str(ts(e.At)), ":confirmed": str(privacy.StatusConfirmed)}}},
		{Put: ledger},
	}})
	if lostRace(err) {
		return privacy.Subscription{}, privacy.ErrNotFound
	}
	if err != nil {
		return privacy.Subscription{}, fmt.Errorf("set topics: %w", err)
	}
	return s.Subscription(ctx, subject)
}

// AddTopic adds one topic to a confirmed subscription (the double opt-in
// of a new purpose), with e in the ledger; adding one that is there
// changes nothing. privacy.ErrNotFound when no subscription is confirmed.
func (s *Store) AddTopic(ctx context.Context, subject privacy.SubjectID, topic string, e privacy.Event) error {
	ledger, err := s.ledgerPut(e)
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: &s.tables.Subjects, Key: subKey(subject),
			UpdateExpression:         aws.String("ADD topics :t SET last_activity_at = :now"),
			ConditionExpression:      aws.String("#status = :confirmed"),
			ExpressionAttributeNames: map[string]string{"#status": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberSS{Value: []string{topic}},
				":now": str(ts(e.At)), ":confirmed": str(privacy.StatusConfirmed)}}},
		{Put: ledger},
	}})
	if lostRace(err) {
		return privacy.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("add topic: %w", err)
	}
	return nil
}

// Allow counts one use of a limited action (key) and reports whether it is
// within limit. Counters expire on their own.
func (s *Store) Allow(ctx context.Context, key string, limit int, now time.Time) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &s.tables.Ops,
		Key:                 map[string]types.AttributeValue{attrPK: str(RateLimitPrefix + key), attrSK: str("RL")},
		UpdateExpression:    aws.String("ADD uses :one SET expires_at = if_not_exists(expires_at, :exp)"),
		ConditionExpression: aws.String("attribute_not_exists(uses) OR uses < :limit"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": num(1), ":limit": &types.AttributeValueMemberN{Value: strconv.Itoa(limit)},
			":exp": num(privacy.Retention().RateCounter.From(now).Unix()),
		},
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("rate counter: %w", err)
	}
	return true, nil
}

// Used reads how many uses a rate counter counted (0 for none): a rolling
// limit's window before (limit.UsedCounter). A past window no longer
// changes, so an eventually consistent read is exact for it.
func (s *Store) Used(ctx context.Context, key string) (int, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Ops,
		Key:                  map[string]types.AttributeValue{attrPK: str(RateLimitPrefix + key), attrSK: str("RL")},
		ProjectionExpression: aws.String("uses")})
	if err != nil {
		return 0, fmt.Errorf("rate counter: %w", err)
	}
	n, _ := out.Item["uses"].(*types.AttributeValueMemberN)
	if n == nil {
		return 0, nil
	}
	return strconv.Atoi(n.Value)
}

// Key prefixes of the ops table's counters (the template's grants name
// them): the abuse limits', and the soft-bounce counts.
const (
	RateLimitPrefix = "RL#"
	CounterPrefix   = "CNT#"
)

// CountOnce adds one to the counter key (expiring ttl after its first
// use) for each member once and returns the new count: a member counted
// before (a notification delivered again) adds nothing and reports
// counted false. The members are kept with the count, for as long.
func (s *Store) CountOnce(ctx context.Context, key, member string, now time.Time, ttl time.Duration) (n int, counted bool, err error) {
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &s.tables.Ops,
		Key:                 map[string]types.AttributeValue{attrPK: str(CounterPrefix + key), attrSK: str("CNT")},
		UpdateExpression:    aws.String("ADD uses :one, seen :m SET expires_at = if_not_exists(expires_at, :exp)"),
		ConditionExpression: aws.String("attribute_not_exists(seen) OR NOT contains(seen, :mv)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": num(1), ":exp": num(now.Add(ttl).Unix()),
			":m": &types.AttributeValueMemberSS{Value: []string{member}}, ":mv": str(member),
		},
		ReturnValues: types.ReturnValueUpdatedNew,
	})
	if isConditionFailed(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("counter: %w", err)
	}
	if n, err = strconv.Atoi(out.Attributes["uses"].(*types.AttributeValueMemberN).Value); err != nil {
		return 0, false, fmt.Errorf("counter: %w", err)
	}
	return n, true, nil
}

// MarkClientTerminated starts the client-termination clock on every item of
// a subject's partition: the retention sweep deletes them when the policy's
// period after it has passed. It returns how many items were marked.
func (s *Store) MarkClientTerminated(ctx context.Context, subject privacy.SubjectID, e privacy.Event) (int, error) {
	items, err := s.SubjectItems(ctx, subject)
	if err != nil {
		return 0, err
	}
	at := ts(e.At)
	n := 0
	for _, it := range items {
		if sk, _ := it[attrSK].(*types.AttributeValueMemberS); sk != nil && strings.HasPrefix(sk.Value, privacy.HoldPrefix) {
			continue // a hold is the privacy team's, not client data
		}
		vals := map[string]types.AttributeValue{":at": str(at)}
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Subjects,
			Key: map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]},
			// The sweep files the item exactly at its next run.
			UpdateExpression:          aws.String("SET client_terminated_at = if_not_exists(client_terminated_at, :at), " + setDue(vals, it, e.At)),
			ConditionExpression:       aws.String("attribute_exists(pk)"),
			ExpressionAttributeValues: vals})
		if err != nil && !isConditionFailed(err) {
			return n, fmt.Errorf("mark client terminated: %w", err)
		}
		n++
	}
	if err := s.RecordEvent(ctx, e); err != nil {
		return n, err
	}
	return n, nil
}

// saleOptOutSK is the item, in a subject's partition, that records the
// person's opt-out of the sale and sharing of their data.
const saleOptOutSK = "OPTOUT#SALE"

// RecordSaleOptOut marks the subject opted out of the sale and sharing of
// their personal data (a Global Privacy Control signal, or a CCPA opt-out
// request), with e in the ledger. It keeps the first time and source, and
// is the person's data (the export shows it; an erasure removes it).
func (s *Store) RecordSaleOptOut(ctx context.Context, subject privacy.SubjectID, source string, e privacy.Event) error {
	ledger, err := s.ledgerPut(e)
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: &s.tables.Subjects,
			Key:                      map[string]types.AttributeValue{attrPK: str(SubjectPK(subject)), attrSK: str(saleOptOutSK)},
			UpdateExpression:         aws.String("SET kind = :k, subject = :s, since = if_not_exists(since, :now), #src = if_not_exists(#src, :src)"),
			ExpressionAttributeNames: map[string]string{"#src": "source"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":k": str("sale_opt_out"), ":s": str(string(subject)),
				":now": str(ts(e.At)), ":src": str(source)}}},
		{Put: ledger},
	}})
	if err != nil {
		return fmt.Errorf("record the opt-out of sale: %w", err)
	}
	return nil
}
