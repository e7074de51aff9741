#!/bin/sh
# Hypervise tiny-linux: the guest's work, started by /init (busybox ash).
# The lines it prints on ttyS0 (hv-disk, hv-nic, hv-disk-gone, hv-nic-gone, hv-rx, hv-cpus, hv-memory, hv-arch,
# HYPERVISE-READY, hv-counter,
# HYPERVISE-POWEROFF, hv-count, hv-file-written, and
# hv-found, hv-burn-start, hv-burn-end, hv-read, hv-stamped, hv-write-start, hv-wrote, hv-ip, hv-send-start, hv-sent, hv-send-failed when
# asked to work) are a contract: the engine
# and its tests read them from the serial log. Change them together.
# "hv-arch MACHINE" is uname -m, printed once before HYPERVISE-READY: x86_64 in tiny-linux, i686 in
# tiny-linux-i386 (the same script runs in both).

/bin/busybox --install -s /bin
export PATH=/bin HOME=/root TERM=linux

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts

# Markers go to the serial port itself, whatever console= the template was started with.
exec </dev/null >/dev/ttyS0 2>&1

# Modules in dependency order, as TinyLinuxTemplate wrote them. insmod returns after the driver
# has probed the devices present, so they are all visible below.
while read -r module; do
    insmod "/lib/modules/$module.ko" || echo "hv-warn insmod $module failed"
done </lib/modules/load-order

ip link set lo up

number() {
    case $1 in '' | *[!0-9]*) echo 0 ;; *) echo "$1" ;; esac
}

# What the guest sees: "NAME BYTES" per disk, "NAME MAC" per network adapter.
disks() {
    for dev in /sys/block/*; do
        [ -e "$dev" ] || continue
        name=${dev##*/}
        case $name in loop* | ram* | zram*) continue ;; esac
        # sysfs counts 512-byte sectors whatever the device's block size.
        bytes=$(( $(number "$(cat "$dev/size")") * 512 ))
        # An empty CD-ROM drive claims a made-up capacity: report what can actually be read.
        case $name in sr*) dd if="/dev/$name" of=/dev/null bs=2048 count=1 2>/dev/null || bytes=0 ;; esac
        echo "$name $bytes"
    done
}
nics() {
    for dev in /sys/class/net/*; do
        [ -e "$dev" ] || continue
        name=${dev##*/}
        [ "$name" = lo ] && continue
        echo "$name $(cat "$dev/address")"
    done
}
# vCPUs and memory added while it runs (ACPI CPU and memory hot-plug) arrive offline: this guest onlines
# them, as udev rules or the kernel's auto-online do in most distributions. Then "hv-cpus N" (online
# vCPUs) and "hv-memory MIB" (MemTotal) say what it has.
cpus() {
    for cpu in /sys/devices/system/cpu/cpu[0-9]*; do
        [ "$(cat "$cpu/online" 2>/dev/null)" = 0 ] && echo 1 >"$cpu/online"
    done
    grep -c '^processor' /proc/cpuinfo
}
memory() {
    for block in /sys/devices/system/memory/memory[0-9]*; do
        [ "$(cat "$block/state" 2>/dev/null)" = offline ] && echo online >"$block/state" 2>/dev/null
    done
    while read -r key kib rest; do
        [ "$key" = MemTotal: ] && echo $((kib / 1024))
    done </proc/meminfo
}
disks | while read -r line; do echo "hv-disk $line"; done
nics | while read -r line; do echo "hv-nic $line"; done
echo "hv-cpus $(cpus)"
echo "hv-memory $(memory)"
echo "hv-arch $(uname -m)"

# What an earlier hv.stamp left at the start of the first disk: how a test sees that a disk's files came
# along (a disk stored in the library and deployed again, a clone).
first=$(ls /sys/block | grep -E '^(vd|sd)' | head -n 1)
if [ -n "$first" ]; then
    head=$(dd if="/dev/$first" bs=512 count=1 2>/dev/null | head -c 64 | tr -cd 'a-zA-Z0-9:.-')
    case $head in hv-stamp:*) echo "hv-found $first ${head#hv-stamp:}" ;; esac
fi

