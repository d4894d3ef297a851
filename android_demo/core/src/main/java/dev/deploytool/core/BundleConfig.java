package dev.deploytool.core;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;

/**
 * What {@code deploytool bundle} wrote to {@code bundle.properties}: the model file, its input and
 * output tensors, the preprocessing record, the post-processing step, the labels file and the
 * golden samples with their expected outputs.
 */
public final class BundleConfig {
    public static final String FORMAT = "deploytool-bundle/1";

    /** One golden sample: a PNG, the input bytes Python made from it, the outputs it expects. */
    public static final class Golden {
        public final String image;
        public final String input;
        public final String expected;

        Golden(String image, String input, String expected) {
            this.image = image;
            this.input = input;
            this.expected = expected;
        }
    }

    public final String modelFile;
    public final String modelSha256;
    public final String precision;
    public final String labelsFile;
    public final int classes;
    public final TensorSpec input;
    public final TensorSpec output;
    public final Preprocessing preprocessing;
    public final String postprocess;
    /** For a model with one score per image (a binary head): the score it decides over, else null. */
    public final Float decisionThreshold;
    public final float goldenTolerance;
    public final List<Golden> goldens;

    private final Properties properties;

    private BundleConfig(Properties properties) {
        this.properties = properties;
        String format = require("format");
        if (!FORMAT.equals(format)) {
            throw new IllegalArgumentException("bundle format " + format + " is not " + FORMAT
                    + "; bundle the model again with this version of deploytool");
        }
        modelFile = require("model.file");
        modelSha256 = properties.getProperty("model.sha256", "");
        precision = properties.getProperty("model.precision", "");
        labelsFile = require("labels.file");
        classes = integer("classes");
        input = tensor("input");
        output = tensor("output");
        String resize = require("preprocess.resize");
        if (!"bilinear".equals(resize)) {
            throw new IllegalArgumentException("preprocess.resize=" + resize + " is not supported (bilinear)");
        }
        String order = properties.getProperty("preprocess.channel_order", "RGB").trim();
        if (!"RGB".equals(order) && !"BGR".equals(order)) {
            throw new IllegalArgumentException("preprocess.channel_order=" + order + " is not RGB or BGR");
        }
        preprocessing = new Preprocessing(integer("preprocess.height"), integer("preprocess.width"),
                integer("preprocess.channels"), numbers("preprocess.scale"), numbers("preprocess.offset"),
                "BGR".equals(order), Preprocessing.Fit.parse(properties.getProperty("preprocess.fit", "squash")));
        postprocess = require("postprocess");
        decisionThreshold = properties.getProperty("decision.threshold") == null ? null
                : number("decision.threshold");
        goldenTolerance = number("golden.tolerance");
        int count = integer("golden.count");
        goldens = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            goldens.add(new Golden(require("golden." + i + ".image"), require("golden." + i + ".input"),
                    require("golden." + i + ".expected")));
        }
        checkShapes();
    }

    /** Reads and checks a bundle.properties stream. */
    public static BundleConfig read(InputStream stream) throws IOException {
        Properties properties = new Properties();
        properties.load(stream);
        return new BundleConfig(properties);
    }

    /** A raw value, or null. */
    public String get(String key) {
        return properties.getProperty(key);
    }

    private void checkShapes() {
        int[] in = input.shape;
        if (in.length != 4 || in[1] != preprocessing.height || in[2] != preprocessing.width
                || in[3] != preprocessing.channels) {
            throw new IllegalArgumentException("input.shape " + join(in) + " does not match the preprocessing ("
                    + preprocessing.height + "x" + preprocessing.width + "x" + preprocessing.channels + ")");
        }
        if (decisionThreshold != null) {
            if (output.shape.length != 2 || output.shape[1] != 1 || classes != 2) {
                throw new IllegalArgumentException("decision.threshold is for one score deciding between"
                        + " 2 classes, not output.shape " + join(output.shape) + " with " + classes + " classes");
            }
        } else if (output.shape.length != 2 || output.shape[1] != classes) {
            throw new IllegalArgumentException("output.shape " + join(output.shape) + " does not give "
                    + classes + " class scores");
        }
    }

    private TensorSpec tensor(String prefix) {
        String[] parts = require(prefix + ".shape").split(",");
        int[] shape = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            shape[i] = Integer.parseInt(parts[i].trim());
        }
        TensorSpec.DType dtype = TensorSpec.DType.parse(require(prefix + ".dtype"));
        float scale = dtype == TensorSpec.DType.FLOAT32 ? 0f : number(prefix + ".scale");
        int zeroPoint = dtype == TensorSpec.DType.FLOAT32 ? 0 : integer(prefix + ".zero_point");
        return new TensorSpec(dtype, shape, scale, zeroPoint);
    }

    private String require(String key) {
        String value = properties.getProperty(key);
        if (value == null || value.trim().isEmpty()) {
            throw new IllegalArgumentException("bundle.properties has no " + key);
        }
        return value.trim();
    }

    private int integer(String key) {
        try {
            return Integer.parseInt(require(key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bundle.properties: " + key + " is not an integer");
        }
    }

    private float number(String key) {
        try {
            return Float.parseFloat(require(key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bundle.properties: " + key + " is not a number");
        }
    }

    /** Comma-separated numbers: one, or one per channel. */
    private float[] numbers(String key) {
        String[] parts = require(key).split(",");
        float[] values = new float[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                values[i] = Float.parseFloat(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bundle.properties: " + key + " is not a list of numbers");
            }
        }
        return values;
    }

    static String join(int[] shape) {
        StringBuilder text = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            text.append(i > 0 ? ", " : "").append(shape[i]);
        }
        return text.append(")").toString();
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s %s, input %s %s, %d classes", modelFile, precision,
                join(input.shape), input.dtype, classes);
    }
}
