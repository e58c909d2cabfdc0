/**
 * time match (iptables-extensions: "time", libxt_time revision 0): --datestart/--datestop (ISO 8601
 * YYYY[-MM[-DD[Thh[:mm[:ss]]]]], read as UTC and normalised as mktime() does: 2023-02-31 is 2023-03-03),
 * --timestart/--timestop (hh:mm[:ss]), --contiguous, [!] --monthdays, [!] --weekdays, --kerneltz, --localtz (its
 * deprecated spelling, with a warning) and --utc (the default, never saved).
 *
 * `!` is folded into the day masks (the kernel has no invert flag). The save text always carries
 * `--datestop 2038-01-19T03:14:07`: time_print_date() skips only LONG_MAX while the default is INT_MAX
 * (recorded in fixtures/recorded/ext-time.json).
 */
import { defineMatch, type OptionDef } from '../spec';
import { paramProblem } from '../../messages';
import { cStrtoul } from '../values/cstrtoul';
import type { EvalContext } from '../../eval/context';

const ALL_WEEKDAYS = 0xfe;
const ALL_MONTHDAYS = 0xfffffffe;
const MAX_DAYTIME = 24 * 60 * 60 - 1;
const INT_MAX = 0x7fffffff;
const F_LOCAL_TZ = 1;
const F_CONTIGUOUS = 2;

export interface TimeState {
  dateStart: number;
  dateStop: number;
  daytimeStart: number;
  daytimeStop: number;
  monthdays: number;
  weekdays: number;
  flags: number;
}

