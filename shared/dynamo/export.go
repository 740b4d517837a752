package dynamo

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// storageAttrs describe how an item is stored, not the person: a copy of
// a person's data leaves them out.
var storageAttrs = []string{attrPK, attrSK, AttrMailDue, AttrReplayedAt, "list_pk", "list_sk", "subject", "verify_nonce",
	"last_verify_nonce", "email_md5", "email_sha1", "email_sha256"}

// SubjectData returns what the subjects table holds of a subject, as
// plain values without the storage attributes; holds (restrictions, legal
// holds) are the system's, not the person's data, and are left out.
func (s *Store) SubjectData(ctx context.Context, subject privacy.SubjectID) ([]map[string]any, error) {
	items, err := s.SubjectItems(ctx, subject)
	if err != nil {
		return nil, err
	}
	return plainItems(items)
}

// SubjectLedger returns a subject's ledger entries, oldest first.
func (s *Store) SubjectLedger(ctx context.Context, subject privacy.SubjectID) ([]privacy.Event, error) {
	items, err := s.LedgerEntries(ctx, subject)
	if err != nil {
		return nil, err
	}
	return decodeEvents(items)
}

func plainItems(items []map[string]types.AttributeValue) ([]map[string]any, error) {
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		if strings.HasPrefix(s1(it, attrSK), privacy.HoldPrefix) {
			continue
		}
		var m map[string]any
		if err := attributevalue.UnmarshalMap(it, &m); err != nil {
			return nil, fmt.Errorf("decode item: %w", err)
		}
		for _, k := range storageAttrs {
			delete(m, k)
		}
		out = append(out, m)
	}
	return out, nil
}
