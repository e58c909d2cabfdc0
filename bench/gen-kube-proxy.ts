/**
 * gen-kube-proxy.ts - generate an iptables-restore input the way kube-proxy
 * (iptables mode, Kubernetes 1.27-1.30 proxier) writes it.
 *
 *   npx tsx bench/gen-kube-proxy.ts --services N --endpoints M [--out FILE]
 *                                   [--seed S] [--nodeport-every K]
 *                                   [--empty-every K] [--lb-every K]
 *
 *   --services N        number of service ports (default 100)
 *   --endpoints M       endpoints per service port (default 3)
 *   --out FILE          write to FILE instead of stdout
 *   --seed S            PRNG seed (default 1); same arguments => same bytes
 *   --nodeport-every K  every K-th service is type NodePort (default 10, 0 = none)
 *   --empty-every K     every K-th service has no endpoints (default 100, 0 = none)
 *   --lb-every K        every K-th service is a LoadBalancer with
 *                       loadBalancerSourceRanges (default 200, 0 = none)
 *
 * What is generated (the content of one full kube-proxy sync, fed to
 * `iptables-restore --noflush --counters`):
 *
 *   *filter  - the builtin chains with the jump rules kube-proxy and kubelet
 *              install with `iptables -I` (so a fresh namespace ends up with
 *              the same layout as a node), KUBE-FIREWALL (kubelet),
 *              KUBE-SERVICES / KUBE-EXTERNAL-SERVICES / KUBE-FORWARD /
 *              KUBE-NODEPORTS / KUBE-PROXY-FIREWALL.
 *   *nat     - KUBE-SERVICES, KUBE-NODEPORTS, KUBE-POSTROUTING, KUBE-MARK-MASQ,
 *              one KUBE-SVC-<hash16> per service port, KUBE-EXT-<hash16> for
 *              NodePort/LoadBalancer services, KUBE-FW-<hash16> for
 *              LoadBalancer services, one KUBE-SEP-<hash16> per endpoint.
 *   *mangle  - the KUBE-KUBELET-CANARY / KUBE-PROXY-CANARY chains.
 *
 * Chain names use kube-proxy's own hash: base32(sha256(svcPortName + proto))
 * (and + endpoint for KUBE-SEP), first 16 characters.  As in kube-proxy, all
 * chain lines of a table come before its rules, the probability is printed
 * with %0.10f (iptables-save prints it back as e.g. 0.33333333349), comments
 * that contain spaces are written in double quotes and "-s" endpoint
 * addresses have no "/32".
 *
 * 10,000 services x 3 endpoints gives about 150,000 lines.
 */

import { createHash } from "node:crypto";
import * as fs from "node:fs";

export interface Options {
  services: number;
  endpoints: number;
  out: string | null;
  seed: number;
  nodeportEvery: number;
  emptyEvery: number;
  lbEvery: number;
}

function usage(msg?: string): never {
  if (msg) process.stderr.write(`gen-kube-proxy: ${msg}\n`);
  process.stderr.write(
    "usage: gen-kube-proxy.ts --services N --endpoints M [--out FILE] [--seed S]\n" +
      "       [--nodeport-every K] [--empty-every K] [--lb-every K]\n",
  );
  process.exit(2);
}

/** The generator's defaults (the recorded dumps in fixtures/dumps/ were made with them). */
export const DEFAULT_OPTIONS: Readonly<Options> = {
  services: 100,
  endpoints: 3,
  out: null,
  seed: 1,
  nodeportEvery: 10,
  emptyEvery: 100,
  lbEvery: 200,
};

