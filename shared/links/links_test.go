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
