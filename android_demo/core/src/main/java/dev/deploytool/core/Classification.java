package dev.deploytool.core;

import java.util.List;

/** One classified image: the ranked predictions, all scores, and the interpreter's time. */
public final class Classification {
    public final List<Prediction> top;
    public final float[] outputs;
    public final float[] scores;
    public final long inferenceNanos;

    public Classification(List<Prediction> top, float[] outputs, float[] scores, long inferenceNanos) {
        this.top = top;
        this.outputs = outputs;
        this.scores = scores;
        this.inferenceNanos = inferenceNanos;
    }

    /** Interpreter time in milliseconds. */
    public double inferenceMillis() {
        return inferenceNanos / 1e6;
    }
}
