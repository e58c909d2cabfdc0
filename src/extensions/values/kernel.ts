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
  /**
   * The hook mask checkentry is called with: the rule's own chain's hook when it is a built-in chain, EMPTY in
   * a user chain whatever jumps to it (nft_compat: nft_target_set_tgchk_param() passes hook_mask 0 for a
   * non-base chain, and a later jump only re-validates the static hooks/table, not checkentry). Recorded with
   * the real kernel: `-N U; -A PREROUTING -j U; -A U -p tcp -j TCPMSS --clamp-mss-to-pmtu` is accepted.
   */
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
