package mailer_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/mailer"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

type publisher struct {
	published []privacy.PublishedKey
	err       error
}

func (p *publisher) PublishKey(_ context.Context, k privacy.PublishedKey) error {
	if p.err != nil {
		return p.err
	}
	p.published = append(p.published, k)
	return nil
}

// The mailer signs only with a key whose public half it published first,
// and starts with no signer when it cannot publish or read the key.
func TestPublishedSigner(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name, secret string
		publishErr   error
		wantErr      bool
	}{
		{"a seed", strings.Repeat("s", 32), nil, false},
		{"not a key", "short", nil, true},
		{"the store refuses", strings.Repeat("s", 32), errors.New("AccessDeniedException"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &publisher{err: tt.publishErr}
			signer, err := mailer.PublishedSigner(context.Background(), tt.secret, p, at)
			if tt.wantErr {
				if err == nil || signer != nil {
					t.Fatalf("signer %v, error %v: want none and an error", signer, err)
				}
				return
			}
			if err != nil || len(p.published) != 1 {
				t.Fatalf("error %v, published %v", err, p.published)
			}
			want, _ := signer.Published(at)
			var jwk struct {
				Kid string `json:"kid"`
			}
			if got := p.published[0]; got != want || json.Unmarshal([]byte(got.JWK), &jwk) != nil || jwk.Kid != got.ID {
				t.Fatalf("published %+v, the signer's key is %+v", got, want)
			}
		})
	}
}
