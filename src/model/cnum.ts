/**
 * C's strtoumax() as iptables calls it (xtables_strtoul_base): leading blanks, an optional '+', base 0 means
 * "0x" hex / leading-0 octal / decimal, a leading '-' is refused. Many option values go through it, so
 * `--dport 0x16` or an address byte `010` mean what they mean to the real iptables.
 */
export interface StrtoulResult {
  value: bigint;
  /** Index just past the digits consumed. */
  end: number;
  overflow: boolean;
}

const U64_MAX = (1n << 64n) - 1n;

function digitValue(c: string): number {
  const code = c.charCodeAt(0);
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 122) return code - 87;
  if (code >= 65 && code <= 90) return code - 55;
  return 99;
}

/** Returns null when no digits were consumed (strtoul's end == start). */
export function strtoul(s: string, base = 0, start = 0): StrtoulResult | null {
  let i = start;
  while (i < s.length && /[ \t\n\v\f\r]/.test(s[i]!)) i++;
  if (s[i] === '-') return null;
  if (s[i] === '+') i++;
  let b = base;
  if ((b === 0 || b === 16) && s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && digitValue(s[i + 2] ?? '') < 16) {
    i += 2;
    b = 16;
  } else if (b === 0) {
    b = s[i] === '0' ? 8 : 10;
  }
  const digitsStart = i;
  let v = 0n;
  let overflow = false;
  const bb = BigInt(b);
  while (i < s.length && digitValue(s[i]!) < b) {
    v = v * bb + BigInt(digitValue(s[i]!));
    if (v > U64_MAX) overflow = true;
    i++;
  }
  if (i === digitsStart) {
    // "0x" with no hex digit parses as 0 followed by "x"; a lone "0" in base 8 is caught here too.
    return null;
  }
  return { value: overflow ? U64_MAX : v, end: i, overflow };
}

/**
 * xtables_strtoui/xtables_strtoul with end == NULL: the whole string must be a number within [min, max]
 * (max 0 means no upper bound).
 */
export function parseUintStrict(s: string, min: number | bigint, max: number | bigint, base = 0): bigint | null {
  if ((base === 0 || base === 10) && SIMPLE_DECIMAL.test(s)) {
    const v = BigInt(s);
    return v < BigInt(min) || (BigInt(max) !== 0n && v > BigInt(max)) ? null : v;
  }
  const r = strtoul(s, base);
  if (!r || r.overflow || r.end !== s.length) return null;
  const lo = BigInt(min);
  const hi = BigInt(max);
  if (r.value < lo || (hi !== 0n && r.value > hi)) return null;
  return r.value;
}

/** Plain decimal without a leading zero, short enough for exact double arithmetic: the common case. */
const SIMPLE_DECIMAL = /^(?:0|[1-9][0-9]{0,14})$/;

/** The same, returning a JS number (for values that fit in 32 bits). */
export function parseUint(s: string, min: number, max: number, base = 0): number | null {
  if ((base === 0 || base === 10) && SIMPLE_DECIMAL.test(s)) {
    // No BigInt on the hot path (ports, address bytes): same answer as strtoul for these strings.
    const v = Number(s);
    return v < min || (max !== 0 && v > max) ? null : v;
  }
  const v = parseUintStrict(s, min, max, base);
  return v === null ? null : Number(v);
}
