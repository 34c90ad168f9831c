#!/bin/sh
# shellcheck shell=dash
# /init of the harness's initramfs, run by busybox ash as PID 1 in the guest.
#
# It mounts the host's root read-only over 9p at /host, makes the places a
# test writes to tmpfs, loads the kTLS modules from the kernel cache, runs
# the tests listed by run.sh in the job share (/job) inside chroot /host and
# writes each one's output and exit status back into /job/out/. Everything
# the host needs travels through that share, never through the console,
# which kernel messages may interleave with.

export PATH=/bin
umask 022

say() {
	echo "handoff-vm: $*" >/dev/console
}

die() {
	say "FATAL: $*"
	echo "$*" >/job/fatal 2>/dev/null
	sync
	poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# The kernel found no /dev/console in the initramfs to give to init.
exec </dev/console >/dev/console 2>&1

# virtio-pci, 9p and their dependencies (those not built in), in the order
# modprobe --show-depends gave.
while read -r ko; do
	insmod "/modules/$ko"
done </modules/order

mkdir -p /host /job
p9=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o "$p9" handoffjob /job || {
	say "FATAL: cannot mount the job share"
	poweroff -f
}
mkdir -p /job/out
# shellcheck source=/dev/null
. /job/config || die "no /job/config"

mount -t 9p -o "$p9,ro,cache=$VM_9P_CACHE" hostroot /host ||
	die "cannot mount the host root"

mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /host/dev/pts
for d in $VM_TMPFS; do
	mkdir -p "/host$d" 2>/dev/null
	mount -t tmpfs -o mode=1777 tmpfs "/host$d" ||
		say "warning: cannot put a tmpfs on $d"
done
# The caller's folder, when a tmpfs above would hide it (run.sh shares it).
if [ -n "${VM_WORKSHARE:-}" ]; then
	mkdir -p "/host$VM_WORKSHARE" || die "cannot create $VM_WORKSHARE in the guest"
	mount -t 9p -o "$p9,ro,cache=$VM_9P_CACHE" handoffwork "/host$VM_WORKSHARE" ||
		die "cannot mount the caller's folder $VM_WORKSHARE"
fi

# Kernel-initiated module loads (request_module) run /sbin/modprobe in this
# initramfs, which has no modules: send them to the host's modprobe and the
# cached tree instead.
cat >/bin/vm-modprobe <<EOF
#!/bin/sh
exec /bin/chroot /host /sbin/modprobe -d '$VM_MODROOT' "\$@"
EOF
chmod 755 /bin/vm-modprobe
echo /bin/vm-modprobe >/proc/sys/kernel/modprobe

missing=
for m in $VM_MODULES; do
	chroot /host /sbin/modprobe -q -d "$VM_MODROOT" "$m" ||
		missing="$missing $m"
done
echo "${missing# }" >/job/modules-missing

ip link set lo up
hostname handoff-vm

export HOME=/tmp TMPDIR=/tmp TERM="${VM_TERM:-dumb}" LANG=C.UTF-8
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
HANDOFF_VM_KERNEL=$(uname -r)
export HANDOFF_VM=1 HANDOFF_VM_KERNEL HANDOFF_TEST_KTLS=1
if [ -f /job/env ]; then
	while IFS= read -r kv; do
		export "${kv?}"
	done </job/env
fi

# selftest.sh proves that a crash while booting leads to a second boot:
# crash once, remembering it in the job share.
if [ -n "${VM_SELFTEST_BOOT_PANIC:-}" ] && [ ! -e /job/selftest-boot-panicked ]; then
	: >/job/selftest-boot-panicked
	sync
	echo c >/proc/sysrq-trigger
fi

uptime_cs() {
	read -r up _ </proc/uptime
	echo "${up%.*}${up#*.}"
}

# Kill what a test left behind (daemons, processes that left its process
# group), so that the next one starts clean: every process except this init
# and kernel threads, which have no executable.
reap() {
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = 1 ] && continue
		[ -e "$p/exe" ] || continue
		kill -9 "$pid" 2>/dev/null
	done
}

n=0
total=$(grep -c '' /job/tests)
while IFS= read -r t; do
	n=$((n + 1))
	say "[$n/$total] $t"
	start=$(uptime_cs)
	# Coreutils timeout signals the whole process group of the test;
	# busybox's (which a bare "timeout" would find) only the one process.
	# shellcheck disable=SC2016 # expanded by the inner shell
	chroot /host /usr/bin/timeout -k 5 "$VM_TEST_TIMEOUT" /bin/sh -c \
		'cd "$1" || exit 126; shift; exec "$@"' handoff-vm-test "$VM_CWD" "$t" \
		>"/job/out/$n.log" 2>&1 </dev/null
	rc=$?
	end=$(uptime_cs)
	reap
	echo "$rc $((end - start))" >"/job/out/$n.rc"
	sync
done </job/tests

if [ "$VM_SHELL" = 1 ]; then
	say "shell in chroot /host (cwd $VM_CWD); exit to power off"
	# shellcheck disable=SC2016 # expanded by the inner shell
	TERM=${VM_TERM:-linux} setsid cttyhack chroot /host /bin/sh -c \
		'cd "$1"; command -v bash >/dev/null && exec bash -i; exec sh -i' sh "$VM_CWD"
fi

echo ok >/job/done
sync
say "done"
poweroff -f
