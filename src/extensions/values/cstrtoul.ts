/**
 * C's strtoul(3) as netfilter's extensions call it directly (not through xtables_strtoul): leading blanks, an
 * optional sign ('-' negates modulo 2^64), a "0x" prefix in base 0/16, and -- unlike src/model/cnum -- no
 * digits at all is not an error: the value is 0 and `end` stays at the start, as C leaves endptr == nptr.
 */
const U64 = 1n << 64n;
const U64_MAX = U64 - 1n;

function digit(c: string | undefined): number {
  if (c === undefined) return 99;
  const code = c.charCodeAt(0);
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 122) return code - 87;
  if (code >= 65 && code <= 90) return code - 55;
  return 99;
}

export interface CStrtoul {
  /** The unsigned long result (ULONG_MAX on overflow, negated modulo 2^64 after '-'). */
  value: bigint;
  /** Index of the first character not consumed (== start when no digits were read). */
  end: number;
  /** errno == ERANGE. */
  overflow: boolean;
}

export function cStrtoul(s: string, start = 0, base = 0): CStrtoul {
  let i = start;
  while (i < s.length && /[ \t\n\v\f\r]/.test(s[i]!)) i++;
  let neg = false;
  if (s[i] === '-' || s[i] === '+') {
    neg = s[i] === '-';
    i++;
  }
  let b = base;
  if ((b === 0 || b === 16) && s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && digit(s[i + 2]) < 16) {
    i += 2;
    b = 16;
  } else if (b === 0) {
    b = s[i] === '0' ? 8 : 10;
  }
  const digitsStart = i;
  let v = 0n;
  let overflow = false;
  while (digit(s[i]) < b) {
    v = v * BigInt(b) + BigInt(digit(s[i]));
    if (v > U64_MAX) overflow = true;
    i++;
  }
  if (i === digitsStart) return { value: 0n, end: start, overflow: false };
  if (overflow) return { value: U64_MAX, end: i, overflow: true };
  return { value: neg && v !== 0n ? U64 - v : v, end: i, overflow: false };
}
