package dev.deploytool.core;

/**
 * A model input or output as the interpreter sees it: element type, shape and, for integer
 * tensors, the quantization scale and zero point (real = (q - zeroPoint) * scale).
 */
public final class TensorSpec {
    /** Element types the app handles. */
    public enum DType {
        FLOAT32(4), INT8(1), UINT8(1);

        public final int bytes;

        DType(int bytes) {
            this.bytes = bytes;
        }

        /** Parses "float32", "int8" or "uint8" (as numpy and the bundle write them). */
        public static DType parse(String name) {
            switch (name.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "float32": return FLOAT32;
                case "int8": return INT8;
                case "uint8": return UINT8;
                default: throw new IllegalArgumentException("unsupported tensor type " + name
                        + " (float32, int8 or uint8)");
            }
        }
    }

    public final DType dtype;
    public final int[] shape;
    public final float scale;
    public final int zeroPoint;

    public TensorSpec(DType dtype, int[] shape, float scale, int zeroPoint) {
        this.dtype = dtype;
        this.shape = shape.clone();
        this.scale = scale;
        this.zeroPoint = zeroPoint;
        if (dtype != DType.FLOAT32 && !(scale > 0f)) {
            throw new IllegalArgumentException(dtype + " tensor without a positive quantization scale");
        }
    }

    /** Whether values are stored as integers with a scale and zero point. */
    public boolean isQuantized() {
        return dtype != DType.FLOAT32;
    }

    /** Number of elements, the batch dimension counted as 1. */
    public int elements() {
        int count = 1;
        for (int i = 1; i < shape.length; i++) {
            count *= shape[i];
        }
        return count;
    }

    /** Size of one batch-1 tensor in bytes. */
    public int byteSize() {
        return elements() * dtype.bytes;
    }
}
