/**
 * TCPMSS target (iptables-extensions: "TCPMSS"): rewrite the MSS option of TCP SYN packets. --set-mss and
 * --clamp-mss-to-pmtu both write the one mss field (the clamp is mss 0xffff), so the last one wins. The kernel
 * demands `-p tcp`, and clamping only in FORWARD, OUTPUT and POSTROUTING; the nf_tables compat layer skips
 * its "only works on TCP SYN packets" test.
 */
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { defineTarget } from '../spec';
import { PROTO_TCP } from '../../eval/packet';
import type { EvalContext, TargetVerdict } from '../../eval/context';

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
  run: (s, ctx) => tcpmssRun(s.mss, ctx),
});

const TCPOPT_MSS = 2;
const TCPOLEN_MSS = 4;
/** The path MTU the clamp assumes: HostView has no device MTUs (Ethernet's 1500). */
const ASSUMED_MTU = 1500;

/**
 * tcpmss_tg4() / tcpmss_mangle_packet() of xt_TCPMSS.c. The new MSS is --set-mss, or for the clamp the
 * smaller of the route's and the reverse route's MTU minus 40 (taken as 1500 - 40: MTUs are not simulated).
 * An MSS option found is lowered to it (never raised). Without one, and only when the segment carries no data
 * and its header has room, an MSS option of min(new, 536) is put in front of the other options (RFC 1122's
 * default when none was sent) and the datagram grows by 4 bytes. XT_CONTINUE (the compat layer of nf_tables
 * does not insist on SYN packets, so any tcp segment is treated).
 */
function tcpmssRun(mss: number, ctx: EvalContext): TargetVerdict {
  const p = ctx.pkt;
  if (p.proto !== PROTO_TCP) return 'CONTINUE';
  let newmss = mss;
  if (mss === CLAMP_PMTU) {
    newmss = ASSUMED_MTU - 40;
    ctx.note(`TCPMSS: path MTU assumed ${ASSUMED_MTU} (not simulated): clamp to ${newmss}`);
  }
  const opts = p.tcpOptions;
  const thl = 20 + ((opts.length + 3) & ~3);
  const optAt = (i: number): number => (i < opts.length ? opts[i]! : 0);
  for (let i = 0; i + TCPOLEN_MSS <= thl - 20; ) {
    if (optAt(i) === TCPOPT_MSS && optAt(i + 1) === TCPOLEN_MSS) {
      const old = (optAt(i + 2) << 8) | optAt(i + 3);
      if (old <= newmss) {
        ctx.note(`TCPMSS: MSS ${old} left as it is (not above ${newmss})`);
        return 'CONTINUE';
      }
      const changed = new Uint8Array(Math.max(opts.length, i + 4));
      changed.set(opts);
      changed[i + 2] = (newmss >>> 8) & 0xff;
      changed[i + 3] = newmss & 0xff;
      p.tcpOptions = changed;
      ctx.note(`TCPMSS: MSS ${old} set to ${newmss}`);
      return 'CONTINUE';
    }
    // optlen(): kinds 0 and 1 and a zero length step one byte.
    i += optAt(i) <= 1 || optAt(i + 1) === 0 ? 1 : optAt(i + 1);
  }
  const ihl = 20 + ((p.ipOptions.length + 3) & ~3);
  if (p.len - ihl > thl) {
    ctx.note('TCPMSS: no MSS option and the segment carries data: left as it is');
    return 'CONTINUE';
  }
  if (thl >= 15 * 4) {
    ctx.note('TCPMSS: no MSS option and no room for one: left as it is');
    return 'CONTINUE';
  }
  const add = Math.min(newmss, 536);
  const grown = new Uint8Array(TCPOLEN_MSS + ((opts.length + 3) & ~3));
  grown.set([TCPOPT_MSS, TCPOLEN_MSS, (add >>> 8) & 0xff, add & 0xff]);
  grown.set(opts, TCPOLEN_MSS);
  p.tcpOptions = grown;
  p.len += TCPOLEN_MSS;
  ctx.note(`TCPMSS: MSS option ${add} added`);
  return 'CONTINUE';
}
