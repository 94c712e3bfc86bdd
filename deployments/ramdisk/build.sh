#!/usr/bin/env bash
# Builds the ferric deploy ramdisk. Called by `make ramdisk`; see README.md.
#
#   build.sh fetch PKG    apt-get download PKG into $RAMDISK_CACHE/debs (once) and
#                         dpkg -x it into $RAMDISK_CACHE/root/PKG (once)
#   build.sh vmlinuz      $RAMDISK_OUT/vmlinuz from linux-image-$RAMDISK_KERNEL_ABI-amd64
#   build.sh initramfs    $RAMDISK_OUT/initramfs: busybox, modules, agent, /init
#
# Environment: RAMDISK_KERNEL_ABI (6.1.0-56), RAMDISK_CACHE, RAMDISK_OUT,
# RAMDISK_AGENT (static ferric-agent binary), GO. Only `fetch` uses the network.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/../.." # the module root: relative paths are relative to it, as in make
: "${RAMDISK_KERNEL_ABI:?}" "${RAMDISK_CACHE:?}" "${RAMDISK_OUT:?}"
GO=${GO:-go}
kpkg=linux-image-${RAMDISK_KERNEL_ABI}-amd64
kver=${RAMDISK_KERNEL_ABI}-amd64

# Module load order matters (busybox insmod does no dependency resolution).
modules=(
	virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
	failover net_failover virtio_net virtio_blk
	e1000
)

fetch() {
	local pkg=$1 debs=$RAMDISK_CACHE/debs root=$RAMDISK_CACHE/root/$1 deb
	mkdir -p "$debs"
	deb=$(compgen -G "$debs/${pkg}_*.deb" | head -n1 || true)
	if [[ -z $deb ]]; then
		local opts=()
		[[ $EUID -eq 0 ]] && opts=(-o APT::Sandbox::User=root)
		(cd "$debs" && apt-get download "${opts[@]}" "$pkg")
		deb=$(compgen -G "$debs/${pkg}_*.deb" | head -n1)
	fi
	if [[ ! -e $root/.done ]]; then
		rm -rf "$root"
		mkdir -p "$root"
		dpkg -x "$deb" "$root"
		touch "$root/.done"
	fi
	echo "$pkg: $(basename "$deb")"
}

vmlinuz() {
	fetch "$kpkg" >/dev/null
	mkdir -p "$RAMDISK_OUT"
	install -m 0644 "$RAMDISK_CACHE/root/$kpkg/boot/vmlinuz-$kver" "$RAMDISK_OUT/vmlinuz"
	ls -l "$RAMDISK_OUT/vmlinuz"
}

initramfs() {
	: "${RAMDISK_AGENT:?}"
	[[ -x $RAMDISK_AGENT ]] || { echo "build.sh: $RAMDISK_AGENT: no executable agent" >&2; exit 1; }
	fetch "$kpkg" >/dev/null
	fetch busybox-static >/dev/null
	local list kmod m f
	tmp=$(mktemp -d) # global: the EXIT trap runs after this function returns
	trap 'rm -rf "$tmp"' EXIT
	list=$tmp/list
	kmod=$RAMDISK_CACHE/root/$kpkg/lib/modules/$kver/kernel
	for m in "${modules[@]}"; do echo "/lib/modules/$kver/$m.ko"; done >"$tmp/modules"
	{
		echo "dir /dev 0755 0 0"
		echo "nod /dev/console 0600 0 0 c 5 1"
		echo "nod /dev/null 0666 0 0 c 1 3"
		for d in proc sys run mnt etc bin; do echo "dir /$d 0755 0 0"; done
		echo "dir /root 0700 0 0"
		echo "dir /tmp 1777 0 0"
		echo "file /init $here/init 0755 0 0"
		echo "file /usr/share/udhcpc/default.script $here/udhcpc.script 0755 0 0"
		echo "file /etc/ferric/modules $tmp/modules 0644 0 0"
		echo "file /bin/busybox $RAMDISK_CACHE/root/busybox-static/bin/busybox 0755 0 0"
		echo "file /bin/ferric-agent $RAMDISK_AGENT 0755 0 0"
		for m in "${modules[@]}"; do
			f=$(find "$kmod" -name "$m.ko" -print -quit)
			[[ -n $f ]] || { echo "build.sh: module $m not in $kpkg" >&2; exit 1; }
			echo "file /lib/modules/$kver/$m.ko $f 0644 0 0"
		done
	} >"$list"
	mkdir -p "$RAMDISK_OUT"
	"$GO" run ./deployments/ramdisk/mkinitramfs -o "$RAMDISK_OUT/initramfs" -list "$list"
	ls -l "$RAMDISK_OUT/initramfs"
}

case "${1:-}" in
fetch) fetch "$2" ;;
vmlinuz) vmlinuz ;;
initramfs) initramfs ;;
*) echo "usage: $0 fetch PKG | vmlinuz | initramfs" >&2; exit 2 ;;
esac
