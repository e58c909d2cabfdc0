#!/usr/bin/python3
"""trace-inject.py - the packet I/O engine of scripts/record-traces.ts (run it with Debian's /usr/bin/python3,
which has scapy).

It runs once per recording, as root, in the root network namespace, and reads one JSON request a line on stdin,
answering one JSON line on stdout. Sockets are opened inside the recorder's namespaces (setns via ctypes, then
back), so one process serves every scenario without paying scapy's import time again.

  {"op": "setup", "host": NS, "peer": NS, "peers": ["p-eth0", ...], "protos": [1, 6, 17]}
      AF_PACKET sniffers on every peer end (peer namespace) and raw IPv4 receive sockets for `protos` in the host
      namespace (a raw socket gets a copy of every packet the host delivers locally, after INPUT).
  {"op": "send", "spec": {...}, "settle_ms": 150, "max_ms": 2000}
      Builds the packet with scapy from spec (all fields already resolved by the recorder) and sends it: as an
      Ethernet frame from spec.peer (arriving packet), or through a raw IP socket (IP_HDRINCL) in the host namespace
      (local packet; as spec.uid/spec.gid through setpriv when not 0/0, with SO_MARK spec.mark). Then collects,
      until nothing relevant (same IP id) happened for settle_ms: every /dev/kmsg record, every IPv4 frame
      arriving on a peer end, every packet delivered to the host, and ARP requests the host sent.
  {"op": "teardown"}   closes the scenario's sockets.
"""
import ctypes
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
ROOT_NS = os.open('/proc/self/ns/net', os.O_RDONLY)
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_MARK = 36

SENDER = r'''
import socket, sys, errno
data, dst, mark = bytes.fromhex(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
if mark: s.setsockopt(socket.SOL_SOCKET, 36, mark)
try:
    s.sendto(data, (dst, 0))
except OSError as e:
    print('sendto: %s (%s)' % (errno.errorcode.get(e.errno, e.errno), e.strerror)); sys.exit(1)
'''


def in_ns(name, fn):
    fd = os.open('/run/netns/' + name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), 'setns ' + name)
        try:
            return fn()
        finally:
            if libc.setns(ROOT_NS, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), 'setns back')
    finally:
        os.close(fd)


