package io.hypervise.engine.template;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.tukaani.xz.XZInputStream;

/**
 * The modules of one kernel release as a Debian package ships them (lib/modules/VERSION). The
 * package carries no modules.dep (depmod writes it at install time), so dependencies are read from
 * each module's own {@code .modinfo} "depends=" entry, which is what depmod reads too.
 */
final class KernelModules {

    /** A module ready to be loaded with insmod: its name and its uncompressed bytes. */
    record Module(String name, byte[] content) {}

    @FunctionalInterface
    interface Dependencies {
        /** The modules the named module needs loaded first; null when there is no such module. */
        List<String> of(String name) throws IOException;
    }

    private final Path directory;
    private final Map<String, Path> files;
    private final Set<String> builtIn;
    private final Map<String, Module> loaded = new HashMap<>();

    private KernelModules(Path directory, Map<String, Path> files, Set<String> builtIn) {
        this.directory = directory;
        this.files = files;
        this.builtIn = builtIn;
    }

    /** @param directory a kernel's module directory, e.g. {@code lib/modules/6.1.0-56-amd64} */
    static KernelModules index(Path directory) throws IOException {
        Map<String, Path> files = new HashMap<>();
        try (Stream<Path> walk = Files.walk(directory)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                String name = moduleName(p.getFileName().toString());
                if (name != null && Files.isRegularFile(p)) {
                    files.putIfAbsent(name, p);
                }
            }
        }
        if (files.isEmpty()) {
            throw new IOException("no kernel modules (*.ko) found under " + directory);
        }
        Set<String> builtIn = new HashSet<>();
        Path builtInList = directory.resolve("modules.builtin");
        if (Files.isRegularFile(builtInList)) {
            for (String line : Files.readAllLines(builtInList)) {
                String name = moduleName(line.substring(line.lastIndexOf('/') + 1).strip());
                if (name != null) {
                    builtIn.add(name);
                }
            }
        }
        return new KernelModules(directory, files, builtIn);
    }

    /**
     * The wanted modules and everything they depend on, each dependency before its users, which is
     * the order insmod needs. Wanted modules built into the kernel are left out.
     */
    List<Module> withDependencies(List<String> wanted) throws IOException {
        List<String> order = loadOrder(wanted.stream().filter(m -> !builtIn.contains(normalize(m))).toList(),
                name -> files.containsKey(name) ? dependencies(module(name)) : null);
        List<Module> modules = new ArrayList<>(order.size());
        for (String name : order) {
            modules.add(module(name));
        }
        return modules;
    }

    /** Depth-first, dependencies first; names are compared with '-' and '_' as one, like the kernel. */
    static List<String> loadOrder(List<String> wanted, Dependencies dependencies) throws IOException {
        Set<String> ordered = new LinkedHashSet<>();
        for (String name : wanted) {
            visit(normalize(name), "requested", dependencies, new HashSet<>(), ordered);
        }
        return List.copyOf(ordered);
    }

    private static void visit(String name, String neededBy, Dependencies dependencies, Set<String> path,
            Set<String> ordered) throws IOException {
        if (ordered.contains(name)) {
            return;
        }
        if (!path.add(name)) {
            throw new IOException("kernel modules depend on each other in a cycle through " + name);
        }
        List<String> needs = dependencies.of(name);
        if (needs == null) {
            throw new IOException("kernel module " + name + " (" + neededBy + ") is not in the kernel package");
        }
        for (String dependency : needs) {
            visit(normalize(dependency), "needed by " + name, dependencies, path, ordered);
        }
        path.remove(name);
        ordered.add(name);
    }

    private Module module(String name) throws IOException {
        Module cached = loaded.get(name);
        if (cached != null) {
            return cached;
        }
        Path file = files.get(name);
        Module module = new Module(name, read(file));
        loaded.put(name, module);
        return module;
    }

    private List<String> dependencies(Module module) throws IOException {
        String source = directory.relativize(files.get(module.name())).toString();
        byte[] modinfo = ElfFile.parse(source, ByteBuffer.wrap(module.content())).section(".modinfo")
                .orElseThrow(() -> new IOException(source + " has no .modinfo section; is it a kernel module?"));
        for (String entry : new String(modinfo, StandardCharsets.UTF_8).split("\0")) {
            if (entry.startsWith("depends=")) {
                String list = entry.substring("depends=".length());
                return list.isEmpty() ? List.of() : Arrays.asList(list.split(","));
            }
        }
        return List.of();
    }

    private static byte[] read(Path file) throws IOException {
        String fileName = file.getFileName().toString();
        if (fileName.endsWith(".ko")) {
            return Files.readAllBytes(file);
        }
        if (fileName.endsWith(".zst")) {
            throw new IOException("kernel module " + file + " is zstd-compressed, which the template builder cannot read yet"
                    + " (Debian 12 ships uncompressed modules; newer kernels may need a zstd decoder here)");
        }
        try (InputStream raw = Files.newInputStream(file);
                InputStream in = fileName.endsWith(".xz") ? new XZInputStream(raw) : new GZIPInputStream(raw)) {
            return in.readAllBytes();
        }
    }

    /** "virtio-blk.ko.xz" → "virtio_blk"; null for files that are not modules. */
    private static String moduleName(String fileName) {
        for (String suffix : List.of(".ko", ".ko.xz", ".ko.gz", ".ko.zst")) {
            if (fileName.endsWith(suffix)) {
                return normalize(fileName.substring(0, fileName.length() - suffix.length()));
            }
        }
        return null;
    }

    static String normalize(String name) {
        return name.replace('-', '_');
    }
}
