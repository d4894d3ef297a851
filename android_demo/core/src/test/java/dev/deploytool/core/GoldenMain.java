package dev.deploytool.core;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.Map;

/**
 * Command-line driver for the cross-language golden test (tests/test_android_golden.py):
 * <pre>
 *   preprocess BUNDLE_DIR OUT_DIR      each golden PNG -> OUT_DIR/N.input.bin (the core's bytes)
 *   images PROPERTIES OUT_DIR PNG...   PNGs -> OUT_DIR/NAME.bin, float32 preprocessing only
 *   selftest BUNDLE_DIR OUTPUTS_DIR    the core's self-test, the interpreter's outputs replayed
 *                                      from OUTPUTS_DIR/SHA256-OF-INPUT.bin (written by Python)
 * </pre>
 * Exit 0 on success, 1 when the self-test fails, 2 on bad arguments.
 */
public final class GoldenMain {
    private GoldenMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: preprocess BUNDLE OUT | images PROPERTIES OUT PNG... | selftest BUNDLE OUTPUTS");
            System.exit(2);
        }
        switch (args[0]) {
            case "preprocess":
                preprocess(new File(args[1]), new File(args[2]));
                break;
            case "images":
                images(args);
                break;
            case "selftest":
                System.exit(selftest(new File(args[1]), new File(args[2])) ? 0 : 1);
                break;
            default:
                System.err.println("unknown command " + args[0]);
                System.exit(2);
        }
    }

    private static ModelBundle bundle(File folder) throws IOException {
        return ModelBundle.load(new FolderAssets(folder.getParentFile()), folder.getName());
    }

    private static void preprocess(File folder, File out) throws IOException {
        ModelBundle bundle = bundle(folder);
        FolderAssets assets = new FolderAssets(folder.getParentFile());
        out.mkdirs();
        int i = 0;
        for (BundleConfig.Golden golden : bundle.config.goldens) {
            float[] values = bundle.config.preprocessing.apply(assets.decodeImage(bundle.path(golden.image)));
            write(new File(out, i++ + ".input.bin"), Quantization.encode(values, bundle.config.input));
        }
    }

    private static float[] floats(String text) {
        String[] parts = text.split(",");
        float[] values = new float[parts.length];
        for (int i = 0; i < parts.length; i++) {
            values[i] = Float.parseFloat(parts[i].trim());
        }
        return values;
    }

    private static void images(String[] args) throws IOException {
        java.util.Properties properties = new java.util.Properties();
        try (java.io.InputStream stream = new java.io.FileInputStream(args[1])) {
            properties.load(stream);
        }
        Preprocessing preprocessing = new Preprocessing(
                Integer.parseInt(properties.getProperty("height")), Integer.parseInt(properties.getProperty("width")),
                Integer.parseInt(properties.getProperty("channels")), floats(properties.getProperty("scale")),
                floats(properties.getProperty("offset")),
                "BGR".equals(properties.getProperty("channel_order", "RGB")),
                Preprocessing.Fit.parse(properties.getProperty("fit", "squash")));
        TensorSpec asFloats = new TensorSpec(TensorSpec.DType.FLOAT32,
                new int[] {1, preprocessing.height, preprocessing.width, preprocessing.channels}, 0f, 0);
        File out = new File(args[2]);
        out.mkdirs();
        for (int i = 3; i < args.length; i++) {
            File png = new File(args[i]);
            float[] values = preprocessing.apply(FolderAssets.decode(png));
            write(new File(out, png.getName().replaceAll("\\.png$", "") + ".bin"), Quantization.encode(values, asFloats));
        }
    }

    private static boolean selftest(File folder, File outputs) throws Exception {
        ModelBundle bundle = bundle(folder);
        Map<String, byte[]> replies = new HashMap<>();
        File[] files = outputs.listFiles();
        if (files != null) {
            for (File file : files) {
                replies.put(file.getName().replace(".bin", ""), Files.readAllBytes(file.toPath()));
            }
        }
        InferenceEngine replay = new InferenceEngine() {
            @Override
            public TensorSpec inputSpec() {
                return bundle.config.input;
            }

            @Override
            public TensorSpec outputSpec() {
                return bundle.config.output;
            }

            @Override
            public byte[] run(byte[] input) throws Exception {
                byte[] reply = replies.get(sha256(input));
                if (reply == null) {
                    throw new IllegalStateException("no interpreter output recorded for input " + sha256(input));
                }
                return reply;
            }
        };
        Classifier classifier = new Classifier(bundle, replay);
        SelfTest.Report report = SelfTest.run(bundle, new FolderAssets(folder.getParentFile()), classifier);
        for (SelfTest.Result result : report.results) {
            System.out.println(result + " label " + bundle.labels.get(result.top1));
        }
        System.out.println(report.summary());
        return report.passed();
    }

    static String sha256(byte[] data) throws Exception {
        StringBuilder hex = new StringBuilder();
        for (byte b : MessageDigest.getInstance("SHA-256").digest(data)) {
            hex.append(String.format("%02x", b));
        }
        return hex.toString();
    }

    private static void write(File file, byte[] data) throws IOException {
        try (OutputStream stream = new FileOutputStream(file)) {
            stream.write(data);
        }
    }
}
