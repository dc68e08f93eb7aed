// GraphQL Code Generator's configuration: the client preset types the operations in
// operations/ against the service's schema into gql/, as a frontend using Apollo Client
// or urql would. npm run codegen rewrites gql/; .ci/run fails when the committed gql/
// differs from what this produces, or when an operation does not validate.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  // The service's schema, and the federation directives it uses (which gqlgen adds itself).
  schema: ['../schema.graphqls', '../federation-directives.graphqls'],
  documents: ['operations/*.graphql'],
  // An operations file that matches nothing is a mistake, not an empty output.
  ignoreNoDocuments: false,
  // Relative imports with their .js extension, as Node's ES modules need.
  emitLegacyCommonJSImports: false,
  generates: {
    'gql/': {
      preset: 'client',
      presetConfig: {
        // The operations spread no fragments; plain result types are what the tests read.
        fragmentMasking: false,
      },
      config: {
        // Every custom scalar needs a type: DateTime is an RFC 3339 string, JSON an object
        // (FieldSet, of the federation directives, appears in no operation).
        strictScalars: true,
        scalars: {
          DateTime: 'string',
          JSON: 'Record<string, unknown>',
          FieldSet: 'string',
        },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
