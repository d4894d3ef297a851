package dev.deploytool.core;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import javax.imageio.ImageIO;

/**
 * The JVM's AssetSource: files under a folder, PNGs decoded by ImageIO from the raw samples (not
 * BufferedImage.getRGB, which converts grey images through a colour space and changes values).
 */
final class FolderAssets implements AssetSource {
    private final File root;

    FolderAssets(File root) {
        this.root = root;
    }

    @Override
    public InputStream open(String path) throws IOException {
        return new FileInputStream(new File(root, path));
    }

    @Override
    public RgbImage decodeImage(String path) throws IOException {
        return decode(new File(root, path));
    }

    static RgbImage decode(File file) throws IOException {
        BufferedImage image = ImageIO.read(file);
        if (image == null) {
            throw new IOException(file + ": not an image ImageIO can read");
        }
        int width = image.getWidth();
        int height = image.getHeight();
        int[] argb = new int[width * height];
        if (image.getColorModel() instanceof IndexColorModel) {
            image.getRGB(0, 0, width, height, argb, 0, width);
            return new RgbImage(width, height, argb);
        }
        Raster raster = image.getRaster();
        int bands = raster.getNumBands();
        int shift = raster.getSampleModel().getSampleSize(0) - 8;
        int[] sample = new int[bands];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                raster.getPixel(x, y, sample);
                int r = sample[0] >> shift;
                int g = bands >= 3 ? sample[1] >> shift : r;
                int b = bands >= 3 ? sample[2] >> shift : r;
                argb[y * width + x] = 0xff000000 | (r << 16) | (g << 8) | b;
            }
        }
        return new RgbImage(width, height, argb);
    }
}
