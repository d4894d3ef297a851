package dev.deploytool.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class ClassifierTest {
    private static final TensorSpec OUT = new TensorSpec(TensorSpec.DType.INT8, new int[] {1, 3}, 0.5f, 0);

    @Test
    public void imageToLabelledTopK() throws Exception {
        ModelBundle bundle = Fixtures.bundle(Fixtures.properties());
        TensorSpec in = new TensorSpec(TensorSpec.DType.INT8, new int[] {1, 2, 2, 1}, 1f / 255f, -128);
        Classifier classifier = new Classifier(bundle, new Fixtures.Echo(in, OUT));
        Classification result = classifier.classify(Fixtures.grey(2, 2, 10, 200, 30, 0), 2);
        assertEquals("one", result.top.get(0).label);
        assertEquals("two", result.top.get(1).label);
        // bytes are pixel - 128; the echoed logits are (byte) * 0.5
        assertArrayEquals(new float[] {-59f, 36f, -49f}, result.outputs, 0f);
        assertEquals(1f, result.scores[0] + result.scores[1] + result.scores[2], 1e-6f);
        assertTrue(result.inferenceMillis() >= 0);
    }

    @Test
    public void quantizationComesFromTheInterpreterAtRunTime() throws Exception {
        ModelBundle bundle = Fixtures.bundle(Fixtures.properties());
        TensorSpec in = new TensorSpec(TensorSpec.DType.INT8, new int[] {1, 2, 2, 1}, 2f / 255f, 0);
        Classifier classifier = new Classifier(bundle, new Fixtures.Echo(in, OUT));
        assertArrayEquals(new byte[] {5, 100, 15, 0}, classifier.encode(Fixtures.grey(2, 2, 10, 200, 30, 0)));
    }

    @Test
    public void modelThatDoesNotFitTheBundleIsRefused() throws Exception {
        ModelBundle bundle = Fixtures.bundle(Fixtures.properties());
        TensorSpec wrong = new TensorSpec(TensorSpec.DType.FLOAT32, new int[] {1, 2, 2, 1}, 0f, 0);
        IllegalStateException error = assertThrows(IllegalStateException.class,
                () -> new Classifier(bundle, new Fixtures.Echo(wrong, OUT)));
        assertTrue(error.getMessage(), error.getMessage().startsWith("the model's input is FLOAT32 (1, 2, 2, 1)"));
    }
}
