package cache

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// HubOptions tune a Hub. Zero values pick the defaults.
type HubOptions struct {
	// Buffer is how many events a subscriber may fall behind before it is ended with
	// model.ErrSlowSubscriber (default 256).
	Buffer int
	// Recheck is how often an open subscription asks its recheck function whether the
	// caller may still subscribe (default 2s).
	Recheck time.Duration
}

// Hub fans tenants' events out to this instance's subscribers. On a single server it
// holds one Redis pub/sub connection, subscribed to each tenant channel that has at least
// one local subscriber, so a thousand subscribers of one tenant cost one Redis
// subscription. On a Redis Cluster it uses sharded pub/sub (SSUBSCRIBE; writes SPUBLISH)
// with one connection per master node that owns a channel with local subscribers; see
// shard. Delivery to a subscriber never blocks the others: each has a bounded buffer,
// and one that overflows is ended and counted.
type Hub struct {
	store   *Store
	opts    HubOptions
	ps      *redis.PubSub        // single server: the one connection; nil on a cluster
	cluster *redis.ClusterClient // cluster: where shards are opened; nil on a single server
	active  atomic.Int64
	dropped atomic.Int64
	// ctx ends when the Hub closes (or Run's context ends): shard receivers stop.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	channels map[string]*channel
	// pending lists, per channel, the channel states waiting for the confirmation of a
	// SUBSCRIBE, in the order the commands were sent (Redis confirms in that order).
	pending map[string][]*channel
	// shards are the cluster's sharded pub/sub connections, by node address.
	shards map[string]*shard
}

// channel is the local state of one subscribed tenant channel.
type channel struct {
	tenant    model.Tenant
	subs      map[*subscriber]struct{}
	confirmed chan struct{}
	// shard is the connection the channel is subscribed on (cluster only).
	shard *shard
}

// shard is one sharded pub/sub connection to a cluster master, carrying the channels
// whose slots that node owns. A channel gets its own SSUBSCRIBE command (one command
// may only name channels of one slot), and a shard is never reconnected in place:
// go-redis would resubscribe all its channels in one command, which the server refuses
// (CROSSSLOT) when they span slots, and a slot may have moved meanwhile. So when the
// connection breaks, the shard's subscriptions end with model.ErrUnavailable (as on a
// single server) and the next Subscribe opens a new shard on the slot's current owner.
// When the server drops a channel because its slot moved (an unrequested sunsubscribe),
// that channel's subscriptions end the same way.
type shard struct {
	addr    string
	ps      *redis.PubSub
	count   int  // channels subscribed on it; at 0 the shard is closed
	dropped bool // closed or broken: no longer in Hub.shards
	// unsubs counts, per channel, SUNSUBSCRIBE commands not yet confirmed, to tell them
	// from the server dropping a channel.
	unsubs  map[string]int
	pending map[string][]*channel
}

type subscriber struct {
	queue chan *model.ConnectSessionEvent
	// fail carries the reason the subscription ends (nil: a clean end); first one wins.
	fail chan error
	// resumable subscribers (those that gave an event id to start after) are never ended
	// for falling behind: dispatch drops the event and sets behind, and the subscriber
	// reads what it missed from the tenant's log.
	resumable bool
	behind    atomic.Bool
}

func (s *subscriber) end(err error) {
	select {
	case s.fail <- err:
	default:
	}
}

// NewHub returns a Hub over the store's Redis; Run must be running for it to deliver.
func (s *Store) NewHub(opts HubOptions) *Hub {
	if opts.Buffer <= 0 {
		opts.Buffer = 256
	}
	if opts.Recheck <= 0 {
		opts.Recheck = 2 * time.Second
	}
	h := &Hub{store: s, opts: opts, channels: map[string]*channel{}, pending: map[string][]*channel{}}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	if c, ok := s.rdb.(*redis.ClusterClient); ok {
		h.cluster = c
		h.shards = map[string]*shard{}
	} else {
		h.ps = s.rdb.Subscribe(context.Background())
	}
	return h
}

// Active is the number of open subscriptions.
func (h *Hub) Active() int64 { return h.active.Load() }

// Dropped is the number of subscriptions ended because their reader fell behind.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }

// Subscribe returns the events of tenant t, in write order, until ctx ends, the Hub
// closes, or the subscription fails; the stream's channel is then closed, and its Err
// says why it failed (model.ErrSlowSubscriber, an error wrapping model.ErrUnavailable
// when the event stream broke, model.ErrEventsTrimmed, or what recheck returned).
// recheck, when set, runs every HubOptions.Recheck.
//
// With after "", the events are those of writes that complete after Subscribe returns.
// With an event id, they are every event after it: first read from the tenant's log,
// then live, with no gap and no duplicate at the seam (the live channel is subscribed
// before the log is read, and live events the log already gave are skipped by id). Such
// a subscription is not ended for falling behind: it reads what it missed from the log.
func (h *Hub) Subscribe(ctx context.Context, t model.Tenant, after string, recheck func(context.Context) error) (*model.EventStream, error) {
	if after != "" {
		var err error
		if after, err = model.ParseEventID(after); err != nil {
			return nil, err
		}
	}
	name := h.store.k.events(t)
	sub := &subscriber{queue: make(chan *model.ConnectSessionEvent, h.opts.Buffer), fail: make(chan error, 1),
		resumable: after != ""}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, fmt.Errorf("cache: subscribe: %w: shutting down", model.ErrUnavailable)
	}
	ch := h.channels[name]
	if ch == nil {
		ch = &channel{tenant: t, subs: map[*subscriber]struct{}{}, confirmed: make(chan struct{})}
		h.channels[name] = ch
		// Sent under the lock so SUBSCRIBE and UNSUBSCRIBE of a channel go out in the
		// order the map changes.
		var err error
		if h.cluster != nil {
			err = h.subscribeShard(ctx, name, ch)
		} else if err = h.ps.Subscribe(ctx, name); err == nil {
			h.pending[name] = append(h.pending[name], ch)
		}
		if err != nil {
			delete(h.channels, name)
			h.mu.Unlock()
			return nil, storeErr("subscribe", err)
		}
	}
	ch.subs[sub] = struct{}{}
	h.mu.Unlock()

	wait := time.NewTimer(5 * time.Second)
	defer wait.Stop()
	select {
	case <-ch.confirmed:
	case err := <-sub.fail:
		h.remove(name, sub)
		if err == nil {
			err = fmt.Errorf("cache: subscribe: %w: shutting down", model.ErrUnavailable)
		}
		return nil, err
	case <-ctx.Done():
		h.remove(name, sub)
		return nil, storeErr("subscribe", ctx.Err())
	case <-wait.C:
		h.remove(name, sub)
		return nil, fmt.Errorf("cache: subscribe: %w: no confirmation from redis", model.ErrUnavailable)
	}
	out := make(chan *model.ConnectSessionEvent)
	end := &ending{}
	h.active.Add(1)
	go h.forward(ctx, t, name, sub, after, out, end, recheck)
	return &model.EventStream{Events: out, Err: end.get}, nil
}

// ending is why a subscription failed, set before its channel is closed.
type ending struct {
	mu  sync.Mutex
	err error
}

func (e *ending) set(err error) {
	e.mu.Lock()
	e.err = err
	e.mu.Unlock()
}

func (e *ending) get() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// replayBatch is how many logged events a resuming subscriber reads at a time (at most;
// see Store.replay).
const replayBatch = 100

// forward moves one subscriber's events to the channel its transport reads, until the
// subscription ends; it is the only goroutine a subscription adds. A resumable one
// first sends the log's events after `after` in batches, and returns to the log whenever
// dispatch marks it behind; live events at or before the last one sent are skipped.
func (h *Hub) forward(ctx context.Context, t model.Tenant, name string, sub *subscriber, after string, out chan<- *model.ConnectSessionEvent, end *ending, recheck func(context.Context) error) {
	defer h.active.Add(-1)
	defer close(out)
	defer h.remove(name, sub)
	var tick <-chan time.Time
	if recheck != nil {
		tk := time.NewTicker(h.opts.Recheck)
		defer tk.Stop()
		tick = tk.C
	}
	final := end.set // before the deferred close: a reader that sees the close sees why
	last := after
	replaying := sub.resumable
	var batch []*model.ConnectSessionEvent
	for {
		if replaying && len(batch) == 0 {
			evs, more, err := h.store.replay(ctx, t, last)
			if err != nil {
				if ctx.Err() == nil {
					final(err)
				}
				return
			}
			batch, replaying = evs, more
		}
		// While a batch is being sent, live events wait in the queue.
		var send chan<- *model.ConnectSessionEvent
		var next *model.ConnectSessionEvent
		live := sub.queue
		if len(batch) > 0 {
			send, next, live = out, batch[0], nil
		}
		select {
		case <-ctx.Done():
			return
		case err := <-sub.fail:
			final(err)
			return
		case <-tick:
			if err := recheck(ctx); err != nil {
				final(err)
				return
			}
		case send <- next:
			last, batch = next.EventID, batch[1:]
		case ev := <-live:
			if sub.behind.Swap(false) {
				// Events after this one were dropped; the log has them all, this one too.
				replaying = true
				continue
			}
			if sub.resumable && !model.EventIDLess(last, ev.EventID) {
				continue // the log already gave it
			}
			select {
			case out <- ev:
				last = ev.EventID
			case <-ctx.Done():
				return
			case err := <-sub.fail:
				final(err)
				return
			}
		}
	}
}