# ACPI power button (QMP system_powerdown): any event from its evdev node means "pressed".
for input in /sys/class/input/event*; do
    [ "$(cat "$input/device/name" 2>/dev/null)" = "Power Button" ] || continue
    event="/dev/input/${input##*/}"
    (
        dd if="$event" of=/dev/null bs=24 count=1 2>/dev/null
        echo HYPERVISE-POWEROFF
        sync
        sleep 0.2 # let the serial port send the marker before the machine goes away
        poweroff -f
    ) &
    # An evdev event reaches only readers that have the device open already: wait (up to a second)
    # until the watcher's dd has it open, or a press right after HYPERVISE-READY would be lost.
    tries=0
    until ls -l /proc/[0-9]*/fd 2>/dev/null | grep -q " -> $event\$" || [ "$tries" -ge 50 ]; do
        sleep 0.02
        tries=$((tries + 1))
    done
done

# A root shell on the screen (tty1), restarted whenever the user leaves it.
(
    while :; do
        printf '\033[H\033[JHypervise tiny-linux - type commands here\n\n' >/dev/tty1
        setsid -c sh -l </dev/tty1 >/dev/tty1 2>&1
        sleep 1
    done
) &

# The devices as they are when it says it is ready, read before it says so: the watcher further down reports
# changes against these, so a disk grown right after HYPERVISE-READY is never taken for how things were.
seen_disks=$(disks)
seen_nics=$(nics)
seen_cpus=$(cpus)
seen_memory=$(memory)

echo HYPERVISE-READY

# Work a test can ask for on the kernel command line, to see it in the VM's counters:
#   hv.burn=S    keep the vCPU busy for S seconds (hv-burn-start, then hv-burn-end)
#   hv.stamp=W   write "hv-stamp:W" at the start of the first disk ("hv-stamped DISK W" once it is there)
#   hv.read=M    then print "hv-read DISK MD5" of the first M MiB of the first disk, as the guest reads them
#   hv.write=M   then, after 10 idle seconds, write M MiB to the first disk (hv-write-start, then
#                "hv-wrote DISK BYTES" once they are on the disk)
#   hv.ip=IF,ADDR/P     give network interface IF that address at once ("hv-ip IF ADDR/P")
#   hv.send=HOST,PORT,K then send K KiB over TCP to HOST:PORT (hv-send-start, then "hv-sent BYTES",
#                       or hv-send-failed if it could not connect within 5 s or the transfer broke off)
#   hv.count=K   count once a second in memory ("hv-count N file=yes|no", whether /hv-file exists); at K
#                write /hv-file ("hv-file-written K"): what a checkpoint with memory brings back, or not
burn=0
stamp=
read=0
write=0
send=
count=0
for arg in $(cat /proc/cmdline); do
    case $arg in
        hv.burn=*) burn=$(number "${arg#hv.burn=}") ;;
        hv.stamp=*) stamp=${arg#hv.stamp=} ;;
        hv.read=*) read=$(number "${arg#hv.read=}") ;;
        hv.write=*) write=$(number "${arg#hv.write=}") ;;
        hv.ip=*)
            ifaddr=${arg#hv.ip=}
            ip link set "${ifaddr%%,*}" up && ip addr add "${ifaddr#*,}" dev "${ifaddr%%,*}" \
                && echo "hv-ip ${ifaddr%%,*} ${ifaddr#*,}"
            ;;
        hv.send=*) send=${arg#hv.send=} ;;
        hv.count=*) count=$(number "${arg#hv.count=}") ;;
    esac
done
if [ "$count" -gt 0 ]; then
    (
        n=0
        while :; do
            n=$((n + 1))
            if [ "$n" -eq "$count" ]; then
                echo "written at $n" >/hv-file
                echo "hv-file-written $n"
            fi
            if [ -e /hv-file ]; then file=yes; else file=no; fi
            echo "hv-count $n file=$file"
            sleep 1
        done
    ) &