function parseArgs(argv: string[]): Options {
  const o: Options = { ...DEFAULT_OPTIONS };
  const num = (name: string, v: string | undefined): number => {
    if (v === undefined || !/^\d+$/.test(v)) usage(`${name} needs a non-negative integer`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf("=");
    const [key, inline] = a.startsWith("--") && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const val = (): string | undefined => (inline !== undefined ? inline : argv[++i]);
    switch (key) {
      case "--services":
        o.services = num(key, val());
        break;
      case "--endpoints":
        o.endpoints = num(key, val());
        break;
      case "--out": {
        const v = val();
        if (!v) usage("--out needs a file name");
        o.out = v;
        break;
      }
      case "--seed":
        o.seed = num(key, val());
        break;
      case "--nodeport-every":
        o.nodeportEvery = num(key, val());
        break;
      case "--empty-every":
        o.emptyEvery = num(key, val());
        break;
      case "--lb-every":
        o.lbEvery = num(key, val());
        break;
      case "-h":
      case "--help":
        usage();
        break;
      default:
        usage(`unknown argument ${a}`);
    }
  }
  return o;
}

/** mulberry32: small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 (Go's base32.StdEncoding), padding omitted: we only keep 16 chars. */
function base32(buf: Buffer): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

function hash16(s: string): string {
  return base32(createHash("sha256").update(s).digest()).slice(0, 16);
}

function ipv4(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** kube-proxy: fmt.Sprintf("%0.10f", 1.0/float64(n)) */
function probability(n: number): string {
  return (1 / n).toFixed(10);
}

interface Endpoint {
  ip: string;
  port: number;
}

interface ServicePort {
  name: string; // ns/svc:port  (port part may be empty: ns/svc)
  proto: "tcp" | "udp" | "sctp";
  clusterIP: string;
  port: number;
  nodePort: number; // 0 = none
  lb: { ingressIP: string; sourceRanges: string[] } | null;
  endpoints: Endpoint[];
}

const CLUSTER_CIDR = "10.244.0.0/16";
const MASQ_MARK = "0x4000";

function buildServices(o: Options): ServicePort[] {
  const rnd = prng(o.seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const namespaces = ["default", "kube-system", "monitoring", "ingress-nginx", "payments", "search", "web", "batch"];
  const words = ["api", "web", "db", "cache", "auth", "queue", "search", "metrics", "frontend", "backend", "worker", "gateway"];
  const portNames: Array<[string, number, number]> = [
    ["http", 80, 8080],
    ["https", 443, 8443],
    ["grpc", 9090, 9090],
    ["metrics", 9100, 9100],
    ["", 8000, 8000],
    ["web", 3000, 3000],
  ];
  const svcs: ServicePort[] = [];
  let podIndex = 0;
  let nodePort = 30000;
  const nextPodIP = (): number => 0x0af40000 + 2 + podIndex++; // 10.244.0.2 ...

  for (let i = 0; i < o.services; i++) {
    let name: string;
    let proto: ServicePort["proto"] = "tcp";
    let clusterIP: string;
    let port: number;
    let targetPort: number;
    const eps: Endpoint[] = [];
    if (i === 0) {
      name = "default/kubernetes:https";
      clusterIP = "10.96.0.1";
      port = 443;
      targetPort = 6443;
    } else if (i >= 1 && i <= 3) {
      const dns: Array<[string, ServicePort["proto"], number]> = [
        ["dns", "udp", 53],
        ["dns-tcp", "tcp", 53],
        ["metrics", "tcp", 9153],
      ];
      const [pn, pr, p] = dns[i - 1];
      name = `kube-system/kube-dns:${pn}`;
      proto = pr;
      clusterIP = "10.96.0.10";
      port = p;
      targetPort = p;
    } else {
      const ns = pick(namespaces);
      const [pn, p, tp] = pick(portNames);
      name = `${ns}/${pick(words)}-${i}${pn ? ":" + pn : ""}`;
      if (rnd() < 0.05) proto = "udp";
      clusterIP = ipv4(0x0a600000 + 16 + i); // 10.96.0.16 + i
      port = p;
      targetPort = tp;
    }
    const empty = o.emptyEvery > 0 && i > 3 && i % o.emptyEvery === 7 % o.emptyEvery;
    if (!empty) {
      for (let j = 0; j < o.endpoints; j++) {
        if (i === 0) eps.push({ ip: ipv4(0xac120002 + j), port: targetPort }); // 172.18.0.2 ...
        else eps.push({ ip: ipv4(nextPodIP()), port: targetPort });
      }
    }
    const isLB = o.lbEvery > 0 && i > 3 && i % o.lbEvery === 5 % o.lbEvery;
    const isNodePort = isLB || (o.nodeportEvery > 0 && i > 3 && i % o.nodeportEvery === 3 % o.nodeportEvery);
    svcs.push({
      name,
      proto,
      clusterIP,
      port,
      nodePort: isNodePort ? nodePort++ : 0,
      lb: isLB
        ? {
            ingressIP: ipv4(0xcb007100 + (i % 250) + 1), // 203.0.113.x
            sourceRanges: ["192.0.2.0/24", "198.51.100.0/24"],
          }
        : null,
      endpoints: eps,
    });
  }
  return svcs;
}

/** A line writer mirroring kube-proxy's LineBuffer.Write(args...). */
class Lines {
  parts: string[] = [];
  write(...args: Array<string | string[]>): void {
    this.parts.push(args.flat().join(" "));
  }
  chain(name: string): void {
    this.parts.push(`:${name} - [0:0]`);
  }
}

export function generate(o: Options): string {
  const svcs = buildServices(o);

  const filterChains = new Lines();
  const filterRules = new Lines();
  const natChains = new Lines();
  const natRules = new Lines();

  // Builtin chains with the jump rules that kubelet / kube-proxy ensure with
  // `iptables -I` (prepend), in the order they end up in.
  const filterBuiltin = [
    ":INPUT ACCEPT [0:0]",
    ":FORWARD ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
  ];
  const filterJumps = [
    `-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL`,
    `-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS`,
    `-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES`,
    `-A INPUT -j KUBE-FIREWALL`,
    `-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL`,
    `-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD`,
    `-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`,
    `-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES`,
    `-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL`,
    `-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`,
    `-A OUTPUT -j KUBE-FIREWALL`,
  ];
  const natBuiltin = [
    ":PREROUTING ACCEPT [0:0]",
    ":INPUT ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    ":POSTROUTING ACCEPT [0:0]",
  ];
  const natJumps = [
    `-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`,
    `-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`,
    `-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING`,
  ];

  // kubelet's KUBE-FIREWALL (filter) - written by kubelet, kept here so the
  // jump targets exist.
  filterChains.chain("KUBE-FIREWALL");
  filterRules.write(
    "-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8",
    `-m comment --comment "block incoming localnet connections"`,
    "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP",
  );

  // Top-level kube-proxy chains.
  for (const c of ["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL"]) {
    filterChains.chain(c);
  }
  for (const c of ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]) {
    natChains.chain(c);
  }

  natRules.write("-A KUBE-POSTROUTING", "-m mark ! --mark", `${MASQ_MARK}/${MASQ_MARK}`, "-j RETURN");
  natRules.write("-A KUBE-POSTROUTING", "-j MARK --xor-mark", MASQ_MARK);
  natRules.write(
    "-A KUBE-POSTROUTING",
    `-m comment --comment "kubernetes service traffic requiring SNAT"`,
    "-j MASQUERADE --random-fully",
  );
  natRules.write("-A KUBE-MARK-MASQ", "-j MARK --or-mark", MASQ_MARK);

  for (const svc of svcs) {
    const h = hash16(svc.name + svc.proto);
    const svcChain = `KUBE-SVC-${h}`;
    const extChain = `KUBE-EXT-${h}`;
    const fwChain = `KUBE-FW-${h}`;
    const hasEndpoints = svc.endpoints.length > 0;
    const p = svc.proto;

    if (!hasEndpoints) {
      // Filter-table REJECT rules for services without endpoints.
      filterRules.write(
        "-A KUBE-SERVICES",
        `-m comment --comment "${svc.name} has no endpoints"`,
        "-m", p, "-p", p,
        "-d", svc.clusterIP,
        "--dport", String(svc.port),
        "-j REJECT",
      );
      if (svc.nodePort) {
        filterRules.write(
          "-A KUBE-EXTERNAL-SERVICES",
          `-m comment --comment "${svc.name} has no endpoints"`,
          "-m addrtype --dst-type LOCAL",
          "-m", p, "-p", p,
          "--dport", String(svc.nodePort),
          "-j REJECT",
        );
      }
      continue;
    }

    natChains.chain(svcChain);
    if (svc.nodePort) natChains.chain(extChain);
    if (svc.lb) natChains.chain(fwChain);
    const sepChains = svc.endpoints.map((ep) => `KUBE-SEP-${hash16(svc.name + svc.proto + `${ep.ip}:${ep.port}`)}`);
    for (const c of sepChains) natChains.chain(c);

    // Capture the clusterIP.
    natRules.write(
      "-A KUBE-SERVICES",
      `-m comment --comment "${svc.name} cluster IP"`,
      "-m", p, "-p", p,
      "-d", svc.clusterIP,
      "--dport", String(svc.port),
      "-j", svcChain,
    );

    // Capture load-balancer ingress.
    if (svc.lb) {
      natRules.write(
        "-A KUBE-SERVICES",
        `-m comment --comment "${svc.name} loadbalancer IP"`,
        "-m", p, "-p", p,
        "-d", svc.lb.ingressIP,
        "--dport", String(svc.port),
        "-j", fwChain,
      );
      filterRules.write(
        "-A KUBE-PROXY-FIREWALL",
        `-m comment --comment "${svc.name} traffic not accepted by ${fwChain}"`,
        "-m", p, "-p", p,
        "-d", svc.lb.ingressIP,
        "--dport", String(svc.port),
        "-j DROP",
      );
    }

    // Capture nodeports.
    if (svc.nodePort) {
      natRules.write(
        "-A KUBE-NODEPORTS",
        "-m comment --comment", svc.name,
        "-m", p, "-p", p,
        "--dport", String(svc.nodePort),
        "-j", extChain,
      );
    }

    // External traffic chain.
    if (svc.nodePort) {
      natRules.write(
        "-A", extChain,
        `-m comment --comment "masquerade traffic for ${svc.name} external destinations"`,
        "-j KUBE-MARK-MASQ",
      );
      natRules.write("-A", extChain, "-j", svcChain);
    }

    // Load balancer firewall chain.
    if (svc.lb) {
      for (const src of svc.lb.sourceRanges) {
        natRules.write(
          "-A", fwChain,
          `-m comment --comment "${svc.name} loadbalancer IP"`,
          "-s", src,
          "-j", extChain,
        );
      }
      // No target: the packet falls through and is dropped by the
      // KUBE-PROXY-FIREWALL rule in the filter table.
      natRules.write(
        "-A", fwChain,
        `-m comment --comment "other traffic to ${svc.name} will be dropped by KUBE-PROXY-FIREWALL"`,
      );
    }

    // Internal traffic: masquerade off-cluster traffic to the VIP.
    natRules.write(
      "-A", svcChain,
      `-m comment --comment "${svc.name} cluster IP"`,
      "-m", p, "-p", p,
      "-d", svc.clusterIP,
      "--dport", String(svc.port),
      "!", "-s", CLUSTER_CIDR,
      "-j KUBE-MARK-MASQ",
    );
    const n = svc.endpoints.length;
    svc.endpoints.forEach((ep, i) => {
      const args = ["-A", svcChain, `-m comment --comment "${svc.name} -> ${ep.ip}:${ep.port}"`];
      if (i < n - 1) args.push("-m statistic --mode random --probability", probability(n - i));
      natRules.write(args, "-j", sepChains[i]);
    });

    // Endpoint chains.
    svc.endpoints.forEach((ep, i) => {
      const comment = ["-m comment --comment", svc.name];
      natRules.write("-A", sepChains[i], comment, "-s", ep.ip, "-j KUBE-MARK-MASQ");
      natRules.write("-A", sepChains[i], comment, "-m", p, "-p", p, "-j DNAT --to-destination", `${ep.ip}:${ep.port}`);
    });
  }

  natRules.write(
    "-A KUBE-SERVICES",
    `-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"`,
    "-m addrtype --dst-type LOCAL",
    "-j KUBE-NODEPORTS",
  );

  // filter KUBE-FORWARD
  filterRules.write("-A KUBE-FORWARD", "-m conntrack --ctstate INVALID -j DROP");
  filterRules.write(
    "-A KUBE-FORWARD",
    `-m comment --comment "kubernetes forwarding rules"`,
    "-m mark --mark", `${MASQ_MARK}/${MASQ_MARK}`,
    "-j ACCEPT",
  );
  filterRules.write(
    "-A KUBE-FORWARD",
    `-m comment --comment "kubernetes forwarding conntrack rule"`,
    "-m conntrack --ctstate RELATED,ESTABLISHED",
    "-j ACCEPT",
  );

  const out: string[] = ([] as string[]).concat(
    ["*mangle", ":KUBE-KUBELET-CANARY - [0:0]", ":KUBE-PROXY-CANARY - [0:0]", "COMMIT"],
    ["*filter"], filterBuiltin, filterChains.parts, filterJumps, filterRules.parts, ["COMMIT"],
    ["*nat"], natBuiltin, natChains.parts, natJumps, natRules.parts, ["COMMIT"],
  );
  return out.join("\n") + "\n";
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const text = generate(o);
  if (o.out) fs.writeFileSync(o.out, text);
  else process.stdout.write(text);
}

const invokedDirectly = (() => {
  const arg = process.argv[1] ?? "";
  return /gen-kube-proxy\.[cm]?[jt]s$/.test(arg);
})();
if (invokedDirectly) main();
