/**
 * LED target (iptables-extensions: "LED", libxt_LED / xt_LED.c): blink the LED trigger "netfilter-<id>".
 * --led-trigger-id (mandatory, at most 16 bytes: "netfilter-" and the id share char[27]), --led-delay ms or
 * inf (anything starting with "inf"), --led-always-blink. The kernel the fixtures were recorded on has no xt_LED
 * (Debian 12's ships it as a module): libxtables warns that revision 0 is not supported and the kernel refuses
 * every rule with ENOENT (recorded in ext-target-LED); the save and -L texts follow libxt_LED.c.
 */
import { paramProblem } from '../../messages';
import { defineTarget } from '../spec';
import { xtStrtoui } from '../values/cstrtoul';

const ID_SIZE = 27;
const PREFIX = 'netfilter-';
/** led->delay is a __u32; -1 (0xffffffff) means "inf". */
const INF = 0xffffffff;

export interface LedState {
  id: string;
  delay: number;
  alwaysBlink: boolean;
}

/** The id between double quotes, `"` and `\` escaped (LED_print / LED_save). */
const quoted = (id: string): string => `"${id.replace(/(["\\])/g, '\\$1')}"`;
/** printf("%d") of the __u32 delay. */
const asInt = (n: number): number => n | 0;

export default defineTarget<LedState>({
  kind: 'target',
  kernelMissing: true,
  name: 'LED',
  manSection: 'LED',
  style: 'x6',
  help: `LED target options:
--led-trigger-id name           suffix for led trigger name
--led-delay ms                  leave the LED on for this number of
                                milliseconds after triggering.
--led-always-blink              blink on arriving packets, even if
                                the LED is already on.
`,
  options: [
    { name: 'led-trigger-id', arg: 'required', mandatory: true },
    { name: 'led-delay', arg: 'required' },
    { name: 'led-always-blink', arg: 'none' },
  ],
  init: () => ({ id: '', delay: 0, alwaysBlink: false }),
  parse(s, use) {
    const v = use.value ?? '';
    switch (use.name) {
      case 'led-trigger-id': {
        // XTTYPE_STRING with .max = sizeof(id) - sizeof("netfilter-"); then snprintf into char[27].
        const max = ID_SIZE - (PREFIX.length + 1);
        if (Buffer.byteLength(v) > max) throw paramProblem(`Argument must have a maximum length of ${max} characters\n`);
        s.id = v;
        return;
      }
      case 'led-delay': {
        if (v.slice(0, 3).toLowerCase() === 'inf') {
          s.delay = INF;
          return;
        }
        const n = xtStrtoui(v, 0, 0xffffffff);
        if (!n || n.end !== v.length) throw paramProblem('Delay value must be within range 0..4294967295');
        s.delay = n.value;
        return;
      }
      case 'led-always-blink':
        s.alwaysBlink = true;
        return;
    }
  },
  // LED_save(): the delay only when "> 0" (a __u32, so inf prints as --led-delay -1), or when -1.
  save: (s) => ` --led-trigger-id ${quoted(s.id)}${s.delay > 0 ? ` --led-delay ${asInt(s.delay)}` : ''}${s.alwaysBlink ? ' --led-always-blink' : ''}`,
  // A delay above INT_MAX saves as a negative number that does not parse back (inf as -1): the state file
  // spells it unsigned, or inf.
  stateText: (s) =>
    s.delay > 0x7fffffff
      ? ` --led-trigger-id ${quoted(s.id)} --led-delay ${s.delay === INF ? 'inf' : s.delay}${s.alwaysBlink ? ' --led-always-blink' : ''}`
      : undefined,
  print: (s) =>
    ` led-trigger-id:${quoted(s.id)}${s.delay === INF ? ' led-delay:inf' : ` led-delay:${asInt(s.delay)}ms`}${s.alwaysBlink ? ' led-always-blink' : ''}`,
  // led_tg() of xt_LED.c: led_trigger_event(FULL), then off after the delay (never with inf); XT_CONTINUE.
  run(s, ctx) {
    ctx.note(`LED: trigger ${PREFIX}${s.id} lit${s.delay === INF ? '' : ` for ${s.delay}ms`} (not on this kernel: no xt_LED)`);
    return 'CONTINUE';
  },
});
