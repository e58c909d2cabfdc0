/**
 * dscp match (iptables-extensions: "dscp"): [!] --dscp value (0-63, C number) or [!] --dscp-class name
 * (dscp_helper.c: CSx, BE, AFxx, EF; a case-insensitive prefix match, so `CS10` is CS1), mutually exclusive.
 * Saved and listed as a two-digit hex value.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';

export interface DscpState {
  dscp: number;
  inverted: boolean;
}

/** ds_classes[] of dscp_helper.c, in its order (the first prefix match wins). */
const DS_CLASSES: ReadonlyArray<readonly [string, number]> = [
  ['CS0', 0x00], ['CS1', 0x08], ['CS2', 0x10], ['CS3', 0x18], ['CS4', 0x20], ['CS5', 0x28], ['CS6', 0x30], ['CS7', 0x38],
  ['BE', 0x00], ['AF11', 0x0a], ['AF12', 0x0c], ['AF13', 0x0e], ['AF21', 0x12], ['AF22', 0x14], ['AF23', 0x16],
  ['AF31', 0x1a], ['AF32', 0x1c], ['AF33', 0x1e], ['AF41', 0x22], ['AF42', 0x24], ['AF43', 0x26], ['EF', 0x2e],
];

/** class_to_dscp(): strncasecmp(name, class, strlen(class)). */
function classToDscp(name: string): number {
  const c = DS_CLASSES.find(([n]) => name.slice(0, n.length).toUpperCase() === n);
  if (!c) throw paramProblem(`Invalid DSCP value \`${name}'`);
  return c[1];
}

const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;
const saveText = (s: DscpState): string => `${s.inverted ? ' !' : ''} --dscp ${hex2(s.dscp)}`;

export default defineMatch<DscpState>({
  kind: 'match',
  name: 'dscp',
  manSection: 'dscp',
  style: 'x6',
  help: `dscp match options
[!] --dscp value		Match DSCP codepoint with numerical value
  		                This value can be in decimal (ex: 32)
               		or in hex (ex: 0x20)
[!] --dscp-class name		Match the DiffServ class. This value may
				be any of the BE,EF, AFxx or CSx classes

				These two options are mutually exclusive !
`,
  options: [
    { name: 'dscp', arg: 'required', invert: true, excludes: ['dscp-class'] },
    { name: 'dscp-class', arg: 'required', invert: true, excludes: ['dscp'] },
  ],
  init: () => ({ dscp: 0, inverted: false }),
  parse(s, use) {
    s.dscp = use.name === 'dscp' ? parseX6Uint('dscp', 'dscp', use.value!, 0, 63) : classToDscp(use.value!);
    if (use.inverted) s.inverted = true;
  },
  finalCheck(_s, _ctx, given) {
    if (given.size === 0) throw paramProblem('DSCP match: Parameter --dscp is required');
  },
  save: saveText,
  print: (s) => ` DSCP match ${s.inverted ? '!' : ''}${hex2(s.dscp)}`,
  // dscp_mt() of xt_dscp.c: ((tos >> 2) == dscp) ^ invert.
  match: (s, ctx) => ((ctx.pkt.tos & 0xff) >> 2 === s.dscp) !== s.inverted,
  explain: (s, ctx) => `${saveText(s).trim()}: packet has ${hex2((ctx.pkt.tos & 0xff) >> 2)}`,
});
