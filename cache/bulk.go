package cache

import (
	"context"
	"fmt"
	"math"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// CreateBatch stores many new sessions in three round trips whatever their number (on a
// cluster, each pipeline goes to every master at once): one INCRBY reserves their ids,
// one pipeline writes the global pointers, one pipeline runs the write script once per
// session. Each session is written exactly as Create writes it (same record, indexes,
// pointers and CREATED event, each session atomic on its own), so it is for bulk loads
// (benchmarks, imports), not a transaction over the batch: on an error, some sessions
// may exist and the others do not. It returns the sessions and their tokens in input
// order.
func (s *Store) CreateBatch(ctx context.Context, ins []*model.CreateConnectSessionInput) ([]*model.ConnectSession, []string, error) {
	if len(ins) == 0 {
		return nil, nil, nil
	}
	last, err := s.rdb.IncrBy(ctx, s.k.seq(), int64(len(ins))).Result()
	if err != nil {
		return nil, nil, storeErr("next ids", err)
	}
	if last > math.MaxInt32 {
		return nil, nil, fmt.Errorf("cache: id sequence exhausted at %d", last)
	}
	first := int(last) - len(ins) + 1
	now := s.now()
	records := make([]*record, len(ins))
	tokens := make([]string, len(ins))
	tenants := make([]model.Tenant, len(ins))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, in := range ins {
			tenants[i] = model.Tenant{OrganizationID: in.OrganizationID, ProjectID: in.ProjectID}
			var secret string
			records[i], secret = newRecord(in, first+i, now)
			tokens[i] = sessionToken(first+i, secret)
			s.createPointers(ctx, p, tenants[i], records[i])
		}
		return nil
	})
	if err != nil {
		return nil, nil, storeErr("create pointers", err)
	}
	// EVALSHA in a pipeline cannot fall back to EVAL per command: load the script first
	// (on a cluster, into every master).
	if err := writeScript.Load(ctx, s.rdb).Err(); err != nil {
		return nil, nil, storeErr("load write script", err)
	}
	cmds := make([]*redis.Cmd, len(ins))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, r := range records {
			join, scores := s.createIndexes(tenants[i], r)
			c := s.writeCall(tenants[i], r.ID, change{next: s.encode(r), join: join, scores: scores,
				event: encodeEvent(eventCreated, r.ID, now, model.ActorFrom(ctx)), at: now})
			cmds[i] = writeScript.EvalSha(ctx, p, c.keys(), c.args()...)
		}
		return nil
	})
	if err != nil {
		return nil, nil, storeErr("write", err)
	}
	out := make([]*model.ConnectSession, len(ins))
	for i, c := range cmds {
		if n, err := c.Int(); err != nil || n != 1 {
			return nil, nil, fmt.Errorf("cache: create %d: record already exists or write failed: %v", records[i].ID, err)
		}
		out[i] = records[i].session(tenants[i], now)
	}
	return out, tokens, nil
}
