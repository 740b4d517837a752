package local

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// activity is what the stack has in flight, for WaitIdle: invocations of
// any kind (HTTP, streams, queues, asynchronous ones with their retry
// waits, /_local/invoke), stream batches being delivered or waiting for
// their retry, and where each stream shard's reader has got to.
//
// Its epoch counts every start and end of such work. A shard's reader
// records the epoch at which it began a read that found the shard empty:
// when that is still the epoch, nothing began or ended since the read
// began, so nothing written before it (a function writes only while in
// flight) is left unread.
type activity struct {
	mu      sync.Mutex
	busy    int
	epoch   uint64
	shards  map[any]uint64 // a shard reader -> the epoch of its last empty read's start
	changed chan struct{}  // closed (and replaced) on every change
	// written is closed (and replaced) when something may have written
	// to a table: a write through the AWS front, or a wait for idle
	// beginning. The stream readers poll at once, not at their idle pace.
	written chan struct{}
}

func newActivity() *activity {
	// Epoch 0 is "never read empty" (addShard): it is never the current one.
	return &activity{epoch: 1, shards: map[any]uint64{}, changed: make(chan struct{}), written: make(chan struct{})}
}

// notify wakes the waiters; a.mu is held.
func (a *activity) notify() {
	close(a.changed)
	a.changed = make(chan struct{})
}

// begin marks work in flight; end marks it done. Every method is a no-op
// on a nil activity (a Function or a source outside a Stack).
func (a *activity) begin() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.busy++
	a.epoch++
	a.notify()
}

func (a *activity) end() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.busy--
	a.epoch++
	a.notify()
}

// now is the current epoch, read by a shard's reader before each read.
func (a *activity) now() uint64 {
	if a == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.epoch
}

// addShard registers a shard's reader (not caught up until it says so);
// removeShard forgets it (its shard closed, or the stack stops).
func (a *activity) addShard(key any) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.shards[key] = 0
}

func (a *activity) removeShard(key any) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.shards, key)
	a.notify()
}

// caughtUp records that a read of key's shard begun at epoch since found
// nothing.
func (a *activity) caughtUp(key any, since uint64) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.shards[key] = since
	a.notify()
}

// quiet reports whether nothing is in flight and every shard's reader has
// found its shard empty since the last change; with the epoch it holds
// at, and a channel closed at the next change.
func (a *activity) quiet() (bool, uint64, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.busy > 0 {
		return false, a.epoch, a.changed
	}
	for _, since := range a.shards {
		if since != a.epoch {
			return false, a.epoch, a.changed
		}
	}
	return true, a.epoch, a.changed
}

// mark starts a wait: reads begun before it do not count, and the
// readers read now.
func (a *activity) mark() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.epoch++
	a.notify()
	close(a.written)
	a.written = make(chan struct{})
}

// wrote says a table may have changed (a write went through the AWS
// front): the stream readers read now.
func (a *activity) wrote() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	close(a.written)
	a.written = make(chan struct{})
}

// writes is closed at the next wrote or mark (never for a nil activity).
func (a *activity) writes() <-chan struct{} {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.written
}

// WaitIdle returns once the stack has nothing in flight and nothing
// pending: no invocation running (HTTP, stream, queue, asynchronous with
// its retries, /_local/invoke), every stream shard read to its end after
// WaitIdle was called and after the last invocation ended, and every queue
// a function reads empty (no message visible, in flight or delayed). It is
// the local stack's answer to "has everything that was started finished",
// for tests that check that nothing more happens: call it once the work
// of the test has been started (HTTP calls answered, items written), not
// while the test starts more. Schedules do not count (they are never
// done); ctx bounds the wait.
func (s *Stack) WaitIdle(ctx context.Context) error {
	a := s.activity
	a.mark()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for {
		ok, epoch, changed := a.quiet()
		if ok {
			empty, err := s.queuesEmpty(ctx)
			if err != nil {
				return err
			}
			if again, now, _ := a.quiet(); empty && again && now == epoch {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the local stack is still busy: %w", ctx.Err())
		case <-changed:
		case <-poll.C:
		}
	}
}

// queuesEmpty reports whether every queue a function reads is empty: no
// message visible, in flight (received, not yet deleted) or delayed.
func (s *Stack) queuesEmpty(ctx context.Context) (bool, error) {
	for _, url := range s.readQueues {
		out, err := s.queues.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
				types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
				types.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
		if err != nil {
			return false, fmt.Errorf("queue %s: %w", url, err)
		}
		for _, v := range out.Attributes {
			if n, err := strconv.Atoi(v); err != nil || n != 0 {
				return false, nil
			}
		}
	}
	return true, nil
}
