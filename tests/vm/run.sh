#!/bin/bash
# run.sh [options] [--] TEST...
#
# Boots each kernel of the matrix under qemu (TCG) with the host's root as a
# read-only guest root, runs the TESTs one after another in that one boot
# and reports each one's output and exit status, then one summary line per
# kernel: "vm[ID]: N passed, M failed". Exits non-zero when anything failed.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat >&2 <<EOF
usage: ${0##*/} [options] [--] TEST...

  --kernel ID     kernel from kernels.conf, or "all" (default: all, which
                  means the default matrix: $(vm_default_ids | tr '\n' ' '))
  --timeout SEC   per-test timeout inside the guest (default ${HANDOFF_VM_TIMEOUT:-120})
  --modules LIST  extra kernel modules to load (also HANDOFF_VM_MODULES)
  --tmpfs LIST    extra writable tmpfs mount points (also HANDOFF_VM_TMPFS)
  --shell         run the TESTs (if any), then an interactive guest shell
  --keep          keep the run folder (console log, outputs) on success too

TEST is an executable path, relative to the current folder or absolute; it
runs in the guest via chroot into the host root, in the current folder, with
HANDOFF_VM=1, HANDOFF_VM_KERNEL=<release>, HANDOFF_TEST_KTLS=1 and every
other HANDOFF_* variable of the caller. Exit 77 counts as skipped.
EOF
	exit 2
}

kernel=all
timeout_s=${HANDOFF_VM_TIMEOUT:-120}
extra_modules=${HANDOFF_VM_MODULES:-}
extra_tmpfs=${HANDOFF_VM_TMPFS:-}
shell=0
keep=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--kernel) kernel=${2?}; shift ;;
	--kernel=*) kernel=${1#*=} ;;
	--timeout) timeout_s=${2?}; shift ;;
	--timeout=*) timeout_s=${1#*=} ;;
	--modules) extra_modules="$extra_modules ${2?}"; shift ;;
	--modules=*) extra_modules="$extra_modules ${1#*=}" ;;
	--tmpfs) extra_tmpfs="$extra_tmpfs ${2?}"; shift ;;
	--tmpfs=*) extra_tmpfs="$extra_tmpfs ${1#*=}" ;;
	--shell) shell=1 ;;
	--keep) keep=1 ;;
	-h | --help) usage ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
	shift
