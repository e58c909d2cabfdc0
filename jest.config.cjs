/** Unit suite: replays recorded fixtures; needs no root and no iptables. */
module.exports = {
  testEnvironment: 'node',
  // chevrotain's helper packages export only an "import" condition, which Jest's CommonJS resolver skips.
  moduleNameMapper: { '^@chevrotain/(.*)$': '<rootDir>/node_modules/@chevrotain/$1/lib/src/api.js' },
  roots: ['<rootDir>/test'],
  testPathIgnorePatterns: ['/test/live/'],
  transform: { '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] },
  // chevrotain 11 ships ESM only: let swc turn it into CommonJS for Jest.
  transformIgnorePatterns: ['/node_modules/(?!(chevrotain|@chevrotain|lodash-es|chalk)/)'],
};
