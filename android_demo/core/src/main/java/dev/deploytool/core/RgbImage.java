package dev.deploytool.core;

/** An 8-bit image as packed ARGB pixels, row by row (what Android's Bitmap.getPixels gives). */
public final class RgbImage {
    public final int width;
    public final int height;
    public final int[] argb;

    public RgbImage(int width, int height, int[] argb) {
        if (width <= 0 || height <= 0 || argb.length != width * height) {
            throw new IllegalArgumentException("image of " + width + "x" + height + " needs "
                    + (long) width * height + " pixels, got " + argb.length);
        }
        this.width = width;
        this.height = height;
        this.argb = argb;
    }
}
