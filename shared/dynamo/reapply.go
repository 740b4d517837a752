package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// ErasedSubjects lists every subject the suppression list says was
// erased since (all when zero): after a restore of the other tables
// brings erased people back, they are erased again from this list. The
// suppression table is the erasure's record, kept (not restored). One
// scan: an operator's runbook step, not a request path.
func (s *Store) ErasedSubjects(ctx context.Context, since time.Time) ([]privacy.Erasure, error) {
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{TableName: &s.tables.Suppression,
		FilterExpression:          aws.String("sk = :erased AND since >= :since"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":erased": str(privacy.SuppressErased), ":since": str(ts(since))}})
	var out []privacy.Erasure
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("erased subjects: %w", err)
		}
		for _, it := range page.Items {
			// A time that cannot be read stops the run (nobody is erased
			// again, or spared, on a guess).
			r, err := decodeSuppression(it)
			if err != nil {
				return nil, fmt.Errorf("erased subjects: %w", err)
			}
			out = append(out, privacy.Erasure{Subject: privacy.SubjectID(trimPK(r.PK)), At: r.Since.Time, Lifted: !r.LiftedAt.IsZero()})
		}
	}
	return out, nil
}

// ErasedControllerSubjects lists the people controllers had erased since
// (completed OpenDSR erasures, by controller and subject), so their
// records are erased again after a restore. One scan of the Platform's
// requests table.
func (s *Store) ErasedControllerSubjects(ctx context.Context, since time.Time) ([]privacy.RightsRequest, error) {
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{TableName: &s.tables.PlatformRequests,
		FilterExpression:         aws.String("kind = :k AND #src = :o AND #t = :e AND #s = :done AND completed_at >= :since AND attribute_exists(subject)"),
		ExpressionAttributeNames: map[string]string{"#src": "source", "#t": "type", "#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": str(KindRequest), ":o": str(privacy.SourceOpenDSR),
			":e": str(privacy.RightErasure), ":done": str(privacy.RequestCompleted), ":since": str(ts(since))}})
	var out []privacy.RightsRequest
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("erased controller subjects: %w", err)
		}
		for _, it := range page.Items {
			r, err := DecodeRequest(it)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}
