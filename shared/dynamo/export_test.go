package dynamo

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// AsItem is a stored item as the retention policy judges it.
func AsItem(item map[string]types.AttributeValue) privacy.Item { return sweepItem(item) }

// Filed is where an item is in the retention index: its shard, the shard
// its key belongs in, and its due time.
func Filed(item map[string]types.AttributeValue) (shard, want string, at time.Time, ok bool) {
	at, ok = dueOf(item)
	return s1(item, attrDuePK), dueShard(item), at, ok
}
