/**
 * Item 6 of issue 7 (hostile input), fast sizes: a few hundred fast-check runs per property, each case bounded
 * in time. TSI_FULL=1 (and test/live/reliability-full.test.ts) runs thousands. A failure prints fast-check's
 * seed and path: `fc.assert(..., { seed, path })` replays it.
 */
import { FULL } from './lib/harness';
import { fuzzSuite } from './lib/fuzz-suite';

fuzzSuite(
  FULL
    ? { commandRuns: 6000, dumpRuns: 6000, byteRuns: 3000, traceRuns: 3000, caseBoundMs: 5000 }
    : { commandRuns: 800, dumpRuns: 400, byteRuns: 200, traceRuns: 300, caseBoundMs: 3000 },
);
