package dev.deploytool.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Float tensors to the bytes an interpreter takes, and back. The rounding rule is the one the
 * Python side uses (deploytool/core/tensors.py, round_half_away): round half away from zero, in float32
 * arithmetic, then add the zero point and saturate to the type's range. Float32 tensors are
 * little-endian IEEE-754, as TFLite lays them out.
 */
public final class Quantization {
    private Quantization() {
    }

    /** Nearest integer, halves away from zero: 0.5 -> 1, -0.5 -> -1, 2.5 -> 3 (not Math.round). */
    public static float roundHalfAwayFromZero(float value) {
        float magnitude = (float) Math.floor(Math.abs(value) + 0.5f);
        return value < 0f ? -magnitude : magnitude;
    }

    /** One real value to its quantized integer: round(value / scale) + zeroPoint, saturated. */
    public static int quantize(float value, TensorSpec spec) {
        float q = roundHalfAwayFromZero(value / spec.scale) + spec.zeroPoint;
        int low = spec.dtype == TensorSpec.DType.UINT8 ? 0 : -128;
        int high = spec.dtype == TensorSpec.DType.UINT8 ? 255 : 127;
        return (int) Math.max(low, Math.min(high, q));
    }

    /** Float values to the tensor's bytes (quantized for int8/uint8, little-endian float32 otherwise). */
    public static byte[] encode(float[] values, TensorSpec spec) {
        if (values.length != spec.elements()) {
            throw new IllegalArgumentException("expected " + spec.elements() + " values, got " + values.length);
        }
        if (!spec.isQuantized()) {
            ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float value : values) {
                buffer.putFloat(value);
            }
            return buffer.array();
        }
        byte[] bytes = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            bytes[i] = (byte) quantize(values[i], spec);
        }
        return bytes;
    }

    /** The tensor's bytes to real values ((q - zeroPoint) * scale for integer tensors). */
    public static float[] decode(byte[] bytes, TensorSpec spec) {
        if (bytes.length != spec.byteSize()) {
            throw new IllegalArgumentException("expected " + spec.byteSize() + " bytes, got " + bytes.length);
        }
        float[] values = new float[spec.elements()];
        if (!spec.isQuantized()) {
            ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < values.length; i++) {
                values[i] = buffer.getFloat();
            }
            return values;
        }
        for (int i = 0; i < values.length; i++) {
            int q = spec.dtype == TensorSpec.DType.UINT8 ? (bytes[i] & 0xff) : bytes[i];
            values[i] = (float) (q - spec.zeroPoint) * spec.scale;
        }
        return values;
    }
}
