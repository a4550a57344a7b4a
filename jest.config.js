// Jest runs the TypeScript sources as native ES modules (NestJS 12 ships ESM only),
// so `npm test` starts node with --experimental-vm-modules.
const swc = {
  jsc: {
    target: 'es2022',
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    keepClassNames: true,
  },
  module: { type: 'es6' },
  sourceMaps: 'inline',
};

const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', swc],
    // @fastify/static (CommonJS) requires content-disposition 3, an ES module. Node loads that
    // with require(esm); Jest's module loader cannot before Node 24.9, so Jest gets it as CommonJS.
    '/content-disposition/dist/index\\.js$': ['@swc/jest', { module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(@fastify/static/node_modules/)?content-disposition/)'],
  moduleNameMapper: {
    '^@app/(billing|db|queue|config)$': '<rootDir>/libs/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
};

export default {
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 30_000,
  projects: [
    { ...common, displayName: 'unit', roots: ['<rootDir>/apps', '<rootDir>/libs'], testRegex: '\\.spec\\.ts$' },
    {
      ...common,
      displayName: 'e2e',
      roots: ['<rootDir>/test'],
      testRegex: '\\.e2e-spec\\.ts$',
      setupFilesAfterEnv: ['<rootDir>/test/support/migrated.ts'],
    },
    // Restarts Postgres and Redis: only ever run alone (npm run test:faults), never with the others.
    { ...common, displayName: 'faults', roots: ['<rootDir>/test'], testRegex: '\\.fault-spec\\.ts$' },
  ],
};
