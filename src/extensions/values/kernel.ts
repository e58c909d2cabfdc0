/**
 * What the kernel's checkentry functions refuse beyond the hooks/tables of TargetDef: REJECT's tcp-reset
 * without `-p tcp`, TCPMSS outside tcp or clamping in the wrong hook, CONNMARK shifts of 32 bits, CT helpers
 * the kernel has not got. Each target states it as `kernelCheck(state, view)`, returning the errno text the
 * kernel answers with (`RULE_APPEND failed (<text>)`), or undefined when the rule is accepted.
 *
 * spec.ts has no such member yet: defineTargetK() attaches `kernelCheck` (and `realName`, xtables'
 * real_name: the kernel's name of an alias target, shown in the target column of -L) to the definition
 * until the core reads them (see the report of the helper that wrote this file).
 */
import { defineTarget, type AnyTarget, type Hook, type TargetDef } from '../spec';

/** The part of a rule the kernel's checkentry sees (struct xt_tgchk_param): table, ip header part, hook mask. */
export interface KernelView {
  table: string;
  /** IP protocol number of the rule (0 = any). */
  protocol: number;
  /** `! -p PROTO`. */
  protocolInverted: boolean;
  /** Every hook from which the rule's chain can be reached (empty for an unreferenced user chain). */
  hooks: ReadonlySet<Hook>;
}

export const EINVAL = 'Invalid argument';
export const ENOENT = 'No such file or directory';

export type KernelCheck<S> = (state: S, view: KernelView) => string | undefined;

export interface TargetExtras<S> {
  kernelCheck?: KernelCheck<S>;
  realName?: string;
}

/** defineTarget() for a definition that also carries kernelCheck/realName. */
export function defineTargetK<S>(def: TargetDef<S> & TargetExtras<S>): AnyTarget {
  return defineTarget<S>(def);
}

/** xt_check_target()'s protocol test for targets registered with .proto: `-p PROTO` given and not inverted. */
export function protocolIs(view: KernelView, proto: number): boolean {
  return view.protocol === proto && !view.protocolInverted;
}
