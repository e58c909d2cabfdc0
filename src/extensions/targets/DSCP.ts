/**
 * DSCP target (iptables-extensions: "DSCP", libxt_DSCP / xt_DSCP.c): set the six DSCP bits of the TOS byte,
 * keeping the two ECN bits. --set-dscp takes 0-63; --set-dscp-class takes a DiffServ class name, which
 * class_to_dscp() compares case-insensitively with the START of the argument (so "EFX" is EF). Both are stored
 * as the one number and saved as --set-dscp 0xNN. Mangle table only.
 */
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { defineTarget } from '../spec';

/** dscp_helper.c ds_classes[], in its order (the first prefix match wins). */
export const DS_CLASSES: ReadonlyArray<readonly [string, number]> = [
  ['CS0', 0x00],
  ['CS1', 0x08],
  ['CS2', 0x10],
  ['CS3', 0x18],
  ['CS4', 0x20],
  ['CS5', 0x28],
  ['CS6', 0x30],
  ['CS7', 0x38],
  ['BE', 0x00],
  ['AF11', 0x0a],
  ['AF12', 0x0c],
  ['AF13', 0x0e],
  ['AF21', 0x12],
  ['AF22', 0x14],
  ['AF23', 0x16],
  ['AF31', 0x1a],
  ['AF32', 0x1c],
  ['AF33', 0x1e],
  ['AF41', 0x22],
  ['AF42', 0x24],
  ['AF43', 0x26],
  ['EF', 0x2e],
];

/** class_to_dscp(): strncasecmp(name, class, strlen(class)) against each class in turn. */
export function classToDscp(name: string): number {
  const lower = name.toLowerCase();
  for (const [cls, dscp] of DS_CLASSES) if (lower.startsWith(cls.toLowerCase())) return dscp;
  throw paramProblem(`Invalid DSCP value \`${name}'`);
}

const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;

export default defineTarget<{ dscp: number }>({
  kind: 'target',
  name: 'DSCP',
  manSection: 'DSCP',
  style: 'x6',
  tables: ['mangle'],
  help: `DSCP target options
  --set-dscp value		Set DSCP field in packet header to value
  		                This value can be in decimal (ex: 32)
               		or in hex (ex: 0x20)
  --set-dscp-class class	Set the DSCP field in packet header to the
				value represented by the DiffServ class value.
				This class may be EF,BE or any of the CSxx
				or AFxx classes.

				These two options are mutually exclusive !
`,
  options: [
    { name: 'set-dscp', id: 0, arg: 'required', excludes: ['set-dscp-class'] },
    { name: 'set-dscp-class', id: 1, arg: 'required', excludes: ['set-dscp'] },
  ],
  init: () => ({ dscp: 0 }),
  parse(s, use) {
    s.dscp = use.name === 'set-dscp' ? parseX6Uint('DSCP', use.name, use.value!, 0, 63) : classToDscp(use.value!);
  },
  finalCheck(_s, _ctx, given) {
    if (given.size === 0) throw paramProblem('DSCP target: Parameter --set-dscp is required');
  },
  save: (s) => ` --set-dscp ${hex2(s.dscp)}`,
  print: (s) => ` DSCP set ${hex2(s.dscp)}`,
  // dscp_tg() of xt_DSCP.c: when the DSCP differs, tos = (tos & 0x03) | dscp << 2 (checksum fixed); XT_CONTINUE.
  run(s, ctx) {
    const old = ctx.pkt.tos & 0xff;
    if (old >> 2 === s.dscp) {
      ctx.note(`DSCP: already ${hex2(s.dscp)}`);
      return 'CONTINUE';
    }
    ctx.pkt.tos = (old & 0x03) | (s.dscp << 2);
    ctx.note(`DSCP: ${hex2(old >> 2)} -> ${hex2(s.dscp)} (TOS ${hex2(old)} -> ${hex2(ctx.pkt.tos)})`);
    return 'CONTINUE';
  },
});
