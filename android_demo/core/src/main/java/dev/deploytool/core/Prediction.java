package dev.deploytool.core;

import java.util.Locale;

/** One ranked class: its index in the model output, its label and its score. */
public final class Prediction {
    public final int index;
    public final String label;
    public final float score;

    public Prediction(int index, String label, float score) {
        this.index = index;
        this.label = label;
        this.score = score;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s %.3f", label, score);
    }
}
