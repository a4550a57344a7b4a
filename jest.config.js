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

export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', swc] },
  moduleNameMapper: {
    '^@app/(billing|db|queue|config)$': '<rootDir>/libs/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testRegex: ['\\.spec\\.ts$', '\\.e2e-spec\\.ts$'],
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'],
};
