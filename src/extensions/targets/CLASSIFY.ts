/**
 * CLASSIFY target (iptables-extensions: "CLASSIFY", libxt_CLASSIFY / xt_CLASSIFY.c): set skb->priority, the
 * tc class a classful qdisc puts the packet in. --set-class MAJOR:MINOR is read with sscanf("%x:%x") (so
 * leading blanks, a sign, a 0x prefix and trailing text after the minor pass) and stored as
 * TC_H_MAKE(major << 16, minor). The kernel allows it in LOCAL_OUT, FORWARD and POST_ROUTING, in any table.
 */
import { paramProblem } from '../../messages';
import { defineTarget } from '../spec';

const isSpace = (c: string | undefined): boolean => c !== undefined && ' \t\n\v\f\r'.includes(c);
const HEX = '0123456789abcdef';

/**
 * One glibc scanf `%x` conversion into an unsigned int at `pos`: blanks, a sign, an optional 0x, hex digits
 * (strtoul semantics: saturating at ULONG_MAX, negated modulo 2^64), truncated to 32 bits. Undefined when
 * neither a digit nor a 0x prefix is there.
 */
function scanHex(s: string, pos: number): { value: number; end: number } | undefined {
  let i = pos;
  while (isSpace(s[i])) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') {
    neg = s[i] === '-';
    i++;
  }
  // glibc takes a "0x" prefix even with no hex digit after it: "0x" alone reads as 0 (recorded: 0x:1 is 0:1).
  let prefixed = false;
  if (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X')) {
    i += 2;
    prefixed = true;
  }
  const start = i;
  let v = 0n;
  while (i < s.length && HEX.includes(s[i]!.toLowerCase())) {
    v = v * 16n + BigInt(HEX.indexOf(s[i]!.toLowerCase()));
    i++;
  }
  if (i === start && !prefixed) return undefined;
  const ulongMax = (1n << 64n) - 1n;
  if (v > ulongMax) v = ulongMax;
  else if (neg) v = ((1n << 64n) - v) & ulongMax;
  return { value: Number(v & 0xffffffffn), end: i };
}

/** CLASSIFY_string_to_priority(): sscanf(s, "%x:%x", &i, &j) == 2, then TC_H_MAKE(i << 16, j). */
export function parseClass(s: string): number | undefined {
  const major = scanHex(s, 0);
  if (!major || s[major.end] !== ':') return undefined;
  const minor = scanHex(s, major.end + 1);
  if (!minor) return undefined;
  return (((major.value << 16) & 0xffff0000) | (minor.value & 0xffff)) >>> 0;
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

export default defineTarget<{ priority: number }>({
  kind: 'target',
  name: 'CLASSIFY',
  manSection: 'CLASSIFY',
  style: 'x6',
  hooks: ['OUTPUT', 'FORWARD', 'POSTROUTING'],
  help: `CLASSIFY target options:
--set-class MAJOR:MINOR    Set skb->priority value (always hexadecimal!)
`,
  options: [{ name: 'set-class', arg: 'required', mandatory: true }],
  init: () => ({ priority: 0 }),
  parse(s, use) {
    const p = parseClass(use.value!);
    if (p === undefined) throw paramProblem(`Bad class value "${use.value!}"`);
    s.priority = p;
  },
  save: (s) => ` --set-class ${hex(s.priority >>> 16, 4)}:${hex(s.priority & 0xffff, 4)}`,
  print: (s) => ` CLASSIFY set ${hex(s.priority >>> 16, 1)}:${hex(s.priority & 0xffff, 1)}`,
  // classify_tg() of xt_CLASSIFY.c: skb->priority = priority; XT_CONTINUE. Queueing disciplines are not
  // simulated, so the class only shows in the trace.
  run(s, ctx) {
    ctx.note(`CLASSIFY: priority set to ${hex(s.priority >>> 16, 1)}:${hex(s.priority & 0xffff, 1)} (tc classes are not simulated)`);
    return 'CONTINUE';
  },
});
