package recipients

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// Seal encrypts a processor's credentials for storage (AES-256-GCM under
// key, bound to the processor's id, so a sealed value copied to another
// registration does not open). A read of the ops table gives no
// credential; key comes from the stack's secret.
func Seal(key []byte, processorID, plain string) (string, error) {
	gcm, err := aead(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(plain), []byte(processorID))), nil
}

// Open decrypts what Seal sealed for processorID.
func Open(key []byte, processorID, sealed string) (string, error) {
	gcm, err := aead(key)
	if err != nil {
		return "", err
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < gcm.NonceSize() {
		return "", errors.New("recipients: sealed credentials are malformed")
	}
	plain, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], []byte(processorID))
	if err != nil {
		return "", errors.New("recipients: sealed credentials do not open with this key")
	}
	return string(plain), nil
}

func aead(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("recipients: credential key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
