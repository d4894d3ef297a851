package dev.deploytool.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import org.junit.Test;

public class PreprocessingTest {
    @Test
    public void sameSizeSkipsResizeAndScales() {
        Preprocessing p = new Preprocessing(1, 2, 1, 0.5f, -1f);
        assertArrayEquals(new float[] {-1f, 126.5f}, p.apply(Fixtures.grey(2, 1, 0, 255)), 0f);
    }

    @Test
    public void cropKeepsTheCentreOfAWideImage() {
        // a 1x4 grey row for a 1x2 model: crop keeps the middle two pixels, no resize needed
        Preprocessing p = new Preprocessing(1, 2, 1, new float[] {1f}, new float[] {0f}, false,
                Preprocessing.Fit.CROP);
        assertArrayEquals(new float[] {20f, 30f}, p.apply(Fixtures.grey(4, 1, 10, 20, 30, 40)), 0f);
    }

    @Test
    public void padPutsATallImageOnABlackCanvasOfTheModelsAspect() {
        // a 2x1 grey column for a 2x4 model: a 2x4 canvas, the column at x = 1
        Preprocessing p = new Preprocessing(2, 4, 1, new float[] {1f}, new float[] {0f}, false,
                Preprocessing.Fit.PAD);
        assertArrayEquals(new float[] {0f, 10f, 0f, 0f, 0f, 20f, 0f, 0f},
                p.apply(Fixtures.grey(1, 2, 10, 20)), 0f);
        assertArrayEquals(new int[] {0, 1, 2, 4}, Preprocessing.aspectRegion(2, 1, 2, 4, Preprocessing.Fit.PAD));
        assertThrows(IllegalArgumentException.class, () -> Preprocessing.Fit.parse("stretch"));
    }

    @Test
    public void greyPixelsKeepTheirValueWhenOneChannelIsWanted() {
        Preprocessing p = new Preprocessing(1, 3, 1, 1f, 0f);
        assertArrayEquals(new float[] {7f, 101f, 255f}, p.apply(Fixtures.grey(3, 1, 7, 101, 255)), 0f);
    }

    @Test
    public void colourPixelsBecomeBt601Luma() {
        Preprocessing p = new Preprocessing(1, 3, 1, 1f, 0f);
        RgbImage image = new RgbImage(3, 1, new int[] {0xffff0000, 0xff00ff00, 0xff0000ff});
        assertArrayEquals(new float[] {0.299f * 255f, 0.587f * 255f, 0.114f * 255f}, p.apply(image), 0f);
    }

    @Test
    public void threeChannelsAreInterleavedRgb() {
        Preprocessing p = new Preprocessing(1, 1, 3, 1f, 0f);
        assertArrayEquals(new float[] {1f, 2f, 3f}, p.apply(new RgbImage(1, 1, new int[] {0xff010203})), 0f);
    }

    @Test
    public void perChannelScaleAndOffsetFollowTheChannel() {
        Preprocessing p = new Preprocessing(1, 1, 3, new float[] {1f, 2f, 4f}, new float[] {0f, -1f, -2f}, false);
        assertArrayEquals(new float[] {1f, 3f, 10f}, p.apply(new RgbImage(1, 1, new int[] {0xff010203})), 0f);
    }

    @Test
    public void bgrOrderSwapsRedAndBlueBeforeScaling() {
        Preprocessing p = new Preprocessing(1, 1, 3, new float[] {1f, 2f, 4f}, new float[] {0f, 0f, 0f}, true);
        assertArrayEquals(new float[] {3f, 4f, 4f}, p.apply(new RgbImage(1, 1, new int[] {0xff010203})), 0f);
    }

    @Test
    public void perChannelValuesMustMatchTheChannels() {
        assertThrows(IllegalArgumentException.class,
                () -> new Preprocessing(1, 1, 3, new float[] {1f, 2f}, new float[] {0f}, false));
    }

    @Test
    public void upscalingUsesHalfPixelCentres() {
        // 2 -> 4 pixels: source x = (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 (clamped at the ends)
        float[] out = Preprocessing.resizeBilinear(new float[] {0f, 100f}, 2, 1, 4, 1);
        assertArrayEquals(new float[] {0f, 25f, 75f, 100f}, out, 0f);
    }

    @Test
    public void downscalingSamplesWithoutAntialiasing() {
        // 4 -> 2 pixels: source x = 0.5 and 2.5, the mean of neighbouring pairs only
        float[] out = Preprocessing.resizeBilinear(new float[] {0f, 10f, 20f, 30f}, 4, 1, 2, 1);
        assertArrayEquals(new float[] {5f, 25f}, out, 0f);
    }

    @Test
    public void constantImageStaysConstantAtAnySize() {
        Preprocessing p = new Preprocessing(7, 5, 3, 1f, 0f);
        int[] pixels = new int[13 * 11];
        java.util.Arrays.fill(pixels, 0xff405060);
        float[] out = p.apply(new RgbImage(13, 11, pixels));
        assertEquals(7 * 5 * 3, out.length);
        for (int i = 0; i < out.length; i += 3) {
            assertArrayEquals(new float[] {64f, 80f, 96f}, new float[] {out[i], out[i + 1], out[i + 2]}, 0f);
        }
    }

    @Test
    public void badShapesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new Preprocessing(2, 2, 2, 1f, 0f));
        assertThrows(IllegalArgumentException.class, () -> new RgbImage(2, 2, new int[3]));
    }
}
