package privacy

import "testing"

// Known digests of "test@example.com", the normalised form of the input.
func TestEmailDigest(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{"md5", "55502f40dc8b7c769880b10874abc9d0"},
		{"sha1", "567159d622ffbb50b11b0efd307be358624a26ee"},
		{"sha256", "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"},
		{"sha512", ""},
	} {
		if got := EmailDigest(tc.format, "  Test@Example.COM "); got != tc.want {
			t.Errorf("%s = %s, want %s", tc.format, got, tc.want)
		}
	}
	h, _ := NewHasher([]byte("0123456789abcdef0123"))
	k := h.IdentityKeys("acme", "email", "test@example.com")
	if len(k) != 3 || k[2] != h.IdentityKey("acme", "email", "sha256", EmailDigest("sha256", "test@example.com")) || k[0] == k[1] ||
		k[2] == h.IdentityKeys("other", "email", "test@example.com")[2] ||
		k[2] == h.IdentityKeys("acme", "controller_customer_id", "test@example.com")[2] {
		t.Errorf("keys %+v", k)
	}
}
