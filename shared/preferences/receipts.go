package preferences

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/receipt"
)

// Keys reads the receipt keys the mailer published.
type Keys interface {
	PublishedKeys(ctx context.Context) ([]privacy.PublishedKey, error)
}

// Receipts serves the keys that sign receipts and tells anyone whether a
// receipt is genuine. It holds no key that signs: only the published
// public halves.
type Receipts struct {
	Keys Keys
	Log  *slog.Logger
}

// MaxReceipt is the longest receipt the verify route reads.
const MaxReceipt = 16 << 10

// KeySet is every receipt key ever published, so a receipt signed
// before a rotation still checks.
func (h *Receipts) KeySet(ctx context.Context) (receipt.JWKS, error) {
	published, err := h.Keys.PublishedKeys(ctx)
	if err != nil {
		return receipt.JWKS{}, err
	}
	return receipt.KeySet(published)
}

// Verdict is what a receipt checked against the published keys is: a
// genuine one (Receipt, and Key that signed it), or why not (Problem;
// receipt.ErrMalformed: text that is no receipt at all).
type Verdict struct {
	Receipt *receipt.Receipt
	Key     receipt.JWK
	Problem error
}

// Check checks a receipt (its JWS) against the published keys; an error
// is only that the keys could not be read.
func (h *Receipts) Check(ctx context.Context, jws string) (Verdict, error) {
	set, err := h.KeySet(ctx)
	if err != nil {
		return Verdict{}, fmt.Errorf("verify receipt: %w", err)
	}
	rc, key, err := receipt.Verify(jws, set.Keys)
	if err != nil {
		if !errors.Is(err, receipt.ErrMalformed) {
			h.Log.InfoContext(ctx, "receipt not genuine", "reason", err.Error())
		}
		return Verdict{Problem: err}, nil
	}
	h.Log.InfoContext(ctx, "receipt genuine", "kid", key.Kid, "event", rc.Event)
	return Verdict{Receipt: &rc, Key: key}, nil
}
