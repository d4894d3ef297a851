package dev.deploytool.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import org.junit.Test;

public class SelfTestTest {
    private static final TensorSpec IN = new TensorSpec(TensorSpec.DType.INT8, new int[] {1, 2, 2, 1}, 1f / 255f, -128);
    private static final TensorSpec OUT = new TensorSpec(TensorSpec.DType.INT8, new int[] {1, 3}, 0.5f, 0);

    /** A bundle with one golden image whose recorded input and expected outputs are given. */
    private static Object[] setUp(byte[] recordedInput, float[] expected) throws Exception {
        Properties p = Fixtures.properties();
        p.setProperty("golden.count", "1");
        p.setProperty("golden.0.image", "golden/0.png");
        p.setProperty("golden.0.input", "golden/0.input.bin");
        p.setProperty("golden.0.expected", "golden/0.expected.bin");
        ModelBundle bundle = Fixtures.bundle(p);
        Fixtures.MemoryAssets assets = new Fixtures.MemoryAssets();
        assets.images.put("bundle/golden/0.png", Fixtures.grey(2, 2, 10, 200, 30, 0));
        assets.files.put("bundle/golden/0.input.bin", recordedInput);
        ByteBuffer floats = ByteBuffer.allocate(expected.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float value : expected) {
            floats.putFloat(value);
        }
        assets.files.put("bundle/golden/0.expected.bin", floats.array());
        assets.files.put("bundle/labels.txt", "zero\none\ntwo\n".getBytes(StandardCharsets.UTF_8));
        return new Object[] {bundle, assets};
    }

    private static SelfTest.Report run(byte[] recordedInput, float[] expected) throws Exception {
        Object[] parts = setUp(recordedInput, expected);
        ModelBundle bundle = (ModelBundle) parts[0];
        return SelfTest.run(bundle, (AssetSource) parts[1], new Classifier(bundle, new Fixtures.Echo(IN, OUT)));
    }

    private static final byte[] INPUT = {-118, 72, -98, -128};

    @Test
    public void matchingInputAndOutputsPass() throws Exception {
        SelfTest.Report report = run(INPUT, new float[] {-59f, 36f, -49f});
        assertTrue(report.summary(), report.passed());
        assertEquals("self-test passed: 1 of 1 golden samples match (tolerance 0.500)", report.summary());
    }

    @Test
    public void differentPreprocessingFails() throws Exception {
        byte[] shifted = INPUT.clone();
        shifted[3] += 1;
        SelfTest.Report report = run(shifted, new float[] {-59f, 36f, -49f});
        assertFalse(report.passed());
        assertEquals(1, report.results.get(0).inputBytesDiffering);
    }

    @Test
    public void outputsBeyondToleranceFail() throws Exception {
        SelfTest.Report report = run(INPUT, new float[] {-59f, 37f, -49f});
        assertFalse(report.passed());
        assertEquals(1f, report.results.get(0).maxAbs, 0f);
    }

    @Test
    public void anotherTop1Fails() throws Exception {
        SelfTest.Report report = run(INPUT, new float[] {-59f, 36f, 36.4f});
        assertFalse(report.passed());
        assertEquals(2, report.results.get(0).expectedTop1);
    }

    @Test
    public void noSamplesIsNotAPass() throws Exception {
        ModelBundle bundle = Fixtures.bundle(Fixtures.properties());
        SelfTest.Report report = SelfTest.run(bundle, new Fixtures.MemoryAssets(),
                new Classifier(bundle, new Fixtures.Echo(IN, OUT)));
        assertFalse(report.passed());
    }
}
