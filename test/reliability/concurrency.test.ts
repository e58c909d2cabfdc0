/** Item 4 of issue 7 (concurrency), fast sizes; TSI_FULL=1 (and test/live/reliability-full.test.ts) runs it at full size. */
import { FULL } from './lib/harness';
import { concurrencySuite } from './lib/concurrency';

concurrencySuite(FULL ? { writers: 200, restoreRounds: 40, restoreRules: 5000 } : { writers: 50, restoreRounds: 8, restoreRules: 1500 });
