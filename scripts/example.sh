#!/usr/bin/env bash
# The quick-start example: the rules dockerd 24 creates for two user-defined networks and a published port,
# replayed command by command (its -C probes included) into a throw-away state, then listed and saved.
# The save is compared with what the real iptables-save printed for the same commands (recorded in fixtures/).
set -euo pipefail
cd "$(dirname "$0")/.."
state_dir=$(mktemp -d)
trap 'rm -rf "$state_dir"' EXIT
export TSIPTABLES_STATE="$state_dir/rules.v4"
export PATH="$PWD/bin:$PATH"

echo "# 1. dockerd's own iptables commands (fixtures/dumps/docker-2net.input.rules), run as tsiptables:"
failed=0
while IFS= read -r line; do
  [ -z "$line" ] && continue
  eval "ts${line}" >/dev/null 2>&1 || failed=$((failed + 1))
done < fixtures/dumps/docker-2net.input.rules
echo "   $(grep -c . fixtures/dumps/docker-2net.input.rules) commands, $failed exited non-zero (dockerd's -C probes of rules not there yet: the real iptables says the same)"
echo
echo "# 2. tsiptables -t nat -L -n -v"
tsiptables -t nat -L -n -v
echo
echo "# 3. tsiptables -S DOCKER-ISOLATION-STAGE-1"
tsiptables -S DOCKER-ISOLATION-STAGE-1
echo
echo "# 4. tsiptables-save, compared with the real iptables-save output recorded for the same commands:"
if diff <(tsiptables-save | grep -v '^#') <(grep -v '^#' fixtures/dumps/docker-2net.save.txt); then
  echo "   identical ($(grep -vc '^#' fixtures/dumps/docker-2net.save.txt) lines)"
else
  echo "   DIFFERENT (see above)"; exit 1
fi
echo
echo "# 5. tsiptables trace: the classic router lab (fixtures/examples/router-lab/: boxA - router - boxB, MASQUERADE,"
echo "#    FORWARD policy DROP, DNAT of tcp 10.0.1.1:8800 to boxB:80, a LOG rule in every chain), its first packet explained:"
lab=fixtures/examples/router-lab
tsiptables trace --rules $lab/rules.txt --host $lab/host.txt --no-color $(head -1 $lab/packets.txt) || true
echo
echo "# 6. the whole batch (ping and its reply, a TCP handshake through DNAT+MASQUERADE, a NEW packet from boxB), as JSON:"
tsiptables trace --rules $lab/rules.txt --host $lab/host.txt --json --batch $lab/packets.txt | cut -c1-200 || true
echo
echo "# 7. tsiptables lab: a how-to's namespace script (fixtures/labs/router-nat.sh) run without root; its traffic part"
echo "#    (dmesg's LOG lines left out here):"
tsiptables lab fixtures/labs/router-nat.sh | grep -v '^\[' | sed -n '/^tcpdump: verbose/,/^0 packets dropped/p' || true
echo
echo "# 8. the stateless NAT lab (fixtures/labs/stateless-nat.sh): nftables netdev ingress/egress rewrite addresses, a"
echo "#    mark hands the packet to raw's notrack and the forward chain; nft monitor trace of the client's ping and its reply:"
tsiptables lab fixtures/labs/stateless-nat.sh | grep '^trace id' | head -21 | cut -c1-190 || true
echo
echo "# 9. every bundled lab compared with its real run (fixtures/labs/recorded/, masked):"
npx --no-install tsx scripts/lab-check.ts
