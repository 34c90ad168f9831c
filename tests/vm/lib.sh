# shellcheck shell=bash
# Shared helpers for the VM harness; sourced by fetch-kernel.sh, run.sh and
# selftest.sh, never run on its own.

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_CACHE=${HANDOFF_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/handoff-vm}
VM_CONF=${HANDOFF_VM_KERNELS_CONF:-$VM_DIR/kernels.conf}
# Same mirror the host uses, so that a proxy or mirror choice carries over.
VM_MIRROR=${HANDOFF_VM_MIRROR:-}
VM_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

vm_die() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

vm_log() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
}

vm_mirror() {
	if [[ -n $VM_MIRROR ]]; then
		printf '%s\n' "$VM_MIRROR"
		return
	fi
	local uri
	uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/*$/\1/p' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
	if [[ -z $uri ]]; then
		uri=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ { print $2; exit }' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
	fi
	printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

# vm_apt SUITE COMMAND [ARGS...]
# Runs apt-get or apt-cache (COMMAND) against a private apt state that knows
# only SUITE, so the host's own sources and package status are never touched
# and the host is never offered packages from that suite.
vm_apt() {
	local suite=$1 cmd=$2
	shift 2
	local state=$VM_CACHE/apt/$suite
	if [[ ! -f $state/sources.list ]]; then
		mkdir -p "$state/lists/partial" "$state/cache/archives/partial"
		: >"$state/status"
		printf 'deb [arch=amd64 signed-by=%s] %s %s main\n' \
			"$VM_KEYRING" "$(vm_mirror)" "$suite" >"$state/sources.list"
	fi
	local opts=(
		-o "Dir::Etc::SourceList=$state/sources.list"
		-o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$state/lists"
		-o "Dir::State::Status=$state/status"
		-o "Dir::Cache=$state/cache"
		-o Acquire::Languages=none
		-o APT::Architectures::=amd64
	)
	# The download sandbox user (_apt) cannot enter a private cache
	# under /root; the files are hash-checked anyway.
	if [[ $EUID -eq 0 ]]; then
		opts+=(-o APT::Sandbox::User=root)
	fi
	"$cmd" "${opts[@]}" "$@"
}

# vm_conf_line ID: prints the kernels.conf line for ID (fields separated by
# single spaces), fails if there is none.
vm_conf_line() {
	local id=$1 line
	line=$(awk -v id="$id" '!/^[[:space:]]*(#|$)/ && $1 == id { $1 = $1; print; exit }' "$VM_CONF")
	[[ -n $line ]] || vm_die "kernel '$id' is not in $VM_CONF"
	printf '%s\n' "$line"
}

# vm_default_ids: the ids whose "default" column says yes.
vm_default_ids() {
	awk '!/^[[:space:]]*(#|$)/ && $3 == "yes" { print $1 }' "$VM_CONF"
}

vm_all_ids() {
	awk '!/^[[:space:]]*(#|$)/ { print $1 }' "$VM_CONF"
}

# vm_kernel_env ID: path of the stamp written by fetch-kernel.sh.
vm_kernel_env() {
	printf '%s/%s/kernel.env\n' "$VM_CACHE" "$1"
}

# vm_env_get FILE NAME: the value of NAME=... in a kernel.env stamp.
vm_env_get() {
	sed -n "s/^$2=//p" "$1" | sed "s/^'\(.*\)'\$/\1/"
}
