package privacy

import (
	"fmt"
	"hash/fnv"
)

// The retention index. Every stored item some class applies to carries
// when the sweep next has something to do with it, under one of
// RetentionShards partitions (so that no partition of the index is hot):
// the sweep queries each shard for what is due by now and never scans a
// table.
//
// The time an item carries is never later than NextDue of the item as
// stored. A writer that knows the whole item files it under NextDue; one
// that starts a class by an update files it under that class's end, or,
// when it cannot know what else applies, under the time of the update (the
// sweep then reads the item once and files it exactly); one that only
// moves a clock later, or ends a class, may leave the old, earlier time,
// which also costs the sweep one read.

// RetentionShards is how many partitions the retention index has: each
// takes up to 1,000 writes a second.
const RetentionShards = 16

// RetentionShard is the index partition of an item's key.
func RetentionShard(key string) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	return RetentionShardName(int(h.Sum32() % RetentionShards))
}

// RetentionShardName names shard i of the retention index.
func RetentionShardName(i int) string { return fmt.Sprintf("due#%02d", i) }
