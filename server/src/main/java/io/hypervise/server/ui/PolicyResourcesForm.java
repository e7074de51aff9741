package io.hypervise.server.ui;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.hypervise.engine.vm.definition.Resources;
import io.hypervise.server.api.FieldError;
import io.hypervise.server.policy.PolicyView;
import io.quarkus.qute.TemplateExtension;
import java.lang.reflect.RecordComponent;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The dialog that sets the resource controls a policy gives every VM its users create ({@code vmResources}), and
 * how the Policies page writes them. The fields are the API's, listed once in {@link #FIELDS}: the form, the page
 * and the parsing follow the list, and the ranges are the API's own (the service checks them, in
 * {@code VmDefinitionValidator.resourceRanges}), so a refusal names the same field with the same words.
 */
public record PolicyResourcesForm(PolicyView policy) {

    /**
     * One control as people type it: {@code name} is its field in the API's {@code vmResources}; the value typed is
     * in {@code unit}, {@code scale} times smaller than the API's (MiB/s for bytes per second).
     */
    public record Field(String name, String label, String unit, long scale, String hint) {

        /** The field's name in a refusal, as the API names it. */
        public String apiName() {
            return "vmResources." + name;
        }
    }

    /** The controls a policy may give each VM. Adding one is one line here (and its range in resourceRanges). */
    public static final List<Field> FIELDS = List.of(
            new Field("cpuWeight", "CPU weight", null, 1, "its share of contended CPU; every VM's default is "
                    + Resources.DEFAULT_CPU_WEIGHT),
            new Field("cpuCapPercent", "CPU cap", "%", 1, "of its vCPUs, whatever the host has free"),
            new Field("diskBytesPerSecond", "Disk throughput", "MiB/s", 1 << 20, "its disks together"),
            new Field("diskIops", "Disk operations", "per second", 1, "its disks together"),
            new Field("networkReceiveBitsPerSecond", "Network receive", "Mbit/s", 1_000_000,
                    "what each adapter on a switch takes in"),
            new Field("networkTransmitBitsPerSecond", "Network transmit", "Mbit/s", 1_000_000,
                    "what each adapter on a switch sends, where the host can police it"));

    private static final ObjectMapper JSON = JsonMapper.builder().build();
    private static final Pattern NUMBER = Pattern.compile("-?[0-9]{1,30}(\\.[0-9]{1,30})?");
    private static final BigInteger INT_MIN = BigInteger.valueOf(Integer.MIN_VALUE);
    private static final BigInteger INT_MAX = BigInteger.valueOf(Integer.MAX_VALUE);
    private static final BigInteger LONG_MIN = BigInteger.valueOf(Long.MIN_VALUE);
    private static final BigInteger LONG_MAX = BigInteger.valueOf(Long.MAX_VALUE);

    /** The type of each of the API's controls (Integer or Long), so that a number out of bounds is held within them. */
    private static final Map<String, Class<?>> COMPONENTS = Arrays.stream(Resources.class.getRecordComponents())
            .collect(Collectors.toMap(RecordComponent::getName, RecordComponent::getType));

    /** One field of the form with what the policy sets now, in the field's unit ("" where it sets nothing). */
    public record Row(Field field, String value) {
    }

    public List<Row> rows() {
        Map<String, Object> now = values(policy.vmResources());
        return FIELDS.stream().map(f -> new Row(f, now.get(f.name()) instanceof Number n ? inUnit(n, f) : "")).toList();
    }

    /**
     * The controls as the form sent them: each field of {@link #FIELDS} from its value (empty: none), the others as
     * the policy has them. A value that is not a whole number is refused by the API's name of its field.
     */
    static Resources parse(Resources now, Function<String, String> form, List<FieldError> v) {
        Map<String, Object> values = values(now);
        for (Field f : FIELDS) {
            String typed = form.apply(f.name());
            if (typed == null || typed.isBlank()) {
                values.put(f.name(), null);
                continue;
            }
            // Digits, as people type them (no exponents: "1e999999999" would take long to hold at a bound).
            BigDecimal number = NUMBER.matcher(typed.strip()).matches() ? new BigDecimal(typed.strip()) : null;
            // In a unit of its own (MiB/s), a fraction is fine: the API's value is the nearest whole one.
            BigDecimal api = number == null ? null : number.multiply(BigDecimal.valueOf(f.scale()));
            if (api == null || f.scale() == 1 && api.stripTrailingZeros().scale() > 0) {
                v.add(new FieldError(f.apiName(), "must be a " + (f.scale() == 1 ? "whole " : "") + "number; got '" + typed + "'"));
                continue;
            }
            // Beyond what its field can hold, a number is held at that bound, beyond the control's range: the API's
            // check then refuses it in its own words.
            BigInteger scaled = api.setScale(0, RoundingMode.HALF_UP).toBigIntegerExact();
            boolean isInt = COMPONENTS.get(f.name()) == Integer.class;
            values.put(f.name(), scaled.max(isInt ? INT_MIN : LONG_MIN).min(isInt ? INT_MAX : LONG_MAX).longValue());
        }
        return v.isEmpty() ? JSON.convertValue(values, Resources.class) : now;
    }

    /** The policy's controls as the Policies page lists them ("CPU weight 50", "Disk throughput 10 MiB/s"). */
    @TemplateExtension
    static List<String> described(Resources resources) {
        Map<String, Object> now = values(resources);
        List<String> lines = new ArrayList<>();
        for (Field f : FIELDS) {
            if (now.get(f.name()) instanceof Number n) {
                lines.add(f.label() + " " + inUnit(n, f) + (f.unit() == null ? "" : " " + f.unit()));
            }
        }
        return lines;
    }

    /** The API's value in the field's unit: 10485760 bytes/s is "10" MiB/s, 98304 is "0.09". */
    private static String inUnit(Number value, Field f) {
        return BigDecimal.valueOf(value.longValue()).divide(BigDecimal.valueOf(f.scale()), 2, RoundingMode.HALF_UP)
                .stripTrailingZeros().toPlainString();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> values(Resources resources) {
        return resources == null ? new LinkedHashMap<>()
                : new LinkedHashMap<>(JSON.convertValue(resources, Map.class));
    }
}
