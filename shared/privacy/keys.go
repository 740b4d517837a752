package privacy

import "time"

// PublishedKey is the public half of a key that signs receipts, as
// published for anyone to check them: its id (the JWK thumbprint), the JWK
// itself (JSON), and when it was first published. A key is published
// before it signs and stays published, so every receipt it ever signed
// can still be checked after the key is rotated.
type PublishedKey struct {
	ID          string
	JWK         string
	PublishedAt time.Time
}
