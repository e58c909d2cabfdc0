/**
 * The standard target: the verdicts ACCEPT, DROP, RETURN and QUEUE (iptables(8) "TARGETS"). They carry no
 * options; iptables-save prints them as `-j NAME`, and `-L` shows only the name in the target column.
 */
import { defineTarget, type AnyTarget } from '../spec';
import type { TargetVerdict } from '../../eval/context';

function verdict(name: string, kernelMissing = false, kernelCheck?: () => string): AnyTarget {
  return defineTarget<Record<string, never>>({
    kind: 'target',
    name,
    standard: true,
    kernelMissing,
    ...(kernelCheck ? { kernelCheck } : {}),
    style: 'x6',
    help: `standard match options:
(If target is DROP, ACCEPT, RETURN or nothing)
`,
    options: [],
    init: () => ({}),
    parse: () => undefined,
    save: () => '',
    print: () => '',
    // The verdict itself (NF_ACCEPT, NF_DROP, XT_RETURN, NF_QUEUE); the walker also handles these by name.
    run: () => name as TargetVerdict,
  });
}

export const ACCEPT = verdict('ACCEPT');
export const DROP = verdict('DROP');
export const RETURN = verdict('RETURN');
/** Current kernels have no QUEUE target (NFQUEUE replaced it): `-j QUEUE` fails with ENOENT (cli-commands). */
export const QUEUE = verdict('QUEUE', true);
/**
 * libxt_standard's own name: `-j standard` loads the extension the verdicts above come from, and the rule goes to
 * the kernel with a target it does not know: RULE_APPEND fails with EINVAL (recorded in ext-target-standard).
 */
export const standard = verdict('standard', false, () => 'Invalid argument');
