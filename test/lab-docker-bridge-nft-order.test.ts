/**
 * nft bridge family chains in labs (Tracer.runBridged, runBridgeLocalOut, bridgeUp; src/eval/nft-pipeline.ts): the
 * order in which a bridged frame, a frame for the bridge itself and the bridge's own answer meet bridge chains of
 * several priorities and the ip chains br_netfilter calls, with bridge-nf-call-iptables 1 and then 0, and the
 * counters they end with. SETUP + BODY run for real on 6.18 (nft 1.0.6, by scripts/record-labs.ts, namespaces
 * tsi-*): the chain of each `nft monitor trace` line, in order, and the counters of `nft list ruleset`. (Its `packet:` lines of bridge postrouting/output chains and of the ip
 * POSTROUTING chain called by br_netfilter are the monitor printer's business: not compared here.)
 */
import { runLab } from '../src/lab/run';
import { maskTranscript } from '../src/lab/mask';

const SETUP = `
ip netns add h1
ip netns add h2
ip netns add sw
ip -n h1 link add eth0 type veth peer name p1 netns sw
ip -n h2 link add eth0 type veth peer name p2 netns sw
ip -n sw link add br0 type bridge
ip -n sw link set p1 master br0
ip -n sw link set p2 master br0
ip -n sw link set p1 up
ip -n sw link set p2 up
ip -n sw link set br0 up
ip -n sw addr add 10.0.0.254/24 dev br0
ip -n h1 addr add 10.0.0.1/24 dev eth0
ip -n h1 link set eth0 up
ip -n h2 addr add 10.0.0.2/24 dev eth0
ip -n h2 link set eth0 up
`;

const BODY = `
ip netns exec sw nft -f - <<'NFT'
table bridge b {
	chain pre_m300 {
		type filter hook prerouting priority dstnat; policy accept;
		ip protocol icmp meta nftrace set 1 counter
	}
	chain pre_0 {
		type filter hook prerouting priority 0; policy accept;
		ip protocol icmp counter
	}
	chain pre_100 {
		type filter hook prerouting priority 100; policy accept;
		ip protocol icmp counter
	}
	chain fwd_m200 {
		type filter hook forward priority filter; policy accept;
		ip protocol icmp counter
	}
	chain fwd_0 {
		type filter hook forward priority 0; policy accept;
		ip protocol icmp counter
	}
	chain fwd_1 {
		type filter hook forward priority 1; policy accept;
		ip protocol icmp counter
	}
	chain in_m200 {
		type filter hook input priority filter; policy accept;
		ip protocol icmp counter
	}
	chain out_100 {
		type filter hook output priority out; policy accept;
		ip protocol icmp meta nftrace set 1 counter
	}
	chain post_300 {
		type filter hook postrouting priority srcnat; policy accept;
		ip protocol icmp counter
	}
}
table ip t {
	chain ip_pre {
		type filter hook prerouting priority filter; policy accept;
		ip protocol icmp counter
	}
	chain ip_fwd {
		type filter hook forward priority filter; policy accept;
		ip protocol icmp counter
	}
	chain ip_in {
		type filter hook input priority filter; policy accept;
		ip protocol icmp counter
	}
	chain ip_post {
		type filter hook postrouting priority filter; policy accept;
		ip protocol icmp counter
	}
}
NFT
ip netns exec sw nft monitor trace > trace.txt &
sleep 1
ip netns exec h1 ping -c 1 -W 1 10.0.0.2
ip netns exec h1 ping -c 1 -W 1 10.0.0.254
ip netns exec sw sysctl -w net.bridge.bridge-nf-call-iptables=0
ip netns exec h1 ping -c 1 -W 1 10.0.0.2
ip netns exec h1 ping -c 1 -W 1 10.0.0.254
sleep 1
kill %1
wait
cat trace.txt
ip netns exec sw nft list ruleset
`;

/** The chain of each trace line, consecutive repeats folded (the real run's). */
const REAL_ORDER = [
  'bridge b pre_m300',
  'bridge b pre_0',
  'ip t ip_pre',
  'bridge b pre_100',
  'bridge b fwd_m200',
  'bridge b fwd_0',
  'ip t ip_fwd',
  'bridge b fwd_1',
  'bridge b post_300',
  'ip t ip_post',
  'bridge b pre_m300',
  'bridge b pre_0',
  'ip t ip_pre',
  'bridge b pre_100',
  'bridge b fwd_m200',
  'bridge b fwd_0',
  'ip t ip_fwd',
  'bridge b fwd_1',
  'bridge b post_300',
  'ip t ip_post',
  'bridge b pre_m300',
  'bridge b pre_0',
  'ip t ip_pre',
  'bridge b pre_100',
  'bridge b in_m200',
  'ip t ip_in',
  'bridge b out_100',
  'bridge b post_300',
  'bridge b pre_m300',
  'bridge b pre_0',
  'bridge b pre_100',
  'bridge b fwd_m200',
  'bridge b fwd_0',
  'bridge b fwd_1',
  'bridge b post_300',
  'bridge b pre_m300',
  'bridge b pre_0',
  'bridge b pre_100',
  'bridge b fwd_m200',
  'bridge b fwd_0',
  'bridge b fwd_1',
  'bridge b post_300',
  'bridge b pre_m300',
  'bridge b pre_0',
  'bridge b pre_100',
  'bridge b in_m200',
  'ip t ip_pre',
  'ip t ip_in',
  'bridge b out_100',
  'bridge b post_300',
];

const REAL_COUNTERS = [
  'ip protocol icmp meta nftrace set 1 counter packets 6 bytes 504',
  'ip protocol icmp counter packets 6 bytes 504',
  'ip protocol icmp counter packets 6 bytes 504',
  'ip protocol icmp counter packets 4 bytes 336',
  'ip protocol icmp counter packets 4 bytes 336',
  'ip protocol icmp counter packets 4 bytes 336',
  'ip protocol icmp counter packets 2 bytes 168',
  'ip protocol icmp meta nftrace set 1 counter packets 2 bytes 168',
  'ip protocol icmp counter packets 6 bytes 504',
  'ip protocol icmp counter packets 4 bytes 336',
  'ip protocol icmp counter packets 2 bytes 168',
  'ip protocol icmp counter packets 2 bytes 168',
  'ip protocol icmp counter packets 4 bytes 336',
];

describe('nft bridge family chains around br_netfilter (recorded by hand on 6.18)', () => {
  it('runs bridge chains and the ip chains br_netfilter calls in the kernel\'s order, with the same counters', async () => {
    const r = await runLab(SETUP + BODY, { scriptName: 'lab.sh' });
    expect(r.unsupported).toEqual([]);
    const out = maskTranscript(r.transcript).split('\n');
    const order: string[] = [];
    for (const l of out) {
      if (!l.startsWith('trace id ')) continue;
      const k = l.split(' ').slice(3, 6).join(' ');
      if (order[order.length - 1] !== k) order.push(k);
    }
    expect(order).toEqual(REAL_ORDER);
    expect(out.filter((l) => l.startsWith('\t\t') && l.includes('counter packets')).map((l) => l.trim())).toEqual(REAL_COUNTERS);
    expect(out.filter((l) => / received, /.test(l))).toEqual(Array(4).fill('1 packets transmitted, 1 received, 0% packet loss, time <time>ms'));
  });
});
