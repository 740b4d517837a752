package privacy_test

import (
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// A signup of an address with a bounce or a complaint in force mails no
// confirmation while its subscription's end is less than
// SuppressedSignupDays old, and otherwise one per that many days at most;
// other reasons, or lifted ones, do not hold it back.
func TestSuppressedSignup(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	period := time.Duration(privacy.SuppressedSignupDays) * 24 * time.Hour
	rec := func(reason string) []privacy.Suppression {
		return []privacy.Suppression{{Reason: reason, Since: now.Add(-time.Hour)}}
	}
	for _, tc := range []struct {
		name     string
		recs     []privacy.Suppression
		ended    time.Time
		mail     bool
		cooldown time.Duration
	}{
		{"none", nil, time.Time{}, true, 0},
		{"none, a subscription just ended", nil, now.Add(-time.Hour), true, 0},
		{"an unsubscribe", rec(privacy.SuppressUnsubscribed), now.Add(-time.Hour), true, 0},
		{"a bounce, never subscribed", rec(privacy.SuppressBounced), time.Time{}, true, period},
		{"a complaint, its subscription ended this week", rec(privacy.SuppressComplained), now.Add(-7 * 24 * time.Hour), false, 0},
		{"a bounce, its subscription ended in the future", rec(privacy.SuppressBounced), now.Add(time.Hour), false, 0},
		{"a bounce, its subscription ended long ago", rec(privacy.SuppressBounced), now.Add(-period - time.Hour), true, period},
		{"a complaint lifted", []privacy.Suppression{{Reason: privacy.SuppressComplained, Since: now, LiftedAt: now}}, now, true, 0},
	} {
		mail, cooldown := privacy.SuppressedSignup(tc.recs, tc.ended, now)
		if mail != tc.mail || cooldown != tc.cooldown {
			t.Errorf("%s: %v %v, want %v %v", tc.name, mail, cooldown, tc.mail, tc.cooldown)
		}
	}
}
