package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// API keys live outside tenant slots, one hash per key plus a set of key ids per
// organization for listing:
//
//	<p>:apikey:<id>          hash o (org), p (projects, JSON; absent = all), r (role),
//	                         l (label), c (created ms), x (revoked ms), h (hash)
//	<p>:apikeys:<org>        set of key ids
//	<p>:apikeys:revoked      channel: a revoked key's id, so instances drop cached copies
func (k keys) apiKey(id string) string { return k.prefix + ":apikey:" + id }
func (k keys) orgKeys(org int) string  { return k.prefix + ":apikeys:" + strconv.Itoa(org) }
func (k keys) keyRevocations() string  { return k.prefix + ":apikeys:revoked" }

// SaveKey stores a new API key. It fails if a key with the same id exists.
func (s *Store) SaveKey(ctx context.Context, key *model.APIKey) error {
	fields := map[string]any{
		"o": key.OrganizationID, "r": string(key.Role), "l": key.Label,
		"c": millis(key.CreatedAt), "h": key.Hash,
	}
	if key.Projects != nil {
		b, _ := json.Marshal(key.Projects)
		fields["p"] = string(b)
	}
	ok, err := s.rdb.HSetNX(ctx, s.k.apiKey(key.ID), "h", key.Hash).Result()
	if err != nil {
		return storeErr("save key", err)
	}
	if !ok {
		return fmt.Errorf("cache: api key %s already exists", key.ID)
	}
	// Until this completes the key has no organization, so lookups treat it as unknown.
	if err := s.rdb.HSet(ctx, s.k.apiKey(key.ID), fields).Err(); err != nil {
		return storeErr("save key", err)
	}
	// The listing set is written last: a key is usable as soon as its hash is complete,
	// and listed once this succeeds.
	return storeErr("save key", s.rdb.SAdd(ctx, s.k.orgKeys(key.OrganizationID), key.ID).Err())
}

// GetKey returns a stored key; model.ErrNotFound when there is none (or it is
// incomplete).
func (s *Store) GetKey(ctx context.Context, id string) (*model.APIKey, error) {
	m, err := s.rdb.HGetAll(ctx, s.k.apiKey(id)).Result()
	if err != nil {
		return nil, storeErr("get key", err)
	}
	return parseKey(id, m)
}

func parseKey(id string, m map[string]string) (*model.APIKey, error) {
	org, err := strconv.Atoi(m["o"])
	if err != nil || m["h"] == "" || m["r"] == "" {
		return nil, model.ErrNotFound
	}
	created, _ := strconv.ParseInt(m["c"], 10, 64)
	key := &model.APIKey{
		ID: id, OrganizationID: org, Role: model.Role(m["r"]), Label: m["l"],
		CreatedAt: fromMillis(created), Hash: m["h"],
	}
	if p, ok := m["p"]; ok {
		if err := json.Unmarshal([]byte(p), &key.Projects); err != nil {
			return nil, fmt.Errorf("cache: api key %s: projects: %w", id, err)
		}
		if key.Projects == nil {
			key.Projects = []string{}
		}
	}
	if x, _ := strconv.ParseInt(m["x"], 10, 64); x > 0 {
		key.RevokedAt = optTime(x)
	}
	return key, nil
}

// ListKeys returns an organization's keys, oldest first.
func (s *Store) ListKeys(ctx context.Context, org int) ([]*model.APIKey, error) {
	ids, err := s.rdb.SMembers(ctx, s.k.orgKeys(org)).Result()
	if err != nil {
		return nil, storeErr("list keys", err)
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, s.k.apiKey(id))
		}
		return nil
	})
	if err != nil {
		return nil, storeErr("list keys", err)
	}
	var out []*model.APIKey
	for i, id := range ids {
		key, err := parseKey(id, cmds[i].Val())
		if errors.Is(err, model.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, key)
	}
	sort.Slice(out, func(a, b int) bool {
		if !out[a].CreatedAt.Equal(out[b].CreatedAt) {
			return out[a].CreatedAt.Before(out[b].CreatedAt)
		}
		return out[a].ID < out[b].ID
	})
	return out, nil
}

// RevokeKey marks a key revoked (keeping its record for `apikey list`) and tells every
// instance to drop it from its cache. It returns model.ErrNotFound for an unknown key.
func (s *Store) RevokeKey(ctx context.Context, id string) (*model.APIKey, error) {
	key, err := s.GetKey(ctx, id)
	if err != nil {
		return nil, err
	}
	if key.RevokedAt == nil {
		now := s.now()
		if err := s.rdb.HSet(ctx, s.k.apiKey(id), "x", millis(now)).Err(); err != nil {
			return nil, storeErr("revoke key", err)
		}
		key.RevokedAt = optTime(millis(now))
	}
	if err := s.rdb.Publish(ctx, s.k.keyRevocations(), id).Err(); err != nil {
		return nil, storeErr("announce key revocation", err)
	}
	return key, nil
}

// WatchKeyRevocations calls fn with the id of every key revoked anywhere, until ctx
// ends. The subscription reconnects by itself after Redis comes back; ready is closed
// once the first subscription is confirmed.
func (s *Store) WatchKeyRevocations(ctx context.Context, ready chan<- struct{}, fn func(id string)) {
	sub := s.rdb.Subscribe(ctx, s.k.keyRevocations())
	defer sub.Close()
	for {
		msg, err := sub.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// go-redis reconnects on the next Receive; pause so a down Redis is not spun on.
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if ready != nil {
				close(ready)
				ready = nil
			}
		case *redis.Message:
			fn(m.Payload)
		}
	}
}
