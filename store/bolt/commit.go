package bolt

import (
	"sync"

	bbolt "go.etcd.io/bbolt"
)

// maxGroup bounds the authorizations one write transaction commits
// together (a larger group makes its own commit, and every waiter's
// answer, later).
const maxGroup = 128

// group commits concurrent authorizations together, as a database's
// group commit does: an authorization that finds no transaction running
// commits at once, alone (no added delay, as db.Update); those that arrive
// while one is committing queue, and when it is done the first of them
// commits the whole queue in one transaction, so one fsync serves them all.
// Each caller returns only after the transaction holding its writes is
// committed (or failed), so an acknowledged authorization is on disk.
//
// Every transaction runs on a caller's goroutine under guarded, so damage
// found while running or committing is ErrCorrupt, never a crash (bbolt's
// own Batch commits on a goroutine of its own, where it is not recovered).
// A group whose transaction fails (one authorization's error, damage, a
// full disk) is rolled back whole, and each of its authorizations is then
// run in a transaction of its own, so that each gets its own answer.
type group struct {
	db *bbolt.DB

	mu    sync.Mutex
	queue []*pending // waiting for the next transaction
	busy  bool       // a transaction is running; queue is empty when not

	// commitHook, when set (tests), is called with each group's size
	// before its transaction starts.
	commitHook func(n int)
}

// pending is one authorization waiting in a group.
type pending struct {
	fn   func(*bbolt.Tx) error
	err  error
	lead bool          // set (under group.mu) for the next committer
	wake chan struct{} // one send: done, or lead
}

// run runs fn in a write transaction, possibly shared with concurrent
// callers. fn must be safe to run more than once (a failed group runs it
// again alone) and must leave its result to be read only after run
// returns nil.
func (g *group) run(fn func(*bbolt.Tx) error) error {
	p := &pending{fn: fn, wake: make(chan struct{}, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, p)
	if g.busy {
		g.mu.Unlock()
		<-p.wake
		if !p.lead {
			return p.err
		}
		g.mu.Lock()
	}
	// p leads: it is at the head of the queue.
	g.busy = true
	n := min(len(g.queue), maxGroup)
	batch := make([]*pending, n)
	copy(batch, g.queue)
	rest := copy(g.queue, g.queue[n:])
	clear(g.queue[rest:])
	g.queue = g.queue[:rest]
	g.mu.Unlock()

	g.commit(batch)
	for _, q := range batch[1:] {
		q.wake <- struct{}{}
	}
	g.mu.Lock()
	if len(g.queue) > 0 {
		next := g.queue[0]
		next.lead = true
		next.wake <- struct{}{}
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	return p.err
}

// commit runs batch in one transaction, or, when that fails, each of its
// members in a transaction of its own; it sets every member's err.
func (g *group) commit(batch []*pending) {
	if g.commitHook != nil {
		g.commitHook(len(batch))
	}
	if len(batch) > 1 {
		err := guarded(g.db.Update, func(tx *bbolt.Tx) error {
			for _, p := range batch {
				if err := p.fn(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			return
		}
	}
	for _, p := range batch {
		p.err = guarded(g.db.Update, p.fn)
	}
}
