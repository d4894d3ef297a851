package dev.deploytool.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/** Model outputs to ranked, labelled scores: optional softmax, then top-k. */
public final class Postprocessing {
    private Postprocessing() {
    }

    /** Softmax over all values, computed as exp(x - max) / sum for numerical stability. */
    public static float[] softmax(float[] logits) {
        float max = Float.NEGATIVE_INFINITY;
        for (float value : logits) {
            max = Math.max(max, value);
        }
        double sum = 0;
        double[] exps = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            exps[i] = Math.exp((double) logits[i] - max);
            sum += exps[i];
        }
        float[] out = new float[logits.length];
        for (int i = 0; i < logits.length; i++) {
            out[i] = (float) (exps[i] / sum);
        }
        return out;
    }

    /** Applies the bundle's post-processing step ("softmax" or "none"). */
    public static float[] apply(String step, float[] outputs) {
        if ("softmax".equals(step)) {
            return softmax(outputs);
        }
        if ("none".equals(step) || step == null || step.isEmpty()) {
            return outputs.clone();
        }
        throw new IllegalArgumentException("unknown post-processing step " + step + " (softmax or none)");
    }

    /** Indices of the k largest scores, largest first; ties go to the lower index (as numpy's argmax). */
    public static int[] topK(float[] scores, int k) {
        Integer[] order = new Integer[scores.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparing((Integer i) -> scores[i]).reversed()
                .thenComparing(i -> i));
        int count = Math.min(k, scores.length);
        int[] top = new int[count];
        for (int i = 0; i < count; i++) {
            top[i] = order[i];
        }
        return top;
    }

    /** The k best predictions with their labels. */
    public static List<Prediction> predictions(float[] scores, List<String> labels, int k) {
        List<Prediction> result = new ArrayList<>();
        for (int index : topK(scores, k)) {
            result.add(new Prediction(index, labels.get(index), scores[index]));
        }
        return result;
    }
}
