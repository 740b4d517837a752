package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/receipt"
)

// Store is what the signer reads and writes: the days sealed, a day's
// entries (key, hash, expiry), a sealed day, and the receipt key's
// public half, published before it signs.
type Store interface {
	LastSealed(ctx context.Context) (string, error)
	LedgerDay(ctx context.Context, day string) ([]Entry, error)
	SaveSealed(ctx context.Context, d Sealed, signedAt string) error
	PublishKey(ctx context.Context, k privacy.PublishedKey) error
}

// Sealer seals each closed day of the ledger once (the scheduled
// LedgerSignerFunction): its entries' hashes become the leaves of a
// Merkle tree whose root it signs with the receipt key.
type Sealer struct {
	Store  Store
	Signer *receipt.Signer // the receipt key
	Now    func() time.Time
	Log    *slog.Logger
	Grace  time.Duration // after midnight, for the transactions then in flight
	MaxRun int           // days sealed in one run at most
	// Development lets an invocation seal through a day not yet over
	// (the local stack's tests); never in AWS.
	Development bool
}

// Event is the signer's invocation: Scheduler's (any JSON: the closed
// days), or {"through": "2006-01-02"} (development only).
type Event struct {
	Through string `json:"through"`
}

// Invoke seals every day after the last one sealed through the last one
// closed (or Event.Through in development), and reports the days it
// sealed. A rerun seals nothing twice.
func (s *Sealer) Invoke(ctx context.Context, raw json.RawMessage) ([]string, error) {
	var ev Event
	_ = json.Unmarshal(raw, &ev) // Scheduler's event is not ours: no through
	now := s.Now()
	last := LastClosed(now, s.Grace)
	if ev.Through != "" {
		if !s.Development {
			return nil, errors.New("seal through a day: development only")
		}
		if _, err := time.Parse(time.DateOnly, ev.Through); err != nil {
			return nil, fmt.Errorf("seal through %q: %w", ev.Through, err)
		}
		last = ev.Through
	}
	sealed, err := s.Store.LastSealed(ctx)
	if err != nil {
		return nil, err
	}
	days := DaysToSeal(sealed, last, s.MaxRun)
	if len(days) == 0 {
		return nil, nil
	}
	// Published before it signs: no root is signed with a key no one can
	// check it by (as the mailer does for receipts).
	published, err := s.Signer.Published(now)
	if err == nil {
		err = s.Store.PublishKey(ctx, published)
	}
	if err != nil {
		return nil, fmt.Errorf("publish the signing key: %w", err)
	}
	var done []string
	for _, day := range days {
		entries, err := s.Store.LedgerDay(ctx, day)
		if err != nil {
			return done, err
		}
		d, err := Seal(s.Signer, day, entries, now)
		if err != nil {
			return done, err
		}
		if err := s.Store.SaveSealed(ctx, d, now.UTC().Format(time.RFC3339)); err != nil && !errors.Is(err, privacy.ErrExists) {
			return done, err
		}
		s.Log.InfoContext(ctx, "ledger day sealed", "day", day, "entries", len(entries), "root", Root(d.Leaves))
		done = append(done, day)
	}
	return done, nil
}

// Published is a sealed day as the public route serves it: the day, how
// many entries it sealed, the signed root (a compact JWS whose payload is
// a Statement), and when it was signed. Nobody's data.
type Published struct {
	Day      string `json:"day"`
	Leaves   int    `json:"leaves"`
	JWS      string `json:"jws"`
	SignedAt string `json:"signed_at"`
}

// RootsReader reads the sealed days, a page at a time.
type RootsReader interface {
	Roots(ctx context.Context, after string, limit int) ([]Published, string, error)
}

// Page is GET /.well-known/ledger/roots's answer: a page of sealed days,
// oldest first, the day to ask after for the next (none on the last),
// and where the keys that check them are.
type Page struct {
	Roots []Published `json:"roots"`
	Next  string      `json:"next,omitempty"`
	Keys  string      `json:"keys"`
}

// Page sizes of the roots route.
const (
	DefaultPage = 31
	MaxPage     = 366
)

// ErrBadQuery is a roots query whose after is no day or whose limit is
// no number in 1..MaxPage.
var ErrBadQuery = errors.New("after is a day (2006-01-02) and limit a number from 1 to 366")

// RootsPage reads the page of sealed days after the day after (from the
// first when ""), limit of them ("" for DefaultPage).
func RootsPage(ctx context.Context, r RootsReader, after, limit string) (Page, error) {
	n := DefaultPage
	if limit != "" {
		v, err := strconv.Atoi(limit)
		if err != nil || v < 1 || v > MaxPage {
			return Page{}, ErrBadQuery
		}
		n = v
	}
	if after != "" {
		if _, err := time.Parse(time.DateOnly, after); err != nil {
			return Page{}, ErrBadQuery
		}
	}
	roots, next, err := r.Roots(ctx, after, n)
	if err != nil {
		return Page{}, err
	}
	return Page{Roots: roots, Next: next, Keys: "/.well-known/jwks.json"}, nil
}
