package cache

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// Sharded pub/sub on a Redis Cluster. A tenant's events go out with SPUBLISH from the
// write script (in the tenant's slot) and reach only the master that owns the slot,
// instead of being broadcast over the cluster bus to every node as PUBLISH is. go-redis's
// ClusterClient.SSubscribe binds one PubSub to the node of its first channel's slot, so
// the Hub keeps one PubSub per master node (a shard) and subscribes each channel on the
// shard of its slot's owner. All shard state is guarded by Hub.mu.

// subscribeShard sends SSUBSCRIBE for name on the shard of the node owning its slot,
// opening the shard when needed. Called with h.mu held.
func (h *Hub) subscribeShard(ctx context.Context, name string, ch *channel) error {
	node, err := h.cluster.MasterForKey(ctx, name)
	if err != nil {
		return err
	}
	addr := node.Options().Addr
	sh := h.shards[addr]
	if sh == nil {
		sh = &shard{addr: addr, ps: node.SSubscribe(context.Background()),
			unsubs: map[string]int{}, pending: map[string][]*channel{}}
		h.shards[addr] = sh
		go h.receiveShard(sh)
	}
	if err := sh.ps.SSubscribe(ctx, name); err != nil {
		if sh.count == 0 {
			h.closeShard(sh)
		}
		return err
	}
	sh.count++
	sh.pending[name] = append(sh.pending[name], ch)
	ch.shard = sh
	return nil
}

// unsubscribeShard ends name's subscription on sh, closing the shard when it was the
// last channel. Called with h.mu held.
func (h *Hub) unsubscribeShard(ctx context.Context, name string, sh *shard) {
	if sh.dropped {
		return
	}
	sh.count--
	if sh.count <= 0 {
		h.closeShard(sh)
		return
	}
	sh.unsubs[name]++
	// If this fails the connection is broken: the receiver notices and drops the shard.
	_ = sh.ps.SUnsubscribe(ctx, name)
}

// closeShard forgets sh and closes its connection; its receiver then stops. Called with
// h.mu held.
func (h *Hub) closeShard(sh *shard) {
	sh.dropped = true
	if h.shards[sh.addr] == sh {
		delete(h.shards, sh.addr)
	}
	_ = sh.ps.Close()
}

// receiveShard reads one shard's connection until it is closed or breaks.
func (h *Hub) receiveShard(sh *shard) {
	for {
		msg, err := sh.ps.Receive(h.ctx)
		if err != nil {
			h.dropShard(sh, err)
			return
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			switch m.Kind {
			case "ssubscribe":
				h.confirmShard(sh, m.Channel)
			case "sunsubscribe":
				h.shardUnsubscribed(sh, m.Channel)
			}
		case *redis.Message:
			h.dispatch(h.ctx, sh, m.Channel, m.Payload)
		}
	}
}

func (h *Hub) confirmShard(sh *shard, name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	waiting := sh.pending[name]
	if len(waiting) == 0 {
		return
	}
	close(waiting[0].confirmed)
	if len(waiting) == 1 {
		delete(sh.pending, name)
	} else {
		sh.pending[name] = waiting[1:]
	}
}

// shardUnsubscribed handles a sunsubscribe: the confirmation of our SUNSUBSCRIBE, or the
// server dropping the channel because its slot moved to another node.
func (h *Hub) shardUnsubscribed(sh *shard, name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sh.unsubs[name] > 0 {
		if sh.unsubs[name]--; sh.unsubs[name] == 0 {
			delete(sh.unsubs, name)
		}
		return
	}
	ch := h.channels[name]
	if ch == nil || ch.shard != sh || h.closed {
		return
	}
	err := fmt.Errorf("cache: event stream interrupted: %w: the cluster moved the channel's slot", model.ErrUnavailable)
	h.endChannel(name, ch, err)
	delete(sh.pending, name)
	if sh.count--; sh.count <= 0 {
		h.closeShard(sh)
	}
}

// dropShard ends the subscriptions of a shard whose connection broke (unless the shard
// was closed on purpose) and forgets it, so the next Subscribe opens a new one.
func (h *Hub) dropShard(sh *shard, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sh.dropped {
		return
	}
	h.closeShard(sh)
	if !h.closed {
		err := fmt.Errorf("cache: event stream interrupted: %w: %w", model.ErrUnavailable, err)
		for name, ch := range h.channels {
			if ch.shard == sh {
				h.endChannel(name, ch, err)
			}
		}
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		// A MOVED or CLUSTERDOWN reply: the slot map is stale.
		h.cluster.ReloadState(context.Background())
	}
}

// endChannel ends every subscription of a channel with err and forgets the channel, so
// the next Subscribe to it subscribes afresh. Called with h.mu held.
func (h *Hub) endChannel(name string, ch *channel, err error) {
	for sub := range ch.subs {
		sub.end(err)
	}
	if h.channels[name] == ch {
		delete(h.channels, name)
	}
}
