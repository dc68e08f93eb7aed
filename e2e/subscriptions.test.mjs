// Subscriptions over WebSocket (graphql-transport-ws) with graphql-ws's client, and the
// same through Apollo Client's GraphQLWsLink and urql's subscriptionExchange as the README
// shows them. The key goes in connectionParams: {Authorization: "Bearer <key>"}.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ApolloClient, HttpLink, InMemoryCache, gql as apolloGql, split } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { Client as UrqlClient, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import {
  ORG, PROJECT, bearer, createSession, gqlData, httpURL, needRedis, needServer, server, unique, wsURL,
} from './lib.mjs';

const EVENTS = `subscription Events($organizationId: Int!, $projectId: String!) {
  connectSessionEvents(organizationId: $organizationId, projectId: $projectId) {
    type id occurredAt
    connectSession { id status label originOwnerId }
  }
}`;

let projects = 0;
/** A project of this test alone, so no other test's writes show up as events. */
function ownProject() {
  projects += 1;
  return `${PROJECT}-sub-${projects}`;
}

/** graphql-ws's client on Node 20 (no global WebSocket): fails fast instead of retrying. */
function wsClient(key) {
  return createClient({
    url: wsURL,
    webSocketImpl: WebSocket,
    connectionParams: key ? { Authorization: bearer(key) } : {},
    retryAttempts: 0,
    lazy: true,
  });
}

/**
 * Collects what a subscription delivers. next(pred) resolves with the first item (in
 * arrival order, not yet taken) matching pred; errors and completion are recorded.
 */
class Inbox {
  items = [];
  taken = 0;
  waiters = [];
  error = undefined;
  completed = false;

