package dev.deploytool.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * Proves on the device that the deployed model computes what {@code deploytool verify} measured:
 * each golden PNG is preprocessed here and must give exactly the input bytes Python gave, and the
 * device interpreter's outputs must match the expected outputs (max abs within the bundle's
 * tolerance, same top-1).
 */
public final class SelfTest {
    /** The outcome for one golden sample. */
    public static final class Result {
        public final String image;
        public final int inputBytesDiffering;
        public final float maxAbs;
        public final int expectedTop1;
        public final int top1;
        public final boolean passed;

        Result(String image, int inputBytesDiffering, float maxAbs, int expectedTop1, int top1, boolean passed) {
            this.image = image;
            this.inputBytesDiffering = inputBytesDiffering;
            this.maxAbs = maxAbs;
            this.expectedTop1 = expectedTop1;
            this.top1 = top1;
            this.passed = passed;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s %s: input bytes %s, max abs %.3g, top-1 %d (expected %d)",
                    passed ? "PASS" : "FAIL", image,
                    inputBytesDiffering == 0 ? "identical" : inputBytesDiffering + " differ",
                    maxAbs, top1, expectedTop1);
        }
    }

    /** All results, and the one-line verdict. */
    public static final class Report {
        public final List<Result> results;
        public final float tolerance;

        Report(List<Result> results, float tolerance) {
            this.results = Collections.unmodifiableList(results);
            this.tolerance = tolerance;
        }

        public int passedCount() {
            int count = 0;
            for (Result result : results) {
                count += result.passed ? 1 : 0;
            }
            return count;
        }

        /** True when there was at least one sample and every sample passed. */
        public boolean passed() {
            return !results.isEmpty() && passedCount() == results.size();
        }

        public String summary() {
            return String.format(Locale.ROOT, "self-test %s: %d of %d golden samples match (tolerance %.3g)",
                    passed() ? "passed" : "FAILED", passedCount(), results.size(), tolerance);
        }
    }

    private SelfTest() {
    }

    /** Runs every golden sample of {@code bundle} through {@code classifier}. */
    public static Report run(ModelBundle bundle, AssetSource assets, Classifier classifier) throws Exception {
        BundleConfig config = bundle.config;
        List<Result> results = new ArrayList<>();
        for (BundleConfig.Golden golden : config.goldens) {
            byte[] input = classifier.encode(assets.decodeImage(bundle.path(golden.image)));
            byte[] expectedInput = bundle.readBytes(assets, golden.input);
            float[] expected = floats(bundle.readBytes(assets, golden.expected));
            Classification got = classifier.classifyEncoded(input, 1);
            int differing = differingBytes(input, expectedInput);
            float maxAbs = maxAbs(got.outputs, expected);
            int expectedTop1 = Postprocessing.decide(expected, config.decisionThreshold);
            int top1 = got.top.get(0).index;
            boolean passed = differing == 0 && maxAbs <= config.goldenTolerance && top1 == expectedTop1;
            results.add(new Result(golden.image, differing, maxAbs, expectedTop1, top1, passed));
        }
        return new Report(results, config.goldenTolerance);
    }

    static int differingBytes(byte[] a, byte[] b) {
        int count = Math.abs(a.length - b.length);
        for (int i = 0; i < Math.min(a.length, b.length); i++) {
            count += a[i] != b[i] ? 1 : 0;
        }
        return count;
    }

    static float maxAbs(float[] a, float[] b) {
        if (a.length != b.length) {
            return Float.POSITIVE_INFINITY;
        }
        float max = 0f;
        for (int i = 0; i < a.length; i++) {
            float diff = Math.abs(a[i] - b[i]);
            max = Float.isNaN(diff) ? Float.POSITIVE_INFINITY : Math.max(max, diff);
        }
        return max;
    }

    /** Little-endian float32 values. */
    static float[] floats(byte[] bytes) {
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        float[] values = new float[bytes.length / 4];
        for (int i = 0; i < values.length; i++) {
            values[i] = buffer.getFloat();
        }
        return values;
    }
}
