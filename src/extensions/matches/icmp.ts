/**
 * icmp match (iptables-extensions: "icmp"): [!] --icmp-type {type[/code]|typename}. Names are matched
 * case-insensitively by prefix over the table below (an ambiguous prefix is an error); numbers are C numbers
 * 0-255, a code may be a range lo:hi (libxt_icmp.h __parse_icmp). Saved numerically; `-L` shows the name whose
 * type and code range match exactly, unless -n. The kernel accepts it only with `-p icmp`.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { xtStrtoui } from '../values/cstrtoul';
import { PROTO_ICMP } from '../../eval/packet';

export interface IcmpState {
  type: number;
  codeMin: number;
  codeMax: number;
  inverted: boolean;
}

/** [name, type, code_min, code_max] in libxt_icmp.h order (aliases follow their main name). */
const ICMP_CODES: ReadonlyArray<readonly [string, number, number, number]> = [
  ['any', 0xff, 0, 0xff],
  ['echo-reply', 0, 0, 0xff],
  ['pong', 0, 0, 0xff],
  ['destination-unreachable', 3, 0, 0xff],
  ['network-unreachable', 3, 0, 0],
  ['host-unreachable', 3, 1, 1],
  ['protocol-unreachable', 3, 2, 2],
  ['port-unreachable', 3, 3, 3],
  ['fragmentation-needed', 3, 4, 4],
  ['source-route-failed', 3, 5, 5],
  ['network-unknown', 3, 6, 6],
  ['host-unknown', 3, 7, 7],
  ['network-prohibited', 3, 9, 9],
  ['host-prohibited', 3, 10, 10],
  ['TOS-network-unreachable', 3, 11, 11],
  ['TOS-host-unreachable', 3, 12, 12],
  ['communication-prohibited', 3, 13, 13],
  ['host-precedence-violation', 3, 14, 14],
  ['precedence-cutoff', 3, 15, 15],
  ['source-quench', 4, 0, 0xff],
  ['redirect', 5, 0, 0xff],
  ['network-redirect', 5, 0, 0],
  ['host-redirect', 5, 1, 1],
  ['TOS-network-redirect', 5, 2, 2],
  ['TOS-host-redirect', 5, 3, 3],
  ['echo-request', 8, 0, 0xff],
  ['ping', 8, 0, 0xff],
  ['router-advertisement', 9, 0, 0xff],
  ['router-solicitation', 10, 0, 0xff],
  ['time-exceeded', 11, 0, 0xff],
  ['ttl-exceeded', 11, 0, 0xff],
  ['ttl-zero-during-transit', 11, 0, 0],
  ['ttl-zero-during-reassembly', 11, 1, 1],
  ['parameter-problem', 12, 0, 0xff],
  ['ip-header-bad', 12, 0, 0],
  ['required-option-missing', 12, 1, 1],
  ['timestamp-request', 13, 0, 0xff],
  ['timestamp-reply', 14, 0, 0xff],
  ['address-mask-request', 17, 0, 0xff],
  ['address-mask-reply', 18, 0, 0xff],
];

/** xt_print_icmp_types(): a name per line, same-range aliases in parentheses, codes of a type indented. */
function typesHelp(): string {
  let out = '';
  ICMP_CODES.forEach(([name, type, lo, hi], i) => {
    const prev = ICMP_CODES[i - 1];
    if (prev && prev[1] === type) out += prev[2] === lo && prev[3] === hi ? ` (${name})` : `\n   ${name}`;
    else out += `\n${name}`;
  });
  return out + '\n';
}

/** parse_range(): a C number 0-255, optionally ":number"; returns [lo, hi, index after] or null. */
function parseRange(s: string, start: number): [number, number, number] | null {
  const a = xtStrtoui(s, 0, 255, start);
  if (!a) return null;
  let end = a.end;
  let hi = a.value;
  if (s[end] === ':') {
    const b = xtStrtoui(s, 0, 255, end + 1);
    if (!b) return null;
    hi = b.value;
    end = b.end;
  }
  return [a.value, hi, end];
}