  push = (item) => { this.items.push(item); this.#check(); };
  fail = (err) => { this.error = err; this.#check(); };
  complete = () => { this.completed = true; this.#check(); };

  #check() {
    this.waiters = this.waiters.filter((w) => !w.try());
  }

  /** Resolves with the next item satisfying pred, consuming every item up to it. */
  next(pred = () => true, timeoutMs = 10_000) {
    return new Promise((resolve, reject) => {
      const waiter = {
        try: () => {
          for (let i = this.taken; i < this.items.length; i += 1) {
            if (pred(this.items[i])) {
              this.taken = i + 1;
              clearTimeout(timer);
              resolve(this.items[i]);
              return true;
            }
          }
          if (this.error !== undefined || this.completed) {
            clearTimeout(timer);
            reject(new Error(`subscription ended (${this.completed ? 'completed' : `error ${JSON.stringify(this.error)}`}) `
              + `after ${JSON.stringify(this.items)}`));
            return true;
          }
          return false;
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out; received ${JSON.stringify(this.items)}`));
      }, timeoutMs);
      if (!waiter.try()) this.waiters.push(waiter);
    });
  }

  /** Resolves with the error the subscription ended with. */
  ended(timeoutMs = 10_000) {
    return new Promise((resolve, reject) => {
      const waiter = {
        try: () => {
          if (this.error === undefined && !this.completed) return false;
          clearTimeout(timer);
          resolve(this.error);
          return true;
        },
      };
      const timer = setTimeout(() => reject(new Error(`did not end; received ${JSON.stringify(this.items)}`)), timeoutMs);
      if (!waiter.try()) this.waiters.push(waiter);
    });
  }
}

/**
 * Makes sure the subscription is live on the server: creates sessions in project until
 * one of their CREATED events arrives, then waits for all of them so that later events
 * are the test's own. getEvent(item) picks the event out of what the inbox receives.
 */
async function warmUp(inbox, project, getEvent = (r) => r.data?.connectSessionEvents) {
  const warmIds = [];
  let first;
  for (let attempt = 0; attempt < 50 && !first; attempt += 1) {
    warmIds.push((await createSession({ projectId: project, originOwnerId: unique('warmup') })).id);
    try {
      first = getEvent(await inbox.next((r) => warmIds.includes(getEvent(r)?.id), 200));
    } catch (err) {
      if (inbox.error !== undefined || inbox.completed) throw err;
    }
  }
  assert.ok(first, `no event within ${warmIds.length} writes`);
  // Events arrive in write order, so once the first warm-up event is in, every later
  // warm-up write follows; wait for the last so that the test's own events come next.
  if (first.id !== warmIds.at(-1)) await inbox.next((r) => getEvent(r)?.id === warmIds.at(-1));
  return warmIds;
}

describe('subscriptions', { skip: needServer }, () => {
  test('graphql-ws: every write of a session arrives in order, with the session as it is after the write', async () => {
    const project = ownProject();
    const client = wsClient(server.key);
    const inbox = new Inbox();
    const unsubscribe = client.subscribe(
      { query: EVENTS, variables: { organizationId: ORG, projectId: project } },
      { next: inbox.push, error: inbox.fail, complete: inbox.complete },
    );
    try {
      await warmUp(inbox, project);
      const owner = unique('sub-owner');
      const { id, token } = await createSession({ projectId: project, originOwnerId: owner, label: 'one' });
      const tenant = { organizationId: ORG, projectId: project, id };
      await gqlData(`mutation($input: UpdateConnectSessionInput!) { updateConnectSession(input: $input) { id } }`,
        { input: { ...tenant, label: 'two' } });
      await gqlData(`mutation($t: String!) { authenticateConnectSession(token: $t) { id } }`, { t: token }, { key: null });
      await gqlData(`mutation($organizationId: Int!, $projectId: String!, $id: Int!) {
        revokeConnectSession(organizationId: $organizationId, projectId: $projectId, id: $id) { id } }`, tenant);
      await gqlData(`mutation($organizationId: Int!, $projectId: String!, $id: Int!) {
        deleteConnectSession(organizationId: $organizationId, projectId: $projectId, id: $id) { deleted } }`, tenant);

      const got = [];
      for (let i = 0; i < 5; i += 1) got.push((await inbox.next()).data.connectSessionEvents);
      const session = (status, label) => ({ id, status, label, originOwnerId: owner });
      assert.deepEqual(got.map(({ occurredAt, ...e }) => e), [
        { type: 'CREATED', id, connectSession: session('PENDING', 'one') },
        { type: 'UPDATED', id, connectSession: session('PENDING', 'two') },
        { type: 'AUTHENTICATED', id, connectSession: session('AUTHENTICATED', 'two') },
        { type: 'REVOKED', id, connectSession: session('REVOKED', 'two') },
        { type: 'DELETED', id, connectSession: null },
      ]);
      const times = got.map((e) => Date.parse(e.occurredAt));
      assert.ok(times.every((t, i) => !Number.isNaN(t) && (i === 0 || t >= times[i - 1])), `occurredAt: ${times}`);
      // Nothing else arrived: no duplicates, no events of other projects.
      await new Promise((r) => { setTimeout(r, 200); });
      assert.equal(inbox.items.length, inbox.taken, `unexpected events: ${JSON.stringify(inbox.items.slice(inbox.taken))}`);
      assert.equal(inbox.error, undefined);
    } finally {
      unsubscribe();
      await client.dispose();
    }
  });

  test('graphql-ws: a bad key in connectionParams ends the subscription with UNAUTHENTICATED', async () => {
    const client = wsClient(`csk_0000000000000000_${'A'.repeat(43)}`);
    const inbox = new Inbox();
    const unsubscribe = client.subscribe(
      { query: EVENTS, variables: { organizationId: ORG, projectId: ownProject() } },
      { next: inbox.push, error: inbox.fail, complete: inbox.complete },
    );
    try {
      // An error result, then completion (README: "ends with an error result, then completes").
      assert.equal(await inbox.ended(), undefined, 'completes rather than failing the socket');
      assert.equal(inbox.items.length, 1, JSON.stringify(inbox.items));
      assert.equal(inbox.items[0].data, null);
      assert.deepEqual(inbox.items[0].errors.map((e) => e.extensions.code), ['UNAUTHENTICATED']);
    } finally {
      unsubscribe();
      await client.dispose();
    }
  });

  test('graphql-ws: another organization is FORBIDDEN', async () => {
    const client = wsClient(server.key);
    const inbox = new Inbox();
    const unsubscribe = client.subscribe(
      { query: EVENTS, variables: { organizationId: 999, projectId: ownProject() } },
      { next: inbox.push, error: inbox.fail, complete: inbox.complete },
    );
    try {
      assert.equal(await inbox.ended(), undefined, 'completes rather than failing the socket');
      assert.equal(inbox.items.length, 1, JSON.stringify(inbox.items));
      assert.equal(inbox.items[0].data, null);
      assert.deepEqual(inbox.items[0].errors.map((e) => e.extensions.code), ['FORBIDDEN']);
    } finally {
      unsubscribe();
      await client.dispose();
    }
  });

  test('graphql-ws: a read key subscribes', { skip: needRedis }, async () => {
    const project = ownProject();
    const client = wsClient(server.readKey);
    const inbox = new Inbox();
    const unsubscribe = client.subscribe(
      { query: EVENTS, variables: { organizationId: ORG, projectId: project } },
      { next: inbox.push, error: inbox.fail, complete: inbox.complete },
    );
    try {
      const warm = await warmUp(inbox, project);
      assert.ok(warm.length >= 1);
      assert.equal(inbox.error, undefined);
    } finally {
      unsubscribe();
      await client.dispose();
    }
  });

  test('Apollo Client: GraphQLWsLink behind split, as in the README', async () => {
    const key = server.key;
    // --- README snippet (Apollo Client) ---
    const headers = { Authorization: `Bearer ${key}` };
    const ws = createClient({ url: wsURL, connectionParams: headers, webSocketImpl: WebSocket, retryAttempts: 0 });
    const wsLink = new GraphQLWsLink(ws);
    const httpLink = new HttpLink({ uri: httpURL, headers });
    const client = new ApolloClient({
      cache: new InMemoryCache(),
      link: split(({ query }) => {
        const d = getMainDefinition(query);
        return d.kind === 'OperationDefinition' && d.operation === 'subscription';
      }, wsLink, httpLink),
    });
    // --- end of snippet ---
    const project = ownProject();
    const inbox = new Inbox();
    const sub = client.subscribe({ query: apolloGql(EVENTS), variables: { organizationId: ORG, projectId: project } })
      .subscribe({ next: inbox.push, error: inbox.fail, complete: inbox.complete });
    try {
      await warmUp(inbox, project);
      // A mutation over the HTTP half of the split link shows up on the WebSocket half.
      const owner = unique('apollo-ws');
      const created = await client.mutate({
        mutation: apolloGql`mutation($input: CreateConnectSessionInput!) { createConnectSession(input: $input) { connectSession { id } } }`,
        variables: { input: { organizationId: ORG, projectId: project, originOwnerId: owner, originOwnerName: 'WS', label: 'ws' } },
      });
      const { id } = created.data.createConnectSession.connectSession;
      const event = (await inbox.next()).data.connectSessionEvents;
      assert.deepEqual({ ...event, occurredAt: undefined }, {
        __typename: 'ConnectSessionEvent', type: 'CREATED', id, occurredAt: undefined,
        connectSession: { __typename: 'ConnectSession', id, status: 'PENDING', label: 'ws', originOwnerId: owner },
      });
    } finally {
      sub.unsubscribe();
      await ws.dispose();
    }
  });

  test('urql: subscriptionExchange over graphql-ws, as in the README', async () => {
    const key = server.key;
    // --- README snippet (urql) ---
    const ws = createClient({
      url: wsURL, connectionParams: { Authorization: `Bearer ${key}` }, webSocketImpl: WebSocket, retryAttempts: 0,
    });
    const client = new UrqlClient({
      url: httpURL,
      fetchOptions: { headers: { Authorization: `Bearer ${key}` } },
      exchanges: [fetchExchange, subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query || '' }, sink) }),
        }),
      })],
    });
    // --- end of snippet ---
    const project = ownProject();
    const inbox = new Inbox();
    const { unsubscribe } = client.subscription(EVENTS, { organizationId: ORG, projectId: project }).subscribe((r) => {
      if (r.error) inbox.fail(r.error); else inbox.push(r);
    });
    try {
      await warmUp(inbox, project);
      const owner = unique('urql-ws');
      const { id } = await createSession({ projectId: project, originOwnerId: owner, label: 'urql' });
      const event = (await inbox.next()).data.connectSessionEvents;
      assert.equal(event.type, 'CREATED');
      assert.equal(event.id, id);
      assert.deepEqual(event.connectSession, { id, status: 'PENDING', label: 'urql', originOwnerId: owner });
    } finally {
      unsubscribe();
      await ws.dispose();
    }
  });
  test('graphql-ws: a client resumes after a forced disconnect with the last eventId, missing nothing', async () => {
    const RESUMABLE = `subscription Resume($organizationId: Int!, $projectId: String!, $after: ID) {
      connectSessionEvents(organizationId: $organizationId, projectId: $projectId, after: $after) { eventId type id }
    }`;
    const project = ownProject();
    const first = wsClient(server.key);
    const inbox = new Inbox();
    first.subscribe(
      { query: RESUMABLE, variables: { organizationId: ORG, projectId: project } },
      { next: inbox.push, error: inbox.fail, complete: inbox.complete },
    );
    const warmIds = await warmUp(inbox, project);
    const last = inbox.items.at(inbox.taken - 1).data.connectSessionEvents;
    assert.equal(last.id, warmIds.at(-1));
    // The socket goes away without a goodbye, as on a network cut.
    first.terminate();

    const missed = [];
    for (let i = 0; i < 5; i += 1) missed.push((await createSession({ projectId: project, originOwnerId: unique('missed') })).id);

    const again = wsClient(server.key);
    const resumed = new Inbox();
    const unsubscribe = again.subscribe(
      { query: RESUMABLE, variables: { organizationId: ORG, projectId: project, after: last.eventId } },
      { next: resumed.push, error: resumed.fail, complete: resumed.complete },
    );
    try {
      // Writes go on while the replay runs: they come after it, each once.
      const during = [];
      for (let i = 0; i < 3; i += 1) during.push((await createSession({ projectId: project, originOwnerId: unique('during') })).id);
      const got = [];
      for (let i = 0; i < missed.length + during.length; i += 1) got.push((await resumed.next()).data.connectSessionEvents);
      assert.deepEqual(got.map((e) => e.id), [...missed, ...during]);
      assert.ok(got.every((e) => e.type === 'CREATED'));
      const ids = [last.eventId, ...got.map((e) => e.eventId)];
      const key = (id) => id.split('-').map(BigInt);
      for (let i = 1; i < ids.length; i += 1) {
        const [a, b] = [key(ids[i - 1]), key(ids[i])];
        assert.ok(a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]), `eventIds out of order: ${ids}`);
      }
      await assert.rejects(resumed.next(() => true, 300), /timed out/);
    } finally {
      unsubscribe();
      await again.dispose();
    }
  });
});