class Kmsg:
    def __init__(self):
        self.fd = os.open('/dev/kmsg', os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def read_all(self):
        out = []
        while True:
            try:
                rec = os.read(self.fd, 16384)
            except BlockingIOError:
                return out
            except BrokenPipeError:  # records overwritten while we were away: skip them
                continue
            text = rec.decode('utf-8', 'replace')
            msg = text.split(';', 1)[1] if ';' in text else text
            out.append(msg.split('\n', 1)[0])


KMSG = Kmsg()
state = None


def ip_id(data):
    return struct.unpack('!H', data[4:6])[0] if len(data) >= 20 else -1


def setup(req):
    global state
    teardown()
    peers = []
    for name in req['peers']:
        def mk(name=name):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.bind((name, 0))
            s.setblocking(False)
            return s
        peers.append((in_ns(req['peer'], mk), name))
    receivers = []
    for proto in req['protos']:
        def mk(proto=proto):
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
            s.setblocking(False)
            return s
        receivers.append(in_ns(req['host'], mk))
    state = {'host': req['host'], 'peer': req['peer'], 'peers': peers, 'receivers': receivers}
    drain()
    return {'ok': True}


def teardown(_req=None):
    global state
    if state:
        for s, _ in state['peers']:
            s.close()
        for s in state['receivers']:
            s.close()
    state = None
    return {'ok': True}


def drain():
    KMSG.read_all()
    for s in [p[0] for p in state['peers']] + state['receivers']:
        while True:
            try:
                s.recv(65536)
            except BlockingIOError:
                break


def checksum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s > 0xffff:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def build(spec):
    ip = IP(src=spec['src'], dst=spec['dst'], proto=spec['proto'], tos=spec['tos'], ttl=spec['ttl'],
            id=spec['id'], flags='DF' if spec['df'] else 0)
    p = spec['proto']
    if p == 6:
        pkt = ip / TCP(sport=spec['sport'], dport=spec['dport'], flags=spec['tcpFlags'], seq=spec['seq'],
                       ack=spec['ackSeq'], window=spec['window'])
    elif p == 17:
        pkt = ip / UDP(sport=spec['sport'], dport=spec['dport'])
    elif p == 1:
        # Built by hand: every non-error type carries id/seq in bytes 4-7 (as tsiptables writes it), an error
        # four zero bytes and the quote.
        t, c = spec['icmpType'], spec['icmpCode']
        if spec.get('quote') is not None:
            body = struct.pack('!BBHI', t, c, 0, 0) + bytes.fromhex(spec['quote'])
        else:
            body = struct.pack('!BBHHH', t, c, 0, spec['icmpId'], spec['icmpSeq'])
        body += b'\0' * max(0, spec['len'] - 20 - len(body))
        body = body[:2] + struct.pack('!H', checksum(body)) + body[4:]
        pkt = ip / Raw(body)
    else:
        pkt = ip
    pad = spec['len'] - len(bytes(pkt))
    if pad > 0:
        pkt = pkt / Raw(b'\0' * pad)
    data = bytes(pkt)
    notes = []
    if len(data) != spec['len']:
        notes.append('--len %d is shorter than the headers: sent %d bytes' % (spec['len'], len(data)))
    return data, notes


def send(req):
    spec = req['spec']
    data, notes = build(spec)
    drain()
    error = None
    if spec.get('peer'):
        frame = bytes(Ether(dst=spec['macDst'], src=spec['macSrc'], type=0x0800)) + data
        sock = next(s for s, n in state['peers'] if n == spec['peer'])
        sock.send(frame)
    elif spec['uid'] == 0 and spec['gid'] == 0:
        def mk():
            return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        s = in_ns(state['host'], mk)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            if spec['mark']:
                s.setsockopt(socket.SOL_SOCKET, SO_MARK, spec['mark'])
            s.sendto(data, (spec['dst'], 0))
        except OSError as e:
            import errno
            error = 'sendto: %s (%s)' % (errno.errorcode.get(e.errno, e.errno), e.strerror)
        finally:
            s.close()
    else:
        caps = '+net_raw,+net_admin'
        r = subprocess.run(['ip', 'netns', 'exec', state['host'], 'setpriv', '--reuid', str(spec['uid']),
                            '--regid', str(spec['gid']), '--clear-groups', '--inh-caps', caps, '--ambient-caps', caps,
                            '/usr/bin/python3', '-c', SENDER, data.hex(), spec['dst'], str(spec['mark'] or 0)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            error = (r.stdout + r.stderr).strip() or 'sender exit %d' % r.returncode
    t0 = time.monotonic()
    want = spec['id']
    tag = ' ID=%d ' % want
    kmsg, captured, delivered, arp = [], [], [], []
    last = t0
    settle = req.get('settle_ms', 150) / 1000.0
    limit = req.get('max_ms', 2000) / 1000.0
    fds = [KMSG.fd] + [p[0] for p in state['peers']] + state['receivers']
    while True:
        now = time.monotonic()
        if now - last >= settle or now - t0 >= limit:
            break
        r, _, _ = select.select(fds, [], [], max(0.0, min(settle - (now - last), limit - (now - t0))))
        for line in KMSG.read_all():
            kmsg.append(line)
            if tag in line:
                last = time.monotonic()
        for s, name in state['peers']:
            while True:
                try:
                    frame, addr = s.recvfrom(65536)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING or len(frame) < 14:
                    continue
                etype = struct.unpack('!H', frame[12:14])[0]
                if etype == 0x0800 and ip_id(frame[14:]) == want:
                    captured.append({'peer': name, 'ip': frame[14:].hex(), 'macDst': frame[0:6].hex(':'),
                                     'macSrc': frame[6:12].hex(':')})
                    last = time.monotonic()
                elif etype == 0x0806 and len(frame) >= 42 and frame[20:22] == b'\x00\x01':
                    arp.append({'peer': name, 'who': socket.inet_ntoa(frame[38:42])})
        for s in state['receivers']:
            while True:
                try:
                    pkt = s.recv(65536)
                except BlockingIOError:
                    break
                if ip_id(pkt) == want:
                    delivered.append(pkt.hex())
                    last = time.monotonic()
    return {'ok': True, 'sent': data.hex(), 'error': error, 'notes': notes, 'kmsg': kmsg, 'captured': captured,
            'delivered': delivered, 'arp': arp}


OPS = {'setup': setup, 'send': send, 'teardown': teardown}


def main():
    print(json.dumps({'ok': True, 'ready': True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            res = OPS[req['op']](req)
        except Exception as e:  # report, keep serving
            res = {'ok': False, 'error': '%s: %s' % (type(e).__name__, e)}
        print(json.dumps(res), flush=True)


if __name__ == '__main__':
    main()
