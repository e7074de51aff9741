# Confines one VM's QEMU worker. Run as root by the engine as
#   unshare --mount --propagation slave -- sh -c <this script> confine ROOT UID GID GROUPS PATH-SPEC... -- QEMU-ARGV...
# in the fresh mount namespace unshare made: builds a tmpfs root in which only the paths given are visible,
# each at the same path as on the host (so QEMU's arguments and QMP's paths need no translation), pivots into
# it, and execs setpriv, which drops to the VM's own user with no capabilities and no new privileges and
# execs QEMU. GROUPS is empty or the comma-separated supplementary groups it keeps (kvm, where KVM is used).
# Every step is an exec, so the process the engine started is QEMU itself (same PID).
#
# A PATH-SPEC is ro:PATH (bound read-only), rw:PATH (read-write) or dev:PATH (a device node). A directory
# bound from a shared host mount stays its slave: what the engine mounts there later (an image added while
# the VM runs) appears inside as well.
set -eu
root=$1 uid=$2 gid=$3 groups=$4
shift 4
fail() { echo "confine: $*" >&2; exit 126; }
mount -t tmpfs -o mode=0755,nosuid,size=1m hypervise-worker "$root" || fail "cannot mount a tmpfs on $root"
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    kind=${1%%:*} path=${1#*:}
    case $path in /*) ;; *) fail "not an absolute path: $1" ;; esac
    # Each program run costs a few milliseconds of the VM's start: mkdir only where needed.
    if [ -d "$path" ]; then
        [ -d "$root$path" ] || mkdir -p "$root$path"
    else
        [ -d "$root${path%/*}" ] || mkdir -p "$root${path%/*}"
        : > "$root$path"
    fi
    case $kind in
        # One mount(8) each: it binds, then remounts the bind with the options.
        ro) mount --bind -o ro,nosuid,nodev "$path" "$root$path" ;;
        rw) mount --bind -o nosuid,nodev "$path" "$root$path" ;;
        dev) mount --bind -o nosuid "$path" "$root$path" ;;
        *) fail "unknown kind of path: $1" ;;
    esac || fail "cannot make $path visible"
    shift
done
[ "$#" -gt 0 ] || fail "no -- before the worker's command line"
shift
# Merged /usr (Debian 12 and most since): /bin, /lib, /lib64 and /sbin are links to usr/bin and the like.
for link in bin lib lib32 lib64 libx32 sbin; do
    if [ -L "/$link" ]; then ln -s "usr/$link" "$root/$link"; fi
done
mkdir -p -m 1777 "$root/tmp"
mkdir "$root/proc"
# Only the worker's own processes are visible in its /proc.
mount -t proc -o nosuid,nodev,noexec,hidepid=invisible proc "$root/proc" || fail "cannot mount /proc"
cd "$root"
mkdir .old
pivot_root . .old || fail "pivot_root failed"
umount -l /.old
rmdir /.old
cd /
if [ -n "$groups" ]; then set -- --groups "$groups" -- "$@"; else set -- --clear-groups -- "$@"; fi
exec setpriv --reuid "$uid" --regid "$gid" --no-new-privs --inh-caps=-all --bounding-set=-all "$@"
