/**
 * The C number readers the extensions use, all on src/model/cnum's strtoumax() digit loop: strtoul(3) as an
 * extension calls it directly (a sign is taken, no digits is 0), xtables_strtoul() with an end pointer and a
 * range, and atoi()/atoll().
 */
import { strtoul } from '../../model/cnum';

const U64 = 1n << 64n;
const U64_MAX = U64 - 1n;
const I64_MAX = (1n << 63n) - 1n;

export interface CStrtoul {
  /** The unsigned long result (ULONG_MAX on overflow, negated modulo 2^64 after '-'). */
  value: bigint;
  /** Index of the first character not consumed (== start when no digits were read). */
  end: number;
  /** errno == ERANGE. */
  overflow: boolean;
}

/** Blanks and an optional sign, as strtol/strtoul skip them: the index of the digits and the sign. */
function signed(s: string, start: number): { at: number; neg: boolean } {
  let i = start;
  while (i < s.length && /[ \t\n\v\f\r]/.test(s[i]!)) i++;
  const neg = s[i] === '-';
  if (neg || s[i] === '+') i++;
  return { at: i, neg };
}

/** The digits at `at` (cnum's strtoul would skip blanks and a '+' again there; C does not). */
function digits(s: string, at: number, base: number): ReturnType<typeof strtoul> {
  return /[ \t\n\v\f\r+-]/.test(s[at] ?? '') ? null : strtoul(s, base, at);
}

/** C strtoul(s + start, &end, base). */
export function cStrtoul(s: string, start = 0, base = 0): CStrtoul {
  const { at, neg } = signed(s, start);
  const r = digits(s, at, base);
  if (!r) return { value: 0n, end: start, overflow: false };
  if (r.overflow) return { value: U64_MAX, end: r.end, overflow: true };
  return { value: neg && r.value !== 0n ? U64 - r.value : r.value, end: r.end, overflow: false };
}

/**
 * xtables_strtoul() with an end pointer: leading blanks, no '-', base 0, [min, max]. Returns the value and the
 * index after the digits, or null (no digits, overflow, out of range).
 */
export function xtStrtoul(s: string, min: bigint, max: bigint, start = 0): { value: bigint; end: number } | null {
  const r = strtoul(s, 0, start);
  if (!r || r.overflow || r.value < min || r.value > max) return null;
  return { value: r.value, end: r.end };
}

/** The same within 32 bits, as a number (xtables_strtoui). */
export function xtStrtoui(s: string, min: number, max: number, start = 0): { value: number; end: number } | null {
  const r = xtStrtoul(s, BigInt(min), BigInt(max), start);
  return r && { value: Number(r.value), end: r.end };
}

/** glibc strtoll(s, NULL, 10): clamped to the signed 64-bit range, 0 without digits. */
function strtoll10(s: string): bigint {
  const { at, neg } = signed(s, 0);
  const r = digits(s, at, 10);
  if (!r) return 0n;
  if (neg) return r.value > I64_MAX ? -I64_MAX - 1n : -r.value;
  return r.value > I64_MAX ? I64_MAX : r.value;
}

/** atoll() seen as the uint64_t the extensions store it in. */
export function atollU64(s: string): bigint {
  return BigInt.asUintN(64, strtoll10(s));
}

/** atoi(): (int)strtol(), i.e. the low 32 bits, signed. */
export function atoi(s: string): number {
  return Number(BigInt.asIntN(32, strtoll10(s)));
}