fi
if [ -n "$stamp" ] || [ "$burn" -gt 0 ] || [ "$read" -gt 0 ] || [ "$write" -gt 0 ] || [ -n "$send" ]; then
    (
        if [ "$burn" -gt 0 ]; then
            echo hv-burn-start
            timeout "$burn" sh -c 'while :; do :; done'
            echo hv-burn-end
        fi
        if [ -n "$stamp" ]; then
            disk=$(ls /sys/block | grep -E '^(vd|sd)' | head -n 1)
            printf 'hv-stamp:%s\n' "$stamp" | dd of="/dev/$disk" conv=fsync 2>/dev/null
            echo "hv-stamped $disk $stamp"
        fi
        if [ "$read" -gt 0 ]; then
            disk=$(ls /sys/block | grep -E '^(vd|sd)' | head -n 1)
            sum=$(dd if="/dev/$disk" bs=1M count="$read" 2>/dev/null | md5sum)
            echo "hv-read $disk ${sum%% *}"
        fi
        if [ "$write" -gt 0 ]; then
            sleep 10
            disk=$(ls /sys/block | grep -E '^(vd|sd)' | head -n 1)
            echo hv-write-start
            dd if=/dev/zero of="/dev/$disk" bs=1M count="$write" conv=fsync 2>/dev/null
            echo "hv-wrote $disk $((write * 1048576))"
        fi
        if [ -n "$send" ]; then
            host=${send%%,*}
            rest=${send#*,}
            kib=$(number "${rest#*,}")
            echo hv-send-start
            if dd if=/dev/zero bs=1024 count="$kib" 2>/dev/null | nc -w 5 "$host" "${rest%%,*}" >/dev/null; then
                echo "hv-sent $((kib * 1024))"
            else
                echo hv-send-failed
            fi
        fi
    ) &
fi

# Devices that come, change or go while it runs (hot-added disks and adapters, a grown disk, a CD-ROM's
# medium): "hv-disk NAME BYTES" / "hv-nic NAME MAC" for each new or changed one, "hv-disk-gone NAME" /
# "hv-nic-gone NAME" for each that went; "hv-cpus N" / "hv-memory MIB" when they change; checked every second
# against what there was when it became ready (seen_*, above).
(
    while :; do
        sleep 1
        now_disks=$(disks)
        now_nics=$(nics)
        now_cpus=$(cpus)
        now_memory=$(memory)
        [ "$now_cpus" != "$seen_cpus" ] && echo "hv-cpus $now_cpus" && seen_cpus=$now_cpus
        [ "$now_memory" != "$seen_memory" ] && echo "hv-memory $now_memory" && seen_memory=$now_memory
        if [ "$now_disks" != "$seen_disks" ]; then
            echo "$now_disks" | while read -r line; do
                [ -n "$line" ] && ! echo "$seen_disks" | grep -qx "$line" && echo "hv-disk $line"
            done
            echo "$seen_disks" | while read -r name bytes; do
                [ -n "$name" ] && ! echo "$now_disks" | grep -q "^$name " && echo "hv-disk-gone $name"
            done
            seen_disks=$now_disks
        fi
        if [ "$now_nics" != "$seen_nics" ]; then
            echo "$now_nics" | while read -r line; do
                [ -n "$line" ] && ! echo "$seen_nics" | grep -qx "$line" && echo "hv-nic $line"
            done
            echo "$seen_nics" | while read -r name mac; do
                [ -n "$name" ] && ! echo "$now_nics" | grep -q "^$name " && echo "hv-nic-gone $name"
            done
            seen_nics=$now_nics
        fi
    done
) &

# What each network adapter has received: "hv-rx NAME BYTES UPTIME" (its rx_bytes, and the guest's seconds since
# boot when they were read) once a second while they grow, nothing while they do not: how a test measures the rate
# a bandwidth limit lets through, as the guest sees it.
(
    rx() {
        for stat in /sys/class/net/*/statistics/rx_bytes; do
            [ -e "$stat" ] || continue
            name=${stat#/sys/class/net/}
            name=${name%%/*}
            [ "$name" = lo ] || echo "$name:$(cat "$stat")"
        done
    }
    seen_rx=" $(rx | tr '\n' ' ')"
    while :; do
        sleep 1
        read -r up _ </proc/uptime
        now_rx=" $(rx | tr '\n' ' ')"
        for entry in $now_rx; do
            case $seen_rx in *" $entry "*) ;; *) echo "hv-rx ${entry%%:*} ${entry#*:} $up" ;; esac
        done
        seen_rx=$now_rx
    done
) &

# The counter lives in this shell's memory: after a save and restore it continues, not restarts.
counter=0
while :; do
    echo "hv-counter $counter"
    counter=$((counter + 1))
    sleep 1
done
