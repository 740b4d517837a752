package privacy

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"hash"
)

// DigestFormats returns the forms in which a controller may name an email
// address instead of sending it (OpenDSR identity_format): the digest of
// the normalised address (NormalizeEmail: trimmed, lower-cased), written
// as lowercase hex. The specification leaves normalisation and encoding
// open; this is ours, and docs/features.md documents it.
func DigestFormats() []string { return []string{"md5", "sha1", "sha256"} }

var digests = map[string]func() hash.Hash{"md5": md5.New, "sha1": sha1.New, "sha256": sha256.New}

// EmailDigest returns the digest of the normalised address in format, or
// "" for a format that is not one of DigestFormats.
func EmailDigest(format, email string) string {
	newHash, ok := digests[format]
	if !ok {
		return ""
	}
	h := newHash()
	h.Write([]byte(NormalizeEmail(email)))
	return hex.EncodeToString(h.Sum(nil))
}

// EmailKeys are the keyed forms of an address's digests. A controller's
// record carries them (Hasher.ControllerKeys), each in a sparse index, so
// the controller's hashed identity finds the person by one query and the
// key goes with the record. They are keyed like the subject itself: a copy
// of the tables gives no digest to look up in a list of addresses.
type EmailKeys struct {
	MD5, SHA1, SHA256 string
}

// ControllerKeys are the keys of an address in the data one controller
// handed this system (the processor role): the same person at two
// controllers has unrelated keys, and neither is the site's subject, so a
// controller's records never join the site's or another controller's.
// SHA256 is the person's subject at that controller; MD5 and SHA1 find it
// from a controller that names the person by those digests.
func (h *Hasher) ControllerKeys(controller, email string) EmailKeys {
	key := func(format string) string { return h.ControllerKey(controller, format, EmailDigest(format, email)) }
	return EmailKeys{MD5: key("md5"), SHA1: key("sha1"), SHA256: key("sha256")}
}

// ControllerKey is the key, at controller, of the address whose digest in
// format is digest (lowercase hex).
func (h *Hasher) ControllerKey(controller, format, digest string) string {
	return h.Pseudonym("controller\x00"+controller+"\x00email-"+format, digest)
}
