package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// BindCookie holds the session's binding (Binding): the console's own
// seal on the pair of tokens its callback received together.
const BindCookie = "pk_console_bind"

// Binding ties a session's ID token to the access token issued with it.
// The authorizer takes the member's groups from the ID token and asks the
// provider only whether the access token is live and the same member's;
// without the binding, a member removed from the team (and signed out
// everywhere) who signs in once more at the provider by hand would pair
// that fresh, live access token with their old ID token, which names the
// team for the rest of its hour. Only the callback, which holds the key,
// seals a pair, and only a pair whose ID token names a group.
type Binding struct{ key []byte }

// NewBinding is the binding of key (the ConsoleSessionKey secret: at
// least 32 bytes).
func NewBinding(key []byte) (*Binding, error) {
	if len(key) < 32 {
		return nil, errors.New("the console's session key must be at least 32 characters")
	}
	return &Binding{key: key}, nil
}

// Seal is the binding of an ID token and an access token.
func (b *Binding) Seal(idToken, accessToken string) string {
	return base64.RawURLEncoding.EncodeToString(b.mac(idToken, accessToken))
}

// Check reports whether seal is the binding of the two tokens.
func (b *Binding) Check(idToken, accessToken, seal string) error {
	got, err := base64.RawURLEncoding.DecodeString(seal)
	if err != nil || !hmac.Equal(got, b.mac(idToken, accessToken)) {
		return fmt.Errorf("%w: the tokens were not issued together to this console", ErrNoSession)
	}
	return nil
}

func (b *Binding) mac(idToken, accessToken string) []byte {
	id, at := sha256.Sum256([]byte(idToken)), sha256.Sum256([]byte(accessToken))
	m := hmac.New(sha256.New, b.key)
	m.Write([]byte("privacykeeper/console-session/v1\x00"))
	m.Write(id[:])
	m.Write(at[:])
	return m.Sum(nil)
}
