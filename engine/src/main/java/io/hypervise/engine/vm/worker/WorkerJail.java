package io.hypervise.engine.vm.worker;

import io.hypervise.engine.storage.FileTrees;
import io.hypervise.engine.vm.definition.BootSource;
import io.hypervise.engine.vm.definition.Disk;
import io.hypervise.engine.vm.definition.Firmware;
import io.hypervise.engine.vm.definition.VmDefinition;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * Confines each VM's QEMU worker, as Firecracker's jailer does its VMM: the worker runs as a user and group of
 * its own (allocated from a configured range, kept until the VM is deleted), in a private mount namespace in
 * which only its own files, the images it uses, firmware, kernel and the system's programs are visible, with
 * no capabilities, no new privileges and QEMU's seccomp sandbox (obsolete calls, privilege changes, spawning
 * and resource control denied).
 *
 * <p>The engine starts {@code unshare --mount} with the launcher script {@code confine.sh}, which builds the
 * namespace's root, pivots into it and execs {@code setpriv}, which execs QEMU: every step is an exec, so the
 * process the engine started is QEMU itself. Images opened while the worker runs (a disk added, a CD inserted)
 * are bind-mounted by the engine into the VM's media folder, a shared mount whose copy in the namespace is its
 * slave, so that they appear inside too; QMP is told the media path.
 *
 * <p>A host lacking a piece (not root, no {@code unshare}, a QEMU without seccomp) says which in
 * {@link #status()}; with {@link Mode#REQUIRED} its VMs are refused, with {@link Mode#WHERE_AVAILABLE} they run
 * unconfined, as with {@link Mode#OFF}.
 */
public final class WorkerJail {

    /** QEMU's own seccomp filter, as libvirt sets it: -sandbox with everything but the default list denied too. */
    public static final List<String> SANDBOX = List.of("-sandbox",
            "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");

    private static final String SCRIPT = script();
    private static final List<String> DEVICES = List.of("/dev/null", "/dev/zero", "/dev/full", "/dev/random",
            "/dev/urandom", "/dev/net/tun");

    /** Whether workers are confined. */
    public enum Mode {
        /** Every worker confined; a host that cannot confine them runs no VMs. */
        REQUIRED,
        /** Confined where the host can; otherwise workers run as root, unconfined, and the host says why. */
        WHERE_AVAILABLE,
        /** Never confined: workers run as root, as before. */
        OFF
    }

    /**
     * @param firstUid the first of the users (and groups, of the same numbers) given to VMs
     * @param uids     how many there are: at most this many VMs are defined-and-started on the host
     */
    public record Settings(Mode mode, int firstUid, int uids) {

        public static Settings defaults() {
            return new Settings(Mode.REQUIRED, 640_000, 65_536);
        }

        public Settings {
            if (firstUid < 1000 || uids < 1 || (long) firstUid + uids > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("the workers' users must be a range above 999; got " + firstUid
                        + " and " + uids + " more");
            }
        }
    }

    /**
     * What confines this host's workers, for its capabilities: the pieces in force, and why the others are not.
     *
     * @param confined whether workers are confined (the mode asks for it and nothing is missing)
     */
    public record Status(Mode mode, boolean confined, List<String> inForce, List<String> unavailable, int firstUid,
            int lastUid) {
    }

    /** A VM's own user and group. */
    public record Owner(int uid, int gid) {

        static Owner parse(String text) {
            String[] parts = text.trim().split(":");
            return new Owner(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]));
        }

        @Override
        public String toString() {
            return uid + ":" + gid;
        }
    }

    private final Settings settings;
    private final Path vmsDir;
    private final Path rootMount;
    private final List<String> unavailable;
    private final Programs programs;
    private final Optional<Integer> kvmGroup;

    private record Programs(Path unshare, Path sh, Path mount, Path umount, Path chown) {
    }

    WorkerJail(Settings settings, Path stateDir, List<String> unavailable, Programs programs, Optional<Integer> kvmGroup) {
        this.settings = settings;
        this.vmsDir = stateDir.resolve("vms");
        this.rootMount = stateDir.resolve("worker-root");
        this.unavailable = List.copyOf(unavailable);
        this.programs = programs;
        this.kvmGroup = kvmGroup;
    }

    /** Finds out what this host can confine workers with. */
    public static WorkerJail probe(Settings settings, Path qemu, Path stateDir) {
        List<String> missing = new ArrayList<>();
        if (settings.mode() == Mode.OFF) {
            return new WorkerJail(settings, stateDir, List.of(), null, Optional.empty());
        }
        if (!runsAsRoot()) {
            missing.add("the server does not run as root, which giving each worker its own user takes");
        }
        Optional<Path> unshare = program("unshare", missing);
        Optional<Path> setpriv = program("setpriv", missing);
        Optional<Path> pivotRoot = program("pivot_root", missing);
        Optional<Path> sh = program("sh", missing);
        Optional<Path> mount = program("mount", missing);
        Optional<Path> umount = program("umount", missing);
        Optional<Path> chown = program("chown", missing);
        if (!Files.exists(Path.of("/proc/self/ns/mnt"))) {
            missing.add("the kernel has no mount namespaces (/proc/self/ns/mnt is missing)");
        }
        sandboxRefusal(qemu).ifPresent(missing::add);
        if (setpriv.isEmpty() || pivotRoot.isEmpty()) {
            missing.add("util-linux's setpriv and pivot_root are needed inside the worker's namespace");
        }
        Programs programs = missing.isEmpty() ? new Programs(unshare.get(), sh.get(), mount.get(), umount.get(), chown.get()) : null;
        try {
            Files.createDirectories(stateDir.resolve("worker-root"));
        } catch (IOException e) {
            missing.add("cannot make " + stateDir.resolve("worker-root") + ": " + e.getMessage());
        }
        return new WorkerJail(settings, stateDir, missing, programs, kvmGroup());
    }

    /** Whether this engine's workers are confined. */
    public boolean confines() {
        return settings.mode() != Mode.OFF && unavailable.isEmpty();
    }

    /** Why no VM may start here: confinement is required and the host lacks some of it. */
    public Optional<String> refusal() {
        if (settings.mode() != Mode.REQUIRED || unavailable.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of("this host cannot confine VM workers (" + String.join("; ", unavailable)
                + "); an administrator may allow unconfined workers here (confinement mode where-available)");
    }

    public Status status() {
        List<String> inForce = confines() ? List.of("own user and group per VM", "QEMU seccomp sandbox",
                "private mount namespace", "no new privileges", "no capabilities") : List.of();
        return new Status(settings.mode(), confines(), inForce, unavailable, settings.firstUid(), lastUid());
    }

    private int lastUid() {
        return settings.firstUid() + settings.uids() - 1;
    }

    // ---------------------------------------------------------------- users

    /** The VM's own user, allocated the first time its worker is confined and kept until the VM is deleted. */
    public synchronized Owner ownerOf(VmFiles files) throws IOException {
        if (Files.exists(files.owner())) {
            return Owner.parse(Files.readString(files.owner()));
        }
        Set<Integer> taken = new HashSet<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(vmsDir)) {
            for (Path dir : dirs) {
                Path owner = new VmFiles(dir).owner();
                if (Files.isRegularFile(owner)) {
                    taken.add(Owner.parse(Files.readString(owner)).uid());
                }
            }
        }
        // A user that still runs anything (a worker of a VM deleted while it ran) is not given again.
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit)).forEach(p -> {
                try {
                    taken.add((Integer) Files.getAttribute(p, "unix:uid"));
                } catch (IOException | RuntimeException e) {
                    // the process ended while it was looked at
                }
            });
        }
        for (int uid = settings.firstUid(); uid <= lastUid(); uid++) {
            if (!taken.contains(uid)) {
                Owner owner = new Owner(uid, uid);
                Files.writeString(files.owner(), owner + "\n");
                return owner;
            }
        }
        throw new IOException("every user of the workers' range " + settings.firstUid() + "-" + lastUid() + " is taken");
    }

    // ---------------------------------------------------------------- launching

    /**
     * Gives the VM's user what its worker writes (its run folder, serial log and UEFI variables, its own images
     * folder, its writable disks) and makes its media folder a shared mount. A writable file outside the VM's
     * own folders is given back to its previous owner when the worker ends (see {@link #release}).
     */
    public void prepare(VmDefinition def, VmFiles files, Owner owner, Path ownImages, UnaryOperator<Path> resolve)
            throws IOException {
        release(files);
        Files.createDirectories(files.runDir());
        chown(files.runDir(), owner, 0700);
        if (!Files.exists(files.serialLog())) {
            Files.createFile(files.serialLog());
        }
        chown(files.serialLog(), owner, 0600);
        if (def.firmware() == Firmware.UEFI && Files.exists(files.uefiVariables())) {
            chown(files.uefiVariables(), owner, 0600);
        }
        if (Files.isDirectory(ownImages, LinkOption.NOFOLLOW_LINKS)) {
            chown(ownImages, owner, 0700);
            try (DirectoryStream<Path> images = Files.newDirectoryStream(ownImages)) {
                for (Path image : images) {
                    if (Files.isRegularFile(image, LinkOption.NOFOLLOW_LINKS)) {
                        chown(image, owner, 0600);
                    }
                }
            }
        }
        for (Path image : images(def, resolve)) {
            boolean writable = def.disks().stream().anyMatch(d -> !d.readOnly()
                    && (d.hostDevice() ? d.path() : resolve.apply(d.path())).equals(image));
            if (writable) {
                grant(files, image, owner, ownImages, 0600);
            } else {
                grantReadable(files, image, owner, ownImages);
            }
        }
        Files.createDirectories(files.mediaDir());
        run(programs.mount(), "--bind", "--make-shared", files.mediaDir().toString(), files.mediaDir().toString());
    }

    /**
     * The argument list that starts {@code qemuArgv} confined: the launcher in a new mount namespace, told which
     * paths the worker may see. QEMU's own arguments gain its seccomp sandbox.
     */
    public List<String> wrap(List<String> qemuArgv, VmDefinition def, VmFiles files, Owner owner,
            Optional<Path> firmwareCode, boolean kvm, UnaryOperator<Path> resolve) {
        Set<String> specs = new LinkedHashSet<>();
        specs.add("ro:/usr");
        for (String device : DEVICES) {
            if (Files.exists(Path.of(device))) {
                specs.add("dev:" + device);
            }
        }
        if (kvm) {
            specs.add("dev:/dev/kvm");
        }
        specs.add("rw:" + files.runDir());
        specs.add("rw:" + files.serialLog());
        specs.add("ro:" + files.mediaDir());
        if (def.firmware() == Firmware.UEFI) {
            firmwareCode.ifPresent(code -> specs.add("ro:" + code));
            specs.add("rw:" + files.uefiVariables());
        }
        for (Disk disk : def.disks()) {
            specs.add(disk.hostDevice() ? "dev:" + disk.path() : (disk.readOnly() ? "ro:" : "rw:") + resolve.apply(disk.path()));
            if (disk.backing() != null) {
                specs.add("ro:" + resolve.apply(disk.backing().path()));
            }
        }
        switch (def.boot()) {
            case BootSource.Kernel k -> {
                specs.add("ro:" + resolve.apply(k.kernel()));
                if (k.initramfs() != null) {
                    specs.add("ro:" + resolve.apply(k.initramfs()));
                }
            }
            case BootSource.Iso iso -> specs.add("ro:" + resolve.apply(iso.image()));
            case BootSource.FirstDisk d -> {
            }
        }
        if (def.cdrom() != null && !def.cdrom().isEmpty()) {
            specs.add("ro:" + resolve.apply(def.cdrom().medium()));
        }
        List<String> argv = new ArrayList<>(List.of(programs.unshare().toString(), "--mount", "--propagation", "slave",
                "--", programs.sh().toString(), "-c", SCRIPT, "confine", rootMount.toString(),
                Integer.toString(owner.uid()), Integer.toString(owner.gid()),
                kvm ? kvmGroup.map(String::valueOf).orElse("") : ""));
        // /usr is there whole already (read-only): firmware and the like under it need no mount of their own.
        specs.stream().filter(spec -> !spec.substring(spec.indexOf(':') + 1).startsWith("/usr/")).forEach(argv::add);
        argv.add("--");
        argv.add(qemuArgv.getFirst());
        argv.addAll(SANDBOX);
        argv.addAll(qemuArgv.subList(1, qemuArgv.size()));
        return argv;
    }

    // ---------------------------------------------------------------- while the worker runs

    /**
     * Makes {@code file} visible to the VM's running worker and returns the path it has there: a file of the
     * media folder on which it is bind-mounted (once). A writable one is given to the VM's user first.
     */
    public Path expose(VmFiles files, Owner owner, Path file, boolean writable, Path ownImages) throws IOException {
        if (writable) {
            grant(files, file, owner, ownImages, 0600);
        } else {
            grantReadable(files, file, owner, ownImages);
        }
        Path target = mediaPath(files, file);
        if (mounted(target)) {
            return target;
        }
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            Files.createFile(target);
        }
        // A pass-through disk is a device node: that mount may not be nodev.
        String options = (writable ? "" : "ro,") + (Files.isRegularFile(file) ? "nosuid,nodev" : "nosuid");
        run(programs.mount(), "--bind", "-o", options, file.toString(), target.toString());
        return target;
    }

    /** Hides a file {@link #expose}d earlier from the worker again, and gives it back if it was given. */
    public void withdraw(VmFiles files, Path file) throws IOException {
        Path target = mediaPath(files, file);
        if (mounted(target)) {
            run(programs.umount(), target.toString());
        }
        Files.deleteIfExists(target);
        giveBack(files, file);
    }

    /**
     * Lets the VM's user connect to a socket the engine made for its worker (the one a save is streamed into).
     * {@code chown -h} never follows a link: the run folder is the worker's, which could have put one there.
     */
    public void handOver(Path socket, Owner owner) throws IOException {
        run(programs.chown(), "-h", owner.toString(), socket.toString());
    }

    /**
     * Undoes {@link #prepare} once the worker has ended: unmounts the media folder and what was mounted in it,
     * and gives the files outside the VM's own folders back to their previous owners. Safe to repeat.
     */
    public void release(VmFiles files) throws IOException {
        if (programs != null) {
            List<Path> mounts = mountsUnder(files.mediaDir());
            for (Path mount : mounts.reversed()) {
                run(programs.umount(), mount.toString());
            }
            if (Files.isDirectory(files.mediaDir())) {
                try (Stream<Path> leftovers = Files.list(files.mediaDir())) {
                    for (Path leftover : leftovers.toList()) {
                        Files.deleteIfExists(leftover);
                    }
                }
            }
        }
        giveBack(files, null);
    }

    /** Gives {@code only} (or, if null, every file) given to the VM's user back to its previous owner. */
    private static void giveBack(VmFiles files, Path only) throws IOException {
        if (!Files.exists(files.grants())) {
            return;
        }
        List<String> kept = new ArrayList<>();
        for (String line : Files.readAllLines(files.grants())) {
            int tab = line.indexOf('\t');
            if (tab < 0) {
                continue;
            }
            Path file = Path.of(line.substring(tab + 1));
            if (only != null && !only.equals(file)) {
                kept.add(line);
                continue;
            }
            String[] was = line.substring(0, tab).split(":");
            if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
                chown(file, new Owner(Integer.parseInt(was[0]), Integer.parseInt(was[1])), Integer.parseInt(was[2], 8));
            }
        }
        if (kept.isEmpty()) {
            Files.delete(files.grants());
        } else {
            Files.write(files.grants(), kept);
        }
    }

    /** The files the definition opens: disks (and bases), kernel and initramfs, ISO and CD. */
    private static List<Path> images(VmDefinition def, UnaryOperator<Path> resolve) {
        List<Path> images = new ArrayList<>();
        for (Disk disk : def.disks()) {
            images.add(disk.hostDevice() ? disk.path() : resolve.apply(disk.path()));
            if (disk.backing() != null) {
                images.add(resolve.apply(disk.backing().path()));
            }
        }
        switch (def.boot()) {
            case BootSource.Kernel k -> {
                images.add(resolve.apply(k.kernel()));
                if (k.initramfs() != null) {
                    images.add(resolve.apply(k.initramfs()));
                }
            }
            case BootSource.Iso iso -> images.add(resolve.apply(iso.image()));
            case BootSource.FirstDisk d -> {
            }
        }
        if (def.cdrom() != null && !def.cdrom().isEmpty()) {
            images.add(resolve.apply(def.cdrom().medium()));
        }
        return images.stream().distinct().toList();
    }

    /**
     * A file the worker only reads is left as it is when anyone may read it (a library item, a kernel); one only
     * its owner may read (a seed image) is given to the VM's user read-only, and back when the worker ends.
     */
    private static void grantReadable(VmFiles files, Path file, Owner owner, Path ownImages) throws IOException {
        int mode = (Integer) Files.getAttribute(file, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if ((mode & 0004) == 0) {
            grant(files, file, owner, ownImages, 0400);
        }
    }

    /** Gives a file to the VM's user, noting its owner to give it back, unless it is the VM's own. */
    private static void grant(VmFiles files, Path file, Owner owner, Path ownImages, int newMode) throws IOException {
        int uid = (Integer) Files.getAttribute(file, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        if (uid == owner.uid()) {
            return;
        }
        if (!file.toAbsolutePath().normalize().startsWith(ownImages)) {
            int gid = (Integer) Files.getAttribute(file, "unix:gid", LinkOption.NOFOLLOW_LINKS);
            int mode = (Integer) Files.getAttribute(file, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777;
            Files.writeString(files.grants(), uid + ":" + gid + ":" + Integer.toOctalString(mode) + "\t" + file + "\n",
                    StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }
        chown(file, owner, newMode);
    }

    private static void chown(Path file, Owner owner, int mode) throws IOException {
        Files.setAttribute(file, "unix:uid", owner.uid(), LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(file, "unix:gid", owner.gid(), LinkOption.NOFOLLOW_LINKS);
        if (!Files.isSymbolicLink(file)) {
            Files.setAttribute(file, "unix:mode", mode, LinkOption.NOFOLLOW_LINKS);
        }
    }

    /** One name per file: the same image exposed twice is mounted once. */
    private static Path mediaPath(VmFiles files, Path file) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(file.toString().getBytes(StandardCharsets.UTF_8));
            return files.mediaDir().resolve(HexFormat.of().formatHex(digest, 0, 8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static boolean mounted(Path path) throws IOException {
        return mountsUnder(path).contains(path);
    }

    /** The mount points at or under {@code dir}, outermost first, from the engine's own mount table. */
    static List<Path> mountsUnder(Path dir) throws IOException {
        List<Path> found = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] fields = line.split(" ");
            if (fields.length > 4) {
                Path point = Path.of(FileTrees.unescape(fields[4]));
                if (point.startsWith(dir)) {
                    found.add(point);
                }
            }
        }
        found.sort(Comparator.comparingInt(Path::getNameCount));
        return found;
    }

    private static void run(Path program, String... args) throws IOException {
        List<String> argv = new ArrayList<>();
        argv.add(program.toString());
        argv.addAll(List.of(args));
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", argv) + " did not finish within 30 s");
            }
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", argv) + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + program, e);
        }
    }

    // ---------------------------------------------------------------- probing

    private static boolean runsAsRoot() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("Uid:"))
                    .map(l -> l.split("\\s+")[2]).anyMatch("0"::equals);
        } catch (IOException e) {
            return false;
        }
    }

    private static Optional<Path> program(String name, List<String> missing) {
        String path = Optional.ofNullable(System.getenv("PATH")).orElse("") + ":/usr/sbin:/usr/bin:/sbin:/bin";
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
                return Optional.of(Path.of(dir, name));
            }
        }
        missing.add(name + " is not installed (util-linux)");
        return Optional.empty();
    }

    /** Why QEMU will not run with the sandbox (built without seccomp, or a kernel without it), if it will not. */
    private static Optional<String> sandboxRefusal(Path qemu) {
        List<String> argv = new ArrayList<>(List.of(qemu.toString()));
        argv.addAll(SANDBOX);
        argv.addAll(List.of("-machine", "none", "-nodefaults", "-no-user-config", "-display", "none", "-S", "-qmp", "stdio"));
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            try (var in = p.getOutputStream()) {
                in.write("{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"quit\"}\n".getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                // A QEMU that refuses the sandbox may have ended before it read this (a broken pipe): its words follow.
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return Optional.of("QEMU did not start with its seccomp sandbox within 20 s");
            }
            return p.exitValue() == 0 ? Optional.empty()
                    : Optional.of("QEMU refuses its seccomp sandbox (-sandbox): " + lastLine(out));
        } catch (IOException e) {
            return Optional.of("QEMU could not be run to check its seccomp sandbox: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.of("interrupted while checking QEMU's seccomp sandbox");
        }
    }

    private static String lastLine(String out) {
        List<String> lines = out.lines().filter(l -> !l.isBlank() && !l.startsWith("{")).toList();
        return lines.isEmpty() ? out.trim() : lines.getLast().trim();
    }

    /** The group that may open /dev/kvm, which a worker using KVM keeps. */
    private static Optional<Integer> kvmGroup() {
        try {
            return Optional.of((Integer) Files.getAttribute(Path.of("/dev/kvm"), "unix:gid"));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static String script() {
        try (InputStream in = WorkerJail.class.getResourceAsStream("confine.sh")) {
            if (in == null) {
                throw new IllegalStateException("confine.sh is missing from the engine's resources");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
