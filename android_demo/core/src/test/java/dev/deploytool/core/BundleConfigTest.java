package dev.deploytool.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Properties;
import org.junit.Test;

public class BundleConfigTest {
    @Test
    public void readsTensorsAndPreprocessing() throws Exception {
        BundleConfig config = Fixtures.config(Fixtures.properties());
        assertEquals(TensorSpec.DType.INT8, config.input.dtype);
        assertEquals(-128, config.input.zeroPoint);
        assertEquals(1f / 255f, config.input.scale, 0f);
        assertEquals(3, config.classes);
        assertEquals(2, config.preprocessing.width);
        assertArrayEquals(new float[] {(float) (1.0 / 255.0)}, config.preprocessing.scale, 0f);
        assertEquals(false, config.preprocessing.bgr);
        assertEquals("softmax", config.postprocess);
    }

    @Test
    public void readsPerChannelPreprocessingAndBgrOrder() throws Exception {
        Properties p = Fixtures.properties();
        p.setProperty("input.shape", "1,2,2,3");
        p.setProperty("preprocess.channels", "3");
        p.setProperty("preprocess.scale", "1.0, 0.5, 0.25");
        p.setProperty("preprocess.offset", "-103.939,-116.779,-123.68");
        p.setProperty("preprocess.channel_order", "BGR");
        BundleConfig config = Fixtures.config(p);
        assertArrayEquals(new float[] {1f, 0.5f, 0.25f}, config.preprocessing.scale, 0f);
        assertArrayEquals(new float[] {-103.939f, -116.779f, -123.68f}, config.preprocessing.offset, 0f);
        assertEquals(true, config.preprocessing.bgr);
    }

    @Test
    public void unknownChannelOrderIsRefused() {
        Properties p = Fixtures.properties();
        p.setProperty("preprocess.channel_order", "GBR");
        assertThrows(IllegalArgumentException.class, () -> Fixtures.config(p));
    }

    @Test
    public void missingKeyIsNamed() {
        Properties p = Fixtures.properties();
        p.remove("input.dtype");
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> Fixtures.config(p));
        assertEquals("bundle.properties has no input.dtype", error.getMessage());
    }

    @Test
    public void otherFormatVersionIsRefused() {
        Properties p = Fixtures.properties();
        p.setProperty("format", "deploytool-bundle/99");
        assertThrows(IllegalArgumentException.class, () -> Fixtures.config(p));
    }

    @Test
    public void inputShapeMustMatchPreprocessing() {
        Properties p = Fixtures.properties();
        p.setProperty("input.shape", "1,3,2,1");
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> Fixtures.config(p));
        assertTrue(error.getMessage(), error.getMessage().contains("does not match the preprocessing"));
    }

    @Test
    public void outputMustBeOneScorePerClass() {
        Properties p = Fixtures.properties();
        p.setProperty("output.shape", "1,4");
        assertThrows(IllegalArgumentException.class, () -> Fixtures.config(p));
    }

    @Test
    public void aDecisionThresholdTakesOneScoreForTwoClassesOnly() throws Exception {
        Properties p = Fixtures.properties();
        p.setProperty("output.shape", "1,1");
        p.setProperty("classes", "2");
        p.setProperty("decision.threshold", "0.5");
        assertEquals(0.5f, Fixtures.config(p).decisionThreshold, 0f);
        assertEquals(null, Fixtures.config(Fixtures.properties()).decisionThreshold);
        p.setProperty("output.shape", "1,2");
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> Fixtures.config(p));
        assertTrue(error.getMessage(), error.getMessage().startsWith("decision.threshold is for one score"));
    }

    @Test
    public void labelCountMustEqualClasses() throws Exception {
        BundleConfig config = Fixtures.config(Fixtures.properties());
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> new ModelBundle("bundle", config, Arrays.asList("a", "b")));
        assertEquals("labels.txt has 2 labels but the model gives 3 classes", error.getMessage());
    }

    @Test
    public void labelsAreLinesWithoutTrailingBlank() throws Exception {
        byte[] text = "cat\nsnow leopard\n\n".getBytes(StandardCharsets.UTF_8);
        assertEquals(Arrays.asList("cat", "snow leopard"), ModelBundle.readLabels(new ByteArrayInputStream(text)));
    }
}
