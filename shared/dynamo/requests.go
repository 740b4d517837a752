package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// KindRequest is a rights request item: pk "R#<id>", sk "REQUEST", in the
// requests table. Its mail_due makes the mailer send the acknowledgement
// with the verification link ("received:<nonce>").
const (
	KindRequest = "rights_request"
	requestSK   = "REQUEST"
)

// requestRecord is a rights request item (privacy.RightsRequest) as stored.
type requestRecord struct {
	ID   string `dynamodbav:"id"`
	Kind string `dynamodbav:"kind"`
	// Subject is "" (absent) only for an OpenDSR request whose hashed
	// identity matched no one held.
	Subject      string               `dynamodbav:"subject,omitempty"`
	Email        string               `dynamodbav:"email,omitempty"`
	Name         string               `dynamodbav:"name,omitempty"`
	Type         privacy.Right        `dynamodbav:"type"`
	Details      string               `dynamodbav:"details,omitempty"`
	Relationship privacy.Relationship `dynamodbav:"relationship,omitempty"`
	Scope        string               `dynamodbav:"scope,omitempty"`
	Recipient    string               `dynamodbav:"recipient_email,omitempty"`
	FixField     string               `dynamodbav:"correction_field,omitempty"`
	FixValue     string               `dynamodbav:"correction_value,omitempty"`
	ParentEmail  string               `dynamodbav:"parent_email,omitempty"`
	AgentEmail   string               `dynamodbav:"agent_email,omitempty"`
	// AgentConfirmedAt is when the agent confirmed their address by its
	// link; NewAddressConfirmedAt when a correction's new address did.
	AgentConfirmedAt      stamp `dynamodbav:"agent_confirmed_at,omitempty"`
	NewAddressConfirmedAt stamp `dynamodbav:"new_address_confirmed_at,omitempty"`
	// MailHeld are the roles whose mail is held (past a per-address limit).
	MailHeld   []string       `dynamodbav:"mail_held,stringset,omitempty"`
	Regulation string         `dynamodbav:"regulation"`
	Status     privacy.Status `dynamodbav:"status"`
	ReceivedAt stamp          `dynamodbav:"received_at,omitempty"`
	DueAt      deadline       `dynamodbav:"due_at,omitempty"`
	// OriginalDueAt is the first deadline, once an extension moved due_at.
	OriginalDueAt deadline `dynamodbav:"original_due_at,omitempty"`
	Extended      deadline `dynamodbav:"extended_until,omitempty"`
	CompletedAt   stamp    `dynamodbav:"completed_at,omitempty"`
	VerifyNonce   string   `dynamodbav:"verify_nonce,omitempty"`
	VerifySentAt  stamp    `dynamodbav:"verify_sent_at,omitempty"`
	VerifiedAt    stamp    `dynamodbav:"verified_at,omitempty"`
	Excessive     bool     `dynamodbav:"possibly_excessive,omitempty"`
	Withheld      bool     `dynamodbav:"withheld,omitempty"`
	// Reason is why a request was denied, as the requester is told.
	Reason string `dynamodbav:"reason,omitempty"`
	// ExtensionReason is why the deadline was extended.
	ExtensionReason string `dynamodbav:"extension_reason,omitempty"`
	// DecidedBy names the operator of the last decision (an IAM ARN).
	DecidedBy string `dynamodbav:"decided_by,omitempty"`
	MailDue   string `dynamodbav:"mail_due,omitempty"`
	// Source is "opendsr" for a request a controller sent machine to
	// machine: the controller, not this system, talks to the person.
	Source       string   `dynamodbav:"source,omitempty"`
	Channel      string   `dynamodbav:"channel,omitempty"`
	Controller   string   `dynamodbav:"controller_id,omitempty"`
	CallbackURLs []string `dynamodbav:"status_callback_urls,omitempty"`
	// IdentityKeys are an OpenDSR request's identities as keys at its
	// controller.
	IdentityKeys []string `dynamodbav:"identity_keys,omitempty"`
	// GroupID relates a controller's requests (DSR API v3); GroupKey is
	// "<controller>#<group>", the by-group index's key.
	GroupID  string `dynamodbav:"group_id,omitempty"`
	GroupKey string `dynamodbav:"group_key,omitempty"`
	// OpenDSRVersion is the protocol generation the controller used (1 or
	// 2): its callbacks carry that generation's headers.
	OpenDSRVersion int `dynamodbav:"opendsr_version,omitempty"`
	// FulfilAfter ends an OpenDSR request's cancel window: until then it is
	// pending and the controller may cancel it.
	FulfilAfter stamp `dynamodbav:"fulfil_after,omitempty"`
	// AttemptedAt is when fulfilment last started (in_progress): a worker
	// that died leaves it behind, and after a lease another finishes.
	AttemptedAt stamp `dynamodbav:"attempted_at,omitempty"`
	// BodyDigest is the SHA-256 of the create request's bytes, so a
	// controller's retry of the same request is answered as the first was.
	BodyDigest string `dynamodbav:"body_digest,omitempty"`
	// ResultsCount is how many records fulfilment found (access) or
	// deleted (erasure).
	ResultsCount *int `dynamodbav:"results_count,omitempty"`
	// Recipients are the processors told of this request (Art. 19), by
	// processor id, with where each stands.
	Recipients map[string]recipientRecord `dynamodbav:"recipients,omitempty"`
	// MailPending is an email held until every recipient has been tried
	// (ReleaseHeldMail), so it can say where each one stands.
	MailPending string `dynamodbav:"mail_pending,omitempty"`
	// PolicyVersion is the policy in force at the request's outcome.
	PolicyVersion string `dynamodbav:"policy_version,omitempty"`
	// ReceivedPolicyVersion is the policy in force when the site's form
	// filed it (its request_received entry names it).
	ReceivedPolicyVersion string `dynamodbav:"received_policy_version,omitempty"`
	Lang                  string `dynamodbav:"lang,omitempty"`
	// Question and Answer are the team's question and the requester's
	// answer (stripped with the address); AskNonce names the question its
	// link answers, AskedFrom the status the answer returns the request to.
	Question   string         `dynamodbav:"question,omitempty"`
	AskedAt    stamp          `dynamodbav:"asked_at,omitempty"`
	AskedFrom  privacy.Status `dynamodbav:"asked_from,omitempty"`
	AskNonce   string         `dynamodbav:"ask_nonce,omitempty"`
	Answer     string         `dynamodbav:"answer,omitempty"`
	AnsweredAt stamp          `dynamodbav:"answered_at,omitempty"`
}

func requestKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str("R#" + id), attrSK: str(requestSK)}
}

// DecodeRequest reads a request item, as stored or as a stream image.
func DecodeRequest(item map[string]types.AttributeValue) (privacy.RightsRequest, error) {
	var r requestRecord
	if err := attributevalue.UnmarshalMap(item, &r); err != nil {
		return privacy.RightsRequest{}, fmt.Errorf("decode request: %w", err)
	}
	if r.Kind != KindRequest {
		return privacy.RightsRequest{}, fmt.Errorf("decode request: item kind %q", r.Kind)
	}
	return r.domain()
}

// EncodeRequest is a request item as stored (without its key), the
// inverse of DecodeRequest.
func EncodeRequest(r privacy.RightsRequest) (map[string]types.AttributeValue, error) {
	item, err := marshalItem(toRequestRecord(r))
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return item, nil
}

// SubjectRequests returns a subject's requests received since, newest first,
// from the by-subject index.
func (s *Store) SubjectRequests(ctx context.Context, subject privacy.SubjectID, since time.Time) ([]privacy.RightsRequest, error) {
	out, err := s.queryRequests(ctx, &dynamodb.QueryInput{
		TableName: &s.tables.Requests, IndexName: aws.String("by-subject"),
		KeyConditionExpression:    aws.String("subject = :s AND received_at >= :since"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(string(subject)), ":since": str(ts(since))},
		ScanIndexForward:          aws.Bool(false),
	})
	if err != nil {
		return nil, fmt.Errorf("query subject requests: %w", err)
	}
	return out, nil
}

