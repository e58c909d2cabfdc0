/**
 * `ip link add NAME type bridge OPTIONS` and `ip link set NAME type bridge OPTIONS` in labs (src/lab/ip-command.ts):
 * options that change nothing the lab simulates (multicast snooping, timers, STP and VLAN filtering off) are taken;
 * the others are named as not simulated.
 */
import { runLab } from '../src/lab/run';

describe('bridge options in labs', () => {
  it('takes the harmless ones and names the others', async () => {
    const r = await runLab(
      [
        'ip netns add a',
        'ip -n a link add name br0 type bridge mcast_snooping 0 stp_state 0',
        'ip -n a link set br0 type bridge ageing_time 30000 forward_delay 0',
        'ip -n a link add br1 type bridge stp_state 1 || echo "exit $?"',
        'ip -n a link set br0 type bridge vlan_filtering 1 || echo "exit $?"',
        'ip -n a link set br0 up',
        'ip netns del a',
      ].join('\n') + '\n',
      { scriptName: 'lab.sh' },
    );
    expect(r.transcript).toBe(
      'tsiptables lab: bridge option "stp_state 1" is not simulated\nexit 2\ntsiptables lab: bridge option "vlan_filtering 1" is not simulated\nexit 2\n',
    );
    expect(r.status).toBe(0);
  });
});
