/**
 * u32 match (iptables-extensions: "u32"): tests on 32-bit words fetched at computed packet offsets.
 * x6 style: one mandatory, invertible `--u32 tests`, parsed by libxt_u32's state machine (its messages quote
 * byte offsets into the argument); saved and listed in canonical hex form.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { cStrtoul } from '../values/cstrtoul';
import { hex32 } from '../values/mark';
import { packetBytes } from '../values/wire';

/** XT_U32_MAXSIZE: at most this many tests, locations per test and values per test (plus one slot). */
const MAXSIZE = 10;

type Op = '&' | '<<' | '>>' | '@';

export interface U32Test {
  /** location[0] has no operator; each later entry is applied with its `op`. */
  location: Array<{ op: Op | undefined; number: number }>;
  values: Array<[number, number]>;
}

export interface U32State {
  tests: U32Test[];
  invert: boolean;
}

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
}

/** parse_number(): xtables_strtoui(s, &end, 0, UINT32_MAX) reading from `pos`. */
function parseNumber(s: string, pos: number): [number, number] {
  let p = pos;
  while (isSpace(s[p])) p++;
  const bad = (): never => {
    throw paramProblem(`u32: at char ${pos}: not a number or out of range`);
  };
  if (s[p] === '-') bad();
  const r = cStrtoul(s, pos, 0);
  if (r.end === pos || r.overflow || r.value > 0xffffffffn) bad();
  return [Number(r.value), r.end];
}

/** u32_parse(): the argument as C sees it (bytes), so `at char N` counts bytes. */
export function parseU32(text: string): U32Test[] {
  const s = Buffer.from(text, 'utf8').toString('latin1');
  const tests: U32Test[] = [];
  let ct: U32Test = { location: [], values: [] };
  let state = 0;
  let i = 0;
  const err = (msg: string): never => {
    throw paramProblem(`u32: ${msg}`);
  };
  for (;;) {
    while (isSpace(s[i])) i++;
    if (i >= s.length) {
      if (state === 0) err('abrupt end of input after location specifier');
      if (ct.values.length === 0) err('test ended with no value specified');
      tests.push(ct);
      if (tests.length > MAXSIZE) err(`at char ${i}: too many "&&"s`);
      return tests;
    }
    if (state === 0) {
      if (s[i] === '=') {
        if (ct.location.length === 0) err(`at char ${i}: location spec missing`);
        i++;
        state = 1;
        continue;
      }
      let op: Op | undefined;
      if (ct.location.length !== 0) {
        const c = s[i];
        if (c === '&') op = '&';
        else if (c === '<' || c === '>') {
          i++;
          if (s[i] !== c) err(`at char ${i}: a second '${c}' was expected`);
          op = c === '<' ? '<<' : '>>';
        } else if (c === '@') op = '@';
        else err(`at char ${i}: operator expected`);
        i++;
      }
      const [n, end] = parseNumber(s, i);
      i = end;
      ct.location.push({ op, number: n });
      if (ct.location.length > MAXSIZE) err(`at char ${i}: too many operators`);
    } else if (s[i] === '&') {
      i++;
      if (s[i] !== '&') err(`at char ${i}: a second '&' was expected`);
      if (ct.values.length === 0) err(`at char ${i}: value spec missing`);
      tests.push(ct);
      ct = { location: [], values: [] };
      if (tests.length > MAXSIZE) err(`at char ${i}: too many "&&"s`);
      i++;
      state = 0;
    } else {
      if (ct.values.length > 0) {
        if (s[i] !== ',') err(`at char ${i}: expected "," or "&&"`);
        i++;
      }
      const [min, end] = parseNumber(s, i);
      i = end;
      while (isSpace(s[i])) i++;
      let max = min;
      if (s[i] === ':') {
        i++;
        [max, i] = parseNumber(s, i);
      }
      ct.values.push([min, max]);
      if (ct.values.length > MAXSIZE) err(`at char ${i}: too many ","s`);
    }
  }
}


/** u32_dump(): ` "..."` in canonical hex form. */
function dump(tests: readonly U32Test[]): string {
  const t = tests.map(
    (ct) =>
      ct.location.map((l) => `${l.op ?? ''}${hex32(l.number)}`).join('') +
      '=' +
      ct.values.map(([a, b]) => (a === b ? hex32(a) : `${hex32(a)}:${hex32(b)}`)).join(','),
  );
  return ` "${t.join('&&')}"`;
}

export default defineMatch<U32State>({
  kind: 'match',
  name: 'u32',
  manSection: 'u32',
  style: 'x6',
  help: `u32 match options:
[!] --u32 tests
		tests := location "=" value | tests "&&" location "=" value
		value := range | value "," range
		range := number | number ":" number
		location := number | location operator number
		operator := "&" | "<<" | ">>" | "@"
`,
  options: [{ name: 'u32', arg: 'required', mandatory: true, invert: true }],
  init: () => ({ tests: [], invert: false }),
  parse(s, use) {
    s.invert = use.inverted;
    s.tests = parseU32(use.value!);
  },
  save: (s) => `${s.invert ? ' !' : ''} --u32${dump(s.tests)}`,
  print: (s) => ` u32${s.invert ? ' !' : ''}${dump(s.tests)}`,
  match: (s, ctx) => runTests(s.tests, packetBytes(ctx.pkt), ctx.pkt.len).ok !== s.invert,
  explain(s, ctx) {
    const head = `${s.invert ? '! ' : ''}--u32${dump(s.tests)}`;
    const r = runTests(s.tests, packetBytes(ctx.pkt), ctx.pkt.len);
    if (r.ok) return `${head}: every test holds`;
    const test = dump([s.tests[r.test]!]).trim();
    return `${head}: test ${test} fails: ${r.why}`;
  },
});

/**
 * u32_match_it() of xt_u32.c over the packet's bytes (values/wire.ts; the payload is zeros) and its length
 * (skb->len, the IP total length): each test reads the big-endian word at its first location, then applies
 * `&`, `<<`, `>>` (shift counts taken mod 32, as the CPU does) and `@` (move the base by the value and read
 * the word at base + number); any read past the end fails the test; the value must fall in one of the ranges.
 * All tests must hold.
 */
function runTests(tests: readonly U32Test[], bytes: Uint8Array, skbLen: number): { ok: boolean; test: number; why: string } {
  const len = Math.min(skbLen, bytes.length);
  const word = (at: number): number => ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
  for (let t = 0; t < tests.length; t++) {
    const ct = tests[t]!;
    let at = 0;
    let pos = ct.location[0]!.number;
    const short = (where: number): { ok: boolean; test: number; why: string } => ({
      ok: false,
      test: t,
      why: `offset ${where} is past the end of the ${len}-byte packet`,
    });
    if (len < 4 || pos > len - 4) return short(pos);
    let val = word(pos);
    for (let i = 1; i < ct.location.length; i++) {
      const { op, number } = ct.location[i]!;
      switch (op) {
        case '&':
          val = (val & number) >>> 0;
          break;
        case '<<':
          val = (val << (number & 31)) >>> 0;
          break;
        case '>>':
          val = val >>> (number & 31);
          break;
        case '@':
          if (at + val > 0xffffffff) return short(at + val);
          at += val;
          pos = number;
          if (at + 4 > 0xffffffff || len < at + 4 || pos > len - at - 4) return short(at + pos);
          val = word(at + pos);
          break;
      }
    }
    if (!ct.values.some(([min, max]) => min <= val && val <= max)) {
      return { ok: false, test: t, why: `value is ${hex32(val)}` };
    }
  }
  return { ok: true, test: -1, why: '' };
}