done
tests=("$@")
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || vm_die "--timeout wants whole seconds"
[[ ${#tests[@]} -gt 0 || $shell -eq 1 ]] || usage

# Modules the kTLS ciphers need (the kernel would otherwise fail TLS_TX
# with ENOENT); names a kernel lacks are skipped.
MODULES="tls gcm ccm aesni_intel chacha20poly1305 chacha20 chacha20_x86_64 \
poly1305 poly1305_x86_64 $extra_modules"
# The host root is read-only in the guest; these become tmpfs.
TMPFS="/tmp /run /var/tmp /dev/shm $extra_tmpfs"
BOOT_BUDGET=${HANDOFF_VM_BOOT_TIMEOUT:-240}
cwd=$(pwd -P)

# hidden_in_guest PATH: prints the tmpfs that hides PATH inside the guest.
hidden_in_guest() {
	local d
	for d in $TMPFS; do
		if [[ $1 == "$d" || $1 == "$d"/* ]]; then
			printf '%s\n' "$d"
			return 0
		fi
	done
	return 1
}

# A build tree under /tmp (say, a CI checkout) would vanish under the
# guest's tmpfs: it then gets a 9p share of its own, mounted at the same path.
workshare=
if hidden_in_guest "$cwd" >/dev/null; then
	workshare=$cwd
fi
if d=$(hidden_in_guest "$(realpath -m "$VM_CACHE")"); then
	vm_die "the cache $VM_CACHE is hidden by a tmpfs ($d) in the guest; set HANDOFF_VM_CACHE"
fi
for t in "${tests[@]}"; do
	[[ $t != *$'\n'* ]] || vm_die "test path with a newline: $t"
	[[ -f $t && -x $t ]] || vm_die "$t: not an executable file"
	tp=$(realpath "$t")
	if [[ -n $workshare && ( $tp == "$workshare" || $tp == "$workshare"/* ) ]]; then
		continue
	fi
	if d=$(hidden_in_guest "$tp"); then
		vm_die "$t is hidden by a tmpfs ($d) in the guest"
	fi
done

if [[ $kernel == all ]]; then
	mapfile -t ids < <(vm_default_ids)
else
	vm_conf_line "$kernel" >/dev/null
	ids=("$kernel")
fi

# quote VALUE: VALUE as one single-quoted word for the guest's shell.
quote() {
	printf "'%s'" "${1//\'/\'\\\'\'}"
}

# build_initramfs DIR KVER MODBASE: prints the path of an initramfs with
# busybox, guest-init.sh as /init and the kernel's 9p modules; cached in DIR
# under a name derived from everything that goes into it.
build_initramfs() {
	local dir=$1 kver=$2 modbase=$3 key out stage ko applet n=0
	key=$({
		cat "$VM_DIR/guest-init.sh" /bin/busybox "${BASH_SOURCE[0]}"
		printf '%s\n' "$kver"
	} | sha256sum | cut -c1-16)
	out=$dir/initramfs-$key.cpio.gz
	if [[ -f $out ]]; then
		printf '%s\n' "$out"
		return
	fi
	stage=$(mktemp -d)
	mkdir -p "$stage"/{bin,dev,proc,sys,modules,host,job}
	cp /bin/busybox "$stage/bin/busybox"
	for applet in $(busybox --list); do
		[[ $applet == busybox ]] || ln -s busybox "$stage/bin/$applet"
	done
	cp "$VM_DIR/guest-init.sh" "$stage/init"
	chmod 755 "$stage/init"
	while read -r ko; do
		n=$((n + 1))
		# busybox insmod wants them uncompressed; bookworm's are already.
		case $ko in
		*.xz) xz -dc "$ko" ;;
		*.zst) zstd -dc "$ko" ;;
		*.gz) gzip -dc "$ko" ;;
		*) cat "$ko" ;;
		esac >"$stage/modules/$n.ko"
		printf '%s.ko\n' "$n" >>"$stage/modules/order"
	done < <(for m in virtio_pci 9pnet_virtio 9p; do
		# Built in (or unknown, where modules.builtin is missing): nothing
		# to load.
		modprobe -d "$modbase" -S "$kver" --show-depends "$m" 2>/dev/null || true
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }')
	[[ $n -gt 0 ]] || vm_die "no 9p modules found for $kver"
	(cd "$stage" && find . | busybox cpio -o -H newc -R 0:0 2>/dev/null | gzip -1) >"$out.$$.tmp"
	mv "$out.$$.tmp" "$out"
	rm -rf "$stage"
	find "$dir" -maxdepth 1 -name 'initramfs-*.cpio.gz' ! -name "${out##*/}" -delete
	printf '%s\n' "$out"
}

# print_block ID STATUS TEST DETAIL LOG: one test's output, framed, every
# line indented so that nothing in it reads like a summary line.
print_block() {
	local id=$1 status=$2 t=$3 detail=$4 log=$5
	printf '\n==== vm[%s] %s: %s (%s) ====\n' "$id" "$status" "$t" "$detail"
	if [[ -s $log ]]; then
		sed 's/^/  | /' "$log"
	fi
	printf '==== end vm[%s] %s ====\n' "$id" "$t"
}

# missing_modules FILE: the guest's list of modules it did not find.
missing_modules() {
	local list
	if [[ ! -f $1 ]]; then
		echo '?'
	elif list=$(cat "$1") && [[ -n $list ]]; then
		printf '%s\n' "$list"
	else
		echo none
	fi
}

total_passed=0
total_failed=0
total_skipped=0

# run_kernel ID: boots kernel ID once, runs all tests, prints the blocks and
# the summary; updates the totals. Returns 0 when nothing failed.
run_kernel() {
	local id=$1 stamp kver dir modbase initrd run share passed=0 failed=0 skipped=0
	if ! kver=$("$VM_DIR/fetch-kernel.sh" "$id"); then
		printf 'vm[%s]: kernel fetch failed\n' "$id"
		printf 'vm[%s]: 0 passed, %d failed\n' "$id" "$(( ${#tests[@]} > 0 ? ${#tests[@]} : 1 ))"
		total_failed=$((total_failed + (${#tests[@]} > 0 ? ${#tests[@]} : 1)))
		return 1
	fi
	dir=$VM_CACHE/$id
	stamp=$(vm_kernel_env "$id")
	modbase=$dir/$(vm_env_get "$stamp" MODROOT)
	modbase=${modbase%/}
	initrd=$(build_initramfs "$dir" "$kver" "$modbase")

	run=$(mktemp -d "${TMPDIR:-/tmp}/handoff-vm.XXXXXX")
	share=$run/share
	mkdir -p "$share/out"
	{
		printf 'VM_MODROOT=%s\n' "$(quote "$modbase")"
		printf 'VM_MODULES=%s\n' "$(quote "$MODULES")"
		printf 'VM_TMPFS=%s\n' "$(quote "$TMPFS")"
		printf 'VM_CWD=%s\n' "$(quote "$cwd")"
		printf 'VM_WORKSHARE=%s\n' "$(quote "$workshare")"
		printf 'VM_TEST_TIMEOUT=%s\n' "$timeout_s"
		printf 'VM_SHELL=%s\n' "$shell"
		printf 'VM_TERM=%s\n' "$(quote "${TERM:-}")"
		printf 'VM_9P_CACHE=%s\n' "$(quote "${HANDOFF_VM_9P_CACHE:-loose}")"
		# selftest.sh only: crash the first boot before any test starts.
		printf 'VM_SELFTEST_BOOT_PANIC=%s\n' "$(quote "${HANDOFF_VM_SELFTEST_BOOT_PANIC:-}")"
	} >"$share/config"
	local t
	for t in "${tests[@]}"; do
		# "name" alone would be looked up in PATH by exec.
		[[ $t == */* ]] || t=./$t
		printf '%s\n' "$t"
	done >"$share/tests"
	env | grep -E '^HANDOFF_[A-Za-z0-9_]*=' |
		grep -Ev '^HANDOFF_(VM|VM_[A-Za-z0-9_]*|TEST_KTLS)=' >"$share/env" || true

	# One vCPU by default: under TCG every cross-CPU TLB flush (each exit,
	# munmap, exec) stops all vCPUs, and the suite starts thousands of
	# processes.  Measured side by side in one 7.x guest run:
	# tests/interop/gnutls-peers.sh took 99 s with two vCPUs, 48 s with one,
	# and half the host CPU.  HANDOFF_VM_SMP=2 for SMP races in the kernel.
	local qemu=(
		qemu-system-x86_64 -accel tcg -cpu max -smp "${HANDOFF_VM_SMP:-1}" -m "${HANDOFF_VM_MEM:-1024}"
		-no-reboot -nic none
		-kernel "$dir/$(vm_env_get "$stamp" VMLINUZ)" -initrd "$initrd"
		# loglevel=1, not 0: at 0 even a panic or an oops prints nothing.
		# oops=panic: after an oops the kernel limps on with corrupted
		# state, and a test stuck in it never ends (a slab corruption
		# once wedged a guest until CI's own timeout).  A panic ends the
		# guest at once, and the report names it.
		-append "console=ttyS0 quiet loglevel=1 oops=panic panic=-1 rdinit=/init${HANDOFF_VM_APPEND:+ $HANDOFF_VM_APPEND}"
		-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
		-virtfs "local,path=$share,mount_tag=handoffjob,security_model=none"
	)
	if [[ -n $workshare ]]; then
		qemu+=(-virtfs "local,path=$workshare,mount_tag=handoffwork,security_model=none,readonly=on,multidevs=remap")
	fi
	local start rc=0 budget=$BOOT_BUDGET
	start=$(date +%s)
	if [[ $shell -eq 1 ]]; then
		vm_log "booting $kver; Ctrl-A x kills the guest"
		"${qemu[@]}" -nographic || rc=$?
	else
		budget=${HANDOFF_VM_WATCHDOG:-$((BOOT_BUDGET + ${#tests[@]} * (timeout_s + 15)))}
		local boot
		for boot in 1 2 3; do
			rc=0
			timeout -k 10 "$budget" "${qemu[@]}" -display none -monitor none \
				-serial "file:$run/console.log" </dev/null 2>"$run/qemu.log" || rc=$?
			# A panic before the first test started is the emulator's, not
			# a test's: multi-threaded TCG now and then lets a vCPU run
			# stale code while the kernel live-patches its text (an int3
			# Oops in early boot).  Boot again, and say so; a panic once
			# tests run is always a failure.
			if [[ $boot -lt 3 ]] && grep -q 'Kernel panic' "$run/console.log" 2>/dev/null &&
				! compgen -G "$share/out/[0-9]*.log" >/dev/null; then
				printf 'vm[%s]: guest panicked while booting, before any test (boot %d); booting again\n' \
					"$id" "$boot"
				grep -m 3 -E 'Oops|RIP:|Kernel panic' "$run/console.log" | sed 's/^/  | /'
				mv "$run/console.log" "$run/console-boot$boot.log"
				rm -f "$share/done" "$share/fatal"
				continue
			fi
			break
		done
	fi
	local secs=$(($(date +%s) - start))

	local i=0 status detail rcode cs ok=1 missing=0
	for t in "${tests[@]}"; do
		i=$((i + 1))
		if [[ -f $share/out/$i.rc ]]; then
			read -r rcode cs <"$share/out/$i.rc"
			detail=$(printf 'exit %s, %d.%02d s' "$rcode" $((cs / 100)) $((cs % 100)))
			case $rcode in
			0) status=PASS passed=$((passed + 1)) ;;
			77) status=SKIP skipped=$((skipped + 1)) ;;
			124 | 137) status=TIMEOUT failed=$((failed + 1))
				detail="killed after ${timeout_s} s, $detail" ;;
			*) status=FAIL failed=$((failed + 1)) ;;
			esac
		else
			status=FAIL failed=$((failed + 1)) missing=$((missing + 1))
			detail="no result: the guest never finished this test"
		fi
		print_block "$id" "$status" "$t" "$detail" "$share/out/$i.log"
	done

	local problem=
	if [[ $rc -eq 124 || $rc -eq 137 ]]; then
		problem="guest hung: killed after $budget s"
	elif grep -q 'Kernel panic' "$run/console.log" 2>/dev/null; then
		problem="kernel panic"
	elif [[ -s $share/fatal ]]; then
		problem="guest setup failed: $(cat "$share/fatal")"
	elif [[ ! -f $share/done ]]; then
		problem="guest did not finish (qemu exit $rc)"
	fi
	if [[ -n $problem ]]; then
		# Counted once: as the tests it left without a result, or else
		# as one failure of its own.
		[[ $missing -gt 0 ]] || failed=$((failed + 1))
		ok=0
		printf '\n==== vm[%s] FAIL: guest: %s ====\n' "$id" "$problem"
		if [[ -f $run/console.log ]]; then
			printf -- '---- last 80 console lines ----\n'
			tail -n 80 "$run/console.log" | sed 's/^/  | /'
		fi
		if [[ -s $run/qemu.log ]]; then
			printf -- '---- qemu ----\n'
			sed 's/^/  | /' "$run/qemu.log"
		fi
		printf '==== end vm[%s] guest ====\n' "$id"
	fi

	printf '\nvm[%s]: kernel %s, %d s wall, missing modules: %s\n' \
		"$id" "$kver" "$secs" "$(missing_modules "$share/modules-missing")"
	if [[ $skipped -gt 0 ]]; then
		printf 'vm[%s]: %d skipped\n' "$id" "$skipped"
	fi
	printf 'vm[%s]: %d passed, %d failed\n' "$id" "$passed" "$failed"
	total_passed=$((total_passed + passed))
	total_failed=$((total_failed + failed))
	total_skipped=$((total_skipped + skipped))

	[[ $failed -eq 0 ]] || ok=0
	if [[ $ok -eq 1 && $keep -eq 0 ]]; then
		rm -rf "$run"
	else
		vm_log "run folder kept: $run"
	fi
	[[ $ok -eq 1 ]]
}

status=0
for id in "${ids[@]}"; do
	run_kernel "$id" || status=1
done
if [[ ${#ids[@]} -gt 1 ]]; then
	# Worded so that it does not match the per-kernel "N passed, M failed"
	# lines, which a caller may add up.
	printf '\nvm total over %s: passed %d, failed %d, skipped %d\n' \
		"${ids[*]}" "$total_passed" "$total_failed" "$total_skipped"
fi
exit "$status"