// queryRequests runs a query of request items, every page.
func (s *Store) queryRequests(ctx context.Context, in *dynamodb.QueryInput) ([]privacy.RightsRequest, error) {
	items, err := s.queryAll(ctx, in)
	if err != nil {
		return nil, err
	}
	var out []privacy.RightsRequest
	for _, it := range items {
		r, err := DecodeRequest(it)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// CreateRequest stores a new request and its ledger entry, in one
// transaction. An event without a subject writes no entry: the request is
// stored alone, one conditional PutItem (a site filing, whose
// request_received the mailer writes from the request's stream record:
// privacy.RightsRequest.ReceivedFromStream; a controller's request, which
// has none).
func (s *Store) CreateRequest(ctx context.Context, r privacy.RightsRequest, e privacy.Event) error {
	return s.createRequest(ctx, r, e)
}

func (s *Store) createRequest(ctx context.Context, r privacy.RightsRequest, e privacy.Event) error {
	item, err := EncodeRequest(r)
	if err != nil {
		return err
	}
	for k, v := range requestKey(r.ID) {
		item[k] = v
	}
	put := &types.Put{TableName: &s.tables.Requests, Item: withDue(privacy.TableRequests, item),
		ConditionExpression: aws.String("attribute_not_exists(pk)")}
	if e.Subject == "" {
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: put.TableName, Item: put.Item, ConditionExpression: put.ConditionExpression})
		if isConditionFailed(err) {
			return privacy.ErrExists
		}
		if err != nil {
			return fmt.Errorf("create request: %w", err)
		}
		return nil
	}
	items, err := s.withLedger(e, types.TransactWriteItem{Put: put})
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if lostRace(err) {
		return privacy.ErrExists
	}
	if err != nil {
		return fmt.Errorf("create request: %w", err)
	}
	return nil
}

// ClaimFulfilment moves an OpenDSR request to in_progress to fulfil it:
// from pending once its cancel window is over, or from in_progress when
// the last attempt started before stale (that worker died or failed). Two
// workers never both claim one attempt; otherwise privacy.ErrStale.
func (s *Store) ClaimFulfilment(ctx context.Context, id string, now, stale time.Time) error {
	// The lifecycle's claim step (privacy.StepClaim), of the two statuses
	// the worker starts from.
	for _, from := range []privacy.Status{privacy.RequestPending, privacy.RequestInProgress} {
		if !privacy.StepClaim.Allowed(from, privacy.RequestInProgress) {
			return fmt.Errorf("claim request %s: from %s is not in the lifecycle", id, from)
		}
	}
	vals := map[string]types.AttributeValue{":prog": str(privacy.RequestInProgress),
		":pending": str(privacy.RequestPending), ":opendsr": str(privacy.SourceOpenDSR), ":now": str(ts(now)), ":stale": str(ts(stale))}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Requests, Key: requestKey(id),
		UpdateExpression: aws.String("SET #s = :prog, attempted_at = :now"),
		ConditionExpression: aws.String("#src = :opendsr AND " + statusIn(vals, privacy.StepClaim.From()) +
			" AND ((#s = :pending AND fulfil_after <= :now) OR (#s = :prog AND attempted_at < :stale))"),
		ExpressionAttributeNames:  map[string]string{"#s": "status", "#src": "source"},
		ExpressionAttributeValues: vals})
	if isConditionFailed(err) {
		return privacy.ErrStale
	}
	if err != nil {
		return fmt.Errorf("claim request %s: %w", id, err)
	}
	return nil
}

// Request returns one request.
func (s *Store) Request(ctx context.Context, id string) (privacy.RightsRequest, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Requests, Key: requestKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return privacy.RightsRequest{}, fmt.Errorf("get request: %w", err)
	}
	if out.Item == nil {
		return privacy.RightsRequest{}, privacy.ErrNotFound
	}
	return DecodeRequest(out.Item)
}

