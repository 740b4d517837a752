package campaign

import (
	"fmt"
	"math"
	"time"
)

// A campaign's batches wait in the campaign queue for their turn at the
// send rate, and the queue deletes a message older than its retention
// period (MessageRetentionPeriod; SQS keeps messages 4 days by default, at
// most 14). A campaign of n emails at r a second needs n/r seconds to
// send: 1,000,000 at 100 a second about 2.8 hours, at 1 a second (the SES
// sandbox's, 80% of it) 11.6 days, past any queue's retention. So the
// planner queues only what will be sent before it expires, and plans the
// rest in a later run.

// Pace is what the planner knows of how fast its batches will be sent.
type Pace struct {
	// Rate is the campaign send rate, messages a second across every
	// sender.
	Rate float64
	// Retention is how long the campaign queue keeps a message.
	Retention time.Duration
	// Margin is how long before it expires a message must be due to be
	// sent: a batch that failed comes back after the queue's visibility
	// timeout, up to its receive count (1.5 hours, 5 times, in the
	// template), and the senders may be slower than the rate.
	Margin time.Duration
}

// DefaultMargin is Pace.Margin when unset: the template's five receives
// of a batch after a visibility timeout of 90 minutes each, and more.
const DefaultMargin = 12 * time.Hour

// Window is how many emails of a campaign created at created may be
// queued in all by a run that starts at now, planned of them queued by
// the runs before: the k-th (from 0) is sent about at created + k/rate
// when the senders kept up since, or, when the queue ran dry meanwhile,
// now + (k - planned)/rate; the later of the two must come before now +
// retention - margin, when a message queued now is about to expire. It
// fails for a pace no email fits (a retention not above the margin, a
// rate of 0, less than one email in the time between).
func (pc Pace) Window(created, now time.Time, planned int) (int, error) {
	margin := pc.Margin
	if margin == 0 {
		margin = DefaultMargin
	}
	if pc.Rate <= 0 || pc.Retention <= margin || pc.Rate*(pc.Retention-margin).Seconds() < 1 {
		return 0, fmt.Errorf("no campaign can be sent before its messages expire: the queue keeps them %v, the margin for retries is %v, "+
			"the send rate %.2f a second", pc.Retention, margin, pc.Rate)
	}
	usable := (pc.Retention - margin).Seconds()
	sinceStart := now.Sub(created).Seconds() + usable // the senders kept up
	afterNow := float64(planned) + pc.Rate*usable     // the queue ran dry
	return int(math.Min(math.Floor(pc.Rate*sinceStart), math.Floor(afterNow))), nil
}

// Split is a plan stopped where what it would queue next would expire in
// the queue before its turn: it is not an error of the campaign, and
// planning it again at or after Resume queues the next part.
type Split struct {
	Planned int
	Rate    float64
	// Retention is the queue's, Resume when the next part fits.
	Retention time.Duration
	Resume    time.Time
}

func (s *Split) Error() string {
	return fmt.Sprintf("split: %d emails queued; at %.2f a second the rest would expire in the queue (it keeps messages %v) "+
		"before their turn; plan the campaign again after %s to queue the next part",
		s.Planned, s.Rate, s.Retention, s.Resume.UTC().Format(time.RFC3339))
}

// resumeAt is when the window first admits one more email than planned:
// when rate * (now - created + retention - margin) reaches planned + 1.
// Later, it admits more (a whole window once those queued are sent).
func (pc Pace) resumeAt(created time.Time, planned int) time.Time {
	margin := pc.Margin
	if margin == 0 {
		margin = DefaultMargin
	}
	turn := created.Add(time.Duration(float64(planned+1) / pc.Rate * float64(time.Second)))
	return turn.Add(-(pc.Retention - margin)).Truncate(time.Second).Add(time.Second)
}
