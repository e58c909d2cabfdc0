/**
 * The MAC addresses the simulator derives when nobody names one: an interface of the host (02:00:00 + three
 * bytes of an FNV-1a hash of its name) and the neighbour a frame arrives from (02:00:01 + the hash of
 * `peer-IFACE`). The kernel recorder gives its veths these same addresses (scripts/lib/recorder-host.ts), so the
 * recorded MAC= fields compare byte for byte.
 */

/** Three bytes of the 32-bit FNV-1a hash of a name. */
export function fnvBytes(name: string): number[] {
  let h = 2166136261;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return [(h >>> 16) & 255, (h >>> 8) & 255, h & 255];
}

const macText = (bytes: readonly number[]): string => bytes.map((x) => x.toString(16).padStart(2, '0')).join(':');

/** The MAC of a host interface with none given (lo has the zero MAC). */
export function interfaceMac(name: string): string {
  return name === 'lo' ? '00:00:00:00:00:00' : macText([2, 0, 0, ...fnvBytes(name)]);
}

/** The MAC of the neighbour a frame arrives from on `iface`. */
export function peerMac(iface: string): string {
  return macText([2, 0, 1, ...fnvBytes(`peer-${iface}`)]);
}

/** The link-layer group address of an IPv4 multicast address (01:00:5e + its low 23 bits). */
export function multicastMac(dst: number): string {
  return macText([1, 0, 0x5e, (dst >>> 16) & 0x7f, (dst >>> 8) & 255, dst & 255]);
}
