// Apollo Federation 2: this service's _service { sdl } composes with a second, small
// subgraph (written here with @apollo/subgraph) that references ConnectSession by id, and
// @apollo/gateway with IntrospectAndCompose runs a query that starts in that subgraph and
// resolves ConnectSession fields here through _entities, with the caller's key forwarded.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { composeServices } from '@apollo/composition';
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';

import {
  ORG, PROJECT, bearer, createSession, gqlData, httpURL, needRedis, needServer, server, unique,
} from './lib.mjs';

// The second subgraph: integrations that point at connect sessions it cannot resolve
// itself (resolvable: false), so the gateway asks this service for their fields.
const integrationsSDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])

  type Query {
    integrations: [Integration!]!
  }

  type Integration {
    name: String!
    connectSession: ConnectSession
  }

  type ConnectSession @key(fields: "id", resolvable: false) {
    id: Int!
  }
`;

/** What integrations returns: [{ name, sessionId }], set by each test. */
let integrations = [];

const integrationsSchema = () => buildSubgraphSchema([{
  typeDefs: parse(integrationsSDL),
  resolvers: {
    Query: { integrations: () => integrations },
    Integration: {
      connectSession: ({ sessionId }) => (sessionId == null ? null : { __typename: 'ConnectSession', id: sessionId }),
    },
  },
}]);

/** Fetches this service's subgraph SDL with the API key. */
async function serviceSDL() {
  const data = await gqlData('{ _service { sdl } }');
  assert.equal(typeof data._service.sdl, 'string');
  return data._service.sdl;
}

/** Names of the types this service defines (ours), to spot hints about them. */
function typeNames(sdl) {
  return parse(sdl).definitions.filter((d) => d.name && /Definition$|Extension$/.test(d.kind) && d.kind !== 'DirectiveDefinition')
    .map((d) => d.name.value);
}

// --- README snippet (federation gateway): forward the caller's key to every subgraph ---
class ForwardKey extends RemoteGraphQLDataSource {
  willSendRequest({ request, context }) {
    // context is the gateway's request context (empty for IntrospectAndCompose's own
    // requests, which carry introspectionHeaders instead).
    if (context?.authorization) request.http.headers.set('Authorization', context.authorization);
  }
}
// --- end of snippet ---

describe('federation', { skip: needServer }, () => {
  test('composeServices: our _service.sdl composes with a subgraph referencing ConnectSession by id', async () => {
    const sdl = await serviceSDL();
    // Our own SDL declares the entity and the shared type as the contract says.
    assert.match(sdl, /type ConnectSession @key\(fields: "id"\)/);
    assert.match(sdl, /type PageInfo @shareable/);

    const result = composeServices([
      { name: 'connectsession', typeDefs: parse(sdl), url: httpURL },
      { name: 'integrations', typeDefs: parse(integrationsSDL), url: 'http://127.0.0.1:1/graphql' },
    ]);
    assert.equal(result.errors, undefined,
      `composition errors:\n${(result.errors ?? []).map((e) => e.message).join('\n')}`);
    const ours = new Set(typeNames(sdl));
    const aboutOurs = (result.hints ?? []).filter((h) => [...ours].some((t) => new RegExp(`\\b${t}\\b`).test(h.message)));
    assert.deepEqual(aboutOurs.map((h) => `${h.definition?.code}: ${h.message}`), [], 'hints about our types');

    const supergraph = result.supergraphSdl;
    assert.match(supergraph, /type ConnectSession\s+@join__type\(graph: CONNECTSESSION, key: "id"\)\s+@join__type\(graph: INTEGRATIONS, key: "id", resolvable: false\)/);
    assert.match(supergraph, /type PageInfo\s+@join__type\(graph: CONNECTSESSION\)/);
    // The composed API has both subgraphs' root fields.
    const api = result.schema.toAPISchema().toGraphQLJSSchema();
    const rootFields = Object.keys(api.getQueryType().getFields());
    for (const f of ['connectSession', 'connectSessions', 'connectSessionEventLog', 'integrations']) {
      assert.ok(rootFields.includes(f), `${f} in the composed Query (${rootFields})`);
    }
    assert.ok(api.getType('ConnectSession').getFields().status, 'ConnectSession.status in the API schema');
    assert.ok(api.getMutationType().getFields().createConnectSession);
  });

  describe('gateway with IntrospectAndCompose', () => {
    let subgraph;
    let gatewayServer;
    let gatewayURL;

    before(async () => {
      subgraph = new ApolloServer({ schema: integrationsSchema() });
      const sub = await startStandaloneServer(subgraph, { listen: { port: 0, host: '127.0.0.1' } });
      // --- README snippet (federation gateway), continued ---
      const gateway = new ApolloGateway({
        supergraphSdl: new IntrospectAndCompose({
          subgraphs: [
            { name: 'connectsession', url: httpURL },
            { name: 'integrations', url: sub.url },
          ],
          introspectionHeaders: { Authorization: bearer(server.key) },
        }),
        buildService: ({ url }) => new ForwardKey({ url }),
      });
      gatewayServer = new ApolloServer({ gateway });
      ({ url: gatewayURL } = await startStandaloneServer(gatewayServer, {
        listen: { port: 0, host: '127.0.0.1' },
        context: async ({ req }) => ({ authorization: req.headers.authorization }),
      }));
      // --- end of snippet ---
    });

    after(async () => {
      await gatewayServer?.stop();
      await subgraph?.stop();
    });

    /** POSTs query to the gateway with key (none when null); returns the parsed body. */
    async function throughGateway(query, key) {
      const headers = { 'Content-Type': 'application/json' };
      if (key) headers.Authorization = bearer(key);
      const res = await fetch(gatewayURL, { method: 'POST', headers, body: JSON.stringify({ query }) });
      const body = await res.json();
      return { status: res.status, body };
    }

    const QUERY = '{ integrations { name connectSession { id originOwnerId status } } }';

    test('a query starting in the other subgraph resolves ConnectSession fields here, with the key forwarded', async () => {
      const owner = unique('fed');
      const a = await createSession({ originOwnerId: owner });
      const b = await createSession({ originOwnerId: `${owner}-b` });
      await gqlData(`mutation($id: Int!) { revokeConnectSession(organizationId: ${ORG}, projectId: "${PROJECT}", id: $id) { id } }`, { id: b.id });
      integrations = [
        { name: 'hibob-sync', sessionId: a.id },
        { name: 'nothing-yet', sessionId: null },
        { name: 'revoked', sessionId: b.id },
      ];
      const { status, body } = await throughGateway(QUERY, server.key);
      assert.equal(status, 200);
      assert.equal(body.errors, undefined, JSON.stringify(body.errors));
      assert.deepEqual(body.data.integrations, [
        { name: 'hibob-sync', connectSession: { id: a.id, originOwnerId: owner, status: 'PENDING' } },
        { name: 'nothing-yet', connectSession: null },
        { name: 'revoked', connectSession: { id: b.id, originOwnerId: `${owner}-b`, status: 'REVOKED' } },
      ]);

      // Without a key the gateway forwards none, and this service refuses the entities.
      const anon = await throughGateway(QUERY, null);
      assert.deepEqual(anon.body.data?.integrations?.map((i) => i.connectSession), [null, null, null],
        JSON.stringify(anon.body));
      assert.ok(anon.body.errors?.length >= 1, JSON.stringify(anon.body));
      assert.ok(anon.body.errors.every((e) => e.extensions?.code === 'UNAUTHENTICATED'), JSON.stringify(anon.body.errors));
    });

    test('a session the key may not see resolves to null without an error, as connectSession does', { skip: needRedis }, async () => {
      const mine = await createSession({ originOwnerId: unique('fed-mine') });
      // Organization 2's session, created with organization 2's key.
      const theirs = await createSession(
        { organizationId: 2, originOwnerId: unique('fed-theirs') }, { key: server.org2Key },
      );
      integrations = [
        { name: 'mine', sessionId: mine.id },
        { name: 'theirs', sessionId: theirs.id },
      ];
      const { body } = await throughGateway(QUERY, server.key);
      assert.deepEqual(body.data.integrations, [
        { name: 'mine', connectSession: { id: mine.id, originOwnerId: mine.session.originOwnerId, status: 'PENDING' } },
        { name: 'theirs', connectSession: null },
      ]);
      // No error: ids are global, and an error would tell which ids exist in other tenants.
      assert.equal(body.errors, undefined, JSON.stringify(body.errors));

      // The other way round with organization 2's key: its own session resolves, ours not.
      const other = await throughGateway(QUERY, server.org2Key);
      assert.deepEqual(other.body.data.integrations, [
        { name: 'mine', connectSession: null },
        { name: 'theirs', connectSession: { id: theirs.id, originOwnerId: theirs.session.originOwnerId, status: 'PENDING' } },
      ]);
      assert.equal(other.body.errors, undefined, JSON.stringify(other.body.errors));
    });
  });
});