/** ipt_parse_icmp() */
export function parseIcmpType(arg: string): Omit<IcmpState, 'inverted'> {
  let match: (typeof ICMP_CODES)[number] | undefined;
  for (const entry of ICMP_CODES) {
    if (entry[0].slice(0, arg.length).toLowerCase() !== arg.toLowerCase() || entry[0].length < arg.length) continue;
    if (match) throw paramProblem(`Ambiguous ICMP type \`${arg}': \`${match[0]}' or \`${entry[0]}'?`);
    match = entry;
  }
  if (match) return { type: match[1], codeMin: match[2], codeMax: match[3] };
  const t = parseRange(arg, 0);
  if (!t) throw paramProblem(`Unknown ICMP type \`${arg}'`);
  let codeMin = 0;
  let codeMax = 255;
  const next = arg[t[2]];
  if (next === '/') {
    const c = parseRange(arg, t[2] + 1);
    if (!c) throw paramProblem(`Unknown ICMP code \`${arg}'`);
    [codeMin, codeMax] = c;
    if (c[2] < arg.length) throw paramProblem(`unknown character ${arg[c[2]]}`);
  } else if (next !== undefined) {
    throw paramProblem(`unknown character ${next}`);
  }
  if (t[0] !== t[1]) throw paramProblem('ICMP type range not supported');
  return { type: t[0], codeMin, codeMax };
}

export default defineMatch<IcmpState>({
  kind: 'match',
  name: 'icmp',
  manSection: 'icmp',
  style: 'x6',
  help: `icmp match options:
[!] --icmp-type typename	match icmp type
[!] --icmp-type type[/code]	(or numeric type or type/code)
Valid ICMP Types:${typesHelp()}`,
  options: [{ name: 'icmp-type', arg: 'required', invert: true, mandatory: true }],
  init: () => ({ type: 0xff, codeMin: 0, codeMax: 0xff, inverted: false }),
  parse(s, use) {
    Object.assign(s, parseIcmpType(use.value!));
    if (use.inverted) s.inverted = true;
  },
  save(s) {
    const inv = s.inverted ? ' !' : '';
    if (s.type === 0xff && s.codeMin === 0 && s.codeMax === 0xff) return `${inv} --icmp-type any`;
    const code = s.codeMin !== 0 || s.codeMax !== 0xff ? `/${s.codeMin}` : '';
    return `${inv} --icmp-type ${s.type}${code}`;
  },
  print(s, numeric) {
    if (!numeric) {
      const named = ICMP_CODES.find(([, t, lo, hi]) => t === s.type && lo === s.codeMin && hi === s.codeMax);
      if (named) return ` icmp ${s.inverted ? '!' : ''}${named[0]}`;
    }
    let out = ` icmp${s.inverted ? ' !' : ''}type ${s.type}`;
    if (s.codeMin === s.codeMax) out += ` code ${s.codeMin}`;
    else if (s.codeMin !== 0 || s.codeMax !== 0xff) out += ` codes ${s.codeMin}-${s.codeMax}`;
    return out;
  },
  kernelCheck(_s, view) {
    // xt_match.proto: the kernel wants `-p icmp`, not inverted.
    return view.protocol !== 1 || view.protocolInverted ? 'Invalid argument' : undefined;
  },
  // The save text shows only the low code of a range: compare the whole match, keep all of it in the state.
  compareKey: (s) => `${s.inverted ? '!' : ''}${s.type}/${s.codeMin}:${s.codeMax}`,
  // icmp_match() / icmp_type_code_match() of ip_tables.c: type 0xff is any; else the type and a code
  // within [min, max]; then the `!`. Fragments never match (the simulation has none).
  match: (s, ctx) =>
    ctx.pkt.proto === PROTO_ICMP &&
    (s.type === 0xff || (ctx.pkt.icmpType === s.type && ctx.pkt.icmpCode >= s.codeMin && ctx.pkt.icmpCode <= s.codeMax)) !==
      s.inverted,
  explain(s, ctx) {
    const p = ctx.pkt;
    if (p.proto !== PROTO_ICMP) return `-p icmp: packet is not icmp (protocol ${p.proto})`;
    const wanted =
      s.type === 0xff
        ? 'any'
        : s.codeMin === 0 && s.codeMax === 0xff
          ? `${s.type}`
          : `${s.type}/${s.codeMin === s.codeMax ? s.codeMin : `${s.codeMin}:${s.codeMax}`}`;
    return `${s.inverted ? '! ' : ''}--icmp-type ${wanted}: packet has ${p.icmpType}/${p.icmpCode}`;
  },
  stateText: (s) =>
    s.codeMin !== s.codeMax && (s.codeMin !== 0 || s.codeMax !== 0xff)
      ? `${s.inverted ? ' !' : ''} --icmp-type ${s.type}/${s.codeMin}:${s.codeMax}`
      : undefined,
});
