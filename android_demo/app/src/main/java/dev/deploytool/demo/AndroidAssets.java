package dev.deploytool.demo;

import android.content.res.AssetManager;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import dev.deploytool.core.AssetSource;
import dev.deploytool.core.RgbImage;
import java.io.IOException;
import java.io.InputStream;

/** The core's AssetSource over the APK's assets; PNGs decoded by BitmapFactory at full size. */
final class AndroidAssets implements AssetSource {
    private final AssetManager assets;

    AndroidAssets(AssetManager assets) {
        this.assets = assets;
    }

    @Override
    public InputStream open(String path) throws IOException {
        return assets.open(path);
    }

    @Override
    public RgbImage decodeImage(String path) throws IOException {
        BitmapFactory.Options options = new BitmapFactory.Options();
        options.inPreferredConfig = Bitmap.Config.ARGB_8888;
        options.inScaled = false;
        Bitmap bitmap;
        try (InputStream stream = assets.open(path)) {
            bitmap = BitmapFactory.decodeStream(stream, null, options);
        }
        if (bitmap == null) {
            throw new IOException(path + ": not an image");
        }
        return toRgbImage(bitmap);
    }

    /** A bitmap's pixels as the core's image (getPixels gives unpremultiplied ARGB). */
    static RgbImage toRgbImage(Bitmap bitmap) {
        int width = bitmap.getWidth();
        int height = bitmap.getHeight();
        int[] argb = new int[width * height];
        bitmap.getPixels(argb, 0, width, 0, 0, width, height);
        return new RgbImage(width, height, argb);
    }
}
