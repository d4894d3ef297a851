package dev.deploytool.core;

/**
 * A loaded model: its input and output as the interpreter reports them at run time (shape, type,
 * scale, zero point), and one batch-1 inference on raw tensor bytes. The app implements it with
 * LiteRT's Interpreter; the core never depends on a runtime.
 */
public interface InferenceEngine {
    TensorSpec inputSpec();

    TensorSpec outputSpec();

    /** Runs the model on {@code input} (inputSpec().byteSize() bytes) and returns the output bytes. */
    byte[] run(byte[] input) throws Exception;
}
