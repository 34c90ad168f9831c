#!/bin/bash
# fetch-kernel.sh [--refresh] ID
#
# Downloads the Debian kernel ID of kernels.conf through a private apt state,
# checks it, unpacks it into $VM_CACHE/ID/ and indexes its modules. Prints the
# kernel release (uname -r) on stdout. Once done, a second call only reads
# the stamp; --refresh resolves the newest version again.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	printf 'usage: %s [--refresh] ID\nIDs: %s\n' "${0##*/}" "$(vm_all_ids | tr '\n' ' ')" >&2
	exit 2
}

refresh=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--refresh) refresh=1 ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) break ;;
	esac
	shift
done
[[ $# -eq 1 ]] || usage
id=$1

read -r _ suite _ vregex templates <<<"$(vm_conf_line "$id")"
read -r -a templates <<<"$templates"
dest=$VM_CACHE/$id
stamp=$(vm_kernel_env "$id")

print_release() {
	vm_env_get "$stamp" KVER
}

if [[ $refresh -eq 0 && -f $stamp ]]; then
	print_release
	exit 0
fi

mkdir -p "$VM_CACHE"
# Two runs fetching the same kernel at once would unpack over each other.
exec 9>"$VM_CACHE/$id.lock"
flock 9
if [[ $refresh -eq 0 && -f $stamp ]]; then
	print_release
	exit 0
fi

vm_log "updating the private apt lists for $suite"
vm_apt "$suite" apt-get -qq update >&2 ||
	vm_die "apt-get update for $suite failed"

# has_candidate PKG: the suite really ships PKG (pkgnames also lists names
# that are only referenced by other packages).
has_candidate() {
	vm_apt "$suite" apt-cache show --no-all-versions "$1" 2>/dev/null |
		grep -q '^Package:'
}

# Candidate releases from the first template, newest first.
first=${templates[0]}
prefix=${first%%@V@*}
suffix=${first#*@V@}
# shellcheck disable=SC2001 # a character class, not one substring
escape() { sed 's/[.+^$*?()[\]{}|\\]/\\&/g' <<<"$1"; }
name_re="^$(escape "$prefix")($vregex)$(escape "$suffix")\$"
mapfile -t releases < <(
	vm_apt "$suite" apt-cache pkgnames "$prefix" |
		sed -En "s/$name_re/\\1/p" | sort -Vru
)
kver=
for r in "${releases[@]}"; do
	ok=1
	for t in "${templates[@]}"; do
		has_candidate "${t//@V@/$r}" || {
			ok=0
			break
		}
	done
	if [[ $ok -eq 1 ]]; then
		kver=$r
		break
	fi
done
[[ -n $kver ]] || vm_die "no kernel matching '$vregex' in $suite"
vm_log "kernel $id resolves to $kver"

work=$VM_CACHE/$id.new
rm -rf "$work"
mkdir -p "$work/.debs"
pkgs=()
sums=()
for t in "${templates[@]}"; do
	pkg=${t//@V@/$kver}
	info=$(vm_apt "$suite" apt-cache show --no-all-versions "$pkg")
	version=$(sed -n 's/^Version: //p' <<<"$info")
	sha=$(sed -n 's/^SHA256: //p' <<<"$info")
	[[ -n $version && ${#sha} -eq 64 ]] || vm_die "no version or SHA256 for $pkg"
	vm_log "downloading $pkg=$version"
	# apt checks the Release signature and the hashes in Packages.
	(cd "$work/.debs" && vm_apt "$suite" apt-get -qq download "$pkg=$version" >&2) ||
		vm_die "download of $pkg failed"
	deb=$(find "$work/.debs" -maxdepth 1 -name "${pkg}_*.deb" -print -quit)
	[[ -n $deb ]] || vm_die "apt-get download left no .deb for $pkg"
	# Belt and braces: check the file against the index once more.
	got=$(sha256sum "$deb" | cut -d' ' -f1)
	[[ $got == "$sha" ]] || vm_die "$deb: sha256 $got, index says $sha"
	dpkg-deb -x "$deb" "$work"
	pkgs+=("$pkg=$version")
	sums+=("$sha")
done
rm -rf "$work/.debs"

# Trixie keeps everything under usr/ (vmlinuz beside the modules); bookworm
# uses /boot and /lib/modules.
modroot=
for base in usr ''; do
	if [[ -d $work/${base:+$base/}lib/modules/$kver ]]; then
		modroot=$base
		break
	fi
done
[[ -d $work/${modroot:+$modroot/}lib/modules/$kver ]] ||
	vm_die "no lib/modules/$kver in the packages"
vmlinuz=
for v in "boot/vmlinuz-$kver" "usr/lib/modules/$kver/vmlinuz" "lib/modules/$kver/vmlinuz"; do
	if [[ -f $work/$v ]]; then
		vmlinuz=$v
		break
	fi
done
[[ -n $vmlinuz ]] || vm_die "no vmlinuz for $kver in the packages"

# depmod warns that modules.builtin and modules.order are missing from the split packages;
# nothing here needs it.
depmod -b "$work/$modroot" "$kver" 2> >(grep -v -e 'modules\.builtin' -e 'modules\.order' >&2 || true)

# Paths are relative to the cache folder so that the cache can move.
cat >"$work/kernel.env" <<EOF
# Written by tests/vm/fetch-kernel.sh; paths relative to this folder.
ID=$id
SUITE=$suite
KVER=$kver
VMLINUZ=$vmlinuz
MODROOT=$modroot
PACKAGES='${pkgs[*]}'
SHA256='${sums[*]}'
EOF

rm -rf "$dest"
mv "$work" "$dest"
printf '%s\n' "$kver"
