/**
 * string match (iptables-extensions: "string"), revision 1: a byte pattern searched for in the packet by a
 * kernel textsearch algorithm (bm, kmp, fsm) between --from and --to. x6 style. Patterns are bytes (UTF-8 of
 * the argument); save/list print them quoted, or as a |hex| block when a byte is not printable ASCII. The
 * kernel refuses an empty pattern or --from after --to (EINVAL) and an algorithm it has not got (ENOENT).
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import type { EvalContext } from '../../eval/context';
import { headersLength, packetBytes } from '../values/wire';

/** XT_STRING_MAX_PATTERN_SIZE, XT_STRING_MAX_ALGO_NAME_SIZE. */
const MAX_PATTERN = 128;
const MAX_ALGO = 16;
/** The textsearch algorithms of the recording kernel that take a plain byte pattern. */
const ALGOS: ReadonlySet<string> = new Set(['bm', 'kmp']);

export interface StringState {
  pattern: number[];
  algo: string;
  from: number;
  to: number;
  invert: boolean;
  icase: boolean;
}

/** parse_string(): the argument's bytes, at most 128. */
function parseString(s: string): number[] {
  const b = [...Buffer.from(s, 'utf8')];
  if (b.length > MAX_PATTERN) throw paramProblem(`STRING too long "${s}"`);
  return b;
}

const isXdigit = (c: number | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(String.fromCharCode(c));

/** parse_hex_string(): literal bytes, `|hex hex|` blocks and `\x` escapes, as libxt_string reads them. */
function parseHexString(text: string): number[] {
  const s = [...Buffer.from(text, 'utf8')];
  const slen = s.length;
  const ch = (c: number): string => String.fromCharCode(c);
  if (slen === 0) throw paramProblem('STRING must contain at least one char');
  const out: number[] = [];
  let i = 0;
  let hex = false;
  let literal = false;
  while (i < slen) {
    if (out.length >= MAX_PATTERN) throw paramProblem(`STRING too long "${text}"`);
    if (s[i] === 0x5c && !hex) {
      literal = true;
    } else if (s[i] === 0x5c) {
      throw paramProblem('Cannot include literals in hex data');
    } else if (s[i] === 0x7c) {
      if (hex) hex = false;
      else {
        hex = true;
        while (s[i + 1] === 0x20) i++;
      }
      if (i + 1 >= slen) break;
      i++;
    }
    if (literal) {
      if (i + 1 >= slen) throw paramProblem('Bad literal placement at end of string');
      out.push(s[i + 1]!);
      i += 2;
      literal = false;
    } else if (hex) {
      if (i + 1 >= slen) throw paramProblem('Odd number of hex digits');
      if (i + 2 >= slen) throw paramProblem('Invalid hex block');
      if (!isXdigit(s[i])) throw paramProblem(`Invalid hex char '${ch(s[i]!)}'`);
      if (!isXdigit(s[i + 1])) throw paramProblem(`Invalid hex char '${ch(s[i + 1]!)}'`);
      out.push(parseInt(ch(s[i]!) + ch(s[i + 1]!), 16));
      i += s[i + 2] === 0x20 ? 3 : 2;
    } else {
      out.push(s[i]!);
      i++;
    }
  }
  return out;
}

/** is_hex_string(): any byte outside isprint() (C locale), or a trailing backslash. */
function isHex(p: readonly number[]): boolean {
  return p.some((c) => c < 0x20 || c > 0x7e) || p[p.length - 1] === 0x5c;
}

function patternText(p: readonly number[]): string {
  if (isHex(p)) return ` "|${p.map((c) => c.toString(16).padStart(2, '0')).join('')}|"`;
  return ` "${p.map((c) => (c === 0x22 || c === 0x5c ? '\\' : '') + String.fromCharCode(c)).join('')}"`;
}

export default defineMatch<StringState>({
  kind: 'match',
  name: 'string',
  manSection: 'string',
  style: 'x6',
  help: `string match options:
--from                       Offset to start searching from
--to                         Offset to stop searching
--algo                       Algorithm
--icase                      Ignore case (default: 0)
[!] --string string          Match a string in a packet
[!] --hex-string string      Match a hex string in a packet
`,
  // string_opts[] with the C enum ids (O_FROM, O_TO, O_ALGO, O_ICASE, O_STRING, O_HEX_STRING).
  options: [
    { name: 'from', id: 0, arg: 'required' },
    { name: 'to', id: 1, arg: 'required' },
    { name: 'algo', id: 2, arg: 'required', mandatory: true },
    { name: 'string', id: 4, arg: 'required', invert: true, excludes: ['hex-string'] },
    { name: 'hex-string', id: 5, arg: 'required', invert: true, excludes: ['string'] },
    { name: 'icase', id: 3, arg: 'none' },
  ],
  init: () => ({ pattern: [], algo: '', from: 0, to: 65535, invert: false, icase: false }),
  parse(s, use) {
    switch (use.name) {
      case 'from':
        s.from = parseX6Uint('string', 'from', use.value!, 0, 65535);
        return;
      case 'to':
        s.to = parseX6Uint('string', 'to', use.value!, 0, 65535);
        return;
      case 'algo': {
        // XTTYPE_STRING put into char[16]: silently cut to 15 bytes.
        const b = Buffer.from(use.value!, 'utf8');
        s.algo = b.subarray(0, MAX_ALGO - 1).toString('latin1');
        return;
      }
      case 'string':
        s.pattern = parseString(use.value!);
        if (use.inverted) s.invert = true;
        return;
      case 'hex-string':
        s.pattern = parseHexString(use.value!);
        if (use.inverted) s.invert = true;
        return;
      case 'icase':
        s.icase = true;
        return;
    }
  },
  finalCheck(_s, _ctx, given) {
    if (!given.has('string') && !given.has('hex-string')) {
      throw paramProblem("STRING match: You must specify `--string' or `--hex-string'");
    }
  },
  // string_mt_check(), then textsearch_prepare(): empty pattern, then the algorithm lookup.
  kernelCheck(s) {
    if (s.from > s.to || s.pattern.length === 0) return 'Invalid argument';
    return ALGOS.has(s.algo) ? undefined : 'No such file or directory';
  },
  save(s) {
    let out = `${s.invert ? ' !' : ''} --${isHex(s.pattern) ? 'hex-string' : 'string'}${patternText(s.pattern)} --algo ${s.algo}`;
    if (s.from !== 0) out += ` --from ${s.from}`;
    if (s.to !== 65535) out += ` --to ${s.to}`;
    if (s.icase) out += ' --icase';
    return out;
  },
  print(s) {
    let out = ` STRING match ${s.invert ? '!' : ''}${patternText(s.pattern)} ALGO name ${s.algo}`;
    if (s.from !== 0) out += ` FROM ${s.from}`;
    if (s.to !== 65535) out += ` TO ${s.to}`;
    if (s.icase) out += ' ICASE';
    return out;
  },
  match: (s, ctx) => search(s, ctx, true) !== s.invert,
  explain(s) {
    const head = `${s.invert ? '! ' : ''}--${isHex(s.pattern) ? 'hex-string' : 'string'}${patternText(s.pattern)}`;
    const where = `between offsets ${s.from} and ${s.to}`;
    if (s.invert) return `${head}: found ${where}`;
    return `${head}: not found ${where} (the payload is not simulated: its bytes are zeros)`;
  },
});

const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c);

