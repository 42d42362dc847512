#!/bin/sh
# Runs a command in a private mount namespace in which every mount is read-only
# except one sandbox directory, so that an in-place restore (to /) under test cannot
# change anything outside the sandbox, whatever it tries.
#
#   unshare -m --propagation private sh testdata/sandbox-run.sh SANDBOX OUTSIDE CMD...
#
# SANDBOX is bind-mounted read-write on itself; every other mount point listed in
# /proc/self/mountinfo is remounted read-only (a per-mount flag: the host's mounts
# are not affected). Before running CMD, the script checks itself: a write to
# OUTSIDE (a directory outside the sandbox) and to / must fail with EROFS.
# Exit 90-93 means the harness is broken.
set -u
sbx=$1
outside=$2
shift 2

mount --make-rprivate / || exit 90
mount --bind "$sbx" "$sbx" || exit 90
# Field 5 of mountinfo is the mount point (octal escapes for odd bytes; such mount
# points fail to remount and are caught by nothing here, but none lies on the paths
# the self-check covers).
awk '{print $5}' /proc/self/mountinfo | while read -r mp; do
    [ "$mp" = "$sbx" ] && continue
    mount -o remount,bind,ro "$mp" 2>/dev/null || true
done

erofs() {
    err=$( (: > "$1") 2>&1 ) && { echo "sandbox: $1 is writable" >&2; return 1; }
    case $err in
        *"Read-only file system"*) return 0 ;;
        *) echo "sandbox: writing $1 failed, but not with EROFS: $err" >&2; return 1 ;;
    esac
}
erofs "$outside/.sandbox-probe" || exit 91
erofs "/.sandbox-probe" || exit 92
# The sandbox itself is not probed: a probe file would change its times, which the
# tests witness. tests/hostile_inplace.rs checks that it is writable.
[ -d "$sbx" ] || exit 93
echo "sandbox: ready" >&2
exec "$@"
