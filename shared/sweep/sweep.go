// Package sweep enforces the retention policy (privacy.Policy) on time:
// DynamoDB TTL may lag by days and knows no conditions, so a scheduled sweep
// reads what each table's retention index says is due (every shard of it
// in parallel; never a scan, so its cost is what is due, not the table's
// size), deletes (BatchWriteItem, retrying unprocessed items with backoff)
// or strips what is past its period and files the rest under its next due
// time, never touches what a legal hold or a restriction protects (it is
// looked at again a day later), stops before its time budget with a
// checkpoint and resumes from it on the next run.
package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Store is the sweep's storage (the DynamoDB adapter's Sweep).
type Store interface {
	// Swept reports whether the store has the table to sweep.
	Swept(t privacy.Table) bool
	// DuePage reads one page of what one shard (of
	// privacy.RetentionShards) of a table's retention index holds due by
	// now, from a position (nil: the start), and the items; entries counts
	// the index entries read, next is nil after the last page.
	DuePage(ctx context.Context, t privacy.Table, shard int, now time.Time, limit int32, from map[string]string) (
		items []privacy.Item, entries int, next map[string]string, err error)
	// DeleteItems deletes items, all of them but those (held, by index)
	// whose subject (privacy.Protector) is under a legal hold in force at
	// now or a restriction when they are deleted, reporting the retries
	// it took.
	DeleteItems(ctx context.Context, t privacy.Table, items []privacy.Item, now time.Time) (held []int, retries int, err error)
	// Strip removes a class's attributes from an item and files it under
	// its next due time, unless the item changed since it was read;
	// privacy.ErrHeld when its subject is under a hold in force at now.
	Strip(ctx context.Context, t privacy.Table, item privacy.Item, c privacy.Class, now time.Time) error
	// EndSubscription ends the subscription a due suppression (class c,
	// action privacy.EndSubscription) leaves without a purpose, if
	// privacy.EndingOf says so, and marks the suppression checked, in one
	// write; privacy.ErrHeld when its subject is under a hold in force at
	// now, privacy.ErrStale when the suppression (lifted) or the
	// subscription changed since it was read (it stays filed: the next
	// run decides again). Dry, it only reads and decides.
	EndSubscription(ctx context.Context, t privacy.Table, item privacy.Item, c privacy.Class, now time.Time, dry bool) (privacy.SubscriptionEnding, error)
	// Refile files an item under its next due time, or notBefore if that
	// is later, unless it was filed anew since it was read.
	Refile(ctx context.Context, t privacy.Table, item privacy.Item, notBefore time.Time) error
	// HeldSubjects are the subjects under a legal hold in force at now,
	// or a restriction (read once a run: DeleteItems and Strip check
	// again as they write).
	HeldSubjects(ctx context.Context, now time.Time) (map[privacy.SubjectID]bool, error)
	SweepCheckpoint(ctx context.Context) ([]byte, error)
	// SaveSweepCheckpoint keeps state until expires; nil removes it.
	SaveSweepCheckpoint(ctx context.Context, state []byte, expires time.Time) error
	RecordSweep(ctx context.Context, r privacy.SweepRun) error
}

// ControllerRecords enforces the retention of what controllers handed
// this system as their processor (privacy.ControllerDue): each
// controller's own period, and 12 months after its termination.
type ControllerRecords interface {
	ExpireControllerRecords(ctx context.Context, now time.Time, dry bool) (int, error)
}

// Sweeper runs sweeps.
type Sweeper struct {
	Store   Store
	Classes []privacy.Class
	// Controllers, when set, has the controllers' records swept too.
	Controllers ControllerRecords
	Workers     int   // shards of a table's retention index read at once
	PageSize    int32 // index entries per page
	Now         func() time.Time
	Log         *slog.Logger
}

// Options of one run.
type Options struct {
	DryRun bool
	// Budget is how long the run may take; it stops at a page boundary
	// after that and leaves a checkpoint. Every segment still reads at
	// least one page per run, so a run always makes progress.
	Budget time.Duration
}

// Report says what a run did (or, dry, would do).
type Report struct {
	RunID    string                    `json:"run_id"`
	DryRun   bool                      `json:"dry_run"`
	Resumed  bool                      `json:"resumed"`
	Complete bool                      `json:"complete"`
	Scanned  int                       `json:"scanned"`       // items read
	Entries  int                       `json:"index_entries"` // retention index entries read
	Refiled  int                       `json:"refiled"`       // items read but not due, filed under their next due time
	Counts   map[string]map[string]int `json:"counts"`        // class -> deleted|stripped|stamped|ended|kept|checked|changed|protected|unreadable
	Retries  int                       `json:"batch_retries"`
	Duration time.Duration             `json:"duration_ns"`
}

