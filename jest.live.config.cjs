/** Live suite: runs the real iptables and kernel in tsi- namespaces. Root only (see .ci/run). */
const base = require('./jest.config.cjs');
module.exports = { ...base, testPathIgnorePatterns: [], roots: ['<rootDir>/test/live'] };
