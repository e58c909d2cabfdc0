/**
 * quota match (iptables-extensions: "quota"): [!] --quota bytes (XTTYPE_UINT64, mandatory). `-L` prints
 * "quota: N bytes" without the `!` (quota_print() ignores XT_QUOTA_INVERT).
 */
import { defineMatch } from '../spec';
import { parseX6Uint64 } from '../option-types';
import type { EvalContext } from '../../eval/context';

export interface QuotaState {
  quota: bigint;
  inverted: boolean;
}

const saveText = (s: QuotaState): string => `${s.inverted ? ' !' : ''} --quota ${s.quota}`;

export default defineMatch<QuotaState>({
  kind: 'match',
  name: 'quota',
  manSection: 'quota',
  style: 'x6',
  help: `quota match options:
[!] --quota quota		quota (bytes)
`,
  options: [{ name: 'quota', arg: 'required', invert: true, mandatory: true }],
  init: () => ({ quota: 0n, inverted: false }),
  parse(s, use) {
    s.quota = parseX6Uint64('quota', 'quota', use.value!, 0n, (1n << 64n) - 1n);
    if (use.inverted) s.inverted = true;
  },
  save: saveText,
  print: (s) => ` quota: ${s.quota} bytes`,
  match: (s, ctx) => quotaMatch(s, ctx, true),
  explain: (s, ctx) => `${saveText(s).trim()}: ${remaining(s, ctx)} bytes left, packet has ${ctx.pkt.len}`,
});

/** The rule's remaining quota (xt_quota_priv), kept across the packets of one trace run. */
function counter(s: QuotaState, ctx: EvalContext): { left: bigint } {
  return ctx.memory<{ left: bigint }>(s, () => ({ left: s.quota }));
}

const remaining = (s: QuotaState, ctx: EvalContext): bigint => counter(s, ctx).left;

/**
 * quota_mt() of xt_quota.c: a packet that fits in what is left takes its length (skb->len, the IP total length)
 * from it and matches; one that does not fit empties the quota and does not match; `!` inverts the result. The
 * quota starts full when the trace starts (bytes counted before it are not known).
 */
function quotaMatch(s: QuotaState, ctx: EvalContext, take: boolean): boolean {
  const c = counter(s, ctx);
  const len = BigInt(ctx.pkt.len);
  let ret = s.inverted;
  if (c.left >= len) {
    if (take) c.left -= len;
    ret = !ret;
  } else if (take) c.left = 0n;
  return ret;
}