func (r *Report) add(class, what string, n int) {
	if r.Counts[class] == nil {
		r.Counts[class] = map[string]int{}
	}
	r.Counts[class][what] += n
}

// checkpoint is where each shard of each table's retention index stopped.
type checkpoint struct {
	RunID    string                              `json:"run_id"`
	Segments map[privacy.Table][]segmentProgress `json:"segments"`
}

type segmentProgress struct {
	LastKey map[string]string `json:"last_key,omitempty"`
	Done    bool              `json:"done"`
}

// checkpointKept is how long a checkpoint lasts: a sweep that stops
// running for a week starts over rather than from a stale position.
const checkpointKept = 7 * 24 * time.Hour

// checkpointResumed is how long after the run that began it a checkpoint
// is resumed: a run that keeps failing on one shard (a failing write, an
// item it cannot get past) would otherwise resume forever from a
// checkpoint whose other tables are done, and sweep them never again.
// Starting over is safe (what was processed left the index), so every
// table is swept at least once a day whatever one shard does.
const checkpointResumed = 24 * time.Hour

// runIDLayout is a run's id: when it began.
const runIDLayout = "20060102T150405.000000000Z"

// ControllerRecordsClass names the controllers' records in a Report.
const ControllerRecordsClass = "controller_record"

// Run sweeps every table once, or as far as the budget allows.
func (s *Sweeper) Run(ctx context.Context, opt Options) (Report, error) {
	start := time.Now()
	now := s.Now()
	rep := Report{RunID: now.UTC().Format(runIDLayout), DryRun: opt.DryRun, Counts: map[string]map[string]int{}}
	cp, err := s.loadCheckpoint(ctx, opt.DryRun, now)
	if err != nil {
		return rep, err
	}
	rep.Resumed = cp.RunID != ""
	if !rep.Resumed {
		cp = checkpoint{RunID: rep.RunID, Segments: map[privacy.Table][]segmentProgress{}}
	}
	deadline := start.Add(opt.Budget)
	holds := &holdCache{store: s.Store, now: now}
	var mu sync.Mutex
	var firstErr error
	workers := make(chan struct{}, max(s.Workers, 1))
	for _, table := range s.tablesInUse() {
		segs := cp.Segments[table]
		if len(segs) != privacy.RetentionShards {
			segs = make([]segmentProgress, privacy.RetentionShards)
		}
		var wg sync.WaitGroup
		for i := range segs {
			if segs[i].Done {
				continue
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				workers <- struct{}{}
				defer func() { <-workers }()
				local := Report{Counts: map[string]map[string]int{}}
				err := s.shard(ctx, table, i, &segs[i], now, deadline, opt.DryRun, holds, &local)
				mu.Lock()
				defer mu.Unlock()
				rep.Scanned += local.Scanned
				rep.Entries += local.Entries
				rep.Refiled += local.Refiled
				rep.Retries += local.Retries
				for c, m := range local.Counts {
					for k, n := range m {
						rep.add(c, k, n)
					}
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
			}(i)
		}
		wg.Wait()
		cp.Segments[table] = segs
	}
	if s.Controllers != nil {
		n, err := s.Controllers.ExpireControllerRecords(ctx, now, opt.DryRun)
		rep.add(ControllerRecordsClass, "deleted", n)
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	rep.Complete = firstErr == nil
	for _, segs := range cp.Segments {
		for _, sg := range segs {
			rep.Complete = rep.Complete && sg.Done
		}
	}
	rep.Duration = time.Since(start)
	if !opt.DryRun {
		if err := s.saveCheckpoint(ctx, cp, rep.Complete); err != nil && firstErr == nil {
			firstErr = err
		}
		err := s.Store.RecordSweep(ctx, privacy.SweepRun{RunID: rep.RunID, At: now, Counts: rep.Counts, Complete: rep.Complete,
			Resumed: rep.Resumed, Scanned: rep.Scanned, IndexEntries: rep.Entries, Duration: rep.Duration})
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	s.Log.InfoContext(ctx, "retention sweep", "run_id", rep.RunID, "dry_run", rep.DryRun, "resumed", rep.Resumed,
		"complete", rep.Complete, "scanned", rep.Scanned, "index_entries", rep.Entries, "refiled", rep.Refiled, "counts", rep.Counts, "batch_retries", rep.Retries,
		"duration_ms", rep.Duration.Milliseconds())
	return rep, firstErr
}

func (s *Sweeper) tablesInUse() []privacy.Table {
	seen := map[privacy.Table]bool{}
	var out []privacy.Table
	for _, c := range s.Classes {
		if !seen[c.Table] && s.Store.Swept(c.Table) {
			seen[c.Table] = true
			out = append(out, c.Table)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// shard works through one shard of a table's retention index: what was
// processed leaves it (deleted, or filed under a later time), so a run
// that stops early loses nothing, and the checkpoint only spares the next
// run what it read already.
func (s *Sweeper) shard(ctx context.Context, table privacy.Table, shard int, p *segmentProgress,
	now, deadline time.Time, dry bool, holds *holdCache, rep *Report) error {
	for first := true; ; first = false {
		if !first && time.Now().After(deadline) {
			return nil
		}
		items, entries, next, err := s.Store.DuePage(ctx, table, shard, now, s.PageSize, p.LastKey)
		if err != nil {
			return err
		}
		rep.Entries += entries
		var deletes []privacy.Item
		var classes []string // the class each delete is for
		for _, item := range items {
			rep.Scanned++
			class, err := s.apply(ctx, table, item, now, dry, holds, rep)
			if err != nil {
				return err
			}
			if class != "" {
				deletes, classes = append(deletes, item), append(classes, class)
			}
		}
		// Progress is recorded only once the page's deletes are written.
		if err := s.deleteItems(ctx, table, deletes, classes, now, rep); err != nil {
			return err
		}
		if next == nil {
			p.LastKey, p.Done = nil, true
			return nil
		}
		p.LastKey = next
	}
}

// due returns the classes whose period for item has ended.
func (s *Sweeper) due(table privacy.Table, item privacy.Item, now time.Time) []privacy.Class {
	var out []privacy.Class
	for _, c := range s.Classes {
		if end, ok := c.End(table, item); ok && !now.Before(end) {
			out = append(out, c)
		}
	}
	return out
}

// deleteItems deletes the page's items, each for its class; what a hold
// placed since the run read the holds keeps is counted protected and
// looked at again a day later.
func (s *Sweeper) deleteItems(ctx context.Context, table privacy.Table, items []privacy.Item, classes []string, now time.Time, rep *Report) error {
	if len(items) == 0 {
		return nil
	}
	held, retries, err := s.Store.DeleteItems(ctx, table, items, now)
	rep.Retries += retries
	if err != nil {
		return err
	}
	kept := map[int]bool{}
	for _, i := range held {
		kept[i] = true
		rep.add(classes[i], "protected", 1)
		if err := s.Store.Refile(ctx, table, items[i], now.Add(ProtectedRecheck)); err != nil {
			return err
		}
	}
	for i := range items {
		if !kept[i] {
			rep.add(classes[i], "deleted", 1)
		}
	}
	return nil
}

// ProtectedRecheck is how long an item a hold or a restriction protects
// waits before the sweep looks at it again.
const ProtectedRecheck = 24 * time.Hour

// apply judges one item: it returns the class the item is to be deleted
// for ("" for none), and strips it of what is past its period. An item of
// a subject under a hold or a restriction is protected. What it leaves is
// filed under its next due time.
func (s *Sweeper) apply(ctx context.Context, table privacy.Table, item privacy.Item, now time.Time, dry bool,
	holds *holdCache, rep *Report) (string, error) {
	classes := s.due(table, item, now)
	if len(classes) == 0 {
		rep.Refiled++
		// A class whose clock cannot be read is counted and looked at again
		// a day later (Refile keeps it filed): never deleted on it, never
		// forgotten either.
		recheck := time.Time{}
		for _, c := range s.Classes {
			if c.Unreadable(table, item) {
				rep.add(c.Name, "unreadable", 1)
				recheck = now.Add(ProtectedRecheck)
			}
		}
		if dry {
			return "", nil
		}
		return "", s.Store.Refile(ctx, table, item, recheck)
	}
	protect := func(classes []privacy.Class) (string, error) {
		for _, c := range classes {
			rep.add(c.Name, "protected", 1)
		}
		if dry {
			return "", nil
		}
		return "", s.Store.Refile(ctx, table, item, now.Add(ProtectedRecheck))
	}
	if sub, ok := privacy.Protector(table, item); ok {
		held, err := holds.held(ctx, sub)
		if err != nil {
			return "", err
		}
		if held {
			return protect(classes)
		}
	}
	for _, c := range classes {
		if c.Action == privacy.Delete {
			if dry {
				rep.add(c.Name, "deleted", 1)
				return "", nil
			}
			return c.Name, nil // counted once deleted
		}
	}
	for i, c := range classes {
		what := "stripped"
		var err error
		switch {
		case c.Action == privacy.EndSubscription:
			// A dry run reads the subscription too: it counts what the
			// run would do.
			what, err = s.endSubscription(ctx, table, item, c, now, dry)
			if errors.Is(err, privacy.ErrUnreadable) {
				// Not what the class's items are (a key naming no subject,
				// a since in the future): never acted on, counted and
				// looked at again a day later, and no error that would
				// stop the shard (anyone who may write such an item would
				// otherwise stop the sweep).
				rep.add(c.Name, "unreadable", 1)
				if dry {
					return "", nil
				}
				return "", s.Store.Refile(ctx, table, item, now.Add(ProtectedRecheck))
			}
		case !dry:
			err = s.Store.Strip(ctx, table, item, c, now)
		}
		if errors.Is(err, privacy.ErrHeld) { // a hold placed since the run began
			return protect(classes[i:])
		}
		if err != nil {
			return "", err
		}
		rep.add(c.Name, what, 1)
	}
	return "", nil
}

// endSubscription has the store end the subscription a due suppression
// leaves without a purpose and says what it did: "stamped" (its first
// sight: the grace starts), "ended", "kept" (a subscription confirmed
// after the suppression: not ended, the suppression checked), "checked"
// (nothing to end), or "changed" (the suppression or the subscription
// changed since it was read: left filed, decided again by the next run).
func (s *Sweeper) endSubscription(ctx context.Context, table privacy.Table, item privacy.Item, c privacy.Class, now time.Time, dry bool) (string, error) {
	ending, err := s.Store.EndSubscription(ctx, table, item, c, now, dry)
	switch {
	case errors.Is(err, privacy.ErrStale):
		return "changed", nil
	case err != nil:
		return "", err
	case ending == privacy.EndingEnd:
		return "ended", nil
	case ending == privacy.EndingStamped:
		return "stamped", nil
	case ending == privacy.EndingKept:
		return "kept", nil
	}
	return "checked", nil
}

// holdCache knows the subjects under a legal hold or a restriction: the
// store reads them once per run, so the sweep checks holds without a read
// per item.
type holdCache struct {
	store Store
	now   time.Time
	once  sync.Once
	err   error
	set   map[privacy.SubjectID]bool
}

func (h *holdCache) held(ctx context.Context, sub privacy.SubjectID) (bool, error) {
	h.once.Do(func() { h.set, h.err = h.store.HeldSubjects(ctx, h.now) })
	return h.set[sub], h.err
}

func (s *Sweeper) loadCheckpoint(ctx context.Context, dry bool, now time.Time) (checkpoint, error) {
	var cp checkpoint
	if dry {
		return cp, nil // a dry run looks at everything, from the start
	}
	state, err := s.Store.SweepCheckpoint(ctx)
	if err != nil || state == nil {
		return cp, err
	}
	if err := json.Unmarshal(state, &cp); err != nil {
		return checkpoint{}, nil // unreadable: start over, which is safe
	}
	began, err := time.Parse(runIDLayout, cp.RunID)
	if err != nil || now.Sub(began) > checkpointResumed {
		return checkpoint{}, nil // too old (or unknown): start over
	}
	return cp, nil
}

func (s *Sweeper) saveCheckpoint(ctx context.Context, cp checkpoint, complete bool) error {
	if complete {
		return s.Store.SaveSweepCheckpoint(ctx, nil, time.Time{})
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("save sweep checkpoint: %w", err)
	}
	return s.Store.SaveSweepCheckpoint(ctx, b, s.Now().Add(checkpointKept))
}

// Event is what the schedule (or an operator) sends. The schedule's own
// envelope has neither field, which means a real run.
type Event struct {
	DryRun bool `json:"dry_run"`
}

// Handle is the Lambda entry point: a run within the invocation's time,
// leaving a margin to write the checkpoint and the report.
func (s *Sweeper) Handle(ctx context.Context, ev Event) (Report, error) {
	budget := 10 * time.Minute
	if d, ok := ctx.Deadline(); ok {
		budget = time.Until(d) - 30*time.Second
	}
	return s.Run(ctx, Options{DryRun: ev.DryRun, Budget: max(budget, 0)})
}
