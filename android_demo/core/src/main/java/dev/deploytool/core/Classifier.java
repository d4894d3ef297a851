package dev.deploytool.core;

import java.util.Arrays;

/**
 * Image in, labelled top-k out: preprocessing, quantization with the scale and zero point the
 * interpreter reports at run time, inference, dequantization, post-processing and labels.
 */
public final class Classifier {
    private final ModelBundle bundle;
    private final InferenceEngine engine;
    private final TensorSpec input;
    private final TensorSpec output;

    /** Checks that the loaded model has the tensors the bundle describes. */
    public Classifier(ModelBundle bundle, InferenceEngine engine) {
        this.bundle = bundle;
        this.engine = engine;
        this.input = engine.inputSpec();
        this.output = engine.outputSpec();
        BundleConfig config = bundle.config;
        check("input", config.input, input);
        check("output", config.output, output);
    }

    private static void check(String which, TensorSpec bundled, TensorSpec loaded) {
        int[] a = bundled.shape.clone();
        int[] b = loaded.shape.clone();
        if (a.length > 0 && b.length > 0) {
            a[0] = 1;
            b[0] = 1;
        }
        if (!Arrays.equals(a, b) || bundled.dtype != loaded.dtype) {
            throw new IllegalStateException("the model's " + which + " is " + loaded.dtype + " "
                    + BundleConfig.join(loaded.shape) + " but the bundle says " + bundled.dtype + " "
                    + BundleConfig.join(bundled.shape) + "; bundle the model again");
        }
    }

    /** The input tensor bytes for {@code image}. */
    public byte[] encode(RgbImage image) {
        return Quantization.encode(bundle.config.preprocessing.apply(image), input);
    }

    /** Classifies an image. */
    public Classification classify(RgbImage image, int k) throws Exception {
        return classifyEncoded(encode(image), k);
    }

    /** Classifies already-encoded input bytes. */
    public Classification classifyEncoded(byte[] inputBytes, int k) throws Exception {
        long started = System.nanoTime();
        byte[] raw = engine.run(inputBytes);
        long elapsed = System.nanoTime() - started;
        float[] outputs = Quantization.decode(raw, output);
        float[] scores = Postprocessing.apply(bundle.config.postprocess, outputs);
        Float threshold = bundle.config.decisionThreshold;
        return new Classification(threshold == null ? Postprocessing.predictions(scores, bundle.labels, k)
                : Postprocessing.binaryPredictions(scores[0], threshold, bundle.labels, k), outputs, scores, elapsed);
    }

    /** The input tensor as the interpreter reports it. */
    public TensorSpec inputSpec() {
        return input;
    }
}