/**
 * string_mt() of xt_string.c: skb_find_text() over the packet's bytes from the IP header on, between --from
 * and --to (and the datagram's end), the whole pattern inside that window, ASCII case folded under --icase;
 * then `!`. The simulation carries no payload (values/wire.ts writes zeros after the headers): a pattern found
 * in the headers is certain; one that could only lie in the payload is asked of the trace (assumed absent).
 */
function search(s: StringState, ctx: EvalContext, ask: boolean): boolean {
  const bytes = packetBytes(ctx.pkt);
  const end = Math.min(s.to, ctx.pkt.len, bytes.length);
  const pat = s.icase ? s.pattern.map(lower) : s.pattern;
  const at = (i: number): number => (s.icase ? lower(bytes[i]!) : bytes[i]!);
  for (let i = s.from; i + pat.length <= end; i++) {
    let k = 0;
    while (k < pat.length && at(i + k) === pat[k]) k++;
    if (k === pat.length) return true;
  }
  const payloadStart = headersLength(ctx.pkt);
  // Could the pattern overlap the payload somewhere inside the window?
  const first = Math.max(s.from, payloadStart - pat.length + 1);
  if (!ask || pat.length === 0 || payloadStart >= ctx.pkt.len || first + pat.length > end) return false;
  return ctx.decide('string', `the payload holds${patternText(s.pattern)} between offsets ${s.from} and ${s.to}`, false);
}
