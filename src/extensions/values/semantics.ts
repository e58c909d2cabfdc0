/**
 * Small helpers shared by the packet semantics of the extensions (match()/explain()/run()): the option text
 * of an explanation, stable keys for state that the kernel shares by name (recent lists, hashlimit tables),
 * and the kernel's clock as the trace sees it.
 */
import type { EvalContext } from '../../eval/context';

/** A save() fragment (" ! --dport 22") as the head of an explanation ("! --dport 22"). */
export function opt(saveText: string): string {
  return saveText.trim();
}

/** lo <= v <= hi. */
export function inRange(v: number, lo: number, hi: number): boolean {
  return v >= lo && v <= hi;
}

const named = new Map<string, object>();

/**
 * One key object per (namespace, name), for ctx.memory(): the kernel keeps recent lists and hashlimit tables
 * per name, shared by every rule that names them.
 */
export function namedKey(namespace: string, name: string): object {
  const k = `${namespace}\0${name}`;
  let o = named.get(k);
  if (!o) {
    o = { namespace, name };
    named.set(k, o);
  }
  return o;
}

/** The packet's time in milliseconds (the trace fixes it per packet, so repeated runs agree). */
export function nowMs(ctx: EvalContext): number {
  return ctx.now.getTime();
}

/**
 * The kernel's tick rate assumed where its arithmetic is in jiffies (limit, hashlimit): 250, the HZ of the
 * common distribution kernels. Only rounding depends on it.
 */
export const HZ = 250;

/** The jiffies counter at a time in milliseconds. */
export function jiffiesAt(ms: number): number {
  return Math.floor((ms * HZ) / 1000);
}
