package mailer

import (
	"context"
	"fmt"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/receipt"
)

// KeyPublisher publishes a receipt key's public half (the receipts' routes
// read it from the ops table).
type KeyPublisher interface {
	PublishKey(ctx context.Context, k privacy.PublishedKey) error
}

// PublishedSigner returns the signer of the receipt key secret once its
// public half is published at now: no receipt is signed with a key no one
// can check it by.
func PublishedSigner(ctx context.Context, secret string, keys KeyPublisher, now time.Time) (*receipt.Signer, error) {
	signer, err := receipt.NewSigner(secret)
	if err != nil {
		return nil, err
	}
	published, err := signer.Published(now)
	if err == nil {
		err = keys.PublishKey(ctx, published)
	}
	if err != nil {
		return nil, fmt.Errorf("publish the receipt key: %w", err)
	}
	return signer, nil
}
