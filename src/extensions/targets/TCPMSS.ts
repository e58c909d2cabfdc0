/**
 * TCPMSS target (iptables-extensions: "TCPMSS"): rewrite the MSS option of TCP SYN packets. --set-mss and
 * --clamp-mss-to-pmtu both write the one mss field (the clamp is mss 0xffff), so the last one wins. The kernel
 * demands `-p tcp`, and clamping only in FORWARD, OUTPUT and POSTROUTING; the nf_tables compat layer skips
 * its "only works on TCP SYN packets" test.
 */
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { defineTarget } from '../spec';

const CLAMP_PMTU = 0xffff;
const CLAMP_HOOKS: ReadonlySet<string> = new Set(['FORWARD', 'OUTPUT', 'POSTROUTING']);

export default defineTarget<{ mss: number }>({
  kind: 'target',
  name: 'TCPMSS',
  manSection: 'TCPMSS',
  style: 'x6',
  help: `TCPMSS target mutually-exclusive options:
  --set-mss value               explicitly set MSS option to specified value
  --clamp-mss-to-pmtu           automatically clamp MSS value to (path_MTU - 20)
`,
  options: [
    { name: 'set-mss', arg: 'required' },
    { name: 'clamp-mss-to-pmtu', arg: 'none' },
  ],
  init: () => ({ mss: 0 }),
  parse(s, use) {
    s.mss = use.name === 'set-mss' ? parseX6Uint('TCPMSS', use.name, use.value!, 0, 65535 - 20) : CLAMP_PMTU;
  },
  finalCheck(_s, _ctx, given) {
    if (given.size === 0) throw paramProblem('TCPMSS target: At least one parameter is required');
  },
  // xt_check_target() (.proto = IPPROTO_TCP), then tcpmss_tg4_check()'s hook test for the clamp.
  kernelCheck(s, k) {
    if (k.protocol !== 6 || k.protocolInverted) return 'Invalid argument';
    if (s.mss === CLAMP_PMTU && [...k.hooks].some((h) => !CLAMP_HOOKS.has(h))) return 'Invalid argument';
    return undefined;
  },
  save: (s) => (s.mss === CLAMP_PMTU ? ' --clamp-mss-to-pmtu' : ` --set-mss ${s.mss}`),
  print: (s) => (s.mss === CLAMP_PMTU ? ' TCPMSS clamp to PMTU' : ` TCPMSS set ${s.mss}`),
});
