package mailer

import (
	"testing"
	"time"
)

// The digest names its period in words.
func TestEvery(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{time.Hour, "1 hour"},
		{24 * time.Hour, "24 hours"},
		{30 * time.Minute, "30 minutes"},
		{90 * time.Minute, "90 minutes"},
		{time.Second, "1 second"},
		{30 * time.Second, "30 seconds"},
	} {
		if got := every(tt.d); got != tt.want {
			t.Errorf("every(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
