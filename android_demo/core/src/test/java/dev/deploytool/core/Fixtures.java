package dev.deploytool.core;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;

/** Small in-memory bundles, images and a toy engine for the unit tests. */
final class Fixtures {
    private Fixtures() {
    }

    /** A 2x2 grey int8 model with 3 classes whose output c is input pixel c (see {@link Echo}). */
    static Properties properties() {
        Properties p = new Properties();
        p.setProperty("format", BundleConfig.FORMAT);
        p.setProperty("model.file", "model.tflite");
        p.setProperty("model.precision", "int8");
        p.setProperty("labels.file", "labels.txt");
        p.setProperty("classes", "3");
        p.setProperty("input.shape", "1,2,2,1");
        p.setProperty("input.dtype", "int8");
        p.setProperty("input.scale", String.valueOf(1f / 255f));
        p.setProperty("input.zero_point", "-128");
        p.setProperty("output.shape", "1,3");
        p.setProperty("output.dtype", "int8");
        p.setProperty("output.scale", "0.5");
        p.setProperty("output.zero_point", "0");
        p.setProperty("preprocess.height", "2");
        p.setProperty("preprocess.width", "2");
        p.setProperty("preprocess.channels", "1");
        p.setProperty("preprocess.scale", String.valueOf(1.0 / 255.0));
        p.setProperty("preprocess.offset", "0");
        p.setProperty("preprocess.resize", "bilinear");
        p.setProperty("postprocess", "softmax");
        p.setProperty("golden.tolerance", "0.5");
        p.setProperty("golden.count", "0");
        return p;
    }

    static BundleConfig config(Properties p) throws IOException {
        java.io.StringWriter text = new java.io.StringWriter();
        p.store(text, null);
        return BundleConfig.read(new ByteArrayInputStream(text.toString().getBytes(StandardCharsets.ISO_8859_1)));
    }

    static ModelBundle bundle(Properties p) throws IOException {
        return new ModelBundle("bundle", config(p), Arrays.asList("zero", "one", "two"));
    }

    /** A grey image from 0..255 values. */
    static RgbImage grey(int width, int height, int... values) {
        int[] argb = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            argb[i] = 0xff000000 | (values[i] << 16) | (values[i] << 8) | values[i];
        }
        return new RgbImage(width, height, argb);
    }

    /** Output c = input byte c: int8 in, int8 out, spec as given. */
    static final class Echo implements InferenceEngine {
        final TensorSpec input;
        final TensorSpec output;
        int calls;

        Echo(TensorSpec input, TensorSpec output) {
            this.input = input;
            this.output = output;
        }

        @Override
        public TensorSpec inputSpec() {
            return input;
        }

        @Override
        public TensorSpec outputSpec() {
            return output;
        }

        @Override
        public byte[] run(byte[] bytes) {
            calls++;
            return Arrays.copyOf(bytes, output.byteSize());
        }
    }

    /** Assets held in memory; images are registered apart from files. */
    static final class MemoryAssets implements AssetSource {
        final Map<String, byte[]> files = new HashMap<>();
        final Map<String, RgbImage> images = new HashMap<>();

        @Override
        public InputStream open(String path) throws IOException {
            byte[] data = files.get(path);
            if (data == null) {
                throw new java.io.FileNotFoundException(path);
            }
            return new ByteArrayInputStream(data);
        }

        @Override
        public RgbImage decodeImage(String path) throws IOException {
            RgbImage image = images.get(path);
            if (image == null) {
                throw new java.io.FileNotFoundException(path);
            }
            return image;
        }
    }
}
