/**
 * connbytes match (iptables-extensions: "connbytes"): [!] --connbytes from[:to] (XTTYPE_UINT64RC; a missing
 * `to` is UINT64_MAX), --connbytes-dir original|reply|both, --connbytes-mode packets|bytes|avgpkt, all three
 * mandatory. `!` swaps from and to (the kernel reads from > to as "outside the range"), so `! --connbytes 5:5`
 * is the same rule as `--connbytes 5:5`.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { parseX6Mint } from '../values/x6';
import type { EvalContext, Tuple } from '../../eval/context';
import type { Packet } from '../../eval/packet';
import { namedKey } from '../values/semantics';

const U64_MAX = (1n << 64n) - 1n;
const DIRS = ['original', 'reply', 'both'] as const;
const MODES = ['packets', 'bytes', 'avgpkt'] as const;

export interface ConnbytesState {
  from: bigint;
  to: bigint;
  /** XT_CONNBYTES_DIR_*: 0 original, 1 reply, 2 both. */
  dir: number;
  /** XT_CONNBYTES_*: 0 packets, 1 bytes, 2 avgpkt. */
  what: number;
}

/** print_from_to(): `!` when from > to, then the range in order; `:to` only when 0 < to < UINT64_MAX. */
function rangeText(s: ConnbytesState, prefix: string, state = false): string {
  const inv = s.from > s.to;
  const [from, to] = inv ? [s.to, s.from] : [s.from, s.to];
  const toText = (to !== 0n && to < U64_MAX) || (state && to === 0n) ? `:${to}` : '';
  return `${inv ? ' !' : ''} ${prefix}connbytes ${from}${toText}`;
}

function text(s: ConnbytesState, state = false): string {
  return `${rangeText(s, '--', state)} --connbytes-mode ${MODES[s.what]} --connbytes-dir ${DIRS[s.dir]}`;
}

export default defineMatch<ConnbytesState>({
  kind: 'match',
  needsConntrack: true,
  name: 'connbytes',
  manSection: 'connbytes',
  style: 'x6',
  help: `connbytes match options:
 [!] --connbytes from:[to]
     --connbytes-dir [original, reply, both]
     --connbytes-mode [packets, bytes, avgpkt]
`,
  options: [
    { name: 'connbytes', arg: 'required', invert: true, mandatory: true },
    { name: 'connbytes-dir', arg: 'required', mandatory: true },
    { name: 'connbytes-mode', arg: 'required', mandatory: true },
  ],
  init: () => ({ from: 0n, to: 0n, dir: 0, what: 0 }),
  parse(s, use) {
    const v = use.value!;
    if (use.name === 'connbytes') {
      const vals = parseX6Mint('connbytes', 'connbytes', v, U64_MAX);
      s.from = vals[0]!;
      s.to = vals[1] ?? U64_MAX;
      if (s.to < s.from) throw paramProblem(`${s.from} should be less than ${s.to}`);
      if (use.inverted) [s.from, s.to] = [s.to, s.from];
    } else if (use.name === 'connbytes-dir') {
      const i = (DIRS as readonly string[]).indexOf(v);
      if (i < 0) throw paramProblem(`Unknown --connbytes-dir \`${v}'`);
      s.dir = i;
    } else {
      const i = (MODES as readonly string[]).indexOf(v);
      if (i < 0) throw paramProblem(`Unknown --connbytes-mode \`${v}'`);
      s.what = i;
    }
  },
  save: (s) => text(s),
  // `0:0` prints as `0`, which reads back as 0:UINT64_MAX.
  stateText: (s) => (s.from === 0n && s.to === 0n ? text(s, true) : undefined),
  print: (s) => `${rangeText(s, '')} connbytes mode ${MODES[s.what]} connbytes direction ${DIRS[s.dir]}`,
  match: (s, ctx) => connbytesMatch(s, ctx).matched,
  explain(s, ctx) {
    const r = connbytesMatch(s, ctx, false);
    return r.value === undefined
      ? `${text(s).trim()}: packet has no connection (${ctx.ctState})`
      : `${text(s).trim()}: connection has ${r.value} ${MODES[s.what] === 'avgpkt' ? 'bytes per packet' : MODES[s.what]}`;
  },
});

interface Acct {
  packets: [bigint, bigint];
  bytes: [bigint, bigint];
  /** The last packet counted, so a packet that meets several connbytes rules counts once. */
  last: Packet | undefined;
}

const tupleKey = (t: Tuple): string => `${t.proto}/${t.src}:${t.sport}>${t.dst}:${t.dport}`;

/**
 * connbytes_mt() of xt_connbytes.c on the connection's accounting (nf_conn_acct): packets and bytes (IP total
 * length) per direction. The simulation has no conntrack accounting, so the counters are kept here, per
 * connection, from the packets of the trace run that reach a connbytes rule (the packet being matched already
 * counted, as conntrack counts it before the filter hooks); traffic before the trace counts as none.
 * No connection (INVALID, UNTRACKED): no match, `!` or not.
 */
function connbytesMatch(s: ConnbytesState, ctx: EvalContext, count = true): { matched: boolean; value: bigint | undefined } {
  const ct = ctx.ct;
  if (!ct) return { matched: false, value: undefined };
  const acct = ctx.memory<Acct>(namedKey('connbytes', tupleKey(ct.orig)), () => ({ packets: [0n, 0n], bytes: [0n, 0n], last: undefined }));
  if (count && acct.last !== ctx.pkt) {
    const d = ctx.ctReply ? 1 : 0;
    acct.packets[d]++;
    acct.bytes[d] += BigInt(ctx.pkt.len);
    acct.last = ctx.pkt;
  }
  const pick = (a: [bigint, bigint]): bigint => (s.dir === 2 ? a[0] + a[1] : a[s.dir]!);
  let what: bigint;
  if (s.what === 0) what = pick(acct.packets);
  else if (s.what === 1) what = pick(acct.bytes);
  else {
    const pk = pick(acct.packets);
    what = pk === 0n ? 0n : pick(acct.bytes) / pk;
  }
  const matched = s.to >= s.from ? what >= s.from && what <= s.to : what < s.to || what > s.from;
  return { matched, value: what };
}
