package dev.deploytool.core;

/**
 * The bundled preprocessing record (deploytool/core/preprocessing.py) applied to an 8-bit image, in
 * float32 arithmetic and in the same order as the Python side, so both produce the same bits:
 * <ol>
 *   <li>an image whose aspect ratio is not the model's is fitted to it first, as {@link Fit}
 *   says: squashed (left as it is), centre-cropped or padded with black
 *   ({@link #aspectRegion} is deploytool/core/preprocessing.py's {@code aspect_region});</li>
 *   <li>resize each channel to height x width, bilinear with half-pixel centres and no
 *   antialiasing (TensorFlow's {@code tf.image.resize(method="bilinear")}); skipped when the
 *   size already matches;</li>
 *   <li>to one channel: a grey pixel (R == G == B) keeps its value, any other pixel becomes
 *   BT.601 luma {@code 0.299f*R + 0.587f*G + 0.114f*B}, summed left to right; to three channels:
 *   R, G, B as they are;</li>
 *   <li>three channels in the model's order: R, G, B or, for {@code channel_order=BGR}, B, G, R;</li>
 *   <li>{@code value * scale[c] + offset[c]} for output channel c, a float32 multiply then a
 *   float32 add ({@code scale = 1/std}, {@code offset = -mean/std}, rounded once to float32 by
 *   Python and written in the bundle).</li>
 * </ol>
 * The result is NHWC (batch 1), channels interleaved.
 */
public final class Preprocessing {
    public static final float LUMA_R = 0.299f;
    public static final float LUMA_G = 0.587f;
    public static final float LUMA_B = 0.114f;

    public final int height;
    public final int width;
    public final int channels;
    /** Per output channel (in the model's channel order). */
    public final float[] scale;
    public final float[] offset;
    public final boolean bgr;
    public final Fit fit;

    /** How an image of another aspect ratio meets the model's size. */
    public enum Fit {
        SQUASH, CROP, PAD;

        /** The bundle's {@code preprocess.fit} value: squash, crop or pad. */
        public static Fit parse(String value) {
            for (Fit fit : values()) {
                if (fit.name().equalsIgnoreCase(value.trim())) {
                    return fit;
                }
            }
            throw new IllegalArgumentException("preprocess.fit=" + value + " is not squash, crop or pad");
        }
    }

    /** One scale and offset for every channel, RGB order. */
    public Preprocessing(int height, int width, int channels, float scale, float offset) {
        this(height, width, channels, new float[] {scale}, new float[] {offset}, false);
    }

    /**
     * Per-channel {@code scale} and {@code offset} (one value, or one per channel in the model's
     * order) and the colour order ({@code bgr}: the model takes B, G, R).
     */
    public Preprocessing(int height, int width, int channels, float[] scale, float[] offset, boolean bgr) {
        this(height, width, channels, scale, offset, bgr, Fit.SQUASH);
    }

