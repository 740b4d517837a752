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
func EmailDigest(format, email string) string { return IdentityDigest(format, NormalizeEmail(email)) }

// IdentityDigest returns the digest in format of an identity value
// already normalised for its type (opendsr.NormalizeIdentity), as
// lowercase hex; "" for a format that is not one of DigestFormats.
func IdentityDigest(format, normalised string) string {
	newHash, ok := digests[format]
	if !ok {
		return ""
	}
	h := newHash()
	h.Write([]byte(normalised))
	return hex.EncodeToString(h.Sum(nil))
}

// IdentityKey is the key, at controller, of the identity of type typ
// whose digest in format is digest (lowercase hex): the only form in
// which this system keeps a controller's identities (the processor role).
// The same identity at two controllers has unrelated keys, and none is the
// site's subject, so a controller's records never join the site's data or
// another controller's. A copy of the tables gives no digest to look up
// in a list of addresses or advertising ids. (An email's key is the one
// earlier versions kept: "email-<format>".)
func (h *Hasher) IdentityKey(controller, typ, format, digest string) string {
	return h.Pseudonym("controller\x00"+controller+"\x00"+typ+"-"+format, digest)
}

// IdentityKeys are the keys a record carries for a raw identity (its
// normalised value): one per digest format, so a request naming the
// person by any of them finds the record.
func (h *Hasher) IdentityKeys(controller, typ, normalised string) []string {
	keys := make([]string, 0, len(digests))
	for _, f := range DigestFormats() {
		keys = append(keys, h.IdentityKey(controller, typ, f, IdentityDigest(f, normalised)))
	}
	return keys
}
