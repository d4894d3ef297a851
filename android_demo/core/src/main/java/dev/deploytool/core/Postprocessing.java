package dev.deploytool.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Model outputs to ranked, labelled scores: optional softmax, then top-k; or, for a model with one
 * score per image (a binary head), its decision over a threshold.
 */
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

    /**
     * The class {@code scores} decide: the top one, or, given the {@code threshold} of a single
     * score, 1 when the score is over it (as deploytool's comparator decides), else 0.
     */
    public static int decide(float[] scores, Float threshold) {
        return threshold == null ? topK(scores, 1)[0] : (scores[0] > threshold ? 1 : 0);
    }

    /**
     * A single score's two predictions, the decided class first, each with its probability: the
     * score itself over 0.5, the logistic of a logit over 0.
     */
    public static List<Prediction> binaryPredictions(float score, float threshold, List<String> labels, int k) {
        float over = threshold == 0f ? (float) (1.0 / (1.0 + Math.exp(-(double) score))) : score;
        int decided = decide(new float[] {score}, threshold);
        List<Prediction> result = new ArrayList<>();
        result.add(new Prediction(decided, labels.get(decided), decided == 1 ? over : 1f - over));
        if (k > 1) {
            result.add(new Prediction(1 - decided, labels.get(1 - decided), decided == 1 ? 1f - over : over));
        }
        return result;
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