    /** As above, with how an image of another aspect ratio is fitted ({@code fit}). */
    public Preprocessing(int height, int width, int channels, float[] scale, float[] offset, boolean bgr,
                         Fit fit) {
        if (height <= 0 || width <= 0) {
            throw new IllegalArgumentException("preprocessing size must be positive, got " + height + "x" + width);
        }
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("preprocessing channels must be 1 or 3, got " + channels);
        }
        this.height = height;
        this.width = width;
        this.channels = channels;
        this.scale = perChannel(scale, channels, "scale");
        this.offset = perChannel(offset, channels, "offset");
        this.bgr = bgr;
        this.fit = fit;
    }

    private static float[] perChannel(float[] values, int channels, String what) {
        if (values.length == channels) {
            return values.clone();
        }
        if (values.length != 1) {
            throw new IllegalArgumentException("preprocessing " + what + " has " + values.length
                    + " values for " + channels + " channel(s)");
        }
        float[] expanded = new float[channels];
        java.util.Arrays.fill(expanded, values[0]);
        return expanded;
    }

    /** The model input (height * width * channels floats, NHWC) for an image of any size. */
    public float[] apply(RgbImage image) {
        float[][] planes = new float[3][image.width * image.height];
        for (int i = 0; i < image.argb.length; i++) {
            int pixel = image.argb[i];
            planes[0][i] = (pixel >> 16) & 0xff;
            planes[1][i] = (pixel >> 8) & 0xff;
            planes[2][i] = pixel & 0xff;
        }
        int inWidth = image.width;
        int inHeight = image.height;
        if (fit != Fit.SQUASH && (inWidth != width || inHeight != height)) {
            int[] region = aspectRegion(inHeight, inWidth, height, width, fit);
            for (int c = 0; c < 3; c++) {
                planes[c] = fitPlane(planes[c], inWidth, inHeight, region, fit);
            }
            inHeight = region[2];
            inWidth = region[3];
        }
        if (inWidth != width || inHeight != height) {
            for (int c = 0; c < 3; c++) {
                planes[c] = resizeBilinear(planes[c], inWidth, inHeight, width, height);
            }
        }
        int pixels = width * height;
        float[] out = new float[pixels * channels];
        for (int i = 0; i < pixels; i++) {
            float r = planes[0][i];
            float g = planes[1][i];
            float b = planes[2][i];
            if (channels == 1) {
                float grey = (r == g && g == b) ? r : LUMA_R * r + LUMA_G * g + LUMA_B * b;
                out[i] = grey * scale[0] + offset[0];
            } else {
                float first = bgr ? b : r;
                float third = bgr ? r : b;
                out[3 * i] = first * scale[0] + offset[0];
                out[3 * i + 1] = g * scale[1] + offset[1];
                out[3 * i + 2] = third * scale[2] + offset[2];
            }
        }
        return out;
    }

    /**
     * The integer geometry of {@code fit} for an image of inHeight x inWidth and a model of
     * height x width: for CROP, {top, left, height, width} of the centred region with the model's
     * aspect (rounded down); for PAD, {top, left, height, width} of the black canvas the image is
     * placed on at (top, left) (rounded up); the whole image when the aspects are equal.
     */
    public static int[] aspectRegion(int inHeight, int inWidth, int height, int width, Fit fit) {
        long across = (long) inWidth * height;
        long down = (long) inHeight * width;
        if (fit == Fit.CROP && across > down) {
            int kept = (int) Math.max(1, (long) inHeight * width / height);
            return new int[] {0, (inWidth - kept) / 2, inHeight, kept};
        }
        if (fit == Fit.CROP && across < down) {
            int kept = (int) Math.max(1, (long) inWidth * height / width);
            return new int[] {(inHeight - kept) / 2, 0, kept, inWidth};
        }
        if (fit == Fit.PAD && across > down) {
            int canvas = (int) (((long) inWidth * height + width - 1) / width);
            return new int[] {(canvas - inHeight) / 2, 0, canvas, inWidth};
        }
        if (fit == Fit.PAD && across < down) {
            int canvas = (int) (((long) inHeight * width + height - 1) / height);
            return new int[] {0, (canvas - inWidth) / 2, inHeight, canvas};
        }
        return new int[] {0, 0, inHeight, inWidth};
    }

    /** One channel cropped to, or placed (black around it) on, the region of {@link #aspectRegion}. */
    private static float[] fitPlane(float[] plane, int inWidth, int inHeight, int[] region, Fit fit) {
        int top = region[0];
        int left = region[1];
        int outHeight = region[2];
        int outWidth = region[3];
        float[] out = new float[outWidth * outHeight];
        for (int y = 0; y < outHeight; y++) {
            for (int x = 0; x < outWidth; x++) {
                if (fit == Fit.CROP) {
                    out[y * outWidth + x] = plane[(y + top) * inWidth + x + left];
                } else {
                    int sourceY = y - top;
                    int sourceX = x - left;
                    boolean inside = sourceY >= 0 && sourceY < inHeight && sourceX >= 0 && sourceX < inWidth;
                    out[y * outWidth + x] = inside ? plane[sourceY * inWidth + sourceX] : 0f;
                }
            }
        }
        return out;
    }

    /**
     * One channel resized as TensorFlow's CPU kernel does it: source coordinate
     * {@code (x + 0.5f) * (in / (float) out) - 0.5f}, neighbours clamped to the image, then
     * {@code top = tl + (tr - tl) * dx; bottom = bl + (br - bl) * dx; top + (bottom - top) * dy}.
     */
    public static float[] resizeBilinear(float[] plane, int inWidth, int inHeight, int outWidth, int outHeight) {
        int[] xLow = new int[outWidth];
        int[] xHigh = new int[outWidth];
        float[] xLerp = new float[outWidth];
        interpolation(inWidth, outWidth, xLow, xHigh, xLerp);
        int[] yLow = new int[outHeight];
        int[] yHigh = new int[outHeight];
        float[] yLerp = new float[outHeight];
        interpolation(inHeight, outHeight, yLow, yHigh, yLerp);
        float[] out = new float[outWidth * outHeight];
        for (int y = 0; y < outHeight; y++) {
            int top = yLow[y] * inWidth;
            int bottom = yHigh[y] * inWidth;
            for (int x = 0; x < outWidth; x++) {
                float topLeft = plane[top + xLow[x]];
                float topRight = plane[top + xHigh[x]];
                float bottomLeft = plane[bottom + xLow[x]];
                float bottomRight = plane[bottom + xHigh[x]];
                float upper = topLeft + (topRight - topLeft) * xLerp[x];
                float lower = bottomLeft + (bottomRight - bottomLeft) * xLerp[x];
                out[y * outWidth + x] = upper + (lower - upper) * yLerp[y];
            }
        }
        return out;
    }

    private static void interpolation(int inSize, int outSize, int[] low, int[] high, float[] lerp) {
        float scale = (float) inSize / (float) outSize;
        for (int i = 0; i < outSize; i++) {
            float in = ((float) i + 0.5f) * scale - 0.5f;
            float inFloor = (float) Math.floor(in);
            low[i] = Math.max((int) inFloor, 0);
            high[i] = Math.min((int) Math.ceil(in), inSize - 1);
            lerp[i] = in - inFloor;
        }
    }
}
