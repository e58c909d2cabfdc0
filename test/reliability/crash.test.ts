/** Item 5 of issue 7 (crash safety), fast sizes; TSI_FULL=1 (and test/live/reliability-full.test.ts) runs it at full size. */
import { FULL } from './lib/harness';
import { crashSuite } from './lib/crash';

crashSuite(FULL ? { iterations: 120, rules: 20_000 } : { iterations: 10, rules: 8000 });
