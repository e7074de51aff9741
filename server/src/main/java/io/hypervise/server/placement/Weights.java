package io.hypervise.server.placement;

/**
 * How much each resource counts when hosts are rated, as an administrator sets it: a host's score is
 * the weighted mean of its free shares of CPU, memory and local storage after placing. Weights are
 * relative (1, 1, 1 is the same as 2, 2, 2); a weight of 0 leaves that resource out of the score (it
 * still refuses a host it does not fit on, except CPU, which never refuses).
 */
public record Weights(double cpu, double memory, double storage) {

    public static final Weights DEFAULT = new Weights(1, 1, 1);

    public Weights {
        check("cpu", cpu);
        check("memory", memory);
        check("storage", storage);
        if (cpu == 0 && memory == 0 && storage == 0) {
            throw new IllegalArgumentException(
                    "weights: at least one of cpu, memory and storage must be above 0; all three are 0");
        }
    }

    private static void check(String field, double weight) {
        if (!Double.isFinite(weight) || weight < 0) {
            throw new IllegalArgumentException("weights." + field + " must be a number of 0 or more; was " + weight);
        }
    }

    double sum() {
        return cpu + memory + storage;
    }

    /** "CPU 1, memory 2, storage 0". */
    String describe() {
        return "CPU " + number(cpu) + ", memory " + number(memory) + ", storage " + number(storage);
    }

    private static String number(double value) {
        String s = Double.toString(value);
        return s.endsWith(".0") ? s.substring(0, s.length() - 2) : s;
    }
}
