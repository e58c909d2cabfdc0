/**
 * IDLETIMER target (iptables-extensions: "IDLETIMER", libxt_IDLETIMER revision 1 / xt_IDLETIMER.c): restart a
 * timer named --label (char[28]: 27 bytes kept) that fires after --timeout seconds without packets (--alarm:
 * an alarm timer). Any table and chain. The kernel refuses a zero or huge timeout (>= INT_MAX/1000) and labels
 * that cannot be sysfs file names.
 */
import { parseX6Uint } from '../option-types';
import { defineTarget } from '../spec';
import { needsQuotes, restoreWord, truncateBytes } from '../values/cstring';

const MAX_IDLETIMER_LABEL_SIZE = 28;

export interface IdletimerState {
  timeout: number;
  label: string;
  alarm: boolean;
}

export default defineTarget<IdletimerState>({
  kind: 'target',
  name: 'IDLETIMER',
  manSection: 'IDLETIMER',
  style: 'x6',
  help: `IDLETIMER target options:
 --timeout time	Timeout until the notification is sent (in seconds)
 --label string	Unique rule identifier
 --alarm	Use alarm instead of default timer

`,
  options: [
    { name: 'timeout', arg: 'required', mandatory: true },
    { name: 'label', arg: 'required', mandatory: true },
    { name: 'alarm', arg: 'none' },
  ],
  init: () => ({ timeout: 0, label: '', alarm: false }),
  parse(s, use) {
    if (use.name === 'timeout') s.timeout = parseX6Uint('IDLETIMER', use.name, use.value!, 0, 0xffffffff);
    else if (use.name === 'label') s.label = truncateBytes(use.value!, MAX_IDLETIMER_LABEL_SIZE - 1);
    else s.alarm = true;
  },
  // idletimer_tg_checkentry_v1(): idletimer_tg_helper(); a timer of that label already there must be of the
  // same type; a new one needs a label that can be a sysfs file name (idletimer_check_sysfs_name()).
  kernelCheckSeesPeers: true,
  kernelCheck(s, k) {
    if (s.timeout === 0 || s.timeout >= Math.floor(0x7fffffff / 1000) || s.label === '') return 'Invalid argument';
    for (const peer of k.peers?.('IDLETIMER') ?? []) {
      if (peer.def.name !== 'IDLETIMER') continue;
      const other = peer.state as IdletimerState;
      if (other.label === s.label) return other.alarm === s.alarm ? undefined : 'Invalid argument';
    }
    if (s.label === '.' || s.label === '..' || s.label.includes('/')) return 'Invalid argument';
    if (['power', 'subsystem', 'uevent'].includes(s.label)) return 'Invalid argument';
    return undefined;
  },
  save: (s) => ` --timeout ${s.timeout} --label ${s.label}${s.alarm ? ' --alarm' : ''}`,
  stateText: (s) => (needsQuotes(s.label) ? ` --timeout ${s.timeout} --label${restoreWord(s.label)}${s.alarm ? ' --alarm' : ''}` : undefined),
  print: (s) => ` timeout:${s.timeout} label:${s.label}${s.alarm ? ' alarm' : ''}`,
  // idletimer_tg_target_v1(): mod_timer() (or alarm_start_relative()) to now + timeout; XT_CONTINUE.
  run(s, ctx) {
    ctx.note(`IDLETIMER: timer ${s.label} restarted: fires after ${s.timeout}s without packets`);
    return 'CONTINUE';
  },
});