// VerifyRequest marks the requester's identity verified: the link's nonce
// must be the current one, and it is used up; the request is then pending
// (what happens next is the fulfilment's), unless review holds it for the
// team: an excessive request (decided at verification, from verified
// requests only) is flagged, a parent's awaits the team's review of the
// proof, and the team's review is made due. Verifying again with the same
// link is a no-op; a used or replaced link gives privacy.ErrStale.
func (s *Store) VerifyRequest(ctx context.Context, id, nonce string, review privacy.Review, e privacy.Event) error {
	set := "SET #s = :status, verified_at = :now, last_verify_nonce = :n"
	vals := map[string]types.AttributeValue{":status": str(privacy.RequestPending), ":n": str(nonce), ":now": str(ts(e.At))}
	switch review {
	case privacy.ReviewExcessive:
		set += ", possibly_excessive = :x"
		vals[":x"] = &types.AttributeValueMemberBOOL{Value: true}
	case privacy.ReviewProof:
		vals[":status"] = str(privacy.RequestAwaitingReview)
	}
	if review != privacy.ReviewNone {
		set += ", mail_due = :due"
		vals[":due"] = str(privacy.Due(privacy.MailReview, nonce).String())
	}
	upd := &types.Update{TableName: &s.tables.Requests, Key: requestKey(id),
		UpdateExpression:          aws.String(set + " REMOVE verify_nonce"),
		ConditionExpression:       aws.String(statusIn(vals, privacy.StepVerify.From()) + " AND verify_nonce = :n"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: vals}
	ledger, err := s.ledgerPut(e)
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Update: upd}, {Put: ledger}}})
	if err == nil {
		return nil
	}
	if !lostRace(err) {
		return fmt.Errorf("verify request: %w", err)
	}
	out, gerr := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Requests, Key: requestKey(id), ConsistentRead: aws.Bool(true)})
	if gerr != nil {
		return fmt.Errorf("verify request: %w", gerr)
	}
	if v, ok := out.Item["last_verify_nonce"].(*types.AttributeValueMemberS); ok && v.Value == nonce {
		return nil // this very link verified it already
	}
	return privacy.ErrStale
}

// ConfirmAgent records that a request's agent confirmed their address,
// with its ledger entry. Confirming again is a no-op that writes nothing
// (the link may be posted any number of times); privacy.ErrNotFound when
// the request names no agent.
func (s *Store) ConfirmAgent(ctx context.Context, id string, e privacy.Event) error {
	return s.confirmOnce(ctx, id, e, &types.Update{TableName: &s.tables.Requests, Key: requestKey(id),
		UpdateExpression:          aws.String("SET agent_confirmed_at = :now"),
		ConditionExpression:       aws.String("attribute_exists(agent_email) AND attribute_not_exists(agent_confirmed_at)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": str(ts(e.At))}},
		func(r privacy.RightsRequest) bool { return r.AgentEmail != "" && !r.AgentConfirmedAt.IsZero() }, privacy.ErrNotFound)
}

// ConfirmNewAddress records that a correction's new address confirmed it,
// once the old one verified the request (awaiting_review), and makes the
// team's review and the old address's notice due (once names that
// email). Confirming again is a no-op; privacy.ErrStale when the request
// is not waiting for it.
func (s *Store) ConfirmNewAddress(ctx context.Context, id, once string, e privacy.Event) error {
	return s.confirmOnce(ctx, id, e, &types.Update{TableName: &s.tables.Requests, Key: requestKey(id),
		UpdateExpression: aws.String("SET new_address_confirmed_at = :now, mail_due = :due"),
		ConditionExpression: aws.String("#s = :review AND correction_field = :email AND attribute_exists(correction_value) AND " +
			"attribute_not_exists(new_address_confirmed_at)"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": str(ts(e.At)), ":review": str(privacy.RequestAwaitingReview),
			":email": str(privacy.FieldEmail), ":due": str(privacy.Due(privacy.MailAddressConfirmed, once).String())}},
		func(r privacy.RightsRequest) bool { return !r.NewAddressConfirmedAt.IsZero() }, privacy.ErrStale)
}

