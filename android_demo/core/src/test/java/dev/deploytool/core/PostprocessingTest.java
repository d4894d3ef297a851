package dev.deploytool.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import java.util.Arrays;
import java.util.List;
import org.junit.Test;

public class PostprocessingTest {
    @Test
    public void softmaxSumsToOneAndKeepsOrder() {
        float[] p = Postprocessing.softmax(new float[] {1f, 2f, 3f});
        assertEquals(1f, p[0] + p[1] + p[2], 1e-6f);
        assertEquals(0.09003057f, p[0], 1e-7f);
        assertEquals(0.66524096f, p[2], 1e-7f);
    }

    @Test
    public void softmaxIsStableForLargeLogits() {
        float[] p = Postprocessing.softmax(new float[] {1000f, 1000f});
        assertArrayEquals(new float[] {0.5f, 0.5f}, p, 0f);
    }

    @Test
    public void noneLeavesOutputsAlone() {
        assertArrayEquals(new float[] {3f, -1f}, Postprocessing.apply("none", new float[] {3f, -1f}), 0f);
        assertThrows(IllegalArgumentException.class, () -> Postprocessing.apply("sigmoid", new float[1]));
    }

    @Test
    public void topKIsLargestFirstAndTiesGoToTheLowerIndex() {
        assertArrayEquals(new int[] {2, 0, 3}, Postprocessing.topK(new float[] {5f, 1f, 9f, 5f}, 3));
        assertArrayEquals(new int[] {0, 1}, Postprocessing.topK(new float[] {2f, 2f}, 5));
    }

    @Test
    public void predictionsCarryLabelsAndScores() {
        List<Prediction> top = Postprocessing.predictions(new float[] {0.1f, 0.7f, 0.2f},
                Arrays.asList("cat", "dog", "fox"), 2);
        assertEquals("dog", top.get(0).label);
        assertEquals(1, top.get(0).index);
        assertEquals("fox 0.200", top.get(1).toString());
    }

    @Test
    public void aSingleProbabilityDecidesOverHalfAndAtHalfExactlySaysNo() {
        List<String> labels = Arrays.asList("no", "yes");
        List<Prediction> yes = Postprocessing.binaryPredictions(0.8f, 0.5f, labels, 2);
        assertEquals("yes 0.800", yes.get(0).toString());
        assertEquals("no 0.200", yes.get(1).toString());
        assertEquals("no", Postprocessing.binaryPredictions(0.5f, 0.5f, labels, 1).get(0).label);
        assertEquals(1, Postprocessing.binaryPredictions(0.8f, 0.5f, labels, 1).size());
        assertEquals(1, Postprocessing.decide(new float[] {0.8f}, 0.5f));
        assertEquals(0, Postprocessing.decide(new float[] {0.5f}, 0.5f));
    }

    @Test
    public void aSingleLogitDecidesOverZeroWithItsLogisticAsProbability() {
        List<Prediction> top = Postprocessing.binaryPredictions(-2f, 0f, Arrays.asList("no", "yes"), 2);
        assertEquals("no", top.get(0).label);
        assertEquals(1f - 0.11920292f, top.get(0).score, 1e-6f);
        assertEquals(0, Postprocessing.decide(new float[] {-2f}, 0f));
        assertEquals(2, Postprocessing.decide(new float[] {0.1f, 0.2f, 0.7f}, null));
    }
}
