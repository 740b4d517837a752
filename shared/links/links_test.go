package links

import (
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/token"
)

// A token's end is kept to the second: a link minted in the second of t,
// after t, must not count as minted before it (the forward of a move was
// followed by the next holder's link minted 0.4 s after the move).
func TestMarketingMintedBefore(t *testing.T) {
	move := time.Date(2026, 12, 7, 12, 0, 0, 600_000_000, time.UTC)
	minted := func(at time.Time) token.Claims {
		// As the token keeps it: the end in whole seconds.
		return token.Claims{Purpose: token.Unsubscribe, Expires: time.Unix(at.Add(MarketingValidity).Unix(), 0).UTC()}
	}
	for _, c := range []struct {
		name string
		at   time.Time
		want bool
	}{
		{"a second before", move.Add(-time.Second), true},
		{"a day before", move.Add(-24 * time.Hour), true},
		{"in the same second, after", move.Add(300 * time.Millisecond), false},
		{"in the same second, before", move.Add(-500 * time.Millisecond), false},
		{"a second after", move.Add(time.Second), false},
	} {
		if got := MarketingMintedBefore(minted(c.at), move); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// A processor's confirmation link minted before its contact address
// changed went to the old inbox: it counts as before, and so does one
// minted in the change's own second, on either side (a token keeps whole
// seconds; refusing a link that went to the new inbox leaves the delivery
// to the team, accepting one that went to the old would close it).
func TestProcessorMintedBefore(t *testing.T) {
	changed := time.Date(2026, 12, 7, 12, 0, 0, 600_000_000, time.UTC)
	minted := func(at time.Time) token.Claims {
		return token.Claims{Purpose: token.ConfirmProcessor, Expires: time.Unix(at.Add(ProcessorValidity).Unix(), 0).UTC()}
	}
	for _, c := range []struct {
		name string
		at   time.Time
		want bool
	}{
		{"thirty days before", changed.Add(-30 * 24 * time.Hour), true},
		{"a second before", changed.Add(-time.Second), true},
		{"in the same second, before", changed.Add(-500 * time.Millisecond), true},
		{"in the same second, after", changed.Add(300 * time.Millisecond), true},
		{"a second after", changed.Add(time.Second), false},
		{"a day after", changed.Add(24 * time.Hour), false},
	} {
		if got := ProcessorMintedBefore(minted(c.at), changed); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
