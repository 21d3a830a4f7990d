package audit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Entry is one record with its sink-specific encoding, as a Sender gets it.
type Entry struct {
	Record Record
	Data   []byte
}

// Sender delivers one batch synchronously. It is called from a single
// goroutine. A nil error means every entry was delivered; an error wrapping
// ErrPermanent drops the batch; a *RetryAfterError or any other error is
// retried with backoff. Send must return promptly when ctx is done.
type Sender interface {
	Send(ctx context.Context, batch []Entry) error
}

// Encoder is an optional Sender capability: the per-entry encoding, computed
// off the hot path in the sink's goroutine. Without it, Entry.Data is the
// NDJSON line.
type Encoder interface {
	Encode(r Record) ([]byte, error)
}

// AsyncOptions tunes an Async sink. Zero values take the defaults in
// limits.go.
type AsyncOptions struct {
	Name          string        // label value of the "sink" metric label
	QueueSize     int           // bounded queue length (events)
	MaxBatch      int           // events per delivery
	MaxBatchBytes int           // encoded bytes per delivery (entries plus one separator byte each)
	MaxEntryBytes int           // larger entries are dropped (reason too_large)
	FlushInterval time.Duration // longest wait of a partial batch
	MaxAttempts   int           // delivery attempts per batch
	BackoffBase   time.Duration // first backoff
	BackoffMax    time.Duration // backoff cap
	SendTimeout   time.Duration // bound of one attempt
	Metrics       *Metrics      // nil: counters not exported
	// ErrorLog, when set, receives delivery errors (never event contents or
	// credentials). It is called from the sink's goroutine.
	ErrorLog func(error)
}

func (o *AsyncOptions) defaults() {
	if o.Name == "" {
		o.Name = "sink"
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.QueueSize, DefaultQueueSize)
	def(&o.MaxBatch, DefaultMaxBatch)
	def(&o.MaxBatchBytes, DefaultMaxBatchBytes)
	def(&o.MaxEntryBytes, DefaultMaxEntryBytes)
	def(&o.MaxAttempts, DefaultMaxAttempts)
	defD(&o.FlushInterval, DefaultFlushInterval)
	defD(&o.BackoffBase, DefaultBackoffBase)
	defD(&o.BackoffMax, DefaultBackoffMax)
	defD(&o.SendTimeout, DefaultSendTimeout)
	if o.MaxEntryBytes > o.MaxBatchBytes {
		o.MaxEntryBytes = o.MaxBatchBytes
	}
	if o.Metrics == nil {
		o.Metrics, _ = NewMetrics(nil)
	}
}

// Async is a Sink that queues records and delivers them in batches from one
// goroutine through a Sender.
//
// The queue is a fixed ring guarded by a mutex rather than a channel, so
// that Submit does not wake the delivery goroutine for every record: it
// signals only when a record arrives while no flush timer is armed (so that
// one is armed) and when the queue reaches a full batch. Anything else waits
// for the timer, as a partial batch always did.
type Async struct {
	opts    AsyncOptions
	sender  Sender
	encoder Encoder
	c       *sinkCounters
	// wakeAt is the queue length at which Submit wakes the goroutine: a
	// full batch, or the whole queue when that is smaller.
	wakeAt int

	mu     sync.Mutex // guards ring, head, n, armed and closed
	ring   []Record   // the queue, fixed length opts.QueueSize
	head   int        // index of the oldest queued record
	n      int        // number of queued records
	armed  bool       // a wake-up arming the flush timer was sent
	closed bool

	wake      chan struct{} // capacity 1: a pending wake-up
	stop      chan struct{} // closed by Close: drain and exit
	runCtx    context.Context
	cancelRun context.CancelFunc // aborts retries when Close's ctx ends
	done      chan struct{}      // closed when the goroutine exits

	// wait sleeps for d or until ctx is done (a test hook).
	wait func(ctx context.Context, d time.Duration) error
}

// NewAsync starts an asynchronous sink delivering through s.
func NewAsync(s Sender, opts AsyncOptions) *Async {
	a := newAsync(s, opts)
	go a.run()
	return a
}

// newAsync builds the sink without starting its goroutine.
func newAsync(s Sender, opts AsyncOptions) *Async {
	opts.defaults()
	a := &Async{
		opts:   opts,
		sender: s,
		c:      opts.Metrics.forSink(opts.Name),
		wakeAt: min(opts.MaxBatch, opts.QueueSize),
		ring:   make([]Record, opts.QueueSize),
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		wait:   sleepCtx,
	}
	a.encoder, _ = s.(Encoder)
	a.runCtx, a.cancelRun = context.WithCancel(context.Background())
	return a
}

// Submit queues r without blocking. It returns false, counting the drop,
// when the queue is full or the sink is closed.
func (a *Async) Submit(r Record) bool {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		a.c.dropped[DropClosed].Inc()
		return false
	}
	if a.n == len(a.ring) {
		a.mu.Unlock()
		a.c.dropped[DropQueueFull].Inc()
		return false
	}
	i := a.head + a.n
	if i >= len(a.ring) {
		i -= len(a.ring)
	}
	a.ring[i] = r
	a.n++
	signal := !a.armed || a.n == a.wakeAt
	a.armed = true
	a.mu.Unlock()
	a.c.queued.Inc()
	if signal {
		select {
		case a.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	return true
}

// take moves up to max queued records, oldest first, into dst (emptied
// first) and returns it with the number of records still queued. Without
// all it moves nothing unless max records are queued (whole batches only);
// with all it takes what there is, and emptying the queue makes the next
// Submit signal again.
func (a *Async) take(dst []Record, max int, all bool) ([]Record, int) {
	dst = dst[:0]
	a.mu.Lock()
	k := min(max, a.n)
	if !all && k < max {
		k = 0
	}
	for range k {
		dst = append(dst, a.ring[a.head])
		a.ring[a.head] = Record{}
		if a.head++; a.head == len(a.ring) {
			a.head = 0
		}
	}
	a.n -= k
	left := a.n
	if left == 0 && all {
		a.armed = false
	}
	a.mu.Unlock()
	return dst, left
}

// disarmIfEmpty makes the next Submit signal again when the queue is empty,
// and reports whether it was.
func (a *Async) disarmIfEmpty() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == 0 {
		a.armed = false
		return true
	}
	return false
}