// confirmOnce applies a request's one-time confirmation upd with e's
// ledger entry. When upd's condition refuses it, the request as stored
// says whether it was confirmed before (done: nil, and nothing written)
// or cannot be (refused).
func (s *Store) confirmOnce(ctx context.Context, id string, e privacy.Event, upd *types.Update,
	done func(privacy.RightsRequest) bool, refused error) error {
	items, err := s.withLedger(e, types.TransactWriteItem{Update: upd})
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	if !refusedAt(err, 0) {
		return fmt.Errorf("confirm request %s: %w", id, err)
	}
	if r, gerr := s.Request(ctx, id); gerr == nil && done(r) {
		return nil
	}
	return refused
}

// ResendVerification sends a new verification link for a request still
// unverified, unless one went out less than cooldown ago: the nonce is
// replaced (the older link stops working) and the acknowledgement made due
// again, held no more (the filing that asks it was within its mailbox's
// limit). It reports whether a link is due; the request stays one request.
func (s *Store) ResendVerification(ctx context.Context, id, nonce string, now time.Time, cooldown time.Duration) (bool, error) {
	vals := map[string]types.AttributeValue{":n": str(nonce), ":now": str(ts(now)),
		":due": str(privacy.Due(privacy.MailReceived, nonce).String()), ":cool": str(ts(now.Add(-cooldown))),
		":requester": &types.AttributeValueMemberSS{Value: []string{privacy.RoleRequester}}}
	// A link only where the lifecycle's verify step starts.
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Requests, Key: requestKey(id),
		UpdateExpression: aws.String("SET verify_nonce = :n, verify_sent_at = :now, mail_due = :due DELETE mail_held :requester"),
		ConditionExpression: aws.String(statusIn(vals, privacy.StepVerify.From()) +
			" AND (attribute_not_exists(verify_sent_at) OR verify_sent_at < :cool)"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: vals})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("resend verification: %w", err)
	}
	return true, nil
}

// NoteJoined makes the "filed again, joined your open request" email due
// for an open request, unless one went out less than cooldown ago. It
// reports whether an email is due.
func (s *Store) NoteJoined(ctx context.Context, id string, open []privacy.Status, now time.Time, cooldown time.Duration) (bool, error) {
	vals := map[string]types.AttributeValue{":now": str(ts(now)), ":due": str(privacy.Due(privacy.MailJoined, ts(now)).String()),
		":cool": str(ts(now.Add(-cooldown)))}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Requests, Key: requestKey(id),
		UpdateExpression: aws.String("SET joined_sent_at = :now, mail_due = :due"),
		ConditionExpression: aws.String("attribute_exists(email) AND " + statusIn(vals, open) + " AND " +
			"(attribute_not_exists(joined_sent_at) OR joined_sent_at < :cool)"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: vals})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("note joined request: %w", err)
	}
	return true, nil
}

// RequestsByStatus lists the requests in a status, earliest due first,
// from the by-status-due index; with dueBefore set, only those due before it.
func (s *Store) RequestsByStatus(ctx context.Context, status privacy.Status, dueBefore time.Time) ([]privacy.RightsRequest, error) {
	cond := "#s = :s"
	vals := map[string]types.AttributeValue{":s": str(status)}
	if !dueBefore.IsZero() {
		cond += " AND due_at < :d"
		vals[":d"] = str(dueBefore.UTC().Format(time.RFC3339))
	}
	out, err := s.queryRequests(ctx, &dynamodb.QueryInput{TableName: &s.tables.Requests, IndexName: aws.String("by-status-due"),
		KeyConditionExpression: aws.String(cond), ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: vals})
	if err != nil {
		return nil, fmt.Errorf("requests by status: %w", err)
	}
	return out, nil
}

// GroupRequests returns up to max of controller's requests in group (the
// by-group index: group_key "<controller>#<group>"), oldest first.
func (s *Store) GroupRequests(ctx context.Context, controller, group string, max int) ([]privacy.RightsRequest, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.tables.Requests, IndexName: aws.String("by-group"),
		KeyConditionExpression:    aws.String("group_key = :g"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": str(controller + "#" + group)},
		Limit:                     aws.Int32(int32(max))})
	if err != nil {
		return nil, fmt.Errorf("group requests: %w", err)
	}
	reqs := make([]privacy.RightsRequest, 0, len(out.Items))
	for _, it := range out.Items {
		r, err := DecodeRequest(it)
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, r)
	}
	return reqs, nil
}
