package io.hypervise.engine.template;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * What a VM learns at its first boot: host name, a user, that user's SSH keys and password, in
 * cloud-init's NoCloud format (https://cloudinit.readthedocs.io/en/latest/reference/datasources/nocloud.html):
 * a small volume labelled {@code cidata} holding {@code meta-data} and {@code user-data}. The debian-12
 * template reads it with its own first-boot unit; a guest with cloud-init reads the same volume.
 *
 * @param instanceId what makes the guest apply a seed once: a new id is applied at the next boot
 */
public record NoCloudSeed(String instanceId, String hostName, Optional<User> user) {

    /**
     * @param passwordHash a crypt(3) hash such as {@code openssl passwd -6} prints; without it the
     *     user's password is locked and only the keys log in
     * @param sudo whether the user may run any command as root without a password
     */
    public record User(String name, List<String> sshAuthorizedKeys, Optional<String> passwordHash, boolean sudo) {
        public User {
            sshAuthorizedKeys = List.copyOf(sshAuthorizedKeys);
            require(USER_NAME.matcher(name).matches(), "user name '" + name + "' is not a valid login name ([a-z_][a-z0-9_-]*, at most 32 characters)");
            for (String key : sshAuthorizedKeys) {
                require(SSH_KEY.matcher(key).matches(), "'" + key + "' is not an SSH public key line (type, base64 key, optional comment)");
            }
            passwordHash.ifPresent(hash -> require(PASSWORD_HASH.matcher(hash).matches(),
                    "the password hash must be a crypt(3) hash like '$6$salt$hash' (openssl passwd -6), not a password"));
        }
    }

    /** The volume's label, which cloud-init and the template's first-boot unit look for. */
    public static final String LABEL = "cidata";
    public static final String FILE_EXTENSION = ".img";

    private static final Pattern HOST_NAME = Pattern.compile(
            "(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*");
    private static final Pattern USER_NAME = Pattern.compile("[a-z_][a-z0-9_-]{0,31}");
    private static final Pattern SSH_KEY = Pattern.compile("(ssh-|ecdsa-|sk-)[a-z0-9@.-]+ [A-Za-z0-9+/=]+( [\\x20-\\x7e]*)?");
    private static final Pattern PASSWORD_HASH = Pattern.compile("\\$[A-Za-z0-9]+\\$[A-Za-z0-9./$=,+-]+");
    private static final Pattern INSTANCE_ID = Pattern.compile("[A-Za-z0-9._-]{1,128}");
    /** The size of the volume {@link #writeVfat} writes. */
    public static final long BYTES = 1 << 20;
    private static final long VOLUME_BYTES = BYTES;
    private static final Duration TOOL_TIMEOUT = Duration.ofMinutes(1);

    public NoCloudSeed {
        require(INSTANCE_ID.matcher(instanceId).matches(), "instance id '" + instanceId + "' must be 1 to 128 of A-Z a-z 0-9 . _ -");
        require(HOST_NAME.matcher(hostName).matches(), "host name '" + hostName + "' is not a valid host name (RFC 1123)");
    }

    /** A seed with a fresh instance id: the guest applies it at its next boot. */
    public static NoCloudSeed of(String hostName, Optional<User> user) {
        return new NoCloudSeed("iid-" + UUID.randomUUID(), hostName, user);
    }

    public String metaData() {
        return "instance-id: " + instanceId + "\nlocal-hostname: " + hostName + "\n";
    }

    /** #cloud-config with a users: list; the subset the template's first-boot unit reads too. */
    public String userData() {
        StringBuilder yaml = new StringBuilder("#cloud-config\n");
        if (user.isEmpty()) {
            return yaml.toString();
        }
        User u = user.get();
        yaml.append("users:\n");
        yaml.append("  - name: ").append(quoted(u.name())).append('\n');
        yaml.append("    shell: /bin/bash\n");
        yaml.append("    lock_passwd: ").append(u.passwordHash().isEmpty()).append('\n');
        u.passwordHash().ifPresent(hash -> yaml.append("    hashed_passwd: ").append(quoted(hash)).append('\n'));
        if (u.sudo()) {
            yaml.append("    sudo: ").append(quoted("ALL=(ALL) NOPASSWD:ALL")).append('\n');
        }
        if (!u.sshAuthorizedKeys().isEmpty()) {
            yaml.append("    ssh_authorized_keys:\n");
            for (String key : u.sshAuthorizedKeys()) {
                yaml.append("      - ").append(quoted(key)).append('\n');
            }
        }
        return yaml.toString();
    }

    /**
     * Writes the seed as a 1 MiB FAT volume labelled cidata with mtools, without mounting anything.
     * Attach it to the VM as a raw disk (read-only is fine).
     */
    public void writeVfat(Path image) throws IOException {
        HostTools tools = new HostTools("writing a NoCloud seed volume");
        Path parent = image.toAbsolutePath().getParent();
        Path partial = Files.createTempFile(parent, ".seed-", FILE_EXTENSION);
        Path files = Files.createTempDirectory(parent, ".seed-files-");
        try {
            try (RandomAccessFile volume = new RandomAccessFile(partial.toFile(), "rw")) {
                volume.setLength(VOLUME_BYTES);
            }
            // 2048 sectors of 512 bytes; the geometry only has to multiply out to that.
            tools.run(TOOL_TIMEOUT, List.of("mformat", "-i", partial.toString(), "-T", "2048", "-h", "64", "-s", "32",
                    "-v", LABEL, "::"));
            Path meta = Files.writeString(files.resolve("meta-data"), metaData());
            Path userData = Files.writeString(files.resolve("user-data"), userData());
            tools.run(TOOL_TIMEOUT, List.of("mcopy", "-i", partial.toString(), meta.toString(), userData.toString(), "::"));
            Files.move(partial, image, StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(partial);
            Files.deleteIfExists(files.resolve("meta-data"));
            Files.deleteIfExists(files.resolve("user-data"));
            Files.deleteIfExists(files);
        }
    }

    /** A YAML single-quoted scalar: the only escape is a doubled quote. Values were checked to be one line. */
    static String quoted(String value) {
        return "'" + value.replace("'", "''") + "'";
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }
}
