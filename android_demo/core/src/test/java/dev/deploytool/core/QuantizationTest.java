package dev.deploytool.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import org.junit.Test;

public class QuantizationTest {
    private static final TensorSpec INT8 = new TensorSpec(TensorSpec.DType.INT8, new int[] {1, 4}, 0.5f, -1);
    private static final TensorSpec UINT8 = new TensorSpec(TensorSpec.DType.UINT8, new int[] {1, 4}, 0.5f, 128);
    private static final TensorSpec FLOAT = new TensorSpec(TensorSpec.DType.FLOAT32, new int[] {1, 2}, 0f, 0);

    @Test
    public void halvesRoundAwayFromZeroUnlikeMathRound() {
        assertEquals(1f, Quantization.roundHalfAwayFromZero(0.5f), 0f);
        assertEquals(-1f, Quantization.roundHalfAwayFromZero(-0.5f), 0f);
        assertEquals(3f, Quantization.roundHalfAwayFromZero(2.5f), 0f);
        assertEquals(-3f, Quantization.roundHalfAwayFromZero(-2.5f), 0f);
        assertEquals(-2L, Math.round(-2.5f));  // what the rule avoids
        assertEquals(2f, Quantization.roundHalfAwayFromZero(2.4999998f), 0f);
    }

    @Test
    public void quantizeDividesByScaleAddsZeroPointAndSaturates() {
        assertArrayEquals(new byte[] {-1, 0, 127, -128}, Quantization.encode(new float[] {0f, 0.25f, 500f, -500f}, INT8));
        assertArrayEquals(new byte[] {(byte) 128, (byte) 129, (byte) 255, 0},
                Quantization.encode(new float[] {0f, 0.25f, 500f, -500f}, UINT8));
    }

    @Test
    public void everyPixelOnAHalfStepRoundsTheSameWayAsPython() {
        // int8 input scale 1/127.5, zero point 0: x = p/127.5 - 1 lands every pixel on a .5 step
        TensorSpec spec = new TensorSpec(TensorSpec.DType.INT8, new int[] {1, 2}, 1f / 127.5f, 0);
        // exactly -124.5 steps rounds to -125 (Math.round would give -124) ...
        assertEquals(-125, Quantization.quantize(-124.5f * spec.scale, spec));
        assertEquals(125, Quantization.quantize(124.5f * spec.scale, spec));
        // ... while pixel 3 in float32, 3 * (1/127.5) - 1, is -124.49999 steps: -124, as numpy gives
        assertEquals(-124, Quantization.quantize(3f * spec.scale - 1f, spec));
    }

    @Test
    public void dequantizeInvertsQuantizeOnTheGrid() {
        byte[] bytes = {-128, -1, 0, 127};
        float[] values = Quantization.decode(bytes, INT8);
        assertArrayEquals(new float[] {-63.5f, 0f, 0.5f, 64f}, values, 0f);
        assertArrayEquals(bytes, Quantization.encode(values, INT8));
        assertArrayEquals(new float[] {-64f, 63.5f, -63.5f, 0f},
                Quantization.decode(new byte[] {0, (byte) 255, 1, (byte) 128}, UINT8), 0f);
    }

    @Test
    public void float32IsLittleEndian() {
        byte[] bytes = Quantization.encode(new float[] {1f, -2.5f}, FLOAT);
        assertArrayEquals(new byte[] {0, 0, (byte) 0x80, 0x3f, 0, 0, 0x20, (byte) 0xc0}, bytes);
        assertArrayEquals(new float[] {1f, -2.5f}, Quantization.decode(bytes, FLOAT), 0f);
    }

    @Test
    public void wrongSizesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> Quantization.encode(new float[3], INT8));
        assertThrows(IllegalArgumentException.class, () -> Quantization.decode(new byte[5], INT8));
        assertThrows(IllegalArgumentException.class,
                () -> new TensorSpec(TensorSpec.DType.INT8, new int[] {1, 1}, 0f, 0));
    }
}
