/**
 * LOG target (iptables-extensions: "LOG"): kernel logging of matching packets, with a syslog level, a
 * prefix of up to 29 characters (longer ones are cut silently, struct xt_log_info) and option flags.
 */
import { paramProblem } from '../../messages';
import { parseUint } from '../../model/cnum';
import { defineTarget } from '../spec';
import { saveString } from '../option-types';
import { truncateBytes } from '../values/cstring';

const FLAGS: ReadonlyArray<readonly [opt: string, bit: number, shown: string]> = [
  ['log-tcp-sequence', 0x01, 'tcp-sequence'],
  ['log-tcp-options', 0x02, 'tcp-options'],
  ['log-ip-options', 0x04, 'ip-options'],
  ['log-uid', 0x08, 'uid'],
  ['log-macdecode', 0x20, 'macdecode'],
];
const XT_LOG_MASK = 0x2f;
const DEFAULT_LEVEL = 4;
const PREFIX_MAX = 29;

/** xtopt_parse_sysloglevel()'s names (glibc's "err"/"warn" are not among them). */
const LEVEL_NAMES: Readonly<Record<string, number>> = {
  alert: 1,
  crit: 2,
  debug: 7,
  emerg: 0,
  error: 3,
  info: 6,
  notice: 5,
  panic: 0,
  warning: 4,
};
/** glibc prioritynames[] in order: priority2name() shows the first name with the level. */
const PRIORITY_NAMES: ReadonlyArray<readonly [string, number]> = [
  ['alert', 1],
  ['crit', 2],
  ['debug', 7],
  ['emerg', 0],
  ['err', 3],
  ['error', 3],
  ['info', 6],
  ['none', 0x10],
  ['notice', 5],
  ['panic', 0],
  ['warn', 4],
  ['warning', 4],
];

interface LogState {
  level: number;
  prefix: string;
  flags: number;
}

export default defineTarget<LogState>({
  kind: 'target',
  name: 'LOG',
  manSection: 'LOG',
  style: 'x6',
  help: `LOG target options:
 --log-level level		Level of logging (numeric or see syslog.conf)
 --log-prefix prefix		Prefix log messages with this prefix.
 --log-tcp-sequence		Log TCP sequence numbers.
 --log-tcp-options		Log TCP options.
 --log-ip-options		Log IP options.
 --log-uid			Log UID owning the local socket.
 --log-macdecode		Decode MAC addresses and protocol.
`,
  options: [
    { name: 'log-level', arg: 'required' },
    { name: 'log-prefix', arg: 'required' },
    ...FLAGS.map(([name]) => ({ name, arg: 'none' as const })),
  ],
  init: () => ({ level: DEFAULT_LEVEL, prefix: '', flags: 0 }),
  parse(s, use) {
    const v = use.value ?? '';
    switch (use.name) {
      case 'log-level': {
        let n = parseUint(v, 0, 7);
        if (n === null) {
          if (!Object.prototype.hasOwnProperty.call(LEVEL_NAMES, v)) throw paramProblem(`log level "${v}" unknown\n`);
          n = LEVEL_NAMES[v]!;
        }
        s.level = n;
        return;
      }
      case 'log-prefix':
        if (v.length < 1) throw paramProblem('Argument must have a minimum length of 1 characters\n');
        if (v.includes('\n')) throw paramProblem('Newlines not allowed in --log-prefix');
        s.prefix = truncateBytes(v, PREFIX_MAX);
        return;
      default:
        s.flags |= FLAGS.find(([name]) => name === use.name)![1];
    }
  },
  save(s) {
    let out = s.prefix !== '' ? ` --log-prefix${saveString(s.prefix)}` : '';
    if (s.level !== DEFAULT_LEVEL) out += ` --log-level ${s.level}`;
    for (const [opt, bit] of FLAGS) if (s.flags & bit) out += ` --${opt}`;
    return out;
  },
  print(s, numeric) {
    let out = ' LOG';
    if (numeric) out += ` flags ${s.flags} level ${s.level}`;
    else {
      const name = PRIORITY_NAMES.find(([, l]) => l === s.level)?.[0];
      out += name !== undefined ? ` level ${name}` : ` UNKNOWN level ${s.level}`;
      for (const [, bit, shown] of FLAGS) if (s.flags & bit) out += ` ${shown}`;
      if (s.flags & ~XT_LOG_MASK) out += ' unknown-flags';
    }
    if (s.prefix !== '') out += ` prefix "${s.prefix}"`;
    return out;
  },
  // log_tg() of xt_LOG.c: nf_log_packet() with the level, prefix and flags; XT_CONTINUE.
  run(s, ctx) {
    ctx.log({ prefix: s.prefix, level: s.level, flags: s.flags });
    return 'CONTINUE';
  },
});
