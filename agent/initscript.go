package agent

// The ramdisk contract (for the image built in deployments/ramdisk/):
//
//   - The agent binary is /bin/ferric-agent (static, CGO_ENABLED=0).
//   - /init is InitScript, run by the kernel as PID 1 from busybox
//     (/bin/busybox; the script installs the applet links itself).
//   - /usr/share/udhcpc/default.script is UdhcpcScript (mode 0755): busybox
//     udhcpc only obtains a lease; this script configures the interface,
//     the default route and /etc/resolv.conf. Debian's busybox-static looks
//     for /etc/udhcpc/default.script by default, so InitScript passes -s.
//   - /etc/ferric/modules (optional) lists kernel modules to insmod, one .ko
//     path per line, in load order (for Debian's modular virtio:
//     virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev
//     virtio_pci failover net_failover virtio_net virtio_blk).
//   - The cpio archive holds /dev/console (char 5:1) so that PID 1 has a
//     console before devtmpfs is mounted.
//
// Kernel command line keys read by ferric-agent (from /proc/cmdline):
//
//	ferric.api_url=http://10.0.2.2:6385   required (ipa-api-url= is accepted too)
//	ferric.heartbeat_interval=10s          optional, idle period (Go duration or seconds)
//	ferric.debug=1                         optional, debug logging
//	ferric.shell=1                         read by InitScript: start a shell on the console when the agent exits
//
// What InitScript does before starting the agent: mount proc, sysfs,
// devtmpfs (and /run, /tmp as tmpfs), load the listed modules, wait up to
// 10 s for a network interface, bring every interface up, run
// `udhcpc -i IFACE -n -q -s SCRIPT` on each until one gets a lease (retrying forever,
// 5 s apart), then run /bin/ferric-agent, restarting it 5 s after any exit
// (PID 1 must never exit). The agent's own log goes to the console.

// InitScript is the ramdisk's /init.
const InitScript = `#!/bin/busybox sh
# ferric ramdisk /init: mounts, modules, DHCP, then ferric-agent (restarted on exit).
/bin/busybox mkdir -p /proc /sbin /usr/bin /usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin

mkdir -p /sys /dev /run /tmp /etc /var/log
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1
echo "ferric ramdisk: $(uname -r)"

if [ -f /etc/ferric/modules ]; then
	while read -r m; do
		case "$m" in ''|'#'*) continue ;; esac
		insmod "$m" || echo "ferric ramdisk: insmod $m failed"
	done </etc/ferric/modules
fi
[ -x /sbin/mdev ] && mdev -s

ifaces() {
	for d in /sys/class/net/*; do
		n=${d##*/}
		[ "$n" = lo ] || echo "$n"
	done
}
i=0
while [ -z "$(ifaces)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
ip link set lo up
for n in $(ifaces); do ip link set "$n" up; done

dhcp() {
	for n in $(ifaces); do
		udhcpc -i "$n" -n -q -t 5 -T 2 -s /usr/share/udhcpc/default.script && return 0
	done
	return 1
}
until dhcp; do
	echo "ferric ramdisk: no DHCP lease yet; retrying in 5s"
	sleep 5
done

while true; do
	/bin/ferric-agent
	echo "ferric ramdisk: ferric-agent exited with status $?"
	if grep -qw ferric.shell=1 /proc/cmdline; then sh; fi
	sleep 5
done
`

// UdhcpcScript is /usr/share/udhcpc/default.script: applies busybox
// udhcpc's lease (variables interface, ip, mask, router, dns, domain).
const UdhcpcScript = `#!/bin/sh
case "$1" in
deconfig)
	ip addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	if [ -n "$router" ]; then
		ip route del default 2>/dev/null
		for r in $router; do ip route add default via "$r" dev "$interface" && break; done
	fi
	: >/etc/resolv.conf
	[ -n "$domain" ] && echo "search $domain" >>/etc/resolv.conf
	for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
	echo "ferric ramdisk: $interface $ip/${mask:-24} via ${router:-none}"
	;;
esac
exit 0
`