// Close stops accepting records, delivers what is queued and waits for the
// delivery goroutine. When ctx ends first, pending deliveries are abandoned
// (counted as dropped, reason shutdown) and ctx's error is returned.
func (a *Async) Close(ctx context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	a.closed = true
	a.mu.Unlock()
	close(a.stop)
	var err error
	select {
	case <-a.done:
	case <-ctx.Done():
		a.cancelRun()
		<-a.done
		err = fmt.Errorf("audit: %s: close: %w", a.opts.Name, ctx.Err())
	}
	a.cancelRun()
	if c, ok := a.sender.(interface{ Close() error }); ok {
		if cerr := c.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("audit: %s: close: %w", a.opts.Name, cerr))
		}
	}
	return err
}

type batcher struct {
	entries []Entry
	bytes   int
}

// run is the delivery goroutine. A wake-up arms the flush timer (when it is
// not running) and moves every full batch out of the queue; the timer, and
// Close, move everything and deliver the partial batch. So a batch is
// delivered as soon as MaxBatch records are queued, and otherwise a record
// waits at most about FlushInterval: the timer is armed no later than its
// arrival. As when the goroutine took every record as it came, the timer
// starts with the first record after everything was delivered.
func (a *Async) run() {
	defer close(a.done)
	var b batcher
	work := make([]Record, 0, a.wakeAt)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	timerOn := false
	// drain moves queued records into batches, wakeAt at a time: only full
	// batches, or with all set everything, emptying the queue.
	drain := func(all bool) {
		for {
			var left int
			work, left = a.take(work, a.wakeAt, all)
			for _, r := range work {
				a.add(&b, r)
			}
			clear(work)
			if len(work) == 0 || left == 0 {
				return
			}
		}
	}
	for {
		select {
		case <-a.wake:
			if !timerOn {
				timer.Reset(a.opts.FlushInterval)
				timerOn = true
			}
			drain(false)
			// Everything delivered: stop the timer, so that it starts
			// again with the next record, as a new batch's would.
			if len(b.entries) == 0 && a.disarmIfEmpty() {
				timer.Stop()
				timerOn = false
			}
		case <-timer.C:
			timerOn = false
			drain(true)
			a.flush(&b)
		case <-a.stop:
			timer.Stop()
			drain(true)
			a.flush(&b)
			return
		}
	}
}

// add encodes r into the batch, flushing first when r would not fit. It
// reports whether r was added.
func (a *Async) add(b *batcher, r Record) bool {
	data := r.Line
	if a.encoder != nil {
		var err error
		if data, err = a.encoder.Encode(r); err != nil {
			a.c.dropped[DropEncode].Inc()
			a.logErr(fmt.Errorf("audit: %s: encode: %w", a.opts.Name, err))
			return false
		}
	}
	if len(data)+1 > a.opts.MaxEntryBytes {
		a.c.dropped[DropTooLarge].Inc()
		return false
	}
	if len(b.entries) >= a.opts.MaxBatch || b.bytes+len(data)+1 > a.opts.MaxBatchBytes {
		a.flush(b)
	}
	b.entries = append(b.entries, Entry{Record: r, Data: data})
	b.bytes += len(data) + 1
	if len(b.entries) >= a.opts.MaxBatch {
		a.flush(b)
		return false
	}
	return true
}

// flush delivers the batch with retries and empties it.
func (a *Async) flush(b *batcher) {
	if len(b.entries) == 0 {
		return
	}
	defer func() {
		clear(b.entries)
		b.entries, b.bytes = b.entries[:0], 0
	}()
	n := float64(len(b.entries))
	for attempt := 1; ; attempt++ {
		if a.runCtx.Err() != nil {
			a.c.dropped[DropShutdown].Add(n)
			return
		}
		ctx, cancel := context.WithTimeout(a.runCtx, a.opts.SendTimeout)
		err := a.sender.Send(ctx, b.entries)
		cancel()
		if err == nil {
			a.c.sent.Add(n)
			return
		}
		a.logErr(fmt.Errorf("audit: %s: delivery attempt %d: %w", a.opts.Name, attempt, err))
		switch {
		case errors.Is(err, ErrPermanent):
			a.c.dropped[DropPermanent].Add(n)
			return
		case a.runCtx.Err() != nil:
			a.c.dropped[DropShutdown].Add(n)
			return
		case attempt >= a.opts.MaxAttempts:
			a.c.dropped[DropRetriesExhausted].Add(n)
			return
		}
		a.c.retried.Add(n)
		d := backoff(attempt, a.opts.BackoffBase, a.opts.BackoffMax)
		var ra *RetryAfterError
		if errors.As(err, &ra) && ra.After > d {
			d = min(ra.After, MaxRetryAfter)
		}
		if a.wait(a.runCtx, d) != nil {
			a.c.dropped[DropShutdown].Add(n)
			return
		}
	}
}

func (a *Async) logErr(err error) {
	if a.opts.ErrorLog != nil {
		a.opts.ErrorLog(err)
	}
}

// backoff is "equal jitter" exponential backoff: half of base·2^(attempt-1)
// (capped at max) plus a uniform random part of the same size.
func backoff(attempt int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	half := d / 2
	return half + rand.N(half+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