// remove forgets a subscriber and unsubscribes its channel when it was the last one.
func (h *Hub) remove(name string, sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := h.channels[name]
	if ch == nil {
		return
	}
	delete(ch.subs, sub)
	if len(ch.subs) > 0 {
		return
	}
	delete(h.channels, name)
	if !h.closed {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if ch.shard != nil {
			h.unsubscribeShard(ctx, name, ch.shard)
			return
		}
		// If this fails the connection is broken; Run notices and resubscribes only the
		// channels still in use.
		_ = h.ps.Unsubscribe(ctx, name)
	}
}

// Run receives events until ctx ends or the Hub closes. When the Redis connection
// breaks, every open subscription is ended with an error wrapping model.ErrUnavailable
// (events may have been missed), and Run keeps trying to reconnect. On a cluster each
// shard has its own receiver and Run only waits: a broken shard ends its subscriptions
// the same way, and the next Subscribe connects anew.
func (h *Hub) Run(ctx context.Context) {
	if h.cluster != nil {
		// Each shard has its own receiver; they stop with the Hub or with ctx.
		select {
		case <-ctx.Done():
			h.cancel()
		case <-h.ctx.Done():
		}
		return
	}
	for {
		msg, err := h.ps.Receive(ctx)
		if ctx.Err() != nil || h.isClosed() {
			return
		}
		if err != nil {
			h.failAll(fmt.Errorf("cache: event stream interrupted: %w: %w", model.ErrUnavailable, err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				h.confirm(m.Channel)
			}
		case *redis.Message:
			h.dispatch(ctx, nil, m.Channel, m.Payload)
		}
	}
}

func (h *Hub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

func (h *Hub) confirm(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	waiting := h.pending[name]
	if len(waiting) == 0 {
		return // a resubscription after a reconnect
	}
	close(waiting[0].confirmed)
	if len(waiting) == 1 {
		delete(h.pending, name)
	} else {
		h.pending[name] = waiting[1:]
	}
}

// dispatch delivers a message received on from (nil: the single-server connection) to
// the channel's subscribers, unless the channel now lives on another connection.
func (h *Hub) dispatch(ctx context.Context, from *shard, name, payload string) {
	h.mu.Lock()
	ch := h.channels[name]
	h.mu.Unlock()
	if ch == nil || ch.shard != from {
		return
	}
	ev, err := h.store.decodePublished(ch.tenant, payload)
	if err != nil {
		h.store.log.ErrorContext(ctx, "undecodable event", "channel", name, "err", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if cur := h.channels[name]; cur != nil && cur.shard != from {
		return
	}
	for sub := range h.channels[name].subsOrNil() {
		select {
		case sub.queue <- ev:
		default:
			if sub.resumable {
				sub.behind.Store(true)
				continue
			}
			h.dropped.Add(1)
			delete(h.channels[name].subs, sub)
			sub.end(fmt.Errorf("cache: %w: more than %d events behind", model.ErrSlowSubscriber, h.opts.Buffer))
		}
	}
}

func (c *channel) subsOrNil() map[*subscriber]struct{} {
	if c == nil {
		return nil
	}
	return c.subs
}

func (h *Hub) failAll(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ch := range h.channels {
		for sub := range ch.subs {
			sub.end(err)
		}
	}
	// Confirmations of commands sent before the break will not come.
	clear(h.pending)
}

// Close ends every subscription cleanly (their streams complete without an error) and
// closes the Redis pub/sub connection.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	for _, ch := range h.channels {
		for sub := range ch.subs {
			sub.end(nil)
		}
	}
	shards := h.shards
	h.shards = nil
	for _, sh := range shards {
		sh.dropped = true
	}
	h.mu.Unlock()
	h.cancel()
	for _, sh := range shards {
		_ = sh.ps.Close()
	}
	if h.ps == nil {
		return nil
	}
	return h.ps.Close()
}
