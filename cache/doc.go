// Package cache is the service's Redis store: the key scheme, the compact session
// records, the sorted-set indexes behind pages and filters, tokens, atomic writes,
// retention of expired sessions, and the embedded in-memory Redis used when no server is
// configured.
//
// Every key of one tenant (organization and project) carries the hash tag
// {<org>:<project>}, so a tenant's multi-key writes and page scripts stay in one slot and
// run unchanged on Redis Cluster. Of the session data, only the id sequence, the id →
// tenant pointers, the token pointers and the tenant registry live outside tenant slots;
// they are written so that a failure between steps leaves at most a dangling pointer,
// never a reachable half-record. API keys, persisted queries and rate-limit counters are
// global too, each a single-key operation.
package cache
