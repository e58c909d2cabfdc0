/** Item 5 of issue 7 (crash safety), fast sizes; TSI_FULL=1 (and test/live/reliability-full.test.ts) runs it at full size. */
import { FULL } from './lib/harness';
import { crashSuite } from './lib/crash';

crashSuite({ iterations: FULL ? 120 : 10 });