const WEEK_DAYS = ['', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

// time_opts[]: ids follow the C enum (O_MONTHDAYS before O_WEEKDAYS), the table order is the C table's.
const OPTIONS: readonly OptionDef[] = [
  { name: 'datestart', id: 0, arg: 'required' },
  { name: 'datestop', id: 1, arg: 'required' },
  { name: 'timestart', id: 2, arg: 'required' },
  { name: 'timestop', id: 3, arg: 'required' },
  { name: 'contiguous', id: 4, arg: 'none' },
  { name: 'weekdays', id: 6, arg: 'required', invert: true },
  { name: 'monthdays', id: 5, arg: 'required', invert: true },
  { name: 'localtz', id: 7, arg: 'none', excludes: ['utc'] },
  { name: 'utc', id: 8, arg: 'none', excludes: ['localtz', 'kerneltz'] },
  { name: 'kerneltz', id: 9, arg: 'none', excludes: ['utc'] },
];

/** strtoul(s, &e, 10) as an unsigned int: the value (wrapped to 32 bits) and the index of e. */
function strtoul10(s: string, at: number): { v: number; e: number } {
  const r = cStrtoul(s, at, 10);
  return { v: r.value > 0xffffffffn ? 0xffffffff : Number(r.value), e: r.end };
}

/** time_parse_date(): seconds since the epoch (UTC), normalised like mktime(). */
function parseDate(arg: string): number {
  const bad = (): never => {
    throw paramProblem(`Invalid date "${arg}" specified. Should be YYYY[-MM[-DD[Thh[:mm[:ss]]]]]`);
  };
  // [separator allowed after the field, max]
  const fields: Array<[string, number]> = [
    ['-', 2038],
    ['-', 12],
    ['T', 31],
    [':', 23],
    [':', 59],
    ['', 59],
  ];
  const vals = [0, 1, 1, 0, 0, 0];
  let at = 0;
  for (let i = 0; i < fields.length; i++) {
    const [sep, max] = fields[i]!;
    const { v, e } = strtoul10(arg, at);
    const end = arg[e];
    if ((end !== undefined && (sep === '' || end !== sep)) || v > max || (i === 0 && v < 1970)) bad();
    vals[i] = v;
    if (end === undefined) break;
    at = e + 1;
  }
  const [y, mo, d, h, mi, se] = vals as [number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, se) / 1000;
}

/** time_parse_minutes(): seconds since midnight; the message names the part it stopped at. */
function parseDaytime(arg: string): number {
  let s = 0;
  const bad = (): never => {
    throw paramProblem(`invalid time "${arg.slice(s)}" specified, should be hh:mm[:ss] format and within the boundaries`);
  };
  const h = strtoul10(arg, 0);
  if (arg[h.e] !== ':' || h.v > 23) bad();
  s = h.e + 1;
  const m = strtoul10(arg, s);
  if ((m.e < arg.length && arg[m.e] !== ':') || m.v > 59) bad();
  if (m.e >= arg.length) return 3600 * h.v + 60 * m.v;
  s = m.e + 1;
  const sec = strtoul10(arg, s);
  if (sec.e < arg.length || sec.v > 59) bad();
  return 3600 * h.v + 60 * m.v + sec.v;
}

/** my_strseg(): the comma-separated pieces, each cut to `buflen - 1` characters; none after an empty rest. */
function segments(arg: string, buflen: number): string[] {
  const out: string[] = [];
  let rest: string | null = arg;
  while (rest !== null && rest !== '') {
    const comma: number = rest.indexOf(',');
    const piece: string = comma < 0 ? rest : rest.slice(0, comma);
    out.push(piece.slice(0, buflen - 1));
    rest = comma < 0 ? null : rest.slice(comma + 1);
  }
  return out;
}

/** `1 << i` on x86: the shift count is taken modulo 32. */
const bit = (i: number): number => (1 << (i & 31)) >>> 0;

/** time_parse_monthdays(): numbers (base 0) 0-31, each piece at most 2 characters. */
function parseMonthdays(arg: string): number {
  let ret = 0;
  for (const day of segments(arg, 3)) {
    const r = cStrtoul(day, 0, 0);
    if (r.end < day.length || r.value > 31n) throw paramProblem(`${day} is not a valid day for --monthdays`);
    ret = (ret | bit(Number(r.value))) >>> 0;
  }
  return ret;
}

/** time_parse_weekdays(): numbers (1-7, others set their bit anyway) or names matched on two letters. */
function parseWeekdays(arg: string): number {
  let ret = 0;
  for (const day of segments(arg, 4)) {
    const r = cStrtoul(day, 0, 0);
    if (r.end === day.length) {
      const i = Number(BigInt.asUintN(32, r.value));
      if (i === 0) throw paramProblem('No, the week does NOT begin with Sunday.');
      ret = (ret | bit(i)) >>> 0;
      continue;
    }
    let valid = false;
    for (let i = 1; i < WEEK_DAYS.length; i++) {
      if (day.slice(0, 2) === WEEK_DAYS[i]!.slice(0, 2)) {
        ret = (ret | bit(i)) >>> 0;
        valid = true;
      }
    }
    if (!valid) throw paramProblem(`${day} is not a valid day specifier`);
  }
  return ret;
}

const p2 = (n: number): string => String(n).padStart(2, '0');

function daytimeText(t: number): string {
  return `${p2(Math.floor(t / 3600))}:${p2(Math.floor(t / 60) % 60)}:${p2(t % 60)}`;
}

/** time_print_date(): "" for 0 (the default start), else the UTC date in ISO 8601 (`T`) or with a blank. */
function dateText(date: number, sep: string): string {
  if (date === 0) return '';
  const d = new Date(date * 1000);
  return ` ${String(d.getUTCFullYear()).padStart(4, '0')}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}${sep}${p2(
    d.getUTCHours(),
  )}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
}

function monthdaysText(mask: number, human: boolean): string {
  const days: string[] = [];
  for (let i = 1; i <= 31; i++) {
    if (!(mask & bit(i))) continue;
    const suffix = !human ? '' : i % 10 === 1 ? 'st' : i % 10 === 2 ? 'nd' : i % 10 === 3 ? 'rd' : 'th';
    days.push(`${i}${suffix}`);
  }
  return ` ${days.join(',')}`;
}

function weekdaysText(mask: number): string {
  const days: string[] = [];
  for (let i = 1; i <= 7; i++) if (mask & bit(i)) days.push(WEEK_DAYS[i]!);
  return ` ${days.join(',')}`;
}

const defaultDaytime = (s: TimeState): boolean => s.daytimeStart === 0 && s.daytimeStop === MAX_DAYTIME;

function saveText(s: TimeState): string {
  let out = '';
  if (!defaultDaytime(s)) out += ` --timestart ${daytimeText(s.daytimeStart)} --timestop ${daytimeText(s.daytimeStop)}`;
  if (s.monthdays !== ALL_MONTHDAYS) out += ` --monthdays${monthdaysText(s.monthdays, false)}`;
  if (s.weekdays !== ALL_WEEKDAYS) out += ` --weekdays${weekdaysText(s.weekdays)}`;
  const start = dateText(s.dateStart, 'T');
  if (start) out += ` --datestart${start}`;
  const stop = dateText(s.dateStop, 'T');
  if (stop) out += ` --datestop${stop}`;
  if (s.flags & F_LOCAL_TZ) out += ' --kerneltz';
  if (s.flags & F_CONTIGUOUS) out += ' --contiguous';
  return out;
}

/**
 * The state file's spelling when the save text loses something: day masks with bits no name stands for
 * (`--weekdays 8`, `--monthdays 0`) and a --datestop at the epoch are written as `@NUMBER`, read back only
 * from the state file.
 */
function stateText(s: TimeState): string | undefined {
  const oddWeek = (s.weekdays & ~ALL_WEEKDAYS) !== 0 || s.weekdays === 0;
  const oddMonth = (s.monthdays & ~ALL_MONTHDAYS) !== 0 || s.monthdays === 0;
  if (!oddWeek && !oddMonth && s.dateStop !== 0) return undefined;
  let out = '';
  if (!defaultDaytime(s)) out += ` --timestart ${daytimeText(s.daytimeStart)} --timestop ${daytimeText(s.daytimeStop)}`;
  out += ` --monthdays @${s.monthdays >>> 0} --weekdays @${s.weekdays >>> 0}`;
  out += ` --datestart @${s.dateStart} --datestop @${s.dateStop}`;
  if (s.flags & F_LOCAL_TZ) out += ' --kerneltz';
  if (s.flags & F_CONTIGUOUS) out += ' --contiguous';
  return out;
}

function trustedNumber(value: string, trusted: boolean): number | undefined {
  return trusted && /^@\d+$/.test(value) ? Number(value.slice(1)) >>> 0 : undefined;
}

function listText(s: TimeState): string {
  let out = ' TIME';
  if (!defaultDaytime(s)) out += ` from ${daytimeText(s.daytimeStart)} to ${daytimeText(s.daytimeStop)}`;
  if (s.weekdays !== ALL_WEEKDAYS) out += ` on${weekdaysText(s.weekdays)}`;
  if (s.monthdays !== ALL_MONTHDAYS) out += ` on${monthdaysText(s.monthdays, true)}`;
  if (s.dateStart !== 0) out += ` starting from${dateText(s.dateStart, ' ')}`;
  if (s.dateStop !== INT_MAX) out += ` until date${dateText(s.dateStop, ' ')}`;
  if (!(s.flags & F_LOCAL_TZ)) out += ' UTC';
  if (s.flags & F_CONTIGUOUS) out += ' contiguous';
  return out;
}

export default defineMatch<TimeState>({
  kind: 'match',
  name: 'time',
  manSection: 'time',
  style: 'x6',
  help: `time match options:
    --datestart time     Start and stop time, to be given in ISO 8601
    --datestop time      (YYYY[-MM[-DD[Thh[:mm[:ss]]]]])
    --timestart time     Start and stop daytime (hh:mm[:ss])
    --timestop time      (between 00:00:00 and 23:59:59)
[!] --monthdays value    List of days on which to match, separated by comma
                         (Possible days: 1 to 31; defaults to all)
[!] --weekdays value     List of weekdays on which to match, sep. by comma
                         (Possible days: Mon,Tue,Wed,Thu,Fri,Sat,Sun or 1 to 7
                         Defaults to all weekdays.)
    --kerneltz           Work with the kernel timezone instead of UTC
`,
  options: OPTIONS,
  init: () => ({
    dateStart: 0,
    dateStop: INT_MAX,
    daytimeStart: 0,
    daytimeStop: MAX_DAYTIME,
    monthdays: ALL_MONTHDAYS,
    weekdays: ALL_WEEKDAYS,
    flags: 0,
  }),
  parse(s, use, ctx) {
    const v = use.value ?? '';
    const raw = trustedNumber(v, ctx.trusted);
    switch (use.name) {
      case 'datestart':
        s.dateStart = raw ?? parseDate(v) >>> 0;
        return;
      case 'datestop':
        s.dateStop = raw ?? parseDate(v) >>> 0;
        return;
      case 'timestart':
        s.daytimeStart = parseDaytime(v);
        return;
      case 'timestop':
        s.daytimeStop = parseDaytime(v);
        return;
      case 'contiguous':
        s.flags |= F_CONTIGUOUS;
        return;
      case 'localtz':
        ctx.warn(
          'WARNING: --localtz is being replaced by --kerneltz, since "local" is ambiguous. Note the kernel timezone has caveats - see manpage for details.',
        );
        s.flags |= F_LOCAL_TZ;
        return;
      case 'kerneltz':
        s.flags |= F_LOCAL_TZ;
        return;
      case 'monthdays':
        s.monthdays = raw ?? parseMonthdays(v);
        if (use.inverted) s.monthdays = (s.monthdays ^ ALL_MONTHDAYS) >>> 0;
        return;
      case 'weekdays':
        s.weekdays = raw ?? parseWeekdays(v);
        if (use.inverted) s.weekdays = (s.weekdays ^ ALL_WEEKDAYS) >>> 0;
        return;
      default:
        return; // --utc: the default
    }
  },
  finalCheck(s, _ctx, given) {
    if (given.has('contiguous') && s.daytimeStart < s.daytimeStop) {
      throw paramProblem('time: --contiguous only makes sense when stoptime is smaller than starttime');
    }
  },
  save: saveText,
  stateText,
  print: listText,
  match: (s, ctx) => timeMatch(s, ctx) === undefined,
  explain: (s, ctx) => `${saveText(s).trim()}: ${timeMatch(s, ctx) ?? 'matches'}`,
});

/**
 * time_mt() of xt_time.c: the packet's time (ctx.now, the trace's clock) against the date range, the daytime
 * range (wrapping past midnight when start > stop, --contiguous counting the early part as the day before),
 * then weekday and month day. --kerneltz uses the kernel's timezone, assumed UTC (sys_tz is unset unless
 * something like hwclock --systz sets it): the trace notes it. Returns why it does not match, or undefined.
 */
function timeMatch(s: TimeState, ctx: EvalContext): string | undefined {
  let stamp = Math.floor(ctx.now.getTime() / 1000);
  if (s.flags & F_LOCAL_TZ) ctx.note('time --kerneltz: the kernel timezone is taken as UTC (sys_tz unset)');
  const at = `packet time is ${new Date(stamp * 1000).toISOString().replace(/\.\d+Z$/, '')}`;
  if (stamp < s.dateStart || stamp > s.dateStop) return at;
  const daytime = ((stamp % 86400) + 86400) % 86400;
  if (s.daytimeStart < s.daytimeStop) {
    if (daytime < s.daytimeStart || daytime > s.daytimeStop) return at;
  } else {
    if (daytime < s.daytimeStart && daytime > s.daytimeStop) return at;
    if (s.flags & F_CONTIGUOUS && daytime <= s.daytimeStop) stamp -= 86400;
  }
  const days = Math.floor(stamp / 86400);
  const weekday = (((4 + days) % 7) + 7) % 7 || 7;
  if (!(s.weekdays & bit(weekday))) return `${at}, a ${WEEK_DAYS[weekday]}`;
  if (s.monthdays !== ALL_MONTHDAYS) {
    const monthday = new Date(stamp * 1000).getUTCDate();
    if (!(s.monthdays & bit(monthday))) return `${at}, day ${monthday} of the month`;
  }
  return undefined;
}
